"""``kedro prune``: old versions go, the newest and those kept metrics name stay."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner
from kedro.framework.startup import bootstrap_project

from fixres_kedro.cli import cli
from fixres_kedro.prune import plan, prune
from tests.conftest import copy_project

VERSIONS = [f"2026-11-{day:02d}T10.00.00.000Z" for day in range(1, 6)]


def _write(root: Path, folder: str, name: str, version: str, content: str = "x") -> Path:
    path = root / folder / name / version / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path.parent


def _data(root: Path) -> None:
    for version in VERSIONS:
        _write(root, "06_models", "initial_model.keras", version, "m" * 1000)
        _write(root, "08_reporting", "model_comparison.png", version)
    # The newest metrics evaluated the oldest model (a node rerun alone, say).
    for version in VERSIONS[-2:]:
        _write(root, "08_reporting", "initial_metrics.json", version, json.dumps(
            {"top1": 0.5, "provenance": {"run_id": version, "inputs": {"initial.model": VERSIONS[0]}}}))
    (root / "02_intermediate").mkdir()
    (root / "02_intermediate" / "train_split.parquet").write_text("not versioned: never touched")


def test_keeps_the_newest_and_whatever_kept_metrics_name(tmp_path):
    _data(tmp_path)
    planned = plan(tmp_path, keep=2)
    removed = {(p.parent.name, p.name) for p in planned.remove}
    # VERSIONS[0] is named by a kept metrics file: everything that run saved stays with it.
    assert removed == {("initial_model.keras", VERSIONS[1]), ("initial_model.keras", VERSIONS[2]),
                       ("model_comparison.png", VERSIONS[1]), ("model_comparison.png", VERSIONS[2])}
    assert planned.freed_bytes == 2 * 1000 + 2
    result = prune(tmp_path, keep=2)
    assert result.freed_bytes == 2 * 1000 + 2  # measured before the folders went
    assert all(not p.exists() for p in result.remove) and all(p.exists() for p in result.keep)
    assert (tmp_path / "06_models" / "initial_model.keras" / VERSIONS[0]).exists()  # named by kept metrics
    assert (tmp_path / "02_intermediate" / "train_split.parquet").exists()


def test_the_command_has_a_dry_run_and_prunes_the_chosen_environment(tmp_path):
    project = copy_project(tmp_path)
    bootstrap_project(project)
    _data(project / "data" / "smoke")
    _data(project / "data")
    cwd = os.getcwd()
    os.chdir(project)
    try:
        dry = CliRunner().invoke(cli, ["prune", "--keep", "1", "--dry-run", "--env", "smoke"], catch_exceptions=False)
        assert dry.exit_code == 0 and "Would remove 7 versions" in dry.output
        assert len(list((project / "data" / "smoke" / "06_models" / "initial_model.keras").iterdir())) == 5
        os.chdir(project / "conf")  # from inside the project, as kedro finds it
        done = CliRunner().invoke(cli, ["prune", "--keep", "1", "--env", "smoke"], catch_exceptions=False)
        assert done.exit_code == 0 and "Removed 7 versions" in done.output
        assert f"in {project / 'data' / 'smoke'};" in done.output
    finally:
        os.chdir(cwd)
    assert len(list((project / "data" / "smoke" / "06_models" / "initial_model.keras").iterdir())) == 2
    assert len(list((project / "data" / "06_models" / "initial_model.keras").iterdir())) == 5  # base untouched
