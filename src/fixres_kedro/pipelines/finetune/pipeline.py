"""The ``finetune`` pipeline: FixRes, the low-res model fine-tuned BN-only at 224 px.

It reads ``initial_model``, the latest version saved by the ``initial`` pipeline.
"""

from kedro.pipeline import Pipeline

from fixres_kedro.pipelines.training.pipeline import finetune_pipeline


def create_pipeline(**kwargs) -> Pipeline:
    return finetune_pipeline()
