"""``fixres_kedro.workers``: under ``ParallelRunner`` each worker process takes its share of
the host's cores (the CLI sets ``FIXRES_PARALLEL_WORKERS``)."""

from __future__ import annotations

import pytest

from fixres_kedro import workers
from fixres_kedro.fixres import photos


@pytest.mark.parametrize(("value", "count"), [(None, 1), ("3", 3), ("0", 1), ("many", 1)])
def test_the_worker_count_comes_from_the_environment(monkeypatch, value, count):
    if value is None:
        monkeypatch.delenv(workers.PARALLEL_WORKERS, raising=False)
    else:
        monkeypatch.setenv(workers.PARALLEL_WORKERS, value)
    assert workers.parallel_workers() == count


def test_each_worker_process_takes_its_share_of_the_cores(monkeypatch):
    monkeypatch.setattr(photos, "usable_cores", lambda: 8)
    monkeypatch.setenv(workers.PARALLEL_WORKERS, "4")
    assert workers.photo_threads() == 2  # the datasets' thread pools
    try:
        assert workers.share_host() == 4  # the hook passes it on to the accelerator pinning
        assert photos.default_workers() == 2  # and the core's own pools take their share
    finally:
        photos.share_cores(1)
