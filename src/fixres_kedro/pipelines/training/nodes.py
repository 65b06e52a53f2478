"""Nodes of the training runs: build an input pipeline, train, fine-tune, evaluate.

Each node is a thin, typed wrapper around ``fixres_kedro.fixres``; the same functions
serve the ``initial`` (128 px), ``finetune`` (FixRes, 224 px) and ``vanilla`` (224 px)
runs (``fixres_kedro.protocol``), with their parameters under ``<run>.dataset`` and
``<run>.training``. The splits come from the catalog's ``*_split@decoded`` entries:
DataFrames whose ``image`` column holds decoded uint8 photos (encoded bytes work too).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fixres_kedro.fixres import plots
from fixres_kedro.fixres.checkpoint import TrainingCheckpoint, fingerprint, weights_digest
from fixres_kedro.fixres.cost import training_flops
from fixres_kedro.fixres.distribute import Replicas, data_parallel
from fixres_kedro.fixres.input_pipeline import ImageBatches, InputPipeline, decode_split
from fixres_kedro.fixres.model import (
    evaluate,
    get_training_model,
    prepare_finetune,
    reestimate_bn_statistics,
    train_and_evaluate,
)
from fixres_kedro.parameters import ModelParams, RuntimeParams, TrainingParams

GRID = 5  # the example shows a 5x5 grid of training inputs


def build_dataset(
    train_split: pd.DataFrame,
    class_names: list[str],
    dataset: InputPipeline,
    seed: int,
    runtime: RuntimeParams,
) -> tuple[dict[str, Any], Figure]:
    """Make one input pipeline and show a 5x5 grid of its training images.

    The pipeline itself is a small recipe (stored as JSON, so any node can be rerun
    alone without storing pixels); the grid applies it to the first 25 training
    photos, as the example's ``visualize_dataset`` does with a first batch.
    """
    pipeline = dataclasses.replace(dataset, seed=seed, workers=runtime.workers)
    sample = train_split.iloc[: GRID * GRID]
    images = decode_split(list(sample["image"]), pipeline.workers)
    rng = np.random.default_rng([seed, 0])
    figure, axes = plots.figure(10, 10, GRID, GRID)
    for axis, image, label in zip(axes.flat, images, sample["label"]):
        axis.imshow(pipeline.preprocess(image, True, rng).astype(np.uint8))
        axis.set_title(class_names[label], fontsize=8)
    for axis in axes.flat:
        axis.axis("off")
    figure.suptitle(
        f"{pipeline.name}: {pipeline.recipe} recipe, {pipeline.image_size} px training inputs"
    )
    return pipeline.to_dict(), figure


def _fit(
    model: keras.Model,
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    dataset_spec: dict[str, Any],
    training: TrainingParams,
    runtime: RuntimeParams,
    checkpoints: str | None,
    replicas: Replicas,
) -> dict[str, Any]:
    pipeline = InputPipeline.from_dict(dataset_spec)
    placement = {"batch_multiple": replicas.batch_multiple, "process_count": replicas.process_count,
                 "process_index": replicas.process_index}
    train_batches = ImageBatches.from_split(train_split, pipeline, train=True, **placement)
    validation_batches = ImageBatches.from_split(validation_split, pipeline, train=False, **placement)
    # A checkpoint is resumed only by a run of the same recipe, training set-up, data and
    # starting weights; one folder per run and fingerprint, so seeds can run in parallel.
    key = fingerprint(dataset_spec, training.to_dict(), list(train_split["key"]),
                      list(validation_split["key"]), weights_digest(model))
    folder = Path(checkpoints) / f"{pipeline.name}-{key}" if checkpoints else None
    return train_and_evaluate(
        model, train_batches, validation_batches,
        epochs=training.epochs,
        learning_rate=training.learning_rate,
        early_stopping_patience=training.early_stopping_patience,
        steps_per_execution=runtime.steps_per_execution,
        jit_compile=runtime.jit_compile,
        checkpoint=TrainingCheckpoint(folder, key),
    )


def train_model(
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    class_names: list[str],
    dataset_spec: dict[str, Any],
    training: TrainingParams,
    runtime: RuntimeParams,
    model: ModelParams,
    checkpoints: str | None = None,
) -> tuple[keras.Model, dict[str, Any]]:
    """Train the classifier from scratch on one input pipeline (low-res or vanilla).

    Returns the trained model and its history (per-epoch metrics and timings). An
    interrupted run resumes from its last epoch's checkpoint under ``checkpoints``.
    With ``runtime.data_parallel`` it trains on every device (``fixres.distribute``).
    """
    with data_parallel(runtime.data_parallel) as replicas:
        network = replicas.adopt(get_training_model(len(class_names), model.backbone))
        history = _fit(network, train_split, validation_split, dataset_spec, training, runtime,
                       checkpoints, replicas)
    return network, {**history, "backbone_learns": True}


def finetune_bn(
    initial_model: keras.Model,
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    dataset_spec: dict[str, Any],
    training: TrainingParams,
    runtime: RuntimeParams,
    checkpoints: str | None = None,
) -> tuple[keras.Model, dict[str, Any]]:
    """FixRes: fine-tune the low-res model at the test resolution, BN-only.

    With ``training.variant: example`` (the default) every backbone layer is frozen
    except ``post_bn``; ``post_bn`` and the classifier learn on the finetune pipeline
    (resize, centre crop) with the lower learning rate of ``finetune.training``. The
    ``official`` variant trains the classifier only (``fixres.model.prepare_finetune``).
    """
    with data_parallel(runtime.data_parallel) as replicas:
        model = prepare_finetune(replicas.adopt(initial_model), training.variant)
        history = _fit(model, train_split, validation_split, dataset_spec, training, runtime,
                       checkpoints, replicas)
    return model, {**history, "backbone_learns": False}


def reestimate_post_bn(
    initial_model: keras.Model, train_split: pd.DataFrame, dataset_spec: dict[str, Any]
) -> tuple[keras.Model, dict[str, Any]]:
    """The low-res model with ``post_bn``'s statistics re-estimated on the training photos
    through the test-resolution pipeline (no gradient step), and what that cost."""
    pipeline = InputPipeline.from_dict(dataset_spec)
    start = time.perf_counter()
    reestimate_bn_statistics(initial_model, ImageBatches.from_split(train_split, pipeline, train=False))
    seconds = time.perf_counter() - start
    return initial_model, {"epochs_run": 0, "train_examples": len(train_split), "train_seconds": seconds,
                           "images_per_second": len(train_split) / seconds, "backbone_learns": False}


def evaluate_model(
    model: keras.Model,
    validation_split: pd.DataFrame,
    dataset_spec: dict[str, Any],
    runtime: RuntimeParams,
    history: dict[str, Any] | None = None,
    training: TrainingParams | None = None,
) -> dict[str, Any]:
    """Top-1 accuracy and loss of a model on its validation pipeline, with its costs.

    The metrics also carry what produced them and what it cost (from ``history``: the
    training's, or another adaptation's; none for a model evaluated as it is): epochs
    run, wall time, images per second, an estimate of the training FLOPs and the peak
    accelerator memory (where the backend reports it), the pipeline and training
    parameters, the Keras backend and version.
    """
    pipeline = InputPipeline.from_dict(dataset_spec)
    results = evaluate(model, ImageBatches.from_split(validation_split, pipeline, train=False))
    history = history or {"epochs_run": 0, "train_seconds": 0.0, "images_per_second": None}
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
        "parameters": {"dataset": dataset_spec, "training": training and training.to_dict(),
                       "runtime": runtime.to_dict()},
        "keras_backend": keras.backend.backend(),
        "keras_version": keras.__version__,
    }


def plot_training_curves(history: dict[str, Any], dataset_spec: dict[str, Any]) -> Figure:
    """Loss and accuracy per epoch, training and validation, of one model."""
    return plots.training_curves(history, f"{dataset_spec['name']} ({dataset_spec['image_size']} px)")
