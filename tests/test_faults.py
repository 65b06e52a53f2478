"""Faults on purpose: full disks, kills, damaged files, two runs at once.

Each test checks that nothing earlier is lost and that the user reads one line. The
full-disk tests mount a small tmpfs (root on Linux) and are skipped where that is not
allowed. ``kedro run`` goes through the real command line on a copy of the smoke
project, with the tiny backbone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from kedro.io.core import DatasetError

from fixres_kedro.datasets import DecodedSplitDataset, JSONDataset, SplitDataset
from fixres_kedro.errors import CheckpointInUseError, DamagedFileError, find_user_error
from fixres_kedro.fixres import checkpoint
from tests.conftest import ARCHIVE, SMOKE_DATA, copy_project

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend

SMOKE_RUN = ("--env=smoke",)


def _env() -> dict[str, str]:
    return {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
            "FIXRES_DATA_SOURCE": "archive", "FIXRES_DATA_PATH": str(ARCHIVE)}


def _kedro(project: Path, *args: str, params: str = "") -> subprocess.CompletedProcess:
    params = ",".join(filter(None, ["model.backbone=tiny", params]))
    return subprocess.run(
        [sys.executable, "-m", "kedro", "run", *SMOKE_RUN, *args, "--params", params],
        cwd=project, env=_env(), capture_output=True, text=True, timeout=600, check=False,
    )


def _last_line(result: subprocess.CompletedProcess) -> str:
    return (result.stdout + result.stderr).strip().splitlines()[-1]


@pytest.fixture
def project(smoke_project, tmp_path) -> Path:
    """A fresh project copy holding the smoke run's split (and nothing else)."""
    copy = copy_project(tmp_path)
    shutil.copytree(smoke_project / SMOKE_DATA / "02_intermediate", copy / SMOKE_DATA / "02_intermediate")
    return copy


