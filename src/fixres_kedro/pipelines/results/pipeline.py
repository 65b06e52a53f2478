"""The ``results`` pipeline: the study's page, ``results_page`` (``docs/results.md``), and
its picture of the resolution sweep, ``results_sweep_plot``.

Inputs: ``params:seeds``, ``resolution_sweep``, ``finetune_variants`` and every seed's
``seed_<n>.<model>.metrics`` (``fixres_kedro.protocol``). Run it after the study's other
pipelines (``seeds``, ``sweep``, ``variants``); ``scripts/gpu_study.py`` runs them all.
"""

from __future__ import annotations

from collections.abc import Iterable

from kedro.pipeline import Pipeline, node

from fixres_kedro.pipelines.results.nodes import plot_results_sweep, write_results_page
from fixres_kedro.protocol import MODELS, seed_namespace


def metrics_inputs(seeds: Iterable[int]) -> list[str]:
    """``seed_<n>.<model>.metrics`` of every seed and model, seed by seed."""
    return [f"{seed_namespace(seed)}.{model}.metrics" for seed in seeds for model in MODELS]


def create_pipeline(seeds: list[int], **kwargs) -> Pipeline:
    """The page over ``seeds`` (the configured ``seeds`` parameter, read at registration)."""
    return Pipeline([
        node(write_results_page,
             inputs=["params:seeds", "resolution_sweep", "finetune_variants", *metrics_inputs(seeds)],
             outputs="results_page", name="write_results_page"),
        node(plot_results_sweep, inputs="resolution_sweep", outputs="results_sweep_plot",
             name="plot_results_sweep"),
    ])
