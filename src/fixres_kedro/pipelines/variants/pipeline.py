"""The ``variants`` pipeline: the example's BN fine-tune against three alternatives.

From the same ``initial.model``, each on the finetune run's input pipeline (each variant
builds it from the ``finetune.dataset`` parameters in its own namespace, so that kedro-viz
can draw the layers: no variant reads another run's recipe): (1) the example's (``finetune``, from the ``fixres``
pipeline); (2) ``finetune_official``, the FixRes authors' recipe (the classifier trains,
``post_bn`` re-estimates its statistics); (3) ``finetune_bn_stats``, ``post_bn``'s
statistics re-estimated without a gradient step; (4) ``finetune_none``, only the higher
test resolution. Run it after ``fixres``.
"""

from kedro.pipeline import Pipeline, node

from fixres_kedro.pipelines.training.nodes import (
    build_dataset,
    evaluate_model,
    finetune_bn,
    plot_training_curves,
    reestimate_post_bn,
)
from fixres_kedro.pipelines.variants.nodes import compare_finetune_variants
from fixres_kedro.protocol import SHARED_INPUTS, in_namespace

# What the variants share with the finetune run, by its names.
_SHARED = SHARED_INPUTS | {"initial.model"}
_PARAMETERS = {"seed", "runtime", "finetune.dataset"}
_VARIANTS = ("official", "bn_stats", "none")


def _recipe() -> object:
    """The finetune run's input pipeline, built in the variant's namespace."""
    return node(build_dataset,
                inputs={"train_split": "train_split@decoded", "class_names": "class_names",
                        "dataset": "params:finetune.dataset", "seed": "params:seed",
                        "runtime": "params:runtime"},
                outputs=["dataset_spec", "sample_grid"], name="build_dataset")


def _official() -> Pipeline:
    """Trained like ``finetune``, with ``finetune_official.training``."""
    return in_namespace([
        _recipe(),
        node(finetune_bn,
             inputs={"initial_model": "initial.model", "train_split": "train_split@decoded",
                     "validation_split": "validation_split@decoded",
                     "dataset_spec": "dataset_spec", "training": "params:training",
                     "runtime": "params:runtime", "checkpoints": "training_checkpoints"},
             outputs=["model", "history"], name="finetune_bn"),
        node(evaluate_model,
             inputs={"model": "model", "validation_split": "validation_split@decoded",
                     "dataset_spec": "dataset_spec", "runtime": "params:runtime",
                     "history": "history", "training": "params:training"},
             outputs="metrics", name="evaluate_model"),
        node(plot_training_curves, inputs=["history", "dataset_spec"],
             outputs="training_curves", name="plot_training_curves"),
    ], "finetune_official", inputs=_SHARED, parameters=_PARAMETERS)


def _bn_stats() -> Pipeline:
    return in_namespace([
        _recipe(),
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
        _recipe(),
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
