"""The ``variants`` pipeline: the example's BN fine-tune against three alternatives.

From the same ``initial.model``, each on the finetune model's input pipeline (defined in
each variant's namespace from the ``finetune.dataset`` parameters, so that kedro-viz can
draw the layers): (1) the example's (``finetune``, from the ``fixres`` pipeline); (2)
``finetune_official``, the finetune model trained with the FixRes authors' recipe (the
classifier trains, ``post_bn`` re-estimates its statistics); (3) ``finetune_bn_stats``,
``post_bn``'s statistics re-estimated without a gradient step; (4) ``finetune_none``, only
the higher test resolution. Run it after ``fixres``.
"""

from kedro.pipeline import Pipeline, node

from fixres_kedro.pipelines.training.nodes import reestimate_post_bn
from fixres_kedro.pipelines.training.pipeline import (
    SHARED_PARAMETERS,
    evaluate_node,
    in_namespace,
    input_pipeline_nodes,
    model_pipeline,
)
from fixres_kedro.pipelines.variants.nodes import compare_finetune_variants
from fixres_kedro.protocol import BACKEND_TAG

_RECIPE = "finetune.dataset"  # the finetune model's input pipeline parameters
_PARAMETERS = SHARED_PARAMETERS | {_RECIPE}
_VARIANTS = ("official", "bn_stats", "none")


def create_pipeline(**kwargs) -> Pipeline:
    official = model_pipeline("finetune", namespace="finetune_official", dataset=_RECIPE)
    bn_stats = in_namespace([
        *input_pipeline_nodes(dataset=_RECIPE),
        node(reestimate_post_bn,
             inputs=["initial.model", "train_split@decoded", "input_pipeline", "params:runtime"],
             outputs=["model", "history"], name="reestimate_post_bn", tags=BACKEND_TAG),
        evaluate_node(training=None),
    ], "finetune_bn_stats", parameters=_PARAMETERS)
    none = in_namespace([
        *input_pipeline_nodes(dataset=_RECIPE),
        evaluate_node(model="initial.model", history=None, training=None),
    ], "finetune_none", parameters=_PARAMETERS)
    compare = node(
        compare_finetune_variants,
        inputs=["finetune.metrics"] + [f"finetune_{variant}.metrics" for variant in _VARIANTS],
        outputs=["finetune_variants", "finetune_variants_plot"],
        name="compare_finetune_variants",
    )
    return official + bn_stats + none + Pipeline([compare])
