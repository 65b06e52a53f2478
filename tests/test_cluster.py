"""The study on a dask.distributed cluster (``fixres_kedro.runners.DaskRunner``): a
``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1, started here and
stopped by their pids.

* ``kedro run --pipeline=seeds --runner=...`` gives the sequential run's metrics and
  weights for every seed, one MLflow parent run with the sequential run's nested runs,
  and its tasks ran on both workers (their own logs say so);
* a worker SIGKILLed in the middle of a training: the study completes, the training
  resumes from its checkpoint on the other worker;
* an unreachable scheduler: one line, within seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_scale_out import _assert_same_model, _catalog, _finish, _free_port, _kedro_run, _project

pytestmark = [pytest.mark.keras, pytest.mark.faults]
pytest.importorskip("distributed")

RUNNER = "--runner=fixres_kedro.runners.DaskRunner"
CHECKPOINTS = Path("data") / "smoke" / "06_models" / "checkpoints"


class Cluster:
    """A scheduler and two workers (one thread each, no nanny: a killed worker stays dead)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
                    "TF_CPP_MIN_LOG_LEVEL": "3", "FIXRES_PARALLEL_WORKERS": "2", "KEDRO_DISABLE_TELEMETRY": "1"}
        port = self.address.rsplit(":", 1)[1]
        self.scheduler = self._start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", port,
                                     "--dashboard-address", ":0")
        self.workers: dict[str, subprocess.Popen] = {}
        self.ensure_workers()

    def _start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - the process owns it
        return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=self.folder, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)

    def ensure_workers(self) -> None:
        for name in ("w1", "w2"):
            if name not in self.workers or self.workers[name].poll() is not None:
                self.workers[name] = self._start(name, "worker", self.address, "--nthreads", "1", "--no-nanny",
                                                 "--name", name, "--dashboard-address", ":0")
        from distributed import Client  # noqa: PLC0415

        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in [*self.workers.values(), self.scheduler]:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in [*self.workers.values(), self.scheduler]:
            try:
                process.wait(timeout=5)  # a worker that has started TensorFlow may take longer: killed
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    running = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        yield running
    finally:
        running.stop()


def _mlflow_runs(project: Path) -> tuple[object, dict[str, object]]:
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("fixres_kedro")
    runs = client.search_runs([experiment.experiment_id])
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    assert len(parents) == 1, [run.info.run_name for run in parents]
    nested = {run.info.run_name: run for run in runs if run.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id}
    return parents[0], nested


@pytest.mark.timeout(900)
def test_the_seeds_on_two_workers_give_the_sequential_study_and_its_tracked_runs(cluster, smoke_project, tmp_path):
    cluster.ensure_workers()
    on_dask, sequential = _project(tmp_path, "dask", smoke_project), _project(tmp_path, "sequential", smoke_project)
    tracked = {"FIXRES_TRACKING": "on"}
    output = _finish(_kedro_run(on_dask, "--pipeline=seeds", RUNNER, DASK_SCHEDULER_ADDRESS=cluster.address, **tracked))
    _finish(_kedro_run(sequential, "--pipeline=seeds", **tracked))
    assert "summarise_seeds finished on" in output

    got, want = _catalog(on_dask), _catalog(sequential)
    for seed in (0, 1):
        for model in ("initial", "finetune", "vanilla"):
            name = f"seed_{seed}.{model}"
            ours, theirs = got.load(f"{name}.metrics"), want.load(f"{name}.metrics")
            assert ours.top1 == pytest.approx(theirs.top1, abs=1e-6), name
            assert ours.loss == pytest.approx(theirs.loss, rel=1e-4), name
            _assert_same_model(got.load(f"{name}.model"), want.load(f"{name}.model"), atol=1e-4)
    assert got.load("seeds_comparison")["seeds"] == [0, 1]

    # One parent run (the driver's), with the sequential run's nested runs and metrics.
    parent, nested = _mlflow_runs(on_dask)
    sequential_parent, sequential_nested = _mlflow_runs(sequential)
    assert sorted(nested) == sorted(sequential_nested)
    assert len(nested) == 6
    for name, run in nested.items():
        theirs = sequential_nested[name]
        assert run.info.status == "FINISHED"
        assert set(run.data.metrics) == set(theirs.data.metrics), name
        assert run.data.metrics["top1"] == pytest.approx(theirs.data.metrics["top1"], abs=1e-6)
    assert set(parent.data.params) == set(sequential_parent.data.params)

    # Each worker ran one seed's protocol (in its own log).
    ran = {name: {seed for seed in ("seed_0", "seed_1") if f"{seed}.initial.train_model finished in" in cluster.log(name)}
           for name in ("w1", "w2")}
    assert sorted(ran.values(), key=sorted) == [{"seed_0"}, {"seed_1"}], ran