class SmallDisk(type(Path())):
    """A mounted tmpfs; ``fill(free)`` leaves only ``free`` bytes on it."""

    def fill(self, free: int) -> None:
        with open(self / "filler", "wb") as file:
            file.write(b"\0" * (shutil.disk_usage(self).free - free))


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (skipped where mounting one is not allowed)."""
    mount = SmallDisk(tmp_path / "small_disk")
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()})")
    yield mount
    if subprocess.run(["umount", str(mount)], check=False).returncode != 0:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".partial" in p.name]


# --- a full disk ----------------------------------------------------------------------


def test_a_failed_model_save_keeps_the_training_for_the_next_run(project, small_disk):
    models = project / SMOKE_DATA / "06_models"
    models.mkdir(parents=True)
    (small_disk / "models").mkdir()
    (models / "initial_model.keras").symlink_to(small_disk / "models")
    small_disk.fill(free=8 * 1024)  # the tiny model's file needs more

    failed = _kedro(project, "--pipeline=initial")
    assert failed.returncode == 1, failed.stdout[-3000:]
    line = _last_line(failed)
    assert line.startswith("Error: no space left on the device for ") and "initial_model.keras" in line, line
    assert "Traceback" not in failed.stdout + failed.stderr
    assert _partials(small_disk) == []
    (run,) = (models / "checkpoints").iterdir()  # the training survived the failed save
    assert [p.name for p in run.glob("epoch-*")] == ["epoch-0001"]

    (small_disk / "filler").unlink()
    again = _kedro(project, "--pipeline=initial")
    assert again.returncode == 0, again.stdout[-3000:]
    assert "Resuming from" in again.stdout and "initial epoch 1/1" not in again.stdout
    assert list((models / "checkpoints").iterdir()) == []  # gone once the model is saved
    assert len(list((small_disk / "models").iterdir())) == 1  # one version


def test_a_full_disk_while_checkpointing_is_one_line_and_no_crash(project, small_disk):
    models = project / SMOKE_DATA / "06_models"
    models.mkdir(parents=True)
    (models / "checkpoints").symlink_to(small_disk)
    small_disk.fill(free=4 * 1024)
    failed = _kedro(project, "--pipeline=initial")
    assert failed.returncode == 1, failed.stdout[-3000:]  # not 139: the interpreter lives
    line = _last_line(failed)
    assert line.startswith("Error: no space left on the device for ") and "weights.bin" in line, line
    assert "Traceback" not in failed.stdout + failed.stderr
    assert _partials(small_disk) == []


# --- damaged files ----------------------------------------------------------------------


def _fit(directory: Path, epochs: int, seed: int = 0) -> checkpoint.TrainingCheckpoint:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.layers.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    saver = checkpoint.TrainingCheckpoint(directory, "key")
    done = saver.restore(model)
    model.fit(np.ones((4, 2)), np.ones(4), epochs=epochs, initial_epoch=done, verbose=0, callbacks=[saver])
    saver.release()
    return saver


@pytest.mark.parametrize("damage", ["truncated", "overwritten", "state"])
def test_a_damaged_checkpoint_is_set_aside_and_training_starts_afresh(tmp_path, caplog, damage):
    _fit(tmp_path, epochs=1)
    saved = tmp_path / "epoch-0001"
    if damage == "truncated":
        weights = saved / "weights.bin"
        weights.write_bytes(weights.read_bytes()[:-7])
    elif damage == "overwritten":  # a kernel value changed in place: the size is right
        with open(saved / "weights.bin", "r+b") as file:
            file.write(b"\x00\x00\x80\x7f")
    else:
        state = json.loads((saved / "state.json").read_text())
        state["epochs_done"] = 5
        (saved / "state.json").write_text(json.dumps(state))
    with caplog.at_level("WARNING"):
        resumed = _fit(tmp_path, epochs=2)
    assert resumed.resumed_from == 0 and len(resumed.history["loss"]) == 2
    (aside,) = tmp_path.glob("damaged-epoch-0001-*")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and str(saved) in warnings[0] and aside.name in warnings[0]
    assert (tmp_path / "epoch-0002").is_dir()


KILLED_WHILE_WRITING = textwrap.dedent(
    """
    import os, signal, sys
    import keras, numpy as np
    from fixres_kedro.fixres import checkpoint

    directory, epochs, kill_at = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    original = checkpoint.write_checkpoint
    def write(folder, epochs_done, *args):
        if epochs_done == 3 and kill_at == "weights":  # the weights written, not the state
            real_dump = checkpoint.json.dump
            def dump_then_die(*a, **k):
                os.kill(os.getpid(), signal.SIGKILL)
            checkpoint.json.dump = dump_then_die
        if epochs_done == 3 and kill_at == "rename":  # everything written, not renamed
            real_replace = checkpoint.os.replace
            def replace_then_die(source, target):
                if str(target).endswith("epoch-0003"):
                    os.kill(os.getpid(), signal.SIGKILL)
                return real_replace(source, target)
            checkpoint.os.replace = replace_then_die
        return original(folder, epochs_done, *args)
    checkpoint.write_checkpoint = write
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    saver = checkpoint.TrainingCheckpoint(directory, "key")
    done = saver.restore(model)
    model.fit(np.ones((4, 2)), np.ones(4), epochs=epochs, initial_epoch=done, verbose=0, callbacks=[saver])
    print("resumed_from", saver.resumed_from)
    """
)


@pytest.mark.parametrize("kill_at", ["weights", "rename"])
def test_a_kill_while_checkpointing_leaves_the_previous_epochs_checkpoint(tmp_path, kill_at):
    script = tmp_path / "train.py"
    script.write_text(KILLED_WHILE_WRITING)
    run = [sys.executable, str(script), str(tmp_path / "run"), "5"]
    killed = subprocess.run([*run, kill_at], capture_output=True, text=True, timeout=300, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "run").glob("epoch-*")) == ["epoch-0002"]
    resumed = subprocess.run([*run, "none"], capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed_from 2" in resumed.stdout
    assert sorted(p.name for p in (tmp_path / "run").glob("*") if p.name != "lock") == ["epoch-0005"]


def _written_split(tmp_path: Path) -> tuple[Path, int]:
    import pandas as pd  # noqa: PLC0415

    from fixres_kedro.pipelines.data.nodes import split_dataset  # noqa: PLC0415
    from fixres_kedro.parameters import SplitParams  # noqa: PLC0415
    from tests.datasets.conftest import jpeg_bytes  # noqa: PLC0415

    photos = pd.DataFrame({
        "key": [f"daisy/{i}.jpg" for i in range(40)], "label": [0] * 40, "class_name": ["daisy"] * 40,
        "image": [jpeg_bytes(i, size=(60, 80)) for i in range(40)],
    })
    train, _, _, _ = split_dataset(photos, SplitParams(**{"train": "train[:90%]", "validation": "train[90%:]"}))
    path = tmp_path / "train_split.parquet"
    SplitDataset(filepath=str(path)).save(train)
    return path, len(train)


def test_a_damaged_split_stops_with_one_line_naming_the_file_and_the_row(tmp_path):
    path, _ = _written_split(tmp_path)
    assert Path(f"{path}.sha256").is_file()
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # 64 zero bytes inside a photo
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError) as error:
        DecodedSplitDataset(filepath=str(path)).load()
    damaged = find_user_error(error.value)
    assert isinstance(damaged, DamagedFileError)
    message = str(damaged)
    assert "\n" not in message and str(path) in message
    # In the environment it was read in (none given: local), as a smoke run would be told smoke.
    assert message.endswith("write it again with `kedro run --pipelines=data --env local`")
    assert " row " in message or "cannot be read" in message


def test_a_damaged_split_without_its_digest_file_names_the_row(tmp_path):
    path, _ = _written_split(tmp_path)
    Path(f"{path}.sha256").unlink()  # an older split: each photo's digest is all there is
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError) as error:
        DecodedSplitDataset(filepath=str(path)).load()
    message = str(find_user_error(error.value))
    assert "\n" not in message and str(path) in message
    assert " row " in message or "cannot be read" in message


def test_an_undamaged_split_loads_and_every_photo_is_checked(tmp_path):
    path, count = _written_split(tmp_path)
    assert len(DecodedSplitDataset(filepath=str(path)).load()) == count


def test_a_damaged_split_in_a_run_is_one_line(project):
    split = project / SMOKE_DATA / "02_intermediate" / "train_split.parquet"
    data = bytearray(split.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    split.write_bytes(bytes(data))
    failed = _kedro(project, "--pipeline=initial")
    assert failed.returncode == 1
    line = _last_line(failed)
    # The hint names the environment the run was in (#17: every hint names its --env).
    assert line.startswith(f"Error: {split}") and line.endswith("`kedro run --pipelines=data --env smoke`"), line


def test_a_damaged_model_names_its_version_and_an_earlier_one(smoke_project, project):
    shutil.copytree(smoke_project / SMOKE_DATA / "06_models", project / SMOKE_DATA / "06_models",
                    ignore=shutil.ignore_patterns("checkpoints"))
    for name in ("05_model_input", "07_model_output"):
        shutil.copytree(smoke_project / SMOKE_DATA / name, project / SMOKE_DATA / name)
    folder = project / SMOKE_DATA / "06_models" / "initial_model.keras"
    earlier = sorted(p.name for p in folder.iterdir())[-1]
    latest = folder / "2099-01-01T00.00.00.000Z" / "initial_model.keras"
    latest.parent.mkdir()
    latest.write_bytes((folder / earlier / "initial_model.keras").read_bytes()[:2000])  # truncated
    failed = _kedro(project, "--nodes=initial.evaluate_model")
    assert failed.returncode == 1
    line = _last_line(failed)
    assert str(latest) in line and f"--load-versions=<dataset>:{earlier}" in line, line
    assert "/tmp/tmp" not in line


# --- two runs at once ---------------------------------------------------------------------

HOLD_THE_LOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from fixres_kedro.fixres import checkpoint
    checkpoint.TrainingCheckpoint(Path(sys.argv[1])).acquire()
    print("holding", flush=True)
    time.sleep(60)
    """
)


