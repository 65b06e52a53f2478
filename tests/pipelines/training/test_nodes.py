"""The training nodes on tiny synthetic photos and the tiny backbone."""

from __future__ import annotations

import io

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fixres_kedro.fixres.checkpoint import finish
from fixres_kedro.fixres.input_pipeline import InputPipeline
from fixres_kedro.parameters import ModelParams, RuntimeParams, TrainingParams
from fixres_kedro.pipelines.training.nodes import (
    build_dataset,
    evaluate_model,
    finetune_bn,
    plot_training_curves,
    reestimate_post_bn,
    train_model,
)

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend

CLASSES = ["dandelion", "daisy", "tulips", "sunflowers", "roses"]
RUNTIME = RuntimeParams(workers=1, jit_compile=False)
TRAINING = TrainingParams(epochs=1, learning_rate=1e-3)
TINY = ModelParams(backbone="tiny")


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
        rows.append({"key": f"{CLASSES[label]}/{index}.jpg", "label": label, "class_name": CLASSES[label],
                     "image": _jpeg((label * 50, 255 - label * 50, 128), size)})
    return pd.DataFrame(rows)


def _spec(recipe: str = "initial", image_size: int = 32, **extra) -> dict:
    return InputPipeline(name="t", recipe=recipe, image_size=image_size, batch_size=8, **extra).to_dict()


@pytest.fixture(scope="module")
def trained(split, tmp_path_factory):
    checkpoints = tmp_path_factory.mktemp("checkpoints")
    model, history = train_model(split, split, CLASSES, _spec(), TRAINING, RUNTIME, TINY, str(checkpoints))
    return model, history, checkpoints


def test_build_dataset_returns_the_recipe_and_a_5x5_grid(split):
    dataset = InputPipeline(name="finetune", recipe="finetune", image_size=48, train_image_size=32, batch_size=8)
    spec, figure = build_dataset(split, CLASSES, dataset, 7, RUNTIME)
    assert spec["recipe"] == "finetune" and spec["resize_size"] == 72 and spec["seed"] == 7
    assert InputPipeline.from_dict(spec) == InputPipeline(
        name="finetune", recipe="finetune", image_size=48, train_image_size=32, batch_size=8, seed=7
    )
    assert len(figure.axes) == 25
    assert figure.axes[0].images[0].get_array().shape == (48, 48, 3)


def test_train_model_history_has_epochs_timings_and_metrics(trained, split):
    model, history, checkpoints = trained
    assert model.get_layer("tiny") is not None
    assert history["epochs_run"] == 1 and history["backbone_learns"]
    assert history["train_seconds"] > 0
    assert history["images_per_second"] == pytest.approx(len(split) / history["train_seconds"])
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"):
        assert len(history["history"][key]) == 1
    # The checkpoint outlives the node: the model is not stored yet.
    (run,) = checkpoints.iterdir()
    assert run.name.startswith("t-") and (run / "epoch-0001").is_dir()


def test_finetune_bn_changes_only_post_bn_and_the_classifier(trained, split):
    model, _, _ = trained
    before = {w.path: keras.ops.convert_to_numpy(w) for w in model.weights}
    tuned, history = finetune_bn(model, split, split, _spec("finetune", 48, train_image_size=32),
                                 TRAINING, RUNTIME)
    changed = {w.path for w in tuned.weights if not np.array_equal(before[w.path], keras.ops.convert_to_numpy(w))}
    # post_bn learns gamma/beta and re-estimates its moving statistics.
    assert changed == {
        "post_bn/gamma", "post_bn/beta", "post_bn/moving_mean", "post_bn/moving_variance",
        "classifier/kernel", "classifier/bias",
    }
    assert history["epochs_run"] == 1 and not history["backbone_learns"]


def test_reestimating_post_bn_changes_only_its_statistics(split):
    model, _ = train_model(split, split, CLASSES, _spec(), TRAINING, RUNTIME, TINY)
    before = {w.path: keras.ops.convert_to_numpy(w) for w in model.weights}
    adapted, cost = reestimate_post_bn(model, split, _spec("finetune", 48, train_image_size=32))
    changed = {w.path for w in adapted.weights if not np.array_equal(before[w.path], keras.ops.convert_to_numpy(w))}
    assert changed == {"post_bn/moving_mean", "post_bn/moving_variance"}
    assert cost["epochs_run"] == 0 and cost["train_examples"] == len(split) and cost["train_seconds"] > 0
    assert "history" not in cost  # no made-up per-epoch logs


def test_evaluate_model_reports_metrics_and_what_produced_them(trained, split):
    model, history, _ = trained
    metrics = evaluate_model(model, split, _spec(), RUNTIME, history, TRAINING)
    assert 0.0 <= metrics["top1"] <= 1.0 and metrics["loss"] > 0
    assert metrics["epochs"] == 1 and metrics["validation_examples"] == len(split)
    assert metrics["parameters"]["training"] == TRAINING.to_dict()
    assert metrics["parameters"]["runtime"]["workers"] == 1
    assert metrics["keras_backend"] == keras.backend.backend()
    as_is = evaluate_model(model, split, _spec(), RUNTIME)  # a model evaluated as it is
    assert as_is["top1"] == metrics["top1"] and as_is["epochs"] == 0 and as_is["train_flops_estimate"] == 0


def test_plot_training_curves(trained):
    _, history, _ = trained
    figure = plot_training_curves(history, _spec())
    assert len(figure.axes) == 2
    assert len(figure.axes[0].lines) == 2


def test_the_checkpoint_goes_once_the_model_is_stored(trained):
    model, _, checkpoints = trained
    assert finish(model)
    assert list(checkpoints.iterdir()) == []
