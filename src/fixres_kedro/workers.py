"""Each process's share of the host's CPU cores.

``ParallelRunner``'s worker processes share one host: the CLI tells them how many they are
through ``FIXRES_PARALLEL_WORKERS`` (``fixres_kedro.cli``), so that their thread pools do
not oversubscribe the cores. The core (``fixres_kedro.fixres``) reads no environment: this
module reads it and hands the count on.
"""

from __future__ import annotations

import os

from fixres_kedro.fixres.photos import default_workers, share_cores

PARALLEL_WORKERS = "FIXRES_PARALLEL_WORKERS"
"""How many worker processes share this host (set for ``ParallelRunner`` by the CLI)."""


def parallel_workers() -> int:
    """The worker processes sharing this host (1 when not in a ``ParallelRunner``)."""
    try:
        return max(1, int(os.environ.get(PARALLEL_WORKERS, "1")))
    except ValueError:
        return 1


def photo_threads() -> int:
    """Threads for checking or decoding photos in this process: its share of the cores."""
    return default_workers(parallel_workers())


def share_host() -> int:
    """Give the core's thread pools this process's share of the cores; returns how many
    worker processes share the host (for their share of the accelerators too)."""
    processes = parallel_workers()
    share_cores(processes)
    return processes
