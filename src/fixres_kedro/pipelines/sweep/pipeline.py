"""The ``sweep`` pipeline: each trained model evaluated across test resolutions.

The low-res model before fine-tuning (``initial.model``), the FixRes model
(``finetune.model``) and the vanilla model, at ``sweep.resolutions`` with both test
transforms. Run it after ``fixres``; its nodes sit in each model's namespace.
``predict_test_resolutions`` first predicts, from each model's training transform, the
test resolution where objects appear as large as in training (``test_resolution_prediction``),
and the plot and the table set it beside the measured best.
"""

from kedro.pipeline import Pipeline, node

from fixres_kedro.pipelines.sweep.nodes import (
    evaluate_at_resolutions,
    plot_resolution_sweep,
    predict_test_resolutions,
)
from fixres_kedro.pipelines.training.pipeline import in_namespace
from fixres_kedro.protocol import BACKEND_TAG, MODELS


def create_pipeline(**kwargs) -> Pipeline:
    sweeps = [
        in_namespace(
            [node(evaluate_at_resolutions, ["model", "validation_split@decoded", "params:sweep", "params:runtime"],
                  "resolution_sweep", name="evaluate_at_resolutions", tags=BACKEND_TAG)],
            model, parameters=frozenset({"sweep", "runtime"}),
        )
        for model in MODELS
    ]
    dataset_parameters = [f"params:{model}.dataset" for model in MODELS]
    predict = node(
        predict_test_resolutions,
        inputs=["validation_split@decoded", *dataset_parameters, "params:sweep", "params:seed"],
        outputs="test_resolution_prediction",
        name="predict_test_resolutions",
    )
    plot = node(
        plot_resolution_sweep,
        # The resolutions the models trained at come from their parameters, not from their
        # input pipelines (datasets inside the models' namespaces, which kedro-viz keeps inside).
        inputs=[f"{model}.resolution_sweep" for model in MODELS] + dataset_parameters
        + ["test_resolution_prediction", "params:sweep"],
        outputs=["resolution_sweep", "resolution_sweep_plot"],
        name="plot_resolution_sweep",
    )
    return sum(sweeps, Pipeline([])) + Pipeline([predict, plot])
