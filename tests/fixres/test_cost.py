"""Training-cost estimates: FLOPs counted from the layers."""

from __future__ import annotations

import keras
import pytest

from fixres_kedro.fixres.cost import forward_flops, peak_accelerator_memory, training_flops
from fixres_kedro.fixres.model import get_training_model

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend


def test_flops_of_a_small_model_by_hand():
    inputs = keras.layers.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(inputs)  # 8x8 positions at 16 px
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(4)(x))
    expected = 2 * (8 * 8 * 3 * 3 * 3 * 8) + 2 * (8 * 4)
    assert forward_flops(model, 16) == expected
    assert training_flops(model, 16, images=10, epochs=2, backbone_learns=True) == 3 * expected * 20
    assert training_flops(model, 16, images=10, epochs=2, backbone_learns=False) == expected * 20


def test_resnet50v2_costs_about_7_gflops_at_224_and_scales_with_area():
    model = get_training_model(5)
    at_224 = forward_flops(model, 224)
    # ResNet50V2 is quoted at about 3.5 G multiply-adds per 224 px image.
    assert at_224 == pytest.approx(7.0e9, rel=0.03)
    assert forward_flops(model, 128) / at_224 == pytest.approx((128 / 224) ** 2, rel=0.05)


def test_no_accelerator_memory_on_the_cpu():
    assert peak_accelerator_memory() is None
