"""Faults of the split as one unit (issue #18, items 1, 2 and 5): a data run killed between
its renames, two data runs at once, writers of one file at once, and small files that are
not what their readers need.

Runs go through the real command line (``python -m kedro run``) on a copy of the smoke
project with the tiny backbone; kills are real signals.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixres_kedro.datasets import ClassNamesDataset, JSONDataset, TypedJSONDataset
from fixres_kedro.datasets.split_manifest import LOCK_NAME, live_holder
from fixres_kedro.errors import DamagedFileError
from tests.conftest import ARCHIVE, SMOKE_DATA, copy_project

pytestmark = pytest.mark.keras

SPLIT = SMOKE_DATA / "02_intermediate"
REWRITE = "`kedro run --pipelines=data --env smoke`"


def _env() -> dict[str, str]:
    return {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
            "FIXRES_DATA_SOURCE": "archive", "FIXRES_DATA_PATH": str(ARCHIVE)}


def _command(*args: str, params: str = "") -> list[str]:
    params = ",".join(filter(None, ["model.backbone=tiny", params]))
    return [sys.executable, "-m", "kedro", "run", "--env=smoke", *args, "--params", params]


def _kedro(project: Path, *args: str, params: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(_command(*args, params=params), cwd=project, env=_env(), capture_output=True,
                          text=True, timeout=600, check=False)


def _start(project: Path, *args: str, params: str = "") -> subprocess.Popen:
    return subprocess.Popen(_command(*args, params=params), cwd=project, env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error:")]


def _one_error(result: subprocess.CompletedProcess) -> str:
    """The run failed with exactly one ``Error:`` line and no traceback: that line."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    errors = _error_lines(result)
    assert len(errors) == 1, output[-3000:]
    return errors[0]


def _partials(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if ".partial" in path.name]


@pytest.fixture
def project(tmp_path) -> Path:
    """A fresh smoke project with one data run's split."""
    if not ARCHIVE.exists():
        pytest.skip(f"{ARCHIVE} is missing")
    copy = copy_project(tmp_path)
    result = _kedro(copy, "--pipelines=data")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return copy


def _manifest(project: Path) -> dict:
    return json.loads((project / SPLIT / "split_manifest.json").read_text())


# --- 1. a split is one unit ------------------------------------------------------------


def test_the_manifest_names_the_data_run_and_the_digest_of_each_part(project):
    manifest = _manifest(project)
    assert manifest["state"] == "complete" and manifest["run_id"]
    assert set(manifest["parts"]) == {"train_split", "validation_split", "class_names", "split_summary"}
    digest = (project / SPLIT / "train_split.parquet.sha256").read_text().strip()
    assert manifest["parts"]["train_split"]["sha256"] == digest
    assert manifest["class_names"] == json.loads((project / SPLIT / "class_names.json").read_text())


def _kill_between_renames(project: Path, attempts: int = 6) -> bool:
    """Start a data run with other split sizes and SIGKILL it once its train split is in
    place but its validation split is not (watching the files). Whether it landed there."""
    train, validation = project / SPLIT / "train_split.parquet", project / SPLIT / "validation_split.parquet"
    for _ in range(attempts):
        before = (train.stat().st_mtime_ns, validation.stat().st_mtime_ns)
        run = _start(project, "--pipelines=data",
                     params="data.split.max_train_examples=40,data.split.max_validation_examples=20")
        try:
            while run.poll() is None and train.stat().st_mtime_ns == before[0]:
                time.sleep(0.0005)
            if run.poll() is None:
                run.send_signal(signal.SIGSTOP)  # frozen where it is: between the renames?
                if validation.stat().st_mtime_ns == before[1]:
                    run.kill()
                    run.wait()
                    return True
        finally:
            if run.poll() is None:
                run.send_signal(signal.SIGCONT)
            run.wait(timeout=120)
    return False


