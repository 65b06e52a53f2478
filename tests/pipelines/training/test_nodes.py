"""Unit tests of the training nodes on tiny synthetic images."""

from __future__ import annotations

import io

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fixres_kedro.fixres.input_pipeline import ImageBatches, InputPipeline
from fixres_kedro.fixres.model import (
    evaluate,
    freeze_all_but_post_bn,
    get_training_model,
    trainable_layer_names,
)
from fixres_kedro.pipelines.training.nodes import (
    build_dataset,
    evaluate_model,
    finetune_bn,
    plot_training_curves,
    train_model,
)

CLASSES = ["dandelion", "daisy", "tulips", "sunflowers", "roses"]
RUNTIME = {"workers": 1, "steps_per_execution": 1, "jit_compile": False}
TRAINING = {"epochs": 1, "learning_rate": 1e-3, "early_stopping_patience": None}


def _jpeg(colour: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def split() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for index in range(30):
        label = index % len(CLASSES)
        size = (int(rng.integers(40, 80)), int(rng.integers(40, 80)))
        rows.append(
            {
                "key": f"{CLASSES[label]}/{index}.jpg",
                "label": label,
                "class_name": CLASSES[label],
                "image": _jpeg((label * 50, 255 - label * 50, 128), size),
            }
        )
    return pd.DataFrame(rows)


def _spec(recipe: str = "initial", image_size: int = 32, **extra) -> dict:
    return InputPipeline(name="t", recipe=recipe, image_size=image_size, batch_size=8, **extra).to_dict()


@pytest.fixture(scope="module")
def trained(split):
    model, history = train_model(split, split, CLASSES, _spec(), TRAINING, RUNTIME)
    return model, history


def test_build_dataset_returns_the_recipe_and_a_5x5_grid(split):
    spec, figure = build_dataset(
        split, CLASSES, {"name": "finetune", "recipe": "finetune", "image_size": 48,
                         "train_image_size": 32, "batch_size": 8}, 7, RUNTIME
    )
    assert spec["recipe"] == "finetune" and spec["resize_size"] == 72 and spec["seed"] == 7
    assert InputPipeline.from_dict(spec) == InputPipeline(
        name="finetune", recipe="finetune", image_size=48, train_image_size=32, batch_size=8, seed=7
    )
    assert len(figure.axes) == 25
    assert figure.axes[0].images[0].get_array().shape == (48, 48, 3)


def test_model_matches_the_example():
    model = get_training_model(len(CLASSES))
    assert model.input_shape == (None, None, None, 3)
    assert [layer.name for layer in model.layers] == [
        "image", "rescaling", "resnet50v2", "classifier"
    ]
    assert model.output_shape == (None, len(CLASSES))
    # Rescaling maps 0..255 to -1..1 as the example's (x - 127.5) / 127.5.
    rescale = model.get_layer("rescaling")
    np.testing.assert_allclose(rescale(np.array([[0.0, 127.5, 255.0]])), [[-1.0, 0.0, 1.0]])


def test_freezing_leaves_exactly_post_bn_and_the_classifier_trainable():
    model = freeze_all_but_post_bn(get_training_model(len(CLASSES)))
    assert trainable_layer_names(model) == ["resnet50v2/post_bn", "classifier"]
    trainable = {weight.path for weight in model.trainable_weights}
    assert trainable == {"post_bn/gamma", "post_bn/beta", "classifier/kernel", "classifier/bias"}
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 2048 * 2 + 2048 * 5 + 5


def test_train_model_history_has_epochs_timings_and_metrics(trained, split):
    model, history = trained
    assert history["epochs_run"] == 1
    assert history["train_seconds"] > 0
    assert history["images_per_second"] == pytest.approx(len(split) / history["train_seconds"])
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"):
        assert len(history["history"][key]) == 1


def test_finetune_bn_changes_only_post_bn_and_the_classifier(trained, split):
    model, _ = trained
    before = {w.path: keras.ops.convert_to_numpy(w) for w in model.weights}
    tuned, history = finetune_bn(
        model, split, split, _spec("finetune", 48, train_image_size=32), TRAINING, RUNTIME
    )
    changed = {w.path for w in tuned.weights if not np.array_equal(before[w.path], keras.ops.convert_to_numpy(w))}
    # post_bn learns gamma/beta and re-estimates its moving statistics.
    assert changed == {
        "post_bn/gamma", "post_bn/beta", "post_bn/moving_mean", "post_bn/moving_variance",
        "classifier/kernel", "classifier/bias",
    }
    assert history["epochs_run"] == 1


def test_evaluate_counts_correct_predictions():
    # A model that predicts class 0 for dark and class 1 for bright images.
    inputs = keras.layers.Input((None, None, 3))
    mean = keras.layers.GlobalAveragePooling2D()(inputs)
    logits = keras.layers.Dense(2, activation="softmax")(mean)
    model = keras.Model(inputs, logits)
    model.layers[-1].set_weights([np.array([[-1.0, 1.0]] * 3) / 10, np.array([12.75, -12.75])])
    images = [np.full((8, 8, 3), value, np.uint8) for value in (10, 20, 200, 250, 30)]
    labels = np.array([0, 0, 1, 1, 1])  # the last one is wrong
    pipeline = InputPipeline(name="t", recipe="initial", image_size=8, batch_size=2, workers=1)
    results = evaluate(model, ImageBatches(images, labels, pipeline, train=False))
    assert results["top1"] == pytest.approx(0.8)
    probabilities = model.predict(np.stack(images).astype("float32"), verbose=0)
    expected_loss = -np.mean(np.log(probabilities[np.arange(5), labels]))
    assert results["loss"] == pytest.approx(expected_loss, rel=1e-5)


def test_evaluate_model_reports_metrics_and_what_produced_them(trained, split):
    model, history = trained
    metrics = evaluate_model(model, split, _spec(), history, TRAINING, RUNTIME)
    assert 0.0 <= metrics["top1"] <= 1.0 and metrics["loss"] > 0
    assert metrics["epochs"] == 1 and metrics["validation_examples"] == len(split)
    assert metrics["parameters"]["training"] == TRAINING
    assert metrics["keras_backend"] == keras.backend.backend()


def test_plot_training_curves(trained):
    _, history = trained
    figure = plot_training_curves(history, _spec())
    assert len(figure.axes) == 2
    assert len(figure.axes[0].lines) == 2
