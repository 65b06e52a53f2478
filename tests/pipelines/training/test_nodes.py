"""The training nodes on tiny synthetic photos and the tiny backbone."""

from __future__ import annotations

import io

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fixres_kedro.fixres.checkpoint import Checkpoints
from fixres_kedro.fixres.training import evaluate
from fixres_kedro.fixres.dataset import make_dataset
from fixres_kedro.metrics import History, Provenance
from fixres_kedro.parameters import InputPipeline, ModelParams, RuntimeParams, TrainingParams
from fixres_kedro.pipelines.training.nodes import (
    define_input_pipeline,
    evaluate_model,
    finetune_model,
    plot_training_curves,
    reestimate_post_bn,
    train_model,
    visualize_dataset,
)

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend

CLASSES = ["dandelion", "daisy", "tulips", "sunflowers", "roses"]
RUNTIME = RuntimeParams(workers=1, jit_compile=False)
TRAINING = TrainingParams(epochs=1, learning_rate=1e-3)
TINY = ModelParams(backbone="tiny")
PROVENANCE = Provenance(run_id="run-1", environment="test", node="t.evaluate_model")


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


def _pipeline(recipe: str = "initial", image_size: int = 32, **extra) -> InputPipeline:
    return InputPipeline(name="t", recipe=recipe, image_size=image_size, batch_size=8, **extra)


@pytest.fixture(scope="module")
def trained(split, tmp_path_factory):
    """A trained tiny model; tests that change a model take their own copy."""
    checkpoints = Checkpoints(tmp_path_factory.mktemp("checkpoints"))
    model, history = train_model(split, split, CLASSES, _pipeline(), TRAINING, RUNTIME, TINY, checkpoints)
    return model, history, checkpoints


def _copy(model: keras.Model) -> keras.Model:
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def test_define_input_pipeline_sets_the_seed_and_the_grid_shows_it(split):
    dataset = InputPipeline(name="finetune", recipe="finetune", image_size=48, train_image_size=32, batch_size=8)
    pipeline = define_input_pipeline(dataset, 7)
    assert pipeline == dataset.model_copy(update={"seed": 7}) and pipeline.resize_size == 72
    figure = visualize_dataset(split, CLASSES, pipeline, RUNTIME)
    assert len(figure.axes) == 25
    assert figure.axes[0].images[0].get_array().shape == (48, 48, 3)
    assert figure.axes[3].get_title() == CLASSES[3]


def test_train_model_history_has_epochs_timings_and_metrics(trained, split):
    model, history, checkpoints = trained
    assert model.get_layer("tiny") is not None
    assert history.epochs_run == 1 and history.backbone_learns
    assert history.train_seconds > 0
    assert history.images_per_second == pytest.approx(len(split) / history.train_seconds)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"):
        assert len(history.history[key]) == 1
    assert history.top1 == history.history["val_accuracy"][-1]
    # The checkpoint outlives the node: the model is not stored yet.
    (folder,) = checkpoints.root.iterdir()
    assert folder.name.startswith("t-") and (folder / "epoch-0001").is_dir()


def test_finetune_model_changes_only_post_bn_and_the_classifier(trained, split):
    model = _copy(trained[0])
    before = {w.path: keras.ops.convert_to_numpy(w) for w in model.weights}
    tuned, history = finetune_model(model, split, split, _pipeline("finetune", 48, train_image_size=32),
                                    TRAINING, RUNTIME)
    changed = {w.path for w in tuned.weights if not np.array_equal(before[w.path], keras.ops.convert_to_numpy(w))}
    # post_bn learns gamma/beta and re-estimates its moving statistics.
    assert changed == {
        "post_bn/gamma", "post_bn/beta", "post_bn/moving_mean", "post_bn/moving_variance",
        "classifier/kernel", "classifier/bias",
    }
    assert history.epochs_run == 1 and not history.backbone_learns


def test_reestimating_post_bn_changes_only_its_statistics(trained, split):
    model = _copy(trained[0])
    before = {w.path: keras.ops.convert_to_numpy(w) for w in model.weights}
    adapted, cost = reestimate_post_bn(model, split, _pipeline("finetune", 48, train_image_size=32), RUNTIME)
    changed = {w.path for w in adapted.weights if not np.array_equal(before[w.path], keras.ops.convert_to_numpy(w))}
    assert changed == {"post_bn/moving_mean", "post_bn/moving_variance"}
    assert cost.epochs_run == 0 and cost.train_examples == len(split) and cost.train_seconds > 0
    assert cost.history == {}  # no made-up per-epoch logs


def test_evaluate_model_reports_metrics_and_what_produced_them(trained, split):
    model, history, _ = trained
    metrics = evaluate_model(model, split, _pipeline(), RUNTIME, PROVENANCE, history, TRAINING)
    # The same numbers as an evaluation computed here, from the model's own predictions.
    expected = evaluate(model, make_dataset(split, _pipeline(), False, workers=1))
    assert (metrics.top1, metrics.loss) == (expected["top1"], expected["loss"])
    probabilities = model.predict(make_dataset(split, _pipeline(), False, workers=1), verbose=0)
    assert metrics.top1 == pytest.approx(np.mean(probabilities.argmax(1) == split["label"].to_numpy()))
    assert metrics.epochs == 1 and metrics.validation_examples == len(split)
    assert metrics.parameters["training"] == TRAINING.model_dump()
    assert metrics.parameters["runtime"]["workers"] == 1
    assert metrics.keras_backend == keras.backend.backend()
    assert metrics.provenance == PROVENANCE
    # The network and the layer FixRes fine-tunes, found from the graph, for the report.
    assert (metrics.backbone, metrics.final_batch_norm) == ("tiny", "post_bn")
    as_is = evaluate_model(model, split, _pipeline(), RUNTIME, PROVENANCE)  # a model evaluated as it is
    assert as_is.top1 == metrics.top1 and as_is.epochs == 0 and as_is.train_flops_estimate == 0


def test_plot_training_curves(trained):
    _, history, _ = trained
    figure = plot_training_curves(history, _pipeline())
    assert len(figure.axes) == 2
    assert len(figure.axes[0].lines) == 2


def test_the_checkpoint_goes_once_finished(split, tmp_path):
    checkpoints = Checkpoints(tmp_path)
    train_model(split, split, CLASSES, _pipeline(), TRAINING, RUNTIME, TINY, checkpoints)
    (opened,) = checkpoints.take_open()  # what CheckpointHook takes after the node
    assert checkpoints.take_open() == []
    assert list(tmp_path.iterdir()) != []
    opened.finish()  # what it does once the node's outputs are saved
    assert list(tmp_path.iterdir()) == []
