"""The command line: every mistake a user makes ends in one helpful line."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from PIL import Image
from click.testing import CliRunner
from kedro.framework.startup import bootstrap_project

from fixres_kedro.cli import cli
from fixres_kedro.errors import find_user_error
from fixres_kedro.protocol import MODELS
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
        (["run", "--env=smoke", "--resume", "yesterday"],
         "Error: --resume takes the run id a run printed (e.g. 2026-12-04T06.31.22.123Z), got 'yesterday'"),
        (["run", "--env=smoke", "--pipeline=report", "--resume", "2020-01-01T00.00.00.000Z"],
         "Error: run 2020-01-01T00.00.00.000Z wrote none of this pipeline's "),
        (["run", "--env=smok"], "Error: no environment named 'smok' (--env or KEDRO_ENV) in conf/; "
                                "environments, closest first: smoke, "),
        (["registry", "list", "--env=gpx"], "Error: no environment named 'gpx' (--env or KEDRO_ENV) in conf/; "
                                            "environments, closest first: gpu, "),
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


def test_an_image_size_the_host_cannot_hold_is_one_line_before_the_split(tmp_path):
    """The issue's probe: 112 GiB for one image ended in a MemoryError traceback. The
    archive holds two photos, and no split is written: the refusal comes first."""
    project = copy_project(tmp_path)
    photo = io.BytesIO()
    Image.new("RGB", (8, 8)).save(photo, format="PNG")
    with tarfile.open(tmp_path / "unread.tgz", "w:gz") as archive:
        for flower in ("daisy", "roses"):
            entry = tarfile.TarInfo(f"flower_photos/{flower}/one.png")
            entry.size = photo.tell()
            archive.addfile(entry, io.BytesIO(photo.getvalue()))
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1",
           "FIXRES_DATA_SOURCE": "archive", "FIXRES_DATA_PATH": str(tmp_path / "unread.tgz")}
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--env=smoke", "--params",
         "model.backbone=tiny,finetune.dataset.image_size=100000"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-2000:]
    last = output.strip().splitlines()[-1]
    assert last.startswith("Error: Invalid parameters: finetune.dataset.image_size must be at most "), last
    assert "with finetune.dataset.batch_size 16, got 100000: one batch and its activations" in last
    assert "Traceback" not in output and "MemoryError" not in output
    assert not (project / "data").exists()  # refused before the split was read or written


def test_a_node_whose_input_was_never_saved_in_this_environment_says_so(project):
    """After a smoke run, a node run without --env reads the base environment's data."""
    result = _invoke(project, "run", "--nodes=finetune.evaluate_model")
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: finetune.history, finetune.input_pipeline, finetune.model and 1 more are not "
                           "written yet in the local environment: "
                           "write them with `kedro run --pipelines=finetune --env local` first"), last


def test_a_list_parameter_goes_through_a_config_file(project, tmp_path):
    """``--params`` splits on commas; a list goes in ``--config`` (README: Configuration)."""
    config = tmp_path / "run.yml"
    config.write_text("run:\n  params:\n    initial: {dataset: {area_range: [0.5, 0.1]}}\n")
    result = _invoke(project, "run", f"--config={config}")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: Invalid parameters: initial.dataset.area_range must satisfy 0 < low <= high <= 1, "
        "got [0.5, 0.1]")


def test_offline_tfds_fails_in_seconds_saying_how_to_use_the_archive(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow_datasets")
    from fixres_kedro.datasets import ImageSourceDataset  # noqa: PLC0415
    from fixres_kedro.datasets.photo_source import tfds as tfds_source  # noqa: PLC0415
    from fixres_kedro.errors import DataSourceError  # noqa: PLC0415

    monkeypatch.setattr(tfds_source, "_DOWNLOAD_HOST", ("127.0.0.1", 9))  # nothing listens there
    dataset = ImageSourceDataset(source="tfds", tfds_data_dir=str(tmp_path))
    with pytest.raises(Exception) as error:
        dataset.load()
    message = str(find_user_error(error.value))
    assert isinstance(find_user_error(error.value), DataSourceError)
    assert "cannot be reached" in message and "FIXRES_DATA_SOURCE=archive" in message
    assert "\n" not in message


def test_a_full_disk_line_says_that_kedro_prune_frees_space(tmp_path):
    """The core's message names no command; the CLI adds the one that helps."""
    from fixres_kedro.cli import user_message  # noqa: PLC0415
    from fixres_kedro.errors import DiskFullError  # noqa: PLC0415

    full = DiskFullError(tmp_path / "initial_model.keras", 3 * 2**20)
    assert "kedro" not in str(full) and str(full).endswith(": free some space and run again")
    wrapped = RuntimeError("a node failed")
    wrapped.__cause__ = full
    assert user_message(wrapped) == f"{full} (`kedro prune` removes old versions)"
    assert user_message(RuntimeError("a bug")) is None


SMOKE_LINES = 60  # issue #14: a smoke run shows at most this many lines


def _smoke_run(project: Path, terminal: bool) -> str:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "FIXRES_DATA_SOURCE": "archive",
           "FIXRES_DATA_PATH": str(ARCHIVE)}
    command = [sys.executable, "-m", "kedro", "run", "--env=smoke", "--params", "model.backbone=tiny"]
    if terminal:  # a pseudo-terminal, as a person's: rich output and Keras' progress bars
        command = ["script", "-qec", " ".join(command), "/dev/null"]
        env["COLUMNS"] = "100"
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=600,
                            check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout + result.stderr


