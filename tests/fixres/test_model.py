"""The classifier and how it is trained: ResNet50V2 as the example builds it, the tiny
stand-in of the same shape, the FixRes freezing, the BN re-estimation, the training loop."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fixres_kedro.fixres.backbones import min_image_size
from fixres_kedro.fixres.checkpoint import TrainingCheckpoint
from fixres_kedro.fixres.dataset import ImageBatches
from fixres_kedro.fixres.model import (
    backbone_of,
    freeze_all_but_final_bn,
    get_training_model,
    prepare_finetune,
    reestimate_bn_statistics,
    trainable_layer_names,
)
from fixres_kedro.fixres.preprocessing import InputPipeline
from fixres_kedro.fixres.training import evaluate, train_and_evaluate

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend

CLASSES = 5


@pytest.fixture(scope="module")
def resnet() -> keras.Model:
    """The real network, built once (a few seconds): the tests that must see it."""
    return get_training_model(CLASSES)


def test_the_model_is_the_examples_resnet50v2(resnet):
    assert resnet.input_shape == (None, None, None, 3)
    assert [layer.name for layer in resnet.layers] == ["image", "rescaling", "resnet50v2", "classifier"]
    assert resnet.output_shape == (None, CLASSES)
    assert backbone_of(resnet).count_params() == 23_564_800  # ResNet50V2 without its top
    # Rescaling maps 0..255 to -1..1 as the example's (x - 127.5) / 127.5.
    rescale = resnet.get_layer("rescaling")
    np.testing.assert_allclose(rescale(np.array([[0.0, 127.5, 255.0]])), [[-1.0, 0.0, 1.0]])


def test_freezing_leaves_exactly_post_bn_and_the_classifier_trainable():
    resnet = get_training_model(CLASSES)  # its own: freezing changes the model
    freeze_all_but_final_bn(resnet)
    assert trainable_layer_names(resnet) == ["resnet50v2/post_bn", "classifier"]
    trainable = {weight.path for weight in resnet.trainable_weights}
    assert trainable == {"post_bn/gamma", "post_bn/beta", "classifier/kernel", "classifier/bias"}
    assert sum(int(np.prod(w.shape)) for w in resnet.trainable_weights) == 2048 * 2 + 2048 * 5 + 5


def test_the_tiny_backbone_has_the_same_shape():
    tiny = get_training_model(CLASSES, backbone="tiny")
    assert [layer.name for layer in tiny.layers] == ["image", "rescaling", "tiny", "classifier"]
    assert backbone_of(tiny).layers[-3].name == "post_bn"  # then ReLU and pooling, as ResNet50V2
    freeze_all_but_final_bn(tiny)
    assert trainable_layer_names(tiny) == ["tiny/post_bn", "classifier"]
    assert min_image_size("tiny") < min_image_size("resnet50v2") == 32
    assert tiny(np.zeros((2, min_image_size("tiny"), 9, 3))).shape == (2, CLASSES)
    with pytest.raises(ValueError, match="backbone must be one of"):
        get_training_model(CLASSES, backbone="vgg")


def test_the_same_seed_gives_the_same_initial_weights():
    first, second = (get_training_model(3, "tiny", seed=7) for _ in range(2))
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def _trainable(model) -> set[str]:
    return {weight.path for weight in model.trainable_weights}


def test_official_variant_trains_the_classifier_with_post_bn_in_training_mode():
    model = prepare_finetune(get_training_model(CLASSES, "tiny"), "official")
    assert _trainable(model) == {"classifier/kernel", "classifier/bias"}
    post_bn = backbone_of(model).get_layer("post_bn")
    assert post_bn.trainable  # so it normalises with batch statistics in fit()
    x = np.random.default_rng(0).normal(3.0, 2.0, (4, 2, 2, post_bn.gamma.shape[0])).astype("float32")
    out = keras.ops.convert_to_numpy(post_bn(x, training=True))
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    with pytest.raises(ValueError, match="variant must be one of"):
        prepare_finetune(model, "magic")


def _images(count: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (int(rng.integers(20, 40)), int(rng.integers(20, 40)), 3), dtype=np.uint8)
            for _ in range(count)]


def test_bn_statistics_are_the_exact_moments_of_post_bn_inputs():
    model = get_training_model(CLASSES, "tiny")
    pipeline = InputPipeline(name="t", recipe="initial", image_size=32, batch_size=4)
    batches = ImageBatches(_images(6), np.zeros(6, int), pipeline, train=False)
    reestimate_bn_statistics(model, batches)
    backbone = backbone_of(model)
    post_bn = backbone.get_layer("post_bn")
    features = keras.Model(backbone.inputs, post_bn.input)
    x = np.concatenate([
        keras.ops.convert_to_numpy(features(model.get_layer("rescaling")(batches[i][0])))
        for i in range(len(batches))
    ]).reshape(-1, post_bn.gamma.shape[0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(post_bn.moving_mean), x.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(post_bn.moving_variance), x.var(0), rtol=1e-3, atol=1e-5)


def test_evaluate_counts_correct_predictions():
    # A model that predicts class 0 for dark and class 1 for bright images.
    inputs = keras.layers.Input((None, None, 3))
    mean = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(mean))
    model.layers[-1].set_weights([np.array([[-1.0, 1.0]] * 3) / 10, np.array([12.75, -12.75])])
    images = [np.full((8, 8, 3), value, np.uint8) for value in (10, 20, 200, 250, 30)]
    labels = np.array([0, 0, 1, 1, 1])  # the last one is wrong
    pipeline = InputPipeline(name="t", recipe="initial", image_size=8, batch_size=2)
    results = evaluate(model, ImageBatches(images, labels, pipeline, train=False))
    assert results["top1"] == pytest.approx(0.8)
    probabilities = model.predict(np.stack(images).astype("float32"), verbose=0)
    expected_loss = -np.mean(np.log(probabilities[np.arange(5), labels]))
    assert results["loss"] == pytest.approx(expected_loss, rel=1e-5)


def test_training_records_every_epoch_with_its_wall_time(tmp_path, caplog):
    model = get_training_model(3, "tiny", seed=0)
    pipeline = InputPipeline(name="tiny", recipe="initial", image_size=16, batch_size=4)
    images, labels = _images(10), np.arange(10) % 3
    checkpoint = TrainingCheckpoint(tmp_path / "run", "key")
    with caplog.at_level("INFO", logger="fixres_kedro"):
        history = train_and_evaluate(
            model, ImageBatches(images, labels, pipeline, train=True),
            ImageBatches(images, labels, pipeline, train=False),
            epochs=2, learning_rate=1e-2, verbose=0, checkpoint=checkpoint,
        )
    assert history["epochs_run"] == 2 and history["train_examples"] == 10
    logs = history["history"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds", "checkpoint_seconds"):
        assert len(logs[key]) == 2, key
    assert all(0 <= c < e for c, e in zip(logs["checkpoint_seconds"], logs["epoch_seconds"]))
    assert history["train_seconds"] == pytest.approx(sum(logs["epoch_seconds"]))
    assert history["images_per_second"] == pytest.approx(20 / history["train_seconds"])
    lines = [r.getMessage() for r in caplog.records if " epoch " in r.getMessage()]
    assert len(lines) == 2 and lines[1].startswith("tiny epoch 2/2: loss ")
    assert history["top1"] == logs["val_accuracy"][-1] and history["loss"] == logs["val_loss"][-1]
    assert any("top-1 accuracy on the validation set" in r.getMessage() for r in caplog.records)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["epoch-0002", "lock"]
    checkpoint.finish()  # what the project's hook does once the model is saved
    assert not (tmp_path / "run").exists()
    assert not (tmp_path / "run").exists()
