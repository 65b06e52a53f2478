"""The example's classifier (``get_training_model``) and how FixRes adapts them.

Any ``keras.applications`` backbone of ``fixres.backbones.BACKBONES`` (the example's is
ResNet50V2), with its family's own input preprocessing inside the model, so every input
pipeline hands over plain 0-255 pixels. FixRes adapts the *final BatchNormalization*,
the last normalization layer before the global pooling, found from the backbone's graph
(``final_batch_norm``), not by name: ``post_bn`` in ResNet50V2, ``top_bn`` in
EfficientNetV2, ``conv5_block3_3_bn`` in ResNet50.
"""

from __future__ import annotations

from collections import deque
from typing import get_args

import keras
import numpy as np

from fixres_kedro.fixres.backbones import BACKBONES, TINY, FinetuneVariant, backbone_name
from fixres_kedro.fixres.dataset import ImageBatches, inference_batches
from fixres_kedro.fixres.errors import InvalidParameterError, Problem

NORMALIZATIONS = (keras.layers.BatchNormalization, keras.layers.LayerNormalization,
                  keras.layers.GroupNormalization, keras.layers.UnitNormalization)
# What the official variant turns off in the frozen layers (see prepare_finetune).
NOISE_LAYERS = (keras.layers.Dropout, keras.layers.SpatialDropout1D, keras.layers.SpatialDropout2D,
                keras.layers.GaussianDropout, keras.layers.GaussianNoise, keras.layers.AlphaDropout)


def _tiny_backbone() -> keras.Model:
    """Two strided convolutions, each with BatchNormalization, the last named ``post_bn``
    and followed by ReLU and global average pooling, as ResNet50V2 ends."""
    inputs = keras.layers.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.ReLU(name="conv1_relu")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="conv2")(x)
    x = keras.layers.BatchNormalization(name="post_bn")(x)
    x = keras.layers.ReLU(name="post_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, x, name=TINY)


def _application(name: str) -> tuple[keras.Model, object]:
    """The ``keras.applications`` backbone ``name`` without its top, average-pooled, and
    what the outer model applies before it (a layer, a function, or None)."""
    spec = BACKBONES[name]
    build = getattr(keras.applications, spec.constructor)
    options = {"include_preprocessing": True} if spec.preprocessing == "included" else {}
    # Keras' own name: EfficientNetV2 reads it to choose its preprocessing.
    network = build(include_top=False, weights=None, pooling="avg", **options)
    if spec.preprocessing == "rescale":  # the ``tf`` mode: (x - 127.5) / 127.5
        return network, keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescaling")
    if spec.preprocessing == "function":  # caffe or torch mode, in the graph as Keras defines it
        return network, getattr(keras.applications, spec.module).preprocess_input
    return network, None


def get_training_model(
    num_classes: int, backbone: str = "resnet50v2", seed: int | None = None
) -> keras.Model:
    """Input(None, None, 3) -> the backbone's preprocessing -> backbone -> Dense softmax,
    from scratch.

    ``backbone``: a name of ``fixres.backbones.BACKBONES`` in any case (``resnet50v2``,
    the example's) or ``tiny``; one whose graph has no final BatchNormalization stops
    here (``final_batch_norm``), before anything trains. ``seed`` makes the initial
    weights reproducible independently of anything that ran before in the process.
    """
    try:
        name = backbone_name(backbone)
    except ValueError as error:
        raise ValueError(f"backbone {error}, got {backbone!r}") from None
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.layers.Input((None, None, 3), name="image")
    if name == TINY:
        network, preprocess = _tiny_backbone(), keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescaling")
    else:
        network, preprocess = _application(name)
    final_batch_norm(network)  # a backbone FixRes cannot adapt stops before it trains
    network.trainable = True
    x = network(preprocess(inputs) if preprocess is not None else inputs)
    # The head stays float32 under a mixed-precision policy, so the softmax is stable.
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="classifier"
    )(x)
    return keras.Model(inputs, outputs, name="fixres_classifier")


