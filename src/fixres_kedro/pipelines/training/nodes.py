"""Nodes of the training pipelines: build an input pipeline, train, fine-tune, evaluate.

Each node is a thin, typed wrapper around ``fixres_kedro.fixres``; the same functions
serve the ``initial`` (128 px), ``finetune`` (FixRes, 224 px) and ``vanilla`` (224 px)
namespaces, with their parameters under ``<namespace>.dataset`` and
``<namespace>.training``.  The splits come from the catalog's ``*_split@decoded`` entries: DataFrames
whose ``image`` column holds decoded uint8 photos (encoded bytes work too, decoded once
per process).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import keras
import matplotlib

matplotlib.use("Agg")  # nodes only ever draw to files
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fixres_kedro.fixres import checkpoint  # noqa: E402
from fixres_kedro.fixres.cost import training_flops  # noqa: E402
from fixres_kedro.fixres.distribute import Replicas, data_parallel  # noqa: E402
from fixres_kedro.fixres.input_pipeline import ImageBatches, InputPipeline, decode_split  # noqa: E402
from fixres_kedro.fixres.model import (  # noqa: E402
    evaluate,
    get_training_model,
    prepare_finetune,
    reestimate_bn_statistics,
    train_and_evaluate,
)

GRID = 5  # the example shows a 5x5 grid of training inputs


def build_dataset(
    train_split: pd.DataFrame,
    class_names: list[str],
    dataset: dict[str, Any],
    seed: int,
    runtime: dict[str, Any],
) -> tuple[dict[str, Any], Figure]:
    """Make one input pipeline and show a 5x5 grid of its training images.

    The pipeline itself is a small recipe (stored as JSON, so any node can be rerun
    alone without storing pixels); the grid applies it to the first 25 training
    photos, as the example's ``visualize_dataset`` does with a first batch.
    """
    pipeline = InputPipeline(**dataset, seed=seed, workers=runtime.get("workers", 0))
    sample = train_split.iloc[: GRID * GRID]
    images = decode_split(list(sample["image"]), pipeline.workers)
    batches = ImageBatches(images, sample["label"].to_numpy(), pipeline, train=True)
    rng = np.random.default_rng([seed, 0])
    figure, axes = plt.subplots(GRID, GRID, figsize=(10, 10))
    for axis, image, label in zip(axes.flat, images, batches.labels):
        axis.imshow(pipeline.preprocess(image, True, rng).astype(np.uint8))
        axis.set_title(class_names[label], fontsize=8)
    for axis in axes.flat:
        axis.axis("off")
    figure.suptitle(
        f"{pipeline.name}: {pipeline.recipe} recipe, {pipeline.image_size} px training inputs"
    )
    figure.tight_layout()
    return pipeline.to_dict(), figure


def _batches(
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    dataset_spec: dict[str, Any],
    replicas: Replicas,
) -> tuple[ImageBatches, ImageBatches]:
    pipeline = InputPipeline.from_dict(dataset_spec)
    placement = {"batch_multiple": replicas.batch_multiple,
                 "process_count": replicas.process_count,
                 "process_index": replicas.process_index}
    return (
        ImageBatches.from_split(train_split, pipeline, train=True, **placement),
        ImageBatches.from_split(validation_split, pipeline, train=False, **placement),
    )


def _fit(
    model: keras.Model,
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    dataset_spec: dict[str, Any],
    training: dict[str, Any],
    runtime: dict[str, Any],
    checkpoints: str | None,
    replicas: Replicas,
) -> dict[str, Any]:
    train_batches, validation_batches = _batches(train_split, validation_split, dataset_spec, replicas)
    # A checkpoint is resumed only by a run of the same recipe, training set-up,
    # data and starting weights.
    key = checkpoint.fingerprint(
        dataset_spec, training, list(train_split["key"]), list(validation_split["key"]),
        checkpoint.weights_digest(model),
    )
    return train_and_evaluate(
        model,
        train_batches,
        validation_batches,
        epochs=training["epochs"],
        learning_rate=training["learning_rate"],
        early_stopping_patience=training.get("early_stopping_patience"),
        steps_per_execution=runtime.get("steps_per_execution", 1),
        jit_compile=runtime.get("jit_compile", "auto"),
        # One folder per run and fingerprint: runs of several seeds can go in parallel.
        checkpoint_dir=checkpoints and str(Path(checkpoints) / f"{dataset_spec['name']}-{key}"),
        checkpoint_key=key,
    )


def train_model(
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    class_names: list[str],
    dataset_spec: dict[str, Any],
    training: dict[str, Any],
    runtime: dict[str, Any],
    checkpoints: str | None = None,
) -> tuple[keras.Model, dict[str, Any]]:
    """Train a ResNet50V2 from scratch on one input pipeline (low-res or vanilla).

    Returns the trained model and its history (per-epoch metrics and timings). An
    interrupted run resumes from its last epoch's checkpoint under ``checkpoints``.
    With ``runtime.data_parallel`` it trains on every device (``fixres.distribute``).
    """
    with data_parallel(runtime.get("data_parallel", False)) as replicas:
        model = replicas.adopt(get_training_model(len(class_names)))
        history = _fit(model, train_split, validation_split, dataset_spec, training, runtime,
                       checkpoints, replicas)
    return model, {**history, "backbone_learns": True}


def finetune_bn(
    initial_model: keras.Model,
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    dataset_spec: dict[str, Any],
    training: dict[str, Any],
    runtime: dict[str, Any],
    checkpoints: str | None = None,
) -> tuple[keras.Model, dict[str, Any]]:
    """FixRes: fine-tune the low-res model at the test resolution, BN-only.

    With ``training.variant: example`` (the default) every backbone layer is frozen
    except ``post_bn``; ``post_bn`` and the classifier learn on the finetune pipeline
    (resize, centre crop) with the lower learning rate of ``finetune.training``. The
    other variants (``official``, ``bn_stats``, ``none``; see
    ``fixres_kedro.fixres.model.prepare_finetune``) serve the variants pipeline.
    """
    variant = training.get("variant", "example")
    if variant in ("example", "official"):
        with data_parallel(runtime.get("data_parallel", False)) as replicas:
            model = prepare_finetune(replicas.adopt(initial_model), variant)
            history = _fit(model, train_split, validation_split, dataset_spec, training, runtime,
                           checkpoints, replicas)
        return model, {**history, "backbone_learns": False}
    model = prepare_finetune(initial_model, variant)
    start = time.perf_counter()
    if variant == "bn_stats":
        pipeline = InputPipeline.from_dict(dataset_spec)
        reestimate_bn_statistics(model, ImageBatches.from_split(train_split, pipeline, train=False))
    history = {
        "epochs_run": 0,
        "train_examples": len(train_split),
        "train_seconds": time.perf_counter() - start,
        "images_per_second": None,
        "peak_accelerator_memory_bytes": None,
        "backbone_learns": False,
        "history": {key: [] for key in ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds")},
    }
    return model, history


def evaluate_model(
    model: keras.Model,
    validation_split: pd.DataFrame,
    dataset_spec: dict[str, Any],
    history: dict[str, Any],
    training: dict[str, Any],
    runtime: dict[str, Any],
) -> dict[str, Any]:
    """Top-1 accuracy and loss of a model on its validation pipeline, with its costs.

    The metrics also carry what produced them and what it cost: epochs run, training
    wall time, images per second, an estimate of the training FLOPs and the peak
    accelerator memory (where the backend reports it), the pipeline and training
    parameters, the Keras backend and version.
    """
    pipeline = InputPipeline.from_dict(dataset_spec)
    results = evaluate(model, ImageBatches.from_split(validation_split, pipeline, train=False))
    flops = training_flops(
        model, pipeline.image_size, history.get("train_examples", 0), history["epochs_run"],
        backbone_learns=history.get("backbone_learns", True),
    )
    return {
        "model": pipeline.name,
        **results,
        "validation_examples": len(validation_split),
        "epochs": history["epochs_run"],
        "train_seconds": history["train_seconds"],
        "images_per_second": history["images_per_second"],
        "train_flops_estimate": flops,
        "peak_accelerator_memory_bytes": history.get("peak_accelerator_memory_bytes"),
        "parameters": {"dataset": dataset_spec, "training": training, "runtime": runtime},
        "keras_backend": keras.backend.backend(),
        "keras_version": keras.__version__,
    }


def plot_training_curves(history: dict[str, Any], dataset_spec: dict[str, Any]) -> Figure:
    """Loss and accuracy per epoch, training and validation, of one model."""
    logs = history["history"]
    epochs = np.arange(1, history["epochs_run"] + 1)
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
        axis.plot(epochs, logs[metric], marker="o", label="train")
        axis.plot(epochs, logs[f"val_{metric}"], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(f"{dataset_spec['name']} ({dataset_spec['image_size']} px)")
    figure.tight_layout()
    return figure
