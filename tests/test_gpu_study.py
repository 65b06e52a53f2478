"""scripts/gpu_study.py end to end in the smoke environment (tiny backbone, the archive):
the whole study in one folder, resumed as the same study, and a new study that never takes
an earlier study's outputs for its own. A few minutes on 2 CPU cores."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixres_kedro.protocol import MODELS
from tests.conftest import ARCHIVE, REPO

pytestmark = pytest.mark.e2e


def copy_repository(target: Path) -> Path:
    """What the launcher needs of the repository: itself, pyproject.toml and conf/ (the
    package is the installed one), in a git checkout of its own."""
    (target / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "gpu_study.py", target / "scripts")
    shutil.copy(REPO / "pyproject.toml", target)
    shutil.copytree(REPO / "conf", target / "conf", ignore=shutil.ignore_patterns("local"))
    if (REPO / ".telemetry").exists():
        shutil.copy(REPO / ".telemetry", target)
    for command in (["init", "-q"], ["add", "-A"],
                    ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        subprocess.run(["git", "-C", str(target), *command], check=True, capture_output=True)
    return target


def launch(repository: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(repository / "scripts" / "gpu_study.py"), str(ARCHIVE), "--out", str(out),
               "--env", "smoke", "--params", "model.backbone=tiny", *options]
    environment = {**os.environ, "FIXRES_TRACKING": "off"}
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=1500)


def manifest(out: Path) -> dict:
    return json.loads((out / "study.json").read_text())


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    if not ARCHIVE.exists():
        pytest.skip(f"{ARCHIVE} is missing")
    return copy_repository(tmp_path_factory.mktemp("repository"))


def test_the_study_in_one_folder_resumed_as_the_same_study(repository):
    out = repository / "studies" / "first"
    first = launch(repository, out, "--stages", "data,protocols")
    assert first.returncode == 0, first.stdout + first.stderr
    study = manifest(out)
    assert [study["stages"][s]["status"] for s in ("data", "protocols", "sweep")] == ["done", "done", "pending"]
    # One line of progress per finished node, counted by the launcher.
    progress = [line for line in first.stdout.splitlines() if " finished in " in line]
    assert progress and all(line.split("] ", 1)[1].startswith(("data [", "protocols [")) for line in progress)
    protocol_nodes = [line for line in progress if "protocols [" in line]
    assert f"protocols [{len(protocol_nodes)}/" in protocol_nodes[-1]
    protocol_runs = study["stages"]["protocols"]["run_ids"]
    assert len(protocol_runs) == 1

    # The rerun continues: the stages done are skipped, the others run.
    second = launch(repository, out, "--publish", str(out / "published" / "results.md"))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "data: done earlier in this study, skipped" in second.stdout
    assert "protocols: done earlier in this study, skipped" in second.stdout
    study = manifest(out)
    assert all(stage["status"] == "done" for stage in study["stages"].values())
    assert study["stages"]["data"]["attempts"] == 1 and study["stages"]["sweep"]["attempts"] == 1
    assert sorted(p.name for p in (out / "logs").iterdir()) == [
        "data.1.log", "protocols.1.log", "results.1.log", "sweep.1.log", "variants.1.log"]
    assert len(study["sessions"]) == 2 and study["archive"]["sha256"]
    assert study["git_commit"]

    # One folder: results, logs, timings, the manifest.
    page = (out / "results" / "results.md").read_text()
    assert (out / "results" / "images" / "results_sweep.png").stat().st_size > 0
    assert (out / "published" / "results.md").read_text() == page
    timings = (out / "timings.tsv").read_text().splitlines()
    assert {row.split("\t")[0] for row in timings} == {"data", "protocols", "sweep", "variants", "results"}
    assert (out / "project" / "data" / "smoke").is_dir()  # the study's own data root

    # The page's run ids and numbers are the study's metrics files'.
    reporting = out / "project" / "data" / "smoke" / "08_reporting"
    for seed in (0, 1):  # conf/smoke/parameters.yml
        for model in MODELS:
            versions = sorted((reporting / f"seed_{seed}.{model}_metrics.json").iterdir())
            assert [v.name for v in versions] == protocol_runs  # only this study's run
            record = json.loads((versions[-1] / f"seed_{seed}.{model}_metrics.json").read_text())
            assert f"{record['top1'] * 100:.2f}%" in page
    assert f"`{protocol_runs[0]}`" in page
    assert "Every configured seed has all three models' metrics." in page

    # A different archive, env or params is not continued as this study.
    other = launch(repository, out, "--stages", "data", "--env", "base")
    assert other.returncode != 0 and "not continuing it" in other.stderr


def test_a_new_study_never_takes_an_earlier_studys_outputs(repository):
    earlier = repository / "studies" / "first"
    if not (earlier / "study.json").exists():
        pytest.skip("needs the first study (run the whole module)")
    # The earlier study's trained models exist, but not in the new study's data root: its
    # sweep cannot find a model, instead of evaluating the earlier one.
    out = repository / "studies" / "second"
    result = launch(repository, out, "--stages", "data,sweep")
    assert result.returncode != 0
    study = manifest(out)
    assert study["study_id"] != manifest(earlier)["study_id"]
    assert study["stages"]["data"]["status"] == "done"
    assert study["stages"]["sweep"]["status"] == "failed"
    assert not (out / "project" / "data" / "smoke" / "06_models").exists() or not any(
        (out / "project" / "data" / "smoke" / "06_models").glob("*_model.keras/*"))