def backbone_of(model: keras.Model) -> keras.Model:
    """The nested backbone of a model made by ``get_training_model``."""
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def final_batch_norm(backbone: keras.Model) -> keras.layers.BatchNormalization:
    """The normalization layer nearest to the backbone's output in its graph, which
    must be a BatchNormalization: the layer whose statistics FixRes adapts.

    A breadth-first walk back from the output (the pooled features the classifier
    reads) through each operation's inbound tensors: through the pooling and the
    activation to ``post_bn`` (ResNet50V2), ``top_bn`` (EfficientNetV2), ``conv_1_bn``
    (MobileNetV3), ``bn`` (DenseNet), ``block14_sepconv2_bn`` (Xception). In ResNet50
    (v1) the last block ends in a residual add whose normalized branch is nearer than
    the identity: its ``conv5_block3_3_bn``, the BatchNorm before the add, which is the
    layer the FixRes authors fine-tune in torchvision's ResNet-50 (``layer4[2].bn3``,
    imnet_finetune/train.py:280). ``InvalidParameterError`` (one line) when the nearest
    normalization is another kind (ConvNeXt ends with a LayerNormalization) or there is
    none.
    """
    seen: set[int] = set()
    queue = deque(backbone.outputs)
    while queue:
        tensor = queue.popleft()
        operation, node_index, _ = tensor._keras_history
        if id(operation) in seen:
            continue
        seen.add(id(operation))
        if isinstance(operation, NORMALIZATIONS):
            if isinstance(operation, keras.layers.BatchNormalization):
                return operation
            raise InvalidParameterError([Problem(
                "model.backbone", f"{backbone.name} has no BatchNormalization before its pooling: "
                f"its last normalization, {operation.name}, is a {type(operation).__name__}, which "
                "keeps no statistics of the training images for FixRes to adapt to the test "
                "resolution; set model.backbone to one with BatchNormalization (resnet50v2, resnet50, "
                "efficientnetv2b0, mobilenetv3small, densenet121, xception) in "
                "conf/base/parameters.yml or with --params model.backbone=resnet50v2")])
        if operation._inbound_nodes:
            queue.extend(operation._inbound_nodes[node_index].input_tensors)
    raise InvalidParameterError([Problem(
        "model.backbone", f"{backbone.name} has no normalization layer: FixRes adapts a "
        "BatchNormalization's statistics; set model.backbone in conf/base/parameters.yml or with "
        "--params model.backbone=resnet50v2")])


def preprocessing_of(model: keras.Model) -> keras.Model:
    """The part of ``model`` before its backbone: images (0-255) to the backbone's input."""
    backbone = backbone_of(model)
    return keras.Model(model.inputs, backbone._inbound_nodes[0].input_tensors[0])


def freeze_all_but_final_bn(model: keras.Model) -> keras.Model:
    """Freeze every backbone layer except its final BatchNormalization
    (``final_batch_norm``); leave the classifier trainable.

    A frozen BatchNormalization layer in Keras 3 also runs in inference mode (moving
    statistics), while the final one keeps normalising with batch statistics and
    updates its moving averages: the example's fine-tuning.
    """
    backbone = backbone_of(model)
    final_bn = final_batch_norm(backbone)
    backbone.trainable = True
    for layer in backbone.layers:
        layer.trainable = False
    final_bn.trainable = True
    return model


def prepare_finetune(model: keras.Model, variant: FinetuneVariant = "example") -> keras.Model:
    """Set which weights learn when fine-tuning at the test resolution.

    * ``example`` (the Keras example): the final BatchNorm (scale, offset and
      statistics) and the classifier learn; everything else is frozen.
    * ``official`` (the FixRes authors' imnet_finetune/train.py): only the classifier
      learns (train.py:181-184 freezes every parameter outside ``fc``); the final
      BatchNorm runs in training mode, normalising with batch statistics and
      re-estimating its moving ones (train.py:269 ``model.eval()``, then :280
      ``layer4[2].bn3.train()``), its scale and offset frozen; every other layer is in
      inference mode, which for Keras' dropout and noise layers (a frozen one still
      drops in ``fit``; EfficientNetV2's stochastic depth) means a rate of 0.
    """
    if variant not in get_args(FinetuneVariant):
        raise ValueError(f"variant must be one of {get_args(FinetuneVariant)}, got {variant!r}")
    freeze_all_but_final_bn(model)
    if variant == "official":
        backbone = backbone_of(model)
        final_bn = final_batch_norm(backbone)
        # The layer stays trainable so it runs in training mode (batch statistics,
        # moving averages updated); its two learnable variables do not.
        final_bn.gamma.trainable = False
        final_bn.beta.trainable = False
        for layer in backbone.layers:
            if isinstance(layer, NOISE_LAYERS):
                layer.rate = 0.0
                if hasattr(layer, "stddev"):
                    layer.stddev = 0.0
    return model


def reestimate_bn_statistics(model: keras.Model, batches: ImageBatches) -> keras.Model:
    """Replace the final BatchNorm's moving mean and variance by the exact statistics of
    its inputs over ``batches`` (one compiled forward pass, no gradient step).

    The statistics are pooled over every pixel of every image, as a BatchNorm layer
    normalises per channel over batch and space: the compiled program returns each
    image's per-channel sum and sum of squares (float32, over one image's positions),
    which are added up in float64.
    """
    backbone = backbone_of(model)
    final_bn = final_batch_norm(backbone)
    features = keras.Model(backbone.inputs, final_bn.input)
    images = model.inputs[0]
    x = keras.ops.cast(features(preprocessing_of(model)(images)), "float32")
    sums = keras.Model(images, [keras.ops.sum(x, axis=(1, 2)), keras.ops.sum(x * x, axis=(1, 2))])
    full, real = inference_batches(batches)
    total, total_sq = (np.asarray(part, np.float64)[real] for part in sums.predict(full, verbose=0))
    size = batches.pipeline.image_size
    height, width = features.compute_output_spec(keras.KerasTensor((1, size, size, 3))).shape[1:3]
    count = real.sum() * height * width
    mean = total.sum(0) / count
    variance = np.maximum(total_sq.sum(0) / count - mean**2, 0.0)
    final_bn.moving_mean.assign(mean.astype("float32"))
    final_bn.moving_variance.assign(variance.astype("float32"))
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
