"""Every backbone family: its preprocessing, its smallest input, the BatchNorm FixRes adapts
(found from the graph) and a fine-tuning step that moves only that layer and the classifier.

At tiny resolutions (the family's smallest input, batches of 2) without pretrained weights.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fixres_kedro.fixres.backbones import BACKBONES, min_image_size
from fixres_kedro.fixres.errors import InvalidParameterError
from fixres_kedro.fixres.model import (
    backbone_of,
    final_batch_norm,
    get_training_model,
    prepare_finetune,
    preprocessing_of,
    trainable_layer_names,
)
from fixres_kedro.fixres.training import make_optimizer

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend

CLASSES = 3
# The families the issue names, and the layer FixRes adapts in each (the last
# normalization before the pooling; ResNet50's is the last block's BN before its add).
FINAL_BN = {
    "ResNet50V2": "post_bn",
    "ResNet50": "conv5_block3_3_bn",
    "EfficientNetV2B0": "top_bn",
    "MobileNetV3Small": "conv_1_bn",
    "DenseNet121": "bn",
    "Xception": "block14_sepconv2_bn",
}


def _values(model: keras.Model) -> dict[str, np.ndarray]:
    return {w.path: keras.ops.convert_to_numpy(w).copy() for w in model.weights}


def _step(model: keras.Model, size: int, optimizer) -> set[str]:
    """One fine-tuning step on two random images; the paths of the weights it changed."""
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, size, size, 3)).astype("float32")
    before = _values(model)
    # Eager on TensorFlow (tracing a graph costs more than one step); compiled on JAX (its
    # eager dispatch op by op costs more than compiling).
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  run_eagerly=keras.backend.backend() == "tensorflow")
    model.fit(images, np.array([0, 1]), batch_size=2, epochs=1, shuffle=False, verbose=0)
    after = _values(model)
    return {path for path, value in before.items() if not np.array_equal(value, after[path])}


@pytest.mark.parametrize("constructor", list(FINAL_BN))
def test_fine_tuning_moves_only_the_final_batch_norm_and_the_classifier(constructor):
    # Any case: the parameter is the constructor's name.
    model = get_training_model(CLASSES, constructor.upper(), seed=0)
    backbone = backbone_of(model)
    final = final_batch_norm(backbone)
    assert final.name == FINAL_BN[constructor]
    bn = {f"{final.name}/{name}" for name in ("gamma", "beta")}
    statistics = {f"{final.name}/{name}" for name in ("moving_mean", "moving_variance")}
    classifier = {"classifier/kernel", "classifier/bias"}
    size = min_image_size(constructor)

    prepare_finetune(model, "example")  # its step: the smoke runs (tests/test_backbone_runs.py)
    assert trainable_layer_names(model) == [f"{backbone.name}/{final.name}", "classifier"]
    assert {w.path for w in model.trainable_weights} == bn | classifier

    # The authors': only the classifier learns; the final BN normalises with batch
    # statistics, so its moving ones move; its scale and offset do not, nor anything else.
    prepare_finetune(model, "official")
    assert {w.path for w in model.trainable_weights} == classifier
    # Every other layer in inference mode: a frozen Keras dropout would still drop in fit.
    dropouts = [layer for layer in backbone.layers if isinstance(layer, keras.layers.Dropout)]
    assert all(layer.rate == 0 for layer in dropouts)
    assert bool(dropouts) == (constructor == "EfficientNetV2B0")  # its stochastic depth
    sgd = make_optimizer("sgd", 1e-2, steps_per_epoch=1, momentum=0.9, weight_decay=1e-4)
    assert _step(model, size, sgd) == statistics | classifier


@pytest.mark.parametrize("constructor", list(FINAL_BN))
def test_each_family_has_the_preprocessing_keras_applications_defines(constructor):
    spec = BACKBONES[constructor.lower()]
    model = get_training_model(CLASSES, constructor)
    images = np.random.default_rng(1).uniform(0, 255, (1, 8, 8, 3)).astype("float32")
    before_backbone = keras.ops.convert_to_numpy(preprocessing_of(model)([images]))
    if spec.preprocessing == "included":  # include_preprocessing=True: inside the backbone
        np.testing.assert_array_equal(before_backbone, images)
        assert isinstance(backbone_of(model).layers[1], keras.layers.Rescaling)
    else:
        expected = getattr(keras.applications, spec.module).preprocess_input(images.copy())
        np.testing.assert_allclose(before_backbone, keras.ops.convert_to_numpy(expected), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("constructor", ["ResNet50V2", "ResNet50", "EfficientNetV2B0", "DenseNet121", "Xception"])
def test_the_smallest_input_is_the_one_keras_checks(constructor):
    # Keras checks the size before it builds a layer: a refusal costs nothing.
    smallest = min_image_size(constructor)
    with pytest.raises(ValueError, match=f"at least {smallest}x{smallest}"):
        getattr(keras.applications, constructor)(include_top=False, weights=None,
                                                 input_shape=(smallest - 1, smallest - 1, 3))
    assert min_image_size("xception") == 71


def test_a_backbone_without_batch_norm_before_its_pooling_stops_in_one_line():
    with pytest.raises(InvalidParameterError) as error:
        get_training_model(CLASSES, "ConvNeXtTiny")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("Invalid parameters: model.backbone convnext_tiny has no BatchNormalization")
    assert "is a LayerNormalization" in message and "--params model.backbone=" in message
