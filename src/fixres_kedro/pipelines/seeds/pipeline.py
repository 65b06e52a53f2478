"""The ``seeds`` pipeline: the whole protocol for several seeds, then their statistics.

Each seed is its own namespace (``seed_0``, ``seed_1``, ...), so seeds can run
one at a time (``kedro run --namespaces=seed_1``) or in parallel, and
``summarise_seeds`` aggregates them. The seeds are the ``seeds`` list in
``conf/base/parameters_seeds.yml``, read when the pipelines are registered, since
they decide the namespaces.
"""

from __future__ import annotations

import os
from pathlib import Path

from kedro.config import OmegaConfigLoader
from kedro.framework.project import settings
from kedro.pipeline import Pipeline, node
from kedro.utils import find_kedro_project

from fixres_kedro.pipelines.seeds.nodes import RUNS, summarise_seeds
from fixres_kedro.pipelines.training.pipeline import protocol_pipeline

DEFAULT_SEEDS = (0, 1, 2)


def configured_seeds() -> list[int]:
    """The ``seeds`` parameter of the project's configuration (``KEDRO_ENV`` honoured)."""
    project = find_kedro_project(Path.cwd())
    if project is None:
        return list(DEFAULT_SEEDS)
    loader = OmegaConfigLoader(
        str(project / settings.CONF_SOURCE), env=os.environ.get("KEDRO_ENV"), **settings.CONFIG_LOADER_ARGS
    )
    return [int(seed) for seed in loader["parameters"].get("seeds", DEFAULT_SEEDS)]


def create_pipeline(seeds: list[int] | None = None, **kwargs) -> Pipeline:
    seeds = configured_seeds() if seeds is None else seeds
    protocols = sum((protocol_pipeline(seed) for seed in seeds), Pipeline([]))
    inputs = {f"seed_{seed}_{run}": f"seed_{seed}_{run}_metrics" for seed in seeds for run in RUNS}
    return protocols + Pipeline([
        node(
            summarise_seeds,
            inputs=inputs,
            outputs=["seeds_summary", "seeds_comparison", "seeds_plot"],
            name="summarise_seeds",
        )
    ])
