"""The ``report`` pipeline: one table and one plot comparing the three models."""

from kedro.pipeline import Pipeline, node

from fixres_kedro.pipelines.report.nodes import compare_models, plot_accuracy_vs_cost
from fixres_kedro.protocol import MODELS


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                compare_models,
                inputs=[f"{model}.metrics" for model in MODELS],
                outputs=["model_comparison", "model_comparison_plot"],
                name="compare_models",
            ),
            node(
                plot_accuracy_vs_cost,
                inputs="model_comparison",
                outputs="accuracy_vs_cost_plot",
                name="plot_accuracy_vs_cost",
            ),
        ]
    )
