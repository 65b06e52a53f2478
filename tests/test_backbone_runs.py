"""The smoke experiment with backbones other than the example's ResNet50V2.

On the TensorFlow suite only (not marked ``keras``): every family's graph, freezing and
fine-tuning step runs on every backend in tests/fixres/test_backbones.py; this checks the
whole DAG with two of them, the smallest, which costs a minute.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tests.conftest import ARCHIVE, TEST_PARAMS, copy_project


@pytest.mark.parametrize(("backbone", "final_bn"), [("MobileNetV3Small", "conv_1_bn"),
                                                    ("EfficientNetV2B0", "top_bn")])
def test_the_experiment_runs_with_another_backbone(tmp_path, backbone, final_bn):
    """The fixres pipeline on a few photos: the fine-tuning changes the final BatchNorm the
    graph gives and the classifier, nothing else."""
    if not ARCHIVE.exists():
        pytest.skip(f"{ARCHIVE} is missing")
    project = copy_project(tmp_path)
    bootstrap_project(project)
    few = {"split": {"max_train_examples": 16, "max_validation_examples": 8}}
    params = {**TEST_PARAMS, "model": {"backbone": backbone}, "data": {**TEST_PARAMS["data"], **few}}
    with KedroSession.create(project_path=project, env="smoke", runtime_params=params) as session:
        session.run(pipeline_names=["fixres"])
    with KedroSession.create(project_path=project, env="smoke") as session:
        catalog = session.load_context().catalog
        initial, finetuned = catalog.load("initial.model"), catalog.load("finetune.model")
        assert catalog.load("finetune.metrics").validation_examples == 8
    assert any(layer.name.lower().replace("-", "") == backbone.lower() for layer in initial.layers)
    changed = {before.path.split("/")[0] for before, after in zip(initial.weights, finetuned.weights)
               if not np.array_equal(keras.ops.convert_to_numpy(before), keras.ops.convert_to_numpy(after))}
    assert changed == {final_bn, "classifier"}
