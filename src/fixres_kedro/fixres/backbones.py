"""The classifiers the project builds and how FixRes adapts them, without starting Keras.

The parameters are checked against this table before any backend starts, so it names
what each backbone needs (its smallest input, its preprocessing) and imports no Keras;
``fixres.model`` builds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Preprocessing = Literal["rescale", "function", "included"]


@dataclass(frozen=True)
class BackboneSpec:
    """One ``keras.applications`` constructor: its name there, the module whose
    ``preprocess_input`` defines its input scale, how the model applies it, and the
    smallest input Keras' own ``obtain_input_shape`` check accepts (``min_size``).

    ``preprocessing``: ``rescale``, the ``tf`` mode ((x - 127.5) / 127.5, a Rescaling
    layer); ``function``, the module's ``preprocess_input`` itself in the model's graph
    (``caffe``: BGR minus the ImageNet means; ``torch``: [0, 1] standardised per
    channel); ``included``, the constructor's ``include_preprocessing=True``, which
    these families' ``preprocess_input`` leaves to the model (EfficientNetV2,
    MobileNetV3, ConvNeXt).
    """

    constructor: str
    module: str
    preprocessing: Preprocessing
    min_size: int = 32


def _family(module: str, preprocessing: Preprocessing, *constructors: str, min_size: int = 32
            ) -> dict[str, BackboneSpec]:
    return {name.lower(): BackboneSpec(name, module, preprocessing, min_size) for name in constructors}


BACKBONES: dict[str, BackboneSpec] = {
    **_family("resnet_v2", "rescale", "ResNet50V2", "ResNet101V2", "ResNet152V2"),
    **_family("resnet", "function", "ResNet50", "ResNet101", "ResNet152"),
    **_family("efficientnet_v2", "included", "EfficientNetV2B0", "EfficientNetV2B1",
              "EfficientNetV2B2", "EfficientNetV2B3", "EfficientNetV2S", "EfficientNetV2M",
              "EfficientNetV2L"),
    # MobileNetV3 has no size check of its own with weights=None; 32 as it downsamples by 32.
    **_family("mobilenet_v3", "included", "MobileNetV3Small", "MobileNetV3Large"),
    **_family("densenet", "function", "DenseNet121", "DenseNet169", "DenseNet201"),
    **_family("xception", "rescale", "Xception", min_size=71),
    # Accepted so that the graph says why FixRes cannot adapt it (a LayerNormalization,
    # not a BatchNormalization, ends it): fixres.model.final_batch_norm.
    **_family("convnext", "included", "ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase",
              "ConvNeXtLarge", "ConvNeXtXLarge"),
}

TINY = "tiny"  # the small stand-in for tests (fixres.model._tiny_backbone)
TINY_MIN_IMAGE_SIZE = 8

FinetuneVariant = Literal["example", "official"]
"""How ``finetune_model`` trains: ``example``, the Keras example's (the final BatchNorm and
the classifier learn), or ``official``, the FixRes authors' (the classifier learns, the
final BatchNorm re-estimates its statistics with its scale and offset frozen)."""


def backbone_names() -> list[str]:
    """Every accepted ``model.backbone``, lower case (the parameter ignores case)."""
    return [*BACKBONES, TINY]


def backbone_name(name: str) -> str:
    """``name`` as the table spells it (lower case); ValueError if it is not there."""
    key = name.lower()
    if key not in BACKBONES and key != TINY:
        raise ValueError(f"must be one of {', '.join(backbone_names())}")
    return key


def constructor_name(model_name: str) -> str:
    """The ``keras.applications`` constructor of a backbone from its model's name
    (``efficientnetv2-b0`` -> ``EfficientNetV2B0``); the name itself if none matches."""
    key = model_name.lower().replace("-", "").replace("_", "")
    spec = BACKBONES.get(key)
    return spec.constructor if spec else model_name


def min_image_size(backbone: str) -> int:
    """The smallest image size ``backbone`` can classify."""
    key = backbone_name(backbone)
    return TINY_MIN_IMAGE_SIZE if key == TINY else BACKBONES[key].min_size
