"""Data-parallel training: two devices give the weights of one, with the same batches.

The two devices are virtual CPU devices: XLA's host platform device count under JAX,
two logical CPU devices under TensorFlow. Each case runs in its own process, as the
devices must be configured before the backend starts.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor

import keras
import numpy as np
import pytest

from fixres_kedro.errors import InvalidParameterError
from fixres_kedro.fixres import distribute
from fixres_kedro.fixres.distribute import data_parallel
from fixres_kedro.fixres.dataset import ImageBatches
from fixres_kedro.fixres.preprocessing import InputPipeline

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend

BACKEND = keras.backend.backend()

TWO_DEVICES = textwrap.dedent(
    """
    import os, sys
    backend = os.environ["KERAS_BACKEND"]
    if backend == "tensorflow":
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from fixres_kedro.fixres.distribute import data_parallel
    from fixres_kedro.fixres.compilation_cache import enable_compilation_cache
    if os.environ.get("FIXRES_COMPILATION_CACHE"):  # the test session's (tests/conftest.py)
        enable_compilation_cache(os.environ["FIXRES_COMPILATION_CACHE"])
    from fixres_kedro.fixres.dataset import ImageBatches
    from fixres_kedro.fixres.preprocessing import InputPipeline
    from fixres_kedro.fixres.model import prepare_finetune
    from fixres_kedro.fixres.training import train_and_evaluate

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (int(rng.integers(20, 40)), int(rng.integers(20, 40)), 3), dtype=np.uint8)
              for _ in range(32)]
    labels = np.arange(32) % 3
    pipeline = InputPipeline(name="tiny", recipe="initial", image_size=16, batch_size=8)

    def tiny_model():
        keras.utils.set_random_seed(0)
        inputs = keras.layers.Input((None, None, 3), name="image")
        x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
        x = keras.layers.Conv2D(8, 3, activation="relu")(x)
        # Batch statistics are where per-device training could differ from one device.
        x = keras.layers.BatchNormalization(name="post_bn")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))

    def train(parallel, start=None):
        with data_parallel(parallel) as replicas:
            model = replicas.adopt(start if start is not None else tiny_model())
            placement = dict(batch_multiple=replicas.batch_multiple)
            history = train_and_evaluate(
                model, ImageBatches(images, labels, pipeline, train=True, **placement),
                ImageBatches(images, labels, pipeline, train=False, **placement),
                epochs=3, learning_rate=1e-2, verbose=0,
            )
            weights = [keras.ops.convert_to_numpy(w) for w in model.weights]
        return replicas.count, weights, history, model

    count, parallel, parallel_history, parallel_model = train(True)
    assert count == 2, count
    assert all(not layer.synchronized for layer in parallel_model.layers
               if isinstance(layer, keras.layers.BatchNormalization))
    _, single, single_history, single_model = train(False)
    # Fine-tuning a model made outside the data-parallel block (as loaded from the catalog).
    base = tiny_model()
    _, tuned, _, _ = train(True, base)
    _, tuned_single, _, _ = train(False, base)
    np.savez(sys.argv[1], *parallel, *single, *tuned, *tuned_single)
    import json
    json.dump({"parallel": parallel_history["history"], "single": single_history["history"],
               "count": len(parallel)}, open(sys.argv[1] + ".json", "w"))
    """
)


@pytest.mark.timeout(600)
@pytest.mark.skipif(BACKEND not in ("jax", "tensorflow"), reason="data parallel needs jax or tensorflow")
def test_two_devices_train_to_the_weights_of_one(tmp_path):
    script = tmp_path / "two_devices.py"
    script.write_text(TWO_DEVICES)
    output = tmp_path / "weights.npz"
    env = {**os.environ, "KERAS_BACKEND": BACKEND, "TF_CPP_MIN_LOG_LEVEL": "3",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    result = subprocess.run([sys.executable, str(script), str(output)], env=env, check=False,
                            capture_output=True, text=True, timeout=500)
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((tmp_path / "weights.npz.json").read_text())
    count = info["count"]
    with np.load(output) as arrays:
        weights = [arrays[f"arr_{i}"] for i in range(4 * count)]
    parallel, single = weights[:count], weights[count : 2 * count]
    tuned, tuned_single = weights[2 * count : 3 * count], weights[3 * count :]
    # The tolerance covers float32 sums done in another order (per device, then across).
    for got, want in zip(parallel + tuned, single + tuned_single):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(info["parallel"][key], info["single"][key], rtol=1e-4, atol=1e-5)


def _images(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, (20 + i % 7, 24, 3), dtype=np.uint8) for i in range(count)]


def _pipeline(**kwargs) -> InputPipeline:
    return InputPipeline(name="tiny", recipe="initial", image_size=8, batch_size=8, **kwargs)


def test_training_batches_drop_the_remainder_to_a_multiple_of_the_devices():
    images = _images(21)  # 8 + 8 + 5: the last batch loses 1 of 5 for 2 devices, 1 for 4
    for devices, kept in ((2, 20), (4, 20), (8, 16)):
        batches = ImageBatches(images, np.arange(21) % 3, _pipeline(), train=True, batch_multiple=devices)
        sizes = [len(batches[i][0]) for i in range(len(batches))]
        assert all(size % devices == 0 for size in sizes) and sum(sizes) == kept
        assert len(set(batches.order)) == kept


def test_validation_batches_are_padded_with_zero_weights():
    images = _images(21)
    batches = ImageBatches(images, np.arange(21) % 3, _pipeline(), train=False, batch_multiple=4)
    *_, (x, y, w) = [batches[i] for i in range(len(batches))]
    assert len(x) == len(y) == len(w) == 8
    np.testing.assert_array_equal(w, [1] * 5 + [0] * 3)
    assert all(len(batches[i]) == 3 for i in range(len(batches)))  # one structure for all


@pytest.mark.parametrize("train", [True, False])
def test_process_shares_put_together_make_the_whole_batch(train):
    images, labels = _images(21), np.arange(21) % 3
    whole = ImageBatches(images, labels, _pipeline(), train=train, batch_multiple=4)
    shares = [ImageBatches(images, labels, _pipeline(), train=train, batch_multiple=4,
                           process_count=2, process_index=p) for p in range(2)]
    for index in range(len(whole)):
        expected = whole[index]
        parts = [share[index] for share in shares]
        for position, want in enumerate(expected):
            np.testing.assert_array_equal(np.concatenate([part[position] for part in parts]), want)


def test_a_batch_that_does_not_divide_by_the_devices_is_refused():
    with pytest.raises(InvalidParameterError, match=r"tiny.dataset.batch_size \(8\) must divide by the 3 devices"):
        ImageBatches(_images(4), np.zeros(4), _pipeline(), train=True, batch_multiple=3)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's multi-worker set-up")
def test_several_tensorflow_workers_are_refused_with_the_way_out(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}')
    with pytest.raises(InvalidParameterError, match="need the JAX backend"):
        with data_parallel(True):
            pass
