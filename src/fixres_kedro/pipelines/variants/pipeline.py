"""The ``variants`` pipeline: the example's BN fine-tune against three alternatives.

From the same ``initial_model``: (1) the example's (``finetune``, from the ``fixres``
pipeline); (2) ``finetune_official``, the FixRes authors' recipe; (3)
``finetune_bn_stats``, statistics re-estimated without a gradient step; (4)
``finetune_none``, only the higher test resolution. Run it after ``fixres``.
"""

from kedro.pipeline import Pipeline, node

from fixres_kedro.pipelines.training.pipeline import VARIANTS, finetune_variant_pipeline
from fixres_kedro.pipelines.variants.nodes import compare_finetune_variants


def create_pipeline(**kwargs) -> Pipeline:
    variants = sum((finetune_variant_pipeline(variant) for variant in VARIANTS), Pipeline([]))
    return variants + Pipeline([
        node(
            compare_finetune_variants,
            inputs=["finetune_metrics"] + [f"finetune_{variant}_metrics" for variant in VARIANTS],
            outputs=["finetune_variants", "finetune_variants_plot"],
            name="compare_finetune_variants",
        )
    ])