def test_a_second_run_of_the_same_training_stops_naming_the_first(tmp_path):
    folder = tmp_path / "initial-0123456789abcdef"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(folder)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(CheckpointInUseError) as error:
            checkpoint.TrainingCheckpoint(folder).acquire()
        message = str(error.value)
        assert f"pid {holder.pid}" in message and str(folder.resolve()) in message and "\n" not in message
    finally:
        holder.kill()
        holder.wait()
    second = checkpoint.TrainingCheckpoint(folder)
    second.acquire()  # free again once the first run is gone
    second.release()


# --- Kedro's own outputs ----------------------------------------------------------------------

KILLED_MID_JSON = textwrap.dedent(
    """
    import json, os, signal, sys
    from kedro.io import Version
    from fixres_kedro.datasets import JSONDataset
    dataset = JSONDataset(filepath=sys.argv[1], version=Version(None, "2099-01-01T00.00.00.000Z"))
    def dump_half_then_die(data, file, **kwargs):
        file.write('{"top1": 0.')
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    json.dump = dump_half_then_die
    dataset.save({"top1": 0.9})
    """
)


def test_a_kill_mid_write_never_leaves_a_half_written_version(tmp_path):
    from kedro.io import Version  # noqa: PLC0415

    path = tmp_path / "initial_metrics.json"
    JSONDataset(filepath=str(path), version=Version(None, "2026-01-01T00.00.00.000Z")).save({"top1": 0.5})
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_JSON, str(path)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _partials(path)  # the half-written file is there, under another name...
    assert JSONDataset(filepath=str(path), version=Version(None, None)).load() == {"top1": 0.5}  # ...and not read
