"""The ``seeds`` pipeline: the protocol once per seed (namespaces ``seed_<n>``), then the
statistics over seeds; ``seeds_summary`` summarises whatever seeds have finished."""

from kedro.pipeline import Pipeline, node

from fixres_kedro.pipelines.seeds.nodes import summarise_finished_seeds, summarise_seeds
from fixres_kedro.pipelines.training.pipeline import protocol_pipeline
from fixres_kedro.protocol import MODELS, seed_namespace

SUMMARY = ["seeds_summary", "seeds_comparison", "seeds_plot"]


def create_pipeline(seeds: list[int] = (), **kwargs) -> Pipeline:
    protocols = sum((protocol_pipeline(seed) for seed in seeds), Pipeline([]))
    metrics = [f"{seed_namespace(seed)}.{model}.metrics" for seed in seeds for model in MODELS]
    return protocols + Pipeline([
        node(summarise_seeds, inputs=metrics, outputs=SUMMARY, name="summarise_seeds"),
    ])


def create_summary_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(summarise_finished_seeds, inputs="seed_metrics", outputs=SUMMARY, name="summarise_finished_seeds"),
    ])
