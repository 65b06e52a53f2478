"""The ``variants`` pipeline: the example's BN fine-tune against three alternatives.

From the same ``initial.model``: (1) the example's (``finetune``, from the ``fixres``
pipeline); (2) ``finetune_official``, the FixRes authors' recipe on its own input pipeline
(``finetune_official.dataset``: their test-time transform; the classifier trains with SGD,
the final BatchNorm re-estimates its statistics); on the finetune model's input pipeline
(defined in each variant's namespace from the ``finetune.dataset`` parameters, so that
kedro-viz can draw the layers), (3) ``finetune_bn_stats``, the final BatchNorm's
statistics re-estimated without a gradient step, and (4) ``finetune_none``, only the
higher test resolution. Run it after ``fixres``.
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
    # Its own input pipeline (finetune_official.dataset): the FixRes authors' recipe.
    official = model_pipeline("finetune", namespace="finetune_official")
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
