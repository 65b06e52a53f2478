"""Fine-tuning variants: what learns in each, and the exact BN re-estimation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fixres_kedro.fixres.input_pipeline import ImageBatches, InputPipeline
from fixres_kedro.fixres.model import (
    backbone_of,
    get_training_model,
    prepare_finetune,
    reestimate_bn_statistics,
)
from fixres_kedro.pipelines.variants.nodes import compare_finetune_variants


@pytest.fixture(scope="module")
def model():
    return get_training_model(5)


def _trainable(model) -> set[str]:
    return {weight.path for weight in model.trainable_weights}


def test_example_variant_trains_post_bn_and_the_classifier(model):
    prepare_finetune(model, "example")
    assert _trainable(model) == {"post_bn/gamma", "post_bn/beta", "classifier/kernel", "classifier/bias"}


def test_official_variant_trains_the_classifier_with_post_bn_in_training_mode(model):
    prepare_finetune(model, "official")
    assert _trainable(model) == {"classifier/kernel", "classifier/bias"}
    post_bn = backbone_of(model).get_layer("post_bn")
    # Still a trainable layer, so it normalises with batch statistics in fit().
    assert post_bn.trainable
    x = np.random.default_rng(0).normal(3.0, 2.0, (4, 2, 2, post_bn.gamma.shape[0])).astype("float32")
    out = keras.ops.convert_to_numpy(post_bn(x, training=True))
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)


@pytest.mark.parametrize("variant", ["bn_stats", "none"])
def test_variants_without_training_freeze_everything(model, variant):
    prepare_finetune(model, variant)
    assert _trainable(model) == set()


def test_unknown_variant_is_refused(model):
    with pytest.raises(ValueError, match="variant must be one of"):
        prepare_finetune(model, "magic")


def test_bn_statistics_are_the_exact_moments_of_post_bn_inputs(model):
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (40, 50, 3), dtype=np.uint8) for _ in range(6)]
    pipeline = InputPipeline(name="t", recipe="initial", image_size=32, batch_size=4, workers=1)
    batches = ImageBatches(images, np.zeros(6, int), pipeline, train=False)
    reestimate_bn_statistics(model, batches)
    backbone = backbone_of(model)
    features = keras.Model(backbone.inputs, backbone.get_layer("post_bn").input)
    x = np.concatenate([
        keras.ops.convert_to_numpy(features(model.get_layer("rescaling")(batches[i][0]))) for i in range(len(batches))
    ]).reshape(-1, 2048)
    post_bn = backbone.get_layer("post_bn")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(post_bn.moving_mean), x.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(post_bn.moving_variance), x.var(0), rtol=1e-3, atol=1e-5)


def test_compare_finetune_variants_tabulates_four_rows():
    def metrics(top1):
        return {"model": "finetune", "top1": top1, "loss": 1.0, "validation_examples": 100, "epochs": 1,
                "train_seconds": 2.0, "parameters": {"dataset": {"image_size": 224}}}
    table, figure = compare_finetune_variants(metrics(0.8), metrics(0.75), metrics(0.7), metrics(0.5))
    assert list(table["variant"]) == ["example", "official", "bn_stats", "none"]
    assert table["top1_stderr"].iloc[0] == pytest.approx((0.8 * 0.2 / 100) ** 0.5)
