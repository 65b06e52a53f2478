"""The ``data`` pipeline: raw photos -> persisted train and validation splits."""

from kedro.pipeline import Pipeline, node

from fixres_kedro.pipelines.data.nodes import split_dataset


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                split_dataset,
                inputs=["flower_photos", "params:data.split"],
                outputs=["train_split", "validation_split", "class_names", "split_summary"],
                name="split_dataset",
            )
        ]
    )
