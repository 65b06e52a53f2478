"""Shared fixtures: a copy of the project that has run the smoke experiment once.

The copies train the tiny backbone (``model.backbone=tiny``): the smoke environment's
DAG, parameters and data, without building ResNet50V2 in every test. The tests that must
see the real network say so (``backbone="resnet50v2"``, or ``kedro run`` as a user types it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
# The environment the suite started in (KEDRO_ENV, if set): each test starts in it.
SUITE_KEDRO_ENV = os.environ.get("KEDRO_ENV")
# MLflow tracking costs seconds per run (a new store per project copy): off, except in
# tests/test_tracking.py, which turns it on.
os.environ.setdefault("FIXRES_TRACKING", "off")
# One compilation cache for the whole session, its runs and their subprocesses: the same
# small programs are not compiled again by every project copy and process.
os.environ.setdefault("FIXRES_COMPILATION_CACHE", tempfile.mkdtemp(prefix="fixres-compilation-"))


# Each test file's level (pyproject.toml's markers): -m unit runs in a minute or two.
LEVELS = {
    "unit": ("tests/fixres/", "tests/pipelines/", "tests/test_parameters.py", "tests/test_import_graph.py",
             "tests/test_workers.py", "tests/test_runners.py"),
    "integration": ("tests/datasets/", "tests/test_install.py", "tests/test_hooks.py", "tests/test_cli.py", "tests/test_tracking.py",
                    "tests/test_prune.py"),
    "e2e": ("tests/test_run.py", "tests/test_study.py", "tests/test_scale_out.py", "tests/test_notebook.py",
            "tests/test_viz.py", "tests/test_faults.py", "tests/test_faults_split.py", "tests/test_faults_runs.py",
            "tests/test_gpu_study.py", "tests/test_backbone_runs.py", "tests/test_cluster.py"),
}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        path = Path(item.fspath).resolve().relative_to(REPO).as_posix()
        level = next((name for name, prefixes in LEVELS.items() if path.startswith(prefixes)), None)
        if level is None:
            raise pytest.UsageError(f"{path} has no test level: add it to LEVELS in tests/conftest.py")
        item.add_marker(level)


def pytest_configure(config) -> None:
    """The backend starts quietly, as in a run; this process keeps its compiled programs
    in that cache too."""
    from fixres_kedro.fixres.backend import start_backend  # noqa: PLC0415

    start_backend()
    from fixres_kedro.fixres.compilation_cache import enable_compilation_cache  # noqa: PLC0415

    enable_compilation_cache(os.environ["FIXRES_COMPILATION_CACHE"])

REPO = Path(__file__).resolve().parents[1]
# FIXRES_TEST_ARCHIVE: the archive elsewhere (a git worktree's parent has no shared/).
ARCHIVE = Path(os.environ.get("FIXRES_TEST_ARCHIVE") or REPO.parent / "shared" / "data" / "flower_photos.tgz")


def copy_project(target: Path) -> Path:
    """The project's configuration in a fresh folder, so runs write their own data/."""
    shutil.copy(REPO / "pyproject.toml", target / "pyproject.toml")
    shutil.copytree(REPO / "conf", target / "conf", ignore=shutil.ignore_patterns("local"))
    (target / "conf" / "local").mkdir()
    shutil.copy(REPO / ".telemetry", target / ".telemetry")
    (target / "src").mkdir()  # bootstrap_project wants it; the package is installed
    (target / "logs").mkdir()  # conf/logging.yml writes logs/info.log
    return target


SMOKE_DATA = Path("data") / "smoke"  # the smoke environment's data root (conf/smoke/globals.yml)
TEST_PARAMS = {"data": {"source": "archive", "path": str(ARCHIVE)}, "model": {"backbone": "tiny"}}


def run_smoke(project: Path, backbone: str = "tiny", **run_args) -> None:
    """One ``session.run`` in the smoke environment, reading the offline archive."""
    bootstrap_project(project)
    params = {**TEST_PARAMS, "model": {"backbone": backbone}}
    with KedroSession.create(project_path=project, env="smoke", runtime_params=params) as session:
        session.run(**run_args)


@pytest.fixture(autouse=True)
def _environment_restored():
    """Each test starts in the environment the suite started in: a session that loads its
    context without running (as a notebook does) keeps its ``--env`` as ``KEDRO_ENV``."""
    from fixres_kedro.environment import restore_environment  # noqa: PLC0415

    # Before, too: a module or session fixture's session runs before this one, its env set.
    restore_environment(SUITE_KEDRO_ENV)
    yield
    restore_environment(SUITE_KEDRO_ENV)


@pytest.fixture(scope="session")
def smoke_project(tmp_path_factory) -> Path:
    """A project copy after one ``fixres`` run in the smoke environment (tiny backbone)."""
    if not ARCHIVE.exists():
        pytest.skip(f"{ARCHIVE} is missing")
    project = copy_project(tmp_path_factory.mktemp("smoke"))
    run_smoke(project, pipeline_names=["fixres"])
    return project