def test_a_smoke_run_prints_progress_epochs_and_nothing_else(tmp_path):
    project = copy_project(tmp_path)
    piped = _smoke_run(project, terminal=False).splitlines()
    assert len(piped) <= SMOKE_LINES, "\n".join(piped)
    assert not [line for line in piped if "WARNING" in line or "Traceback" in line], "\n".join(piped)
    assert [line for line in piped if " epoch 1/1: loss " in line]  # one summary line per epoch
    assert any("[18/18] plot_accuracy_vs_cost finished in " in line
               for line in piped)
    assert all(len(line) < 200 or "epoch" in line for line in piped)  # plain lines, unwrapped
    # Where training runs, before any node; the result at the end.
    assert any(line.endswith("Keras backend tensorflow; this host has no NVIDIA GPU") for line in piped[:3])
    assert any(line.endswith("Training on tensorflow on the CPU (no accelerator)") for line in piped)
    finished = next(i for i, line in enumerate(piped) if " Finished: run " in line)
    assert "outputs under " in piped[finished] and "data/smoke" in piped[finished]
    summary = piped[finished + 1:]
    assert [line.split("INFO ")[1].split(":")[0].strip() for line in summary] == list(MODELS)
    assert all("top-1 " in line and "95% interval" in line and "24 photos" in line for line in summary)
    log = (project / "logs" / "info.log").read_text()
    assert "Saving data to initial.model" in log  # the file keeps every line


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux's script makes the terminal")
def test_a_smoke_run_in_a_terminal_is_short_too(tmp_path):
    project = copy_project(tmp_path)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", _smoke_run(project, terminal=True))  # no colours
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) <= SMOKE_LINES, "\n".join(lines)
    assert text.count("epoch 1/1: loss") == 3  # one summary per run...
    # ...on its own line: never glued after a progress bar (which ends with \r, not \n).
    assert not [line for line in lines if "epoch 1/1: loss" in line and "━" in line]
    assert "WARNING" not in text and "Traceback" not in text


def _kedro(project: Path, *args: str, **env: str) -> str:
    environment = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "FIXRES_DATA_SOURCE": "archive",
                   "FIXRES_DATA_PATH": str(ARCHIVE), **env}
    done = subprocess.run([sys.executable, "-m", "kedro", *args], cwd=project, env=environment,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, (done.stdout + done.stderr)[-3000:]
    return done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        # The design card's spelling, in an environment whose split is not written yet.
        (["run", "--pipeline=initial", "--env=smoke"], {},
         "Error: class_names, train_split@decoded, validation_split@decoded are not written yet in the "
         "smoke environment: write them with `kedro run --pipelines=data --env smoke` first"),
        (["registry", "list"], {"KEDRO_ENV": "smok"},
         "Error: no environment named 'smok' (--env or KEDRO_ENV) in conf/; environments, closest first: smoke, "),
        # The gpu environment on a host without one: refused before the first node.
        (["run", "--env=gpu", "--pipelines=initial"], {},
         "Error: runtime.require_accelerator is set (the gpu environment) but the tensorflow backend has no "
         "accelerator here"),
    ],
)
def test_first_hour_mistakes_end_on_one_line_without_noise(tmp_path, args, env, line):
    if shutil.which("nvidia-smi") and "gpu" in " ".join(args):
        pytest.skip("this host has an NVIDIA GPU")
    output = _kedro(copy_project(tmp_path), *args, **env)
    assert output.strip().splitlines()[-1].startswith(line), output[-2000:]
    for noise in ("Traceback", "deprecated", "No nodes ran", "Workflow tracking is disabled"):
        assert noise not in output, output[-2000:]
    assert " finished in " not in output  # nothing ran
