"""Scaling out with Kedro's and Keras' own engines, through ``kedro run``.

* the per-seed namespaces under ``ParallelRunner`` give what ``SequentialRunner``
  gives, and ``seeds_summary`` gathers the seeds that have finished;
* under JAX, two processes on 127.0.0.1 (``KERAS_DISTRIBUTION_*``), one CPU device
  each, train the ``initial`` model as one process does on two devices with the same
  global batch. (That two devices train as one is ``tests/fixres/test_distribute.py``,
  on a small network: ResNet50V2 from scratch amplifies float32 rounding, about 1e-5
  after one step, into different weights within a few steps.)

Each run is a ``kedro run`` in its own copy of the project, on the split of the smoke
run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tests.conftest import ARCHIVE, SMOKE_DATA, copy_project

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend

BACKEND = keras.backend.backend()


def _project(tmp_path: Path, name: str, smoke_project: Path) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    project = copy_project(folder)
    shutil.copytree(smoke_project / SMOKE_DATA / "02_intermediate", project / SMOKE_DATA / "02_intermediate")
    return project


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
            "KEDRO_ENV": "smoke", "FIXRES_DATA_SOURCE": "archive",
            "FIXRES_DATA_PATH": str(ARCHIVE), **extra}


def _kedro_run(project: Path, *args: str, **extra: str) -> subprocess.Popen:
    # The tiny backbone: these check how runs are scheduled, not the network.
    if "--params" in args:
        at = args.index("--params") + 1
        args = (*args[:at], f"{args[at]},model.backbone=tiny", *args[at + 1:])
    else:
        args = (*args, "--params", "model.backbone=tiny")
    return subprocess.Popen(
        [sys.executable, "-m", "kedro", "run", *args], cwd=project, env=_env(**extra),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _finish(process: subprocess.Popen, timeout: int = 900) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-4000:]
    return output


def _catalog(project: Path):
    bootstrap_project(project)
    return KedroSession.create(project_path=project, env="smoke").load_context().catalog


def _assert_same_model(got: keras.Model, want: keras.Model, atol: float) -> None:
    for a, b in zip(got.weights, want.weights):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-3, atol=atol,
            err_msg=a.path,
        )


@pytest.mark.timeout(1800)
def test_seed_namespaces_in_parallel_match_sequential_and_finished_seeds_are_summarised(
    smoke_project, tmp_path
):
    namespaces = "--namespaces=seed_0.initial,seed_1.initial"
    parallel = _project(tmp_path, "parallel", smoke_project)
    sequential = _project(tmp_path, "sequential", smoke_project)
    _finish(_kedro_run(parallel, "--pipeline=seeds", namespaces, "--runner=ParallelRunner"))
    _finish(_kedro_run(sequential, "--pipeline=seeds", namespaces))
    parallel_catalog, sequential_catalog = _catalog(parallel), _catalog(sequential)
    for seed in (0, 1):
        got = parallel_catalog.load(f"seed_{seed}.initial.metrics")
        want = sequential_catalog.load(f"seed_{seed}.initial.metrics")
        assert got.top1 == pytest.approx(want.top1, abs=1e-6)
        assert got.loss == pytest.approx(want.loss, rel=1e-4)
        _assert_same_model(parallel_catalog.load(f"seed_{seed}.initial.model"),
                           sequential_catalog.load(f"seed_{seed}.initial.model"), atol=1e-4)

    # Seed 0 finishes (one namespace at a time, as a scheduler would); seed 1 does not.
    _finish(_kedro_run(parallel, "--pipeline=seeds", "--namespaces=seed_0.finetune"))
    _finish(_kedro_run(parallel, "--pipeline=seeds", "--namespaces=seed_0.vanilla"))
    _finish(_kedro_run(parallel, "--pipeline=seeds_summary"))
    comparison = _catalog(parallel).load("seeds_comparison")
    assert comparison["seeds"] == [0]

    # With no seed finished, one line says so.
    fresh = _project(tmp_path, "fresh", smoke_project)
    failed = _kedro_run(fresh, "--pipeline=seeds_summary")
    output, _ = failed.communicate(timeout=300)
    assert failed.returncode == 1
    assert output.strip().splitlines()[-1].startswith("Error: No seed has finished")


@pytest.mark.timeout(1200)
def test_the_branches_in_parallel_give_the_sequential_runs_results(smoke_project, tmp_path):
    """``kedro run --runner=ParallelRunner``: vanilla trains beside initial then finetune, in
    worker processes, and every model and metric equals the sequential run's."""
    parallel = _project(tmp_path, "branches", smoke_project)
    _finish(_kedro_run(parallel, "--pipelines=training,report", "--runner=ParallelRunner",
                       "--runner-params", "max_workers=2"))
    got, want = _catalog(parallel), _catalog(smoke_project)
    for run in ("initial", "finetune", "vanilla"):
        ours, theirs = got.load(f"{run}.metrics"), want.load(f"{run}.metrics")
        assert ours.top1 == pytest.approx(theirs.top1, abs=1e-6)
        assert ours.loss == pytest.approx(theirs.loss, rel=1e-4)
        _assert_same_model(got.load(f"{run}.model"), want.load(f"{run}.model"), atol=1e-4)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.timeout(1800)
@pytest.mark.skipif(BACKEND != "jax", reason="several processes train under the JAX backend")
def test_two_processes_on_localhost_train_as_one(smoke_project, tmp_path):
    addresses = f"127.0.0.1:{_free_port()},127.0.0.1:{_free_port()}"
    hosts = [_project(tmp_path, f"host_{i}", smoke_project) for i in range(2)]
    single = _project(tmp_path, "single", smoke_project)
    run = ("--pipeline=initial", "--params", "runtime.data_parallel=true")
    workers = [
        _kedro_run(host, *run, KERAS_DISTRIBUTION_JOB_ADDRESSES=addresses,
                   KERAS_DISTRIBUTION_NUM_PROCESSES="2", KERAS_DISTRIBUTION_PROCESS_ID=str(i))
        for i, host in enumerate(hosts)
    ]
    outputs = [_finish(worker) for worker in workers]
    assert all("Process" in output and "of 2" in output for output in outputs), outputs[0][-3000:]
    _finish(_kedro_run(single, *run, XLA_FLAGS="--xla_force_host_platform_device_count=2"))

    models = [_catalog(project).load("initial.model") for project in (*hosts, single)]
    _assert_same_model(models[0], models[1], atol=0)  # the processes hold one model
    _assert_same_model(models[0], models[2], atol=1e-5)
    metrics = [_catalog(project).load("initial.metrics") for project in (*hosts, single)]
    assert metrics[0].top1 == pytest.approx(metrics[2].top1, abs=1e-6)
    assert metrics[0].loss == pytest.approx(metrics[2].loss, rel=1e-4)
