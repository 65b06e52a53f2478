"""``seeds_summary``: the ``seeds`` pipeline's statistics over whatever seeds have finished.

The ``seeds`` pipeline summarises every configured seed, so it waits for all of them.
When seeds run one namespace at a time (``kedro run --pipeline=seeds
--namespaces=seed_3``, from a scheduler) or some fail, ``kedro run
--pipeline=seeds_summary`` gathers the seeds whose three runs have metrics on disk
(``seed_metrics``, a partitioned view of the reporting folder) and writes the same
``seeds_summary``, ``seeds_comparison`` and ``seeds_plot``.
"""

from kedro.pipeline import Pipeline, node

from fixres_kedro.pipelines.seeds.nodes import summarise_finished_seeds


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(
            summarise_finished_seeds,
            inputs="seed_metrics",
            outputs=["seeds_summary", "seeds_comparison", "seeds_plot"],
            name="summarise_finished_seeds",
        )
    ])
