"""``fixres_kedro.runners.dask`` without a cluster: where the local workers go, what a
rerun skips, what the runner refuses, and where it finds the scheduler."""

from __future__ import annotations

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node

from fixres_kedro.errors import find_user_error
from fixres_kedro.runners import dask as dask_runner
from fixres_kedro.workers import PARALLEL_WORKERS

pytest.importorskip("distributed")


def test_local_workers_take_one_gpu_each_with_a_memory_share():
    workers = dask_runner.local_worker_settings(gpus=2, cores=16, workers_per_gpu=2)
    assert [w["env"]["CUDA_VISIBLE_DEVICES"] for w in workers] == ["0", "1", "0", "1"]
    assert {w["env"]["XLA_PYTHON_CLIENT_MEM_FRACTION"] for w in workers} == {"0.450"}
    assert all(w["resources"] == {"GPU": 1} and w["env"][PARALLEL_WORKERS] == "4" for w in workers)


def test_without_gpu_one_local_worker_per_core_and_no_gpu_resource():
    workers = dask_runner.local_worker_settings(gpus=0, cores=8, max_workers=3)
    assert len(workers) == 3
    assert all("CUDA_VISIBLE_DEVICES" not in w["env"] and not w["resources"] for w in workers)
    assert {w["env"][PARALLEL_WORKERS] for w in workers} == {"3"}  # each takes a third of the cores


def _identity(x):
    return x


def test_a_rerun_skips_finished_nodes_but_not_the_writers_of_what_lives_in_memory(tmp_path):
    from kedro_datasets.json import JSONDataset  # noqa: PLC0415

    pipeline = Pipeline([
        node(_identity, "raw", "in_memory", name="a"),
        node(_identity, "in_memory", "on_disk", name="b"),
        node(_identity, "on_disk", "last", name="c"),
    ])
    catalog = DataCatalog({"raw": MemoryDataset(1), "on_disk": JSONDataset(filepath=str(tmp_path / "x.json"))})
    # b's output is on disk: c alone runs again.
    assert [n.name for n in dask_runner.nodes_to_rerun(pipeline, {"a", "b"}, catalog)] == ["c"]
    # b must run again, and it reads a's output from memory: a runs again too.
    assert [n.name for n in dask_runner.nodes_to_rerun(pipeline, {"a"}, catalog)] == ["a", "b", "c"]


def test_groups_that_hand_each_other_data_in_memory_are_refused_in_one_line():
    pipeline = Pipeline([node(_identity, "raw", "x", name="make", namespace="one"),
                         node(_identity, "x", "y", name="use", namespace="two")])
    with pytest.raises(dask_runner.ClusterError, match=r"^x pass between namespaces in memory.*catalog\.yml") as error:
        dask_runner._check_crossings(pipeline, pipeline.group_nodes_by("namespace"), DataCatalog({"raw": MemoryDataset(1)}))
    assert "\n" not in str(error.value) and find_user_error(error.value) is error.value


def test_the_scheduler_is_found_as_dask_finds_it(monkeypatch):
    import dask  # noqa: PLC0415

    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    with dask.config.set({"scheduler-address": None}):
        assert dask_runner.scheduler_address()[0] is None  # a local cluster
    with dask.config.set({"scheduler-address": "tcp://10.0.0.1:8786"}):
        assert dask_runner.scheduler_address() == ("tcp://10.0.0.1:8786", "Dask's scheduler-address")
        assert dask_runner.scheduler_address("tcp://10.0.0.2:8786")[0] == "tcp://10.0.0.2:8786"
