"""The classifiers the project builds and how FixRes adapts them, without starting Keras.

The parameters are checked against this table before any backend starts, so it names
what each backbone needs (its smallest input) and imports no Keras; ``fixres.model``
builds them.
"""

from __future__ import annotations

from typing import Literal

# The smallest input each backbone classifies (ResNet50V2 downsamples by 32: a smaller
# input leaves no feature map to pool).
MIN_IMAGE_SIZE = {"resnet50v2": 32, "tiny": 8}

Backbone = Literal["resnet50v2", "tiny"]

FinetuneVariant = Literal["example", "official"]
"""How ``finetune_model`` trains: ``example``, the Keras example's (``post_bn`` and the
classifier learn), or ``official``, the FixRes authors' (the classifier learns, ``post_bn``
re-estimates its statistics with its scale and offset frozen)."""


def min_image_size(backbone: str) -> int:
    """The smallest image size ``backbone`` can classify."""
    return MIN_IMAGE_SIZE[backbone]
