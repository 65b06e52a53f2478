"""The command line: every mistake a user makes ends in one helpful line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from kedro.framework.startup import bootstrap_project

from fixres_kedro.cli import cli
from tests.conftest import ARCHIVE, copy_project


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("cli"))
    bootstrap_project(project)
    return project


def _invoke(project: Path, *args: str):
    cwd = os.getcwd()
    os.chdir(project)
    try:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["run", "--pipeline=doesnotexist"],
         "Error: no pipeline named 'doesnotexist'; pipelines, closest first: "),
        (["run", "--pipelines=fixres", "--nodes=finetune.evaluate_modle"],
         "Error: no node named 'finetune.evaluate_modle' in the pipeline fixres; nodes, closest "
         "first: finetune.evaluate_model, "),
        (["run", "--env=smoke", "--pipeline=seeds", "--namespaces=seed_9"],
         "Error: no namespace named 'seed_9' in the pipeline seeds; namespaces, closest first: "),
        (["run", "--params", "initial.training.epoch=5"],
         "Error: Invalid parameters: initial.training.epoch is not a parameter (did you mean "
         "initial.training.epochs?)"),
        (["run", "--env=smoke", "--params", "seed=abc"],
         "Error: Invalid parameters: seed must be an integer >= 0, got 'abc'"),
        (["registry", "describe", "nope"], "Error: no pipeline named 'nope'; pipelines, closest first: "),
    ],
)
def test_each_mistake_is_one_line(project, args, line):
    result = _invoke(project, *args)
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(line), last
    assert "Traceback" not in result.output


def test_registry_describes_the_seeds_of_the_chosen_environment(project):
    smoke = _invoke(project, "registry", "describe", "seeds", "--env", "smoke").output
    base = _invoke(project, "registry", "describe", "seeds").output
    assert "seed_1.initial.train_model" in smoke and "seed_2.initial.train_model" not in smoke
    assert "seed_4.initial.train_model" in base


@pytest.mark.parametrize("flag", ["--pipeline=fixres", "--pipelines=fixres"])
def test_kedro_run_stops_on_a_bad_parameter_with_one_line(tmp_path, flag):
    """The real command line, as a user types it."""
    project = copy_project(tmp_path)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1",
           "FIXRES_DATA_SOURCE": "archive", "FIXRES_DATA_PATH": str(ARCHIVE)}
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", flag, "--env=smoke", "--params", "vanilla.training.epochs=-3"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 1
    last = (result.stdout + result.stderr).strip().splitlines()[-1]
    assert last == "Error: Invalid parameters: vanilla.training.epochs must be a positive integer, got -3"
    assert "Traceback" not in result.stdout + result.stderr


def test_a_node_whose_input_was_never_saved_in_this_environment_says_so(project):
    """After a smoke run, a node run without --env reads the base environment's data."""
    result = _invoke(project, "run", "--nodes=finetune.evaluate_model")
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: nothing is saved yet at ") and "finetune_model.keras" in last, last
    assert "--env" in last
