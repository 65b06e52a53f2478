"""A training run killed mid-way resumes from its last epoch with the same result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend

SCRIPT = textwrap.dedent(
    """
    import logging, os, signal, sys
    logging.basicConfig(level=logging.INFO)
    import keras, numpy as np
    from fixres_kedro.fixres import checkpoint
    from fixres_kedro.fixres.compilation_cache import enable_compilation_cache
    if os.environ.get("FIXRES_COMPILATION_CACHE"):  # the test session's (tests/conftest.py)
        enable_compilation_cache(os.environ["FIXRES_COMPILATION_CACHE"])
    from fixres_kedro.fixres.dataset import ImageBatches
    from fixres_kedro.fixres.preprocessing import InputPipeline
    from fixres_kedro.fixres.training import train_and_evaluate

    checkpoint_dir, output, kill_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
    count, batch_size = int(sys.argv[4]), int(sys.argv[5])
    if kill_after:
        # Die like a lost machine right after the checkpoint of epoch `kill_after` is written.
        write = checkpoint.write_checkpoint
        def write_then_die(directory, epochs_done, *args):
            written = write(directory, epochs_done, *args)
            if epochs_done == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            return written
        checkpoint.write_checkpoint = write_then_die

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (int(rng.integers(20, 40)), int(rng.integers(20, 40)), 3), dtype=np.uint8)
              for _ in range(count)]
    labels = np.arange(count) % 3
    keras.utils.set_random_seed(0)
    inputs = keras.layers.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    pipeline = InputPipeline(name="tiny", recipe="initial", image_size=16, batch_size=batch_size)
    saver = checkpoint.TrainingCheckpoint(checkpoint_dir, "tiny")
    history = train_and_evaluate(
        model, ImageBatches(images, labels, pipeline, train=True),
        ImageBatches(images, labels, pipeline, train=False),
        epochs=6, learning_rate=1e-2, verbose=0,
        checkpoint=saver,
    )
    saver.finish()  # what the project's hook does once the model is saved
    np.savez(output, *[keras.ops.convert_to_numpy(w) for w in model.weights])
    with open(output + ".json", "w") as f:
        import json; json.dump(history, f)
    """
)


def _train(tmp_path: Path, name: str, checkpoint_dir: Path, epoch_shape: tuple[int, int],
           kill_after: int = 0):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    output = tmp_path / f"{name}.npz"
    count, batch_size = epoch_shape
    result = subprocess.run(
        [sys.executable, str(script), str(checkpoint_dir), str(output), str(kill_after),
         str(count), str(batch_size)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return result, output


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "epoch_shape",
    # (photos, batch size): 5 batches an epoch, and 30, many more than the 4 batches
    # the worker queue holds (as real epochs have), so a queue that leaked batches from
    # one epoch into the next would change the result.
    [(24, 5), (60, 2)],
    ids=["short-epochs", "long-epochs"],
)
def test_killed_run_resumes_from_its_last_epoch_with_the_same_result(tmp_path, epoch_shape):
    checkpoints = tmp_path / "checkpoints"
    killed, output = _train(tmp_path, "resumed", checkpoints, epoch_shape, kill_after=3)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not output.exists()
    (saved,) = checkpoints.glob("epoch-*")
    state = json.loads((saved / "state.json").read_text())
    assert state["epochs_done"] == 3 and len(state["history"]["loss"]) == 3

    resumed, output = _train(tmp_path, "resumed", checkpoints, epoch_shape)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming from" in resumed.stderr
    assert not checkpoints.exists(), "a finished run leaves no checkpoint behind"

    straight, reference = _train(tmp_path, "straight", tmp_path / "other", epoch_shape)
    assert straight.returncode == 0, straight.stderr[-2000:]

    with np.load(output) as got, np.load(reference) as want:
        assert len(got.files) == len(want.files)
        for name in want.files:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6)
    history = json.loads(Path(str(output) + ".json").read_text())
    expected = json.loads(Path(str(reference) + ".json").read_text())
    assert history["epochs_run"] == expected["epochs_run"] == 6
    np.testing.assert_allclose(history["history"]["loss"], expected["history"]["loss"], rtol=1e-5)


def test_a_checkpoint_of_other_parameters_is_not_resumed(tmp_path):
    keras = pytest.importorskip("keras")
    from fixres_kedro.fixres import checkpoint  # noqa: PLC0415

    def fit(key: str, epochs: int) -> checkpoint.TrainingCheckpoint:
        model = keras.Sequential([keras.layers.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        saver = checkpoint.TrainingCheckpoint(tmp_path, key=key)
        done = saver.restore(model)
        model.fit(np.ones((4, 2)), np.ones(4), epochs=epochs, initial_epoch=done, verbose=0, callbacks=[saver])
        saver.release()
        return saver

    assert fit("a", 1).resumed_from == 0
    assert fit("b", 2).resumed_from == 0  # another key: not resumed, and overwritten
    assert fit("b", 3).resumed_from == 2
