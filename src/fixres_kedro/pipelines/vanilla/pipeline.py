"""The ``vanilla`` pipeline: the comparison model trained from scratch at 224 px."""

from kedro.pipeline import Pipeline

from fixres_kedro.pipelines.training.pipeline import vanilla_train_pipeline


def create_pipeline(**kwargs) -> Pipeline:
    return vanilla_train_pipeline()