def test_a_data_run_killed_between_its_renames_leaves_a_split_that_is_refused(project):
    """Issue #18, 1: 40 train rows of the killed run beside 24 validation rows of the earlier
    one trained silently; now the next training stops in one line naming the command."""
    if not _kill_between_renames(project):
        pytest.skip("no kill landed between the train and the validation rename")
    assert _manifest(project)["state"] == "writing"
    line = _one_error(_kedro(project, "--pipelines=initial"))
    assert "incomplete" in line and REWRITE in line, line
    assert not (project / SMOKE_DATA / "06_models").exists()  # nothing trained on the mixture


def test_a_data_run_failing_between_its_renames_leaves_a_split_that_is_refused(project):
    """Deterministic twin of the kill: the validation part cannot be saved (its digest's
    path is a folder), so the train part of the new run sits beside the old validation part."""
    (project / SPLIT / "validation_split.parquet.sha256").unlink()
    (project / SPLIT / "validation_split.parquet.sha256").mkdir()
    old = (project / SPLIT / "train_split.parquet.sha256").read_text()
    failed = _kedro(project, "--pipelines=data", params="data.split.max_train_examples=40")
    assert failed.returncode != 0
    assert (project / SPLIT / "train_split.parquet.sha256").read_text() != old  # the train part is new
    (project / SPLIT / "validation_split.parquet.sha256").rmdir()
    line = _one_error(_kedro(project, "--pipelines=initial"))
    assert REWRITE in line and "split" in line, line
    # The command it names makes the split whole again.
    assert _kedro(project, "--pipelines=data").returncode == 0
    assert _manifest(project)["state"] == "complete"


def test_a_part_from_another_data_run_is_refused_naming_the_part(project, tmp_path):
    """A validation part copied from another data run (mixed by hand or by a tool)."""
    (tmp_path / "other").mkdir()
    other = copy_project(tmp_path / "other")
    assert _kedro(other, "--pipelines=data", params="data.split.max_validation_examples=20").returncode == 0
    for name in ("validation_split.parquet", "validation_split.parquet.sha256"):
        shutil.copy(other / SPLIT / name, project / SPLIT / name)
    line = _one_error(_kedro(project, "--pipelines=initial"))
    assert "validation_split.parquet" in line and "mixes data runs" in line and REWRITE in line, line


def test_a_split_without_its_manifest_is_refused(project):
    (project / SPLIT / "split_manifest.json").unlink()
    line = _one_error(_kedro(project, "--pipelines=initial"))
    assert "split_manifest.json is missing" in line and REWRITE in line, line


# --- 2. concurrent writers ---------------------------------------------------------------


def test_a_second_data_run_while_one_writes_stops_with_one_line_naming_it(project):
    """Issue #18, 2: the first run is frozen (SIGSTOP) while it holds the split's lock; the
    second stops naming it; the first then finishes, and the split is whole and its own."""
    lock = project / SPLIT / LOCK_NAME
    for _ in range(6):
        first = _start(project, "--pipelines=data", params="data.split.max_train_examples=40")
        def holds() -> bool:  # locked, and the holder's line written
            return live_holder(lock) is not None and f'"pid": {first.pid}' in lock.read_text()

        while first.poll() is None and not holds():
            time.sleep(0.0005)
        if first.poll() is None:
            first.send_signal(signal.SIGSTOP)
            if holds():
                break
            first.send_signal(signal.SIGCONT)
        first.wait(timeout=120)
    else:
        pytest.fail("never caught the first data run holding the split's lock")
    try:
        second = _kedro(project, "--pipelines=data")
    finally:
        first.send_signal(signal.SIGCONT)
    output, _ = first.communicate(timeout=120)
    assert first.returncode == 0, output[-3000:]
    line = _one_error(second)
    assert f"pid {first.pid}" in line and "data run" in line, line
    manifest = _manifest(project)
    assert manifest["state"] == "complete"
    assert f"run {manifest['run_id']}" in output  # the first run's split
    assert _partials(project / SMOKE_DATA) == []


