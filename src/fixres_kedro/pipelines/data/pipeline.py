"""The ``data`` pipeline: raw photos -> persisted train and validation splits.

The splits are written as encoded photos (``train_split@bytes``); the nodes that train
or evaluate read them decoded (``train_split@decoded``, see conf/base/catalog.yml).
"""

from kedro.pipeline import Pipeline, node

from fixres_kedro.pipelines.data.nodes import split_dataset


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                split_dataset,
                inputs=["flower_photos", "params:data.split"],
                outputs=["train_split@bytes", "validation_split@bytes", "class_names", "split_summary"],
                name="split_dataset",
            )
        ]
    )