def _trainer_pid(project: Path, timeout: float = 300) -> int:
    """The pid holding a training's checkpoint lock once it has saved an epoch."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for lock in (project / CHECKPOINTS).glob("*/lock"):
            if any(lock.parent.glob("epoch-*")):
                with open(lock) as held:
                    text = held.read()
                if text:
                    return int(json.loads(text)["pid"])
        time.sleep(0.05)
    raise AssertionError("no training saved a checkpoint")


@pytest.mark.timeout(900)
def test_a_worker_killed_mid_training_its_task_resumes_from_the_checkpoint_elsewhere(cluster, smoke_project, tmp_path):
    cluster.ensure_workers()
    project = _project(tmp_path, "killed", smoke_project)
    epochs = 12
    run = _kedro_run(project, "--pipeline=seeds", "--namespaces=seed_0.initial,seed_1.initial", RUNNER,
                     "--params", f"initial.training.epochs={epochs}", DASK_SCHEDULER_ADDRESS=cluster.address)
    victim = _trainer_pid(project)
    killed = next(name for name, process in cluster.workers.items() if process.pid == victim)
    os.kill(victim, signal.SIGKILL)
    output = _finish(run)

    survivor = cluster.log(next(name for name in cluster.workers if name != killed))
    assert "runs again on" in survivor, output[-3000:]
    resumed = [line for line in survivor.splitlines() if "Resuming from" in line]
    assert resumed, survivor[-3000:]
    assert int(resumed[-1].rsplit(" ", 1)[1]) >= 1  # after the epochs the killed worker finished
    catalog = _catalog(project)
    for seed in (0, 1):  # both trainings complete, every epoch in their history once
        history = catalog.load(f"seed_{seed}.initial.history")
        assert len(history.history["loss"]) == epochs
        assert catalog.load(f"seed_{seed}.initial.metrics").epochs == epochs
    assert not any((project / CHECKPOINTS).glob("*/epoch-*"))  # finished: checkpoints removed


@pytest.mark.timeout(120)
def test_an_unreachable_scheduler_is_one_line_within_seconds(smoke_project, tmp_path):
    project = _project(tmp_path, "unreachable", smoke_project)
    started = time.monotonic()
    run = _kedro_run(project, "--pipeline=seeds", RUNNER, DASK_SCHEDULER_ADDRESS=f"tcp://127.0.0.1:{_free_port()}")
    output, _ = run.communicate(timeout=100)
    seconds = time.monotonic() - started
    assert run.returncode == 1
    last = output.strip().splitlines()[-1]
    assert last.startswith("Error: cannot reach the Dask scheduler at tcp://127.0.0.1:"), output[-2000:]
    assert "DASK_SCHEDULER_ADDRESS" in last and "--env smoke" in last
    assert seconds < 15, seconds


@pytest.mark.timeout(600)
def test_a_failing_task_stops_the_run_with_its_one_line_error_and_finished_outputs_stay(cluster, smoke_project, tmp_path):
    cluster.ensure_workers()
    project = _project(tmp_path, "failing", smoke_project)
    split = project / "data" / "smoke" / "02_intermediate" / "validation_split.parquet"
    whole = split.read_bytes()
    damaged = bytearray(whole)
    damaged[len(damaged) // 2] ^= 0xFF
    split.write_bytes(bytes(damaged))  # its recorded digest no longer matches: a worker's node fails
    command = ("--pipeline=seeds", "--namespaces=seed_0.initial", RUNNER)
    run = _kedro_run(project, *command, DASK_SCHEDULER_ADDRESS=cluster.address)
    output, _ = run.communicate(timeout=500)
    assert run.returncode == 1, output[-3000:]
    last = output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "validation_split.parquet" in last, output[-3000:]
    assert "--resume" not in last  # it saved no versioned output: the same command is the retry
    assert (project / "data" / "smoke" / "05_model_input" / "seed_0.initial_input_pipeline.json").is_file()

    split.write_bytes(whole)  # fixed: the same command completes on the cluster
    again = _kedro_run(project, *command, DASK_SCHEDULER_ADDRESS=cluster.address)
    output, _ = again.communicate(timeout=500)
    assert again.returncode == 0, output[-3000:]
    assert list((project / "data" / "smoke" / "08_reporting").glob("seed_0.initial_metrics.json/*/*.json"))
