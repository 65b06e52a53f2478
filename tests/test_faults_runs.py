"""Faults across runs: a study cut short, with an earlier complete study on disk.

Kedro's ``--only-missing-outputs`` counts any earlier version as present, so it used to
skip the cut study's unfinished nodes and report the earlier study's models. The real
command line, real signals, the smoke environment and the tiny backbone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import ARCHIVE, SMOKE_DATA, copy_project

pytestmark = pytest.mark.study

COMMAND = ("run", "--env=smoke", "--pipeline=study", "--params", "model.backbone=tiny")
FINISHED = re.compile(r"\[\d+/\d+\] (\S+) finished in ")
RUN_ID = re.compile(r"Finished: run (\S+?);")


def _env() -> dict[str, str]:
    return {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
            "FIXRES_DATA_SOURCE": "archive", "FIXRES_DATA_PATH": str(ARCHIVE)}


def _kedro(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kedro", *COMMAND, *args], cwd=project, env=_env(),
                          capture_output=True, text=True, timeout=900, check=False)


def _cut_short(project: Path, after: int, number: int | None = None,
               then: Callable[[], None] | None = None) -> tuple[int, str]:
    """A study stopped by the signal ``number``, or made to fail by ``then``, once ``after``
    nodes have finished."""
    process = subprocess.Popen([sys.executable, "-m", "kedro", *COMMAND], cwd=project, env=_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if sum(bool(FINISHED.search(seen)) for seen in lines) == after:
            if number is not None:
                process.send_signal(number)
            if then is not None:
                then()
            break
    lines += process.stdout.readlines()
    return process.wait(timeout=120), "".join(lines)


def _finished(output: str) -> list[str]:
    return FINISHED.findall(output)


def _versions(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir())


@pytest.fixture(scope="module")
def earlier_study(tmp_path_factory) -> tuple[Path, str]:
    """A project after one complete smoke study, and that study's run id."""
    if not ARCHIVE.exists():
        pytest.skip(f"{ARCHIVE} is missing")
    project = copy_project(tmp_path_factory.mktemp("studies"))
    done = _kedro(project)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    return project, RUN_ID.search(output).group(1)


def test_only_missing_outputs_with_an_earlier_study_is_refused_in_one_line(earlier_study):
    project, _ = earlier_study
    done = _kedro(project, "--only-missing-outputs")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    last = output.strip().splitlines()[-1]
    assert last.startswith("Error: --only-missing-outputs would count any earlier run's "), last
    assert "--resume <its run id>" in last and "Traceback" not in output
    assert not _finished(output)


def test_a_study_cut_short_resumes_as_itself_over_an_earlier_study(earlier_study):
    project, first = earlier_study
    code, cut = _cut_short(project, after=20, number=signal.SIGINT)
    assert code == 130, cut[-3000:]
    stop = cut.strip().splitlines()[-1]
    found = re.search(r"run the same command with --resume (\S+) to continue this run", stop)
    assert found, stop
    second = found.group(1)
    assert second != first
    finished = _finished(cut)
    assert 20 <= len(finished) < 40

    done = _kedro(project, "--resume", second)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert f"Finished: run {second};" in output
    resumed = _finished(output)
    # Only what the cut study had not finished runs (the node whose outputs the signal
    # stopped mid-save, at most, again), and between them every node of the study ran.
    assert len(set(resumed) & set(finished)) <= 1, set(resumed) & set(finished)
    listed = subprocess.run([sys.executable, "-m", "kedro", "registry", "describe", "study", "--env=smoke"],
                            cwd=project, env=_env(), capture_output=True, text=True, timeout=300, check=True)
    nodes = set(re.findall(r"^- (\S+) \(", listed.stdout, re.MULTILINE))
    assert len(nodes) > 40 and set(resumed) | set(finished) == nodes

    # The report is the second study's, and every model it evaluated is the second's.
    reporting = project / SMOKE_DATA / "08_reporting"
    assert _versions(reporting / "study_report.html") == sorted([first, second])
    for metrics in reporting.glob("*metrics.json"):
        assert second in _versions(metrics), metrics
        provenance = json.loads((metrics / second / metrics.name).read_text())["provenance"]
        assert provenance["run_id"] == second
        models = {name: version for name, version in provenance["inputs"].items() if name.endswith(".model")}
        assert models and set(models.values()) == {second}, (metrics.name, models)
    page = (reporting / "results.md").read_text()
    assert second in page and first not in page


def test_a_node_stopped_between_the_saves_of_its_outputs_runs_again_on_resume(earlier_study):
    """Kedro saves a node's outputs one by one after it: a stop between them leaves the
    model without its history. The resume trains again and writes both, and what follows."""
    project, first = earlier_study
    history = project / SMOKE_DATA / "07_model_output" / "vanilla_history.json"
    shutil.rmtree(history / first)
    done = _kedro(project, "--resume", first)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    resumed = _finished(output)
    assert resumed[0] == "vanilla.train_model" and "write_report" in resumed and len(resumed) < 15, resumed
    warnings = [line for line in output.splitlines() if " WARNING resuming run " in line]
    assert len(warnings) == 1 and "are written again" in warnings[0], warnings
    assert (history / first / history.name).exists()
    metrics = project / SMOKE_DATA / "08_reporting" / "vanilla_metrics.json" / first / "vanilla_metrics.json"
    assert json.loads(metrics.read_text())["provenance"]["inputs"]["vanilla.model"] == first


def test_a_study_failing_on_a_users_error_names_its_resume_and_resumes_after_the_fix(earlier_study):
    """A node that fails with a one-line error after others saved their outputs: the line says
    how to continue this run once fixed, and that resume trains nothing twice."""
    project, first = earlier_study
    split = project / SMOKE_DATA / "02_intermediate" / "validation_split.parquet"
    whole = split.read_bytes()
    damaged = bytearray(whole)
    damaged[len(damaged) // 2] ^= 0xFF
    code, failed = _cut_short(project, after=20, then=lambda: split.write_bytes(bytes(damaged)))
    split.write_bytes(whole)  # the fix: the split as its data run wrote it
    assert code == 1, failed[-3000:]
    last = failed.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "validation_split.parquet" in last and "Traceback" not in failed, last
    found = re.search(r"saved \d+ of its outputs: once this is fixed, the same command with --resume (\S+) "
                      r"continues it\)$", last)
    assert found, last
    second = found.group(1)
    assert second != first
    finished = _finished(failed)
    assert len(finished) >= 20

    done = _kedro(project, "--resume", second)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert f"Finished: run {second};" in output
    assert not set(_finished(output)) & set(finished)
    page = (project / SMOKE_DATA / "08_reporting" / "results.md").read_text()
    assert second in page
