"""The ``variants`` pipeline: the example's BN fine-tune against three alternatives.

From the same ``initial.model``, each on the finetune run's input pipeline (each variant
builds it from the ``finetune.dataset`` parameters in its own namespace, so that kedro-viz
can draw the layers: no variant reads another run's recipe): (1) the example's
(``finetune``, from the ``fixres`` pipeline); (2) ``finetune_official``, the finetune run
itself (``protocol.run_pipeline``) with the FixRes authors' recipe (the classifier trains,
``post_bn`` re-estimates its statistics); (3) ``finetune_bn_stats``, ``post_bn``'s
statistics re-estimated without a gradient step; (4) ``finetune_none``, only the higher
test resolution. Run it after ``fixres``.
"""

from kedro.pipeline import Pipeline, node

from fixres_kedro.pipelines.training.nodes import evaluate_model, reestimate_post_bn
from fixres_kedro.pipelines.variants.nodes import compare_finetune_variants
from fixres_kedro.protocol import SHARED_INPUTS, build_node, in_namespace, run_pipeline

# What the variants share with the finetune run, by its names.
_SHARED = SHARED_INPUTS | {"initial.model"}
_RECIPE = "finetune.dataset"  # the finetune run's input pipeline, built in each variant's namespace
_PARAMETERS = {"seed", "runtime", _RECIPE}
_VARIANTS = ("official", "bn_stats", "none")


def _official() -> Pipeline:
    """The finetune run itself, with ``finetune_official.training``."""
    return run_pipeline("finetune", namespace="finetune_official", dataset=_RECIPE)


def _bn_stats() -> Pipeline:
    return in_namespace([
        build_node(dataset=_RECIPE),
        node(reestimate_post_bn,
             inputs=["initial.model", "train_split@decoded", "dataset_spec"],
             outputs=["model", "history"], name="reestimate_post_bn"),
        node(evaluate_model,
             inputs={"model": "model", "validation_split": "validation_split@decoded",
                     "dataset_spec": "dataset_spec", "runtime": "params:runtime",
                     "history": "history"},
             outputs="metrics", name="evaluate_model"),
    ], "finetune_bn_stats", inputs=_SHARED, parameters=_PARAMETERS)


def _none() -> Pipeline:
    return in_namespace([
        build_node(dataset=_RECIPE),
        node(evaluate_model,
             inputs={"model": "initial.model", "validation_split": "validation_split@decoded",
                     "dataset_spec": "dataset_spec", "runtime": "params:runtime"},
             outputs="metrics", name="evaluate_model"),
    ], "finetune_none", inputs=_SHARED, parameters=_PARAMETERS)


def create_pipeline(**kwargs) -> Pipeline:
    return _official() + _bn_stats() + _none() + Pipeline([
        node(
            compare_finetune_variants,
            inputs=["finetune.metrics"] + [f"finetune_{variant}.metrics" for variant in _VARIANTS],
            outputs=["finetune_variants", "finetune_variants_plot"],
            name="compare_finetune_variants",
        )
    ])
