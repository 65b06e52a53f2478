"""The example's classifier (``get_training_model``) and how FixRes adapts it.

The rescaling to [-1, 1] is inside the model, so every input pipeline hands over plain
0-255 pixels. ``freeze_all_but_post_bn`` is the fine-tuning set-up of the example: in
the backbone only the final BatchNormalization learns; the classifier stays trainable.
"""

from __future__ import annotations

from typing import get_args

import keras
import numpy as np

from fixres_kedro.fixres.backbones import MIN_IMAGE_SIZE, FinetuneVariant
from fixres_kedro.fixres.dataset import ImageBatches, inference_batches

FINAL_BN_NAME = "post_bn"


def _tiny_backbone() -> keras.Model:
    """Two strided convolutions, each with BatchNormalization, the last named ``post_bn``
    and followed by ReLU and global average pooling, as ResNet50V2 ends."""
    inputs = keras.layers.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.ReLU(name="conv1_relu")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="conv2")(x)
    x = keras.layers.BatchNormalization(name=FINAL_BN_NAME)(x)
    x = keras.layers.ReLU(name="post_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, x, name="tiny")


def get_training_model(
    num_classes: int, backbone: str = "resnet50v2", seed: int | None = None
) -> keras.Model:
    """Input(None, None, 3) -> Rescaling -> backbone -> Dense softmax, from scratch.

    ``backbone``: ``resnet50v2`` (the example's) or ``tiny``. ``seed`` makes the initial
    weights reproducible independently of anything that ran before in the process.
    """
    if backbone not in MIN_IMAGE_SIZE:
        raise ValueError(f"backbone must be one of {tuple(MIN_IMAGE_SIZE)}, got {backbone!r}")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.layers.Input((None, None, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescaling")(inputs)
    if backbone == "resnet50v2":
        network = keras.applications.ResNet50V2(
            include_top=False, weights=None, pooling="avg", name=backbone
        )
    else:
        network = _tiny_backbone()
    network.trainable = True
    x = network(x)
    # The head stays float32 under a mixed-precision policy, so the softmax is stable.
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="classifier"
    )(x)
    return keras.Model(inputs, outputs, name="fixres_classifier")


def backbone_of(model: keras.Model) -> keras.Model:
    """The nested backbone of a model made by ``get_training_model``."""
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def freeze_all_but_post_bn(model: keras.Model) -> keras.Model:
    """Freeze every backbone layer except ``post_bn``; leave the classifier trainable.

    A frozen BatchNormalization layer in Keras 3 also runs in inference mode (moving
    statistics), while ``post_bn`` keeps normalising with batch statistics and
    updates its moving averages: the example's fine-tuning.
    """
    backbone = backbone_of(model)
    backbone.trainable = True
    for layer in backbone.layers:
        layer.trainable = False
    backbone.get_layer(FINAL_BN_NAME).trainable = True
    return model


def prepare_finetune(model: keras.Model, variant: FinetuneVariant = "example") -> keras.Model:
    """Set which weights learn when fine-tuning at the test resolution.

    * ``example`` (the Keras example): ``post_bn`` (scale, offset and statistics)
      and the classifier learn; everything else is frozen.
    * ``official`` (the FixRes authors' code): only the classifier learns;
      ``post_bn`` still normalises with batch statistics and re-estimates its moving
      statistics, but its scale and offset stay frozen.
    """
    if variant not in get_args(FinetuneVariant):
        raise ValueError(f"variant must be one of {get_args(FinetuneVariant)}, got {variant!r}")
    freeze_all_but_post_bn(model)
    if variant == "official":
        post_bn = backbone_of(model).get_layer(FINAL_BN_NAME)
        # The layer stays trainable so it runs in training mode (batch statistics,
        # moving averages updated); its two learnable variables do not.
        post_bn.gamma.trainable = False
        post_bn.beta.trainable = False
    return model


def reestimate_bn_statistics(model: keras.Model, batches: ImageBatches) -> keras.Model:
    """Replace ``post_bn``'s moving mean and variance by the exact statistics of its
    inputs over ``batches`` (one compiled forward pass, no gradient step).

    The statistics are pooled over every pixel of every image, as a BatchNorm layer
    normalises per channel over batch and space: the compiled program returns each
    image's per-channel sum and sum of squares (float32, over one image's positions),
    which are added up in float64.
    """
    backbone = backbone_of(model)
    post_bn = backbone.get_layer(FINAL_BN_NAME)
    features = keras.Model(backbone.inputs, post_bn.input)
    images = model.inputs[0]
    x = keras.ops.cast(features(model.get_layer("rescaling")(images)), "float32")
    sums = keras.Model(images, [keras.ops.sum(x, axis=(1, 2)), keras.ops.sum(x * x, axis=(1, 2))])
    full, real = inference_batches(batches)
    total, total_sq = (np.asarray(part, np.float64)[real] for part in sums.predict(full, verbose=0))
    size = batches.pipeline.image_size
    height, width = features.compute_output_spec(keras.KerasTensor((1, size, size, 3))).shape[1:3]
    count = real.sum() * height * width
    mean = total.sum(0) / count
    variance = np.maximum(total_sq.sum(0) / count - mean**2, 0.0)
    post_bn.moving_mean.assign(mean.astype("float32"))
    post_bn.moving_variance.assign(variance.astype("float32"))
    return model


def trainable_layer_names(model: keras.Model) -> list[str]:
    """Names (``backbone/layer`` inside the backbone) of layers with trainable weights."""
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            names += [f"{layer.name}/{inner.name}" for inner in layer.layers if inner.trainable_weights]
        elif layer.trainable_weights:
            names.append(layer.name)
    return names
