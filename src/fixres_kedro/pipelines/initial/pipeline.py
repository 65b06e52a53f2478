"""The ``initial`` pipeline: the low-resolution (128 px) model trained from scratch."""

from kedro.pipeline import Pipeline

from fixres_kedro.pipelines.training.pipeline import initial_train_pipeline


def create_pipeline(**kwargs) -> Pipeline:
    return initial_train_pipeline()