def test_two_writers_of_one_file_at_once_both_succeed(tmp_path):
    """Each writer has its own temporary file: before, both used ``<file>.partial`` and the
    second one's rename took the first one's file away (FileNotFoundError, a traceback)."""
    path = tmp_path / "class_names.json"
    second = JSONDataset(filepath=str(path))

    class Interrupted(JSONDataset):
        def _before_rename(self, partial: str, target: str) -> None:
            second.save(["from", "the", "second", "writer"])  # lands while the first is unrenamed

    Interrupted(filepath=str(path)).save(["first"])
    assert json.loads(path.read_text()) == ["first"]  # the last rename wins, whole
    assert _partials(tmp_path) == []


# --- 5. small files checked on load -----------------------------------------------------


@pytest.mark.parametrize(("content", "says"), [
    ('["daisy", "dandel', "is not valid JSON"),
    ('{"daisy": 0}', "is not a list of class names"),
    ('["daisy", 3]', "is not a list of class names"),
    ("COUNT", "has 3 class names but the split's labels have 5"),
    ("ORDER", "in another order than the split's labels"),
    ('["a", "b", "c", "d", "e"]', "names other classes than the split's labels"),
])
def test_a_wrong_class_names_file_is_one_line_naming_it_and_the_command(project, content, says):
    """Issue #18, 5: invalid JSON was a 248-line traceback; 3 of 5 names a 401-line
    InvalidArgumentError from inside the loss."""
    path = project / SPLIT / "class_names.json"
    names = json.loads(path.read_text())
    text = {"COUNT": json.dumps(names[:3]), "ORDER": json.dumps(names[::-1])}.get(content, content)
    path.write_text(text)
    line = _one_error(_kedro(project, "--pipelines=initial"))
    assert "class_names.json" in line and says in line and REWRITE in line, line


def test_class_names_load_checks_the_manifest(project):
    """The dataset itself (a notebook's load) checks, outside any run."""
    dataset = ClassNamesDataset(filepath=str(project / SPLIT / "class_names.json"),
                                manifest=str(project / SPLIT / "split_manifest.json"))
    assert dataset.load() == _manifest(project)["class_names"]
    # The same names, written otherwise: not the file the data run wrote.
    (project / SPLIT / "class_names.json").write_text(json.dumps(dataset.load(), indent=8))
    with pytest.raises(DamagedFileError, match=r"mixes data runs; rewrite it with `kedro run --pipelines=data"):
        dataset.load()


def test_a_truncated_metrics_file_is_one_line_naming_it_and_the_pipeline(tmp_path):
    path = tmp_path / "initial_metrics.json"
    path.write_text('{"top1": 0.5, "top5"')
    dataset = TypedJSONDataset(filepath=str(path), schema="fixres_kedro.metrics.Metrics",
                               dataset_name="initial.metrics")
    with pytest.raises(DamagedFileError) as raised:
        dataset.load()
    message = str(raised.value)
    assert "\n" not in message and str(path) in message and "is not valid JSON" in message
    assert "rewrite it with `kedro run" in message


def test_a_truncated_metrics_file_in_a_report_run_is_one_line(smoke_project, tmp_path):
    """Issue #18, 5: a half-truncated initial_metrics.json, then --pipeline=report: a
    252-line traceback."""
    copy = copy_project(tmp_path)
    shutil.copytree(smoke_project / SMOKE_DATA, copy / SMOKE_DATA)
    newest = sorted((copy / SMOKE_DATA / "08_reporting" / "initial_metrics.json").iterdir())[-1]
    file = newest / "initial_metrics.json"
    file.write_text(file.read_text()[: len(file.read_text()) // 2])
    line = _one_error(_kedro(copy, "--pipelines=report"))
    assert "initial_metrics.json" in line and "is not valid JSON" in line, line
    assert "`kedro run --pipelines=initial --env smoke`" in line, line


def test_a_wrong_input_pipeline_file_names_the_pipeline_that_writes_it(tmp_path):
    path = tmp_path / "initial_input_pipeline.json"
    path.write_text('{"image_size": "big"}')
    dataset = TypedJSONDataset(filepath=str(path), schema="fixres_kedro.parameters.InputPipeline",
                               dataset_name="initial.input_pipeline")
    with pytest.raises(DamagedFileError, match=r"is not a InputPipeline file .*: rewrite it with"):
        dataset.load()
