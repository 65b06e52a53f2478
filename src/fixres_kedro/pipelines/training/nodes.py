"""Nodes of one model of the protocol: its input pipeline, its training, its evaluation.

Thin, typed wrappers around ``fixres_kedro.fixres``. The Keras-backed modules are imported
inside the nodes that train or evaluate, so that listing, checking or drawing the
pipelines never starts a backend.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from typing_extensions import TypeAliasType

from fixres_kedro.fixres.figure_type import Figure
from fixres_kedro.fixres.photos import decode_split
from fixres_kedro.lazy_import import lazy_import
from fixres_kedro.metrics import History, Metrics, Provenance
from fixres_kedro.parameters import InputPipeline, ModelParams, RuntimeParams, TrainingParams

pd = lazy_import("pandas")
plots = lazy_import("fixres_kedro.fixres.plots")  # matplotlib

if TYPE_CHECKING:
    from fixres_kedro.fixres.checkpoint import Checkpoints
    from fixres_kedro.fixres.distribute import Replicas

# A Keras model, named without importing Keras (Kedro reads the nodes' type hints).
Classifier = TypeAliasType("Classifier", "keras.Model")
CheckpointFolder = TypeAliasType("CheckpointFolder", "Checkpoints")

GRID = 5  # the example shows a 5x5 grid of training inputs
FULL_SIZE, SLOW_STEPS = 128, 300  # the example's smallest resolution; a few minutes of steps on a CPU


def define_input_pipeline(dataset: InputPipeline, seed: int) -> InputPipeline:
    """The model's input pipeline: its ``dataset`` parameters with the draws' ``seed``.

    It is stored as a small JSON recipe, not as pixels, so any node can be rerun alone;
    ``make_dataset`` applies it when a node trains or evaluates.
    """
    return dataset.model_copy(update={"seed": seed})


def visualize_dataset(
    train_split: pd.DataFrame, class_names: list[str], input_pipeline: InputPipeline,
    runtime: RuntimeParams,
) -> Figure:
    """A 5x5 grid of the first training photos through the pipeline, as the example's
    ``visualize_dataset`` shows a first batch."""
    sample = train_split.iloc[: GRID * GRID]
    images = decode_split(list(sample["image"]), runtime.workers)
    rng = np.random.default_rng([input_pipeline.seed, 0])
    figure, axes = plots.figure(10, 10, GRID, GRID)
    for axis, image, label in zip(axes.flat, images, sample["label"]):
        axis.imshow(input_pipeline.preprocess(image, True, rng).astype(np.uint8))
        axis.set_title(class_names[label], fontsize=8)
    for axis in axes.flat:
        axis.axis("off")
    figure.suptitle(f"{input_pipeline.name}: {input_pipeline.recipe} recipe, "
                    f"{input_pipeline.image_size} px training inputs")
    return figure


def _fit(
    model: Classifier, train_split: pd.DataFrame, validation_split: pd.DataFrame,
    input_pipeline: InputPipeline, training: TrainingParams, runtime: RuntimeParams,
    checkpoints: Checkpoints | None, replicas: Replicas,
) -> History:
    from fixres_kedro.fixres.checkpoint import Checkpoints, fingerprint, weights_digest  # noqa: PLC0415
    from fixres_kedro.fixres.dataset import make_dataset  # noqa: PLC0415
    from fixres_kedro.fixres.devices import backend_accelerators  # noqa: PLC0415
    from fixres_kedro.fixres.training import train_and_evaluate  # noqa: PLC0415

    placement = {"batch_multiple": replicas.batch_multiple, "process_count": replicas.process_count,
                 "process_index": replicas.process_index}
    train = make_dataset(train_split, input_pipeline, True, runtime.workers, **placement)
    validation = make_dataset(validation_split, input_pipeline, False, runtime.workers, **placement)
    # Resumed only by a training of the same recipe, set-up, data and starting weights.
    key = fingerprint(input_pipeline.model_dump(mode="json"), training.model_dump(mode="json"),
                      list(train_split["key"]), list(validation_split["key"]), weights_digest(model))
    checkpoint = (checkpoints or Checkpoints(None)).open(input_pipeline.name, key)
    # A full-size training without an accelerator says how long it will take.
    full_size = input_pipeline.image_size >= FULL_SIZE and not any(layer.name == "tiny" for layer in model.layers)
    slow = full_size and len(train) * training.epochs > SLOW_STEPS and not backend_accelerators()
    result = train_and_evaluate(
        model, train, validation,
        epochs=training.epochs,
        learning_rate=training.learning_rate,
        early_stopping_patience=training.early_stopping_patience,
        steps_per_execution=runtime.steps_per_execution,
        jit_compile=runtime.jit_compile,
        checkpoint=checkpoint,
        warn_pace=slow,
        optimizer=training.optimizer,
        momentum=training.momentum,
        weight_decay=training.weight_decay,
        lr_step_epochs=training.lr_step_epochs,
    )
    return History(**result)


def train_model(
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    class_names: list[str],
    input_pipeline: InputPipeline,
    training: TrainingParams,
    runtime: RuntimeParams,
    model: ModelParams,
    checkpoints: CheckpointFolder | None = None,
) -> tuple[Classifier, History]:
    """The example's ``get_training_model`` trained from scratch by ``train_and_evaluate``
    (the low-res ``initial`` model, or ``vanilla``); the model and its history.

    An interrupted training resumes from its last epoch's checkpoint in ``checkpoints``;
    with ``runtime.data_parallel`` it trains on every device (``fixres.distribute``).
    """
    from fixres_kedro.fixres.distribute import data_parallel  # noqa: PLC0415
    from fixres_kedro.fixres.model import get_training_model  # noqa: PLC0415

    with data_parallel(runtime.data_parallel) as replicas:
        network = replicas.adopt(get_training_model(len(class_names), model.backbone))
        history = _fit(network, train_split, validation_split, input_pipeline, training, runtime,
                       checkpoints, replicas)
    return network, history


def finetune_model(
    initial_model: Classifier,
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    input_pipeline: InputPipeline,
    training: TrainingParams,
    runtime: RuntimeParams,
    checkpoints: CheckpointFolder | None = None,
) -> tuple[Classifier, History]:
    """FixRes: the low-res model fine-tuned at the test resolution, BN-only.

    ``training.variant: example``: every backbone layer frozen but ``post_bn``, which
    learns with the classifier on the finetune pipeline (resize, centre crop);
    ``official``: the classifier learns (``fixres.model.prepare_finetune``).
    """
    from fixres_kedro.fixres.distribute import data_parallel  # noqa: PLC0415
    from fixres_kedro.fixres.model import prepare_finetune  # noqa: PLC0415

    with data_parallel(runtime.data_parallel) as replicas:
        network = prepare_finetune(replicas.adopt(initial_model), training.variant)
        history = _fit(network, train_split, validation_split, input_pipeline, training, runtime,
                       checkpoints, replicas)
    return network, history.model_copy(update={"backbone_learns": False})


def reestimate_post_bn(
    initial_model: Classifier, train_split: pd.DataFrame, input_pipeline: InputPipeline,
    runtime: RuntimeParams,
) -> tuple[Classifier, History]:
    """The low-res model with ``post_bn``'s statistics re-estimated on the training photos
    through the test-resolution pipeline (no gradient step), and what that cost."""
    from fixres_kedro.fixres.dataset import make_dataset  # noqa: PLC0415
    from fixres_kedro.fixres.model import reestimate_bn_statistics  # noqa: PLC0415

    start = time.perf_counter()
    reestimate_bn_statistics(initial_model, make_dataset(train_split, input_pipeline, False, runtime.workers))
    seconds = time.perf_counter() - start
    return initial_model, History(epochs_run=0, train_examples=len(train_split), train_seconds=seconds,
                                  images_per_second=len(train_split) / seconds, backbone_learns=False)


def evaluate_model(
    model: Classifier,
    validation_split: pd.DataFrame,
    input_pipeline: InputPipeline,
    runtime: RuntimeParams,
    provenance: Provenance,
    history: History | None = None,
    training: TrainingParams | None = None,
) -> Metrics:
    """Top-1 accuracy and loss of a model on its validation pipeline, with its costs.

    The costs come from ``history`` (the training's, or another adaptation's; none for a
    model evaluated as it is): epochs, wall time, images per second, an estimate of the
    training FLOPs and the peak accelerator memory; then the parameters, the backend and
    where the numbers come from (``provenance``).
    """
    import keras  # noqa: PLC0415

    from fixres_kedro.fixres.cost import training_flops  # noqa: PLC0415
    from fixres_kedro.fixres.dataset import make_dataset  # noqa: PLC0415
    from fixres_kedro.fixres.training import evaluate  # noqa: PLC0415

    from fixres_kedro.fixres.backbones import constructor_name  # noqa: PLC0415
    from fixres_kedro.fixres.model import backbone_of, final_batch_norm  # noqa: PLC0415

    results = evaluate(model, make_dataset(validation_split, input_pipeline, False, runtime.workers))
    history = history or History.untrained()
    backbone = backbone_of(model)
    flops = training_flops(model, input_pipeline.image_size, history.train_examples, history.epochs_run,
                           backbone_learns=history.backbone_learns)
    return Metrics(
        model=input_pipeline.name,
        **results,
        validation_examples=len(validation_split),
        epochs=history.epochs_run,
        train_seconds=history.train_seconds,
        images_per_second=history.images_per_second,
        train_flops_estimate=flops,
        peak_accelerator_memory_bytes=history.peak_accelerator_memory_bytes,
        parameters={"dataset": input_pipeline.model_dump(mode="json"),
                    "training": training and training.model_dump(mode="json"),
                    "runtime": runtime.model_dump(mode="json")},
        keras_backend=keras.backend.backend(),
        keras_version=keras.__version__,
        backbone=constructor_name(backbone.name),
        final_batch_norm=final_batch_norm(backbone).name,
        provenance=provenance,
    )


def plot_training_curves(history: History, input_pipeline: InputPipeline) -> Figure:
    """Loss and accuracy per epoch, training and validation, of one model."""
    return plots.training_curves(history.model_dump(),
                                 f"{input_pipeline.name} ({input_pipeline.image_size} px)")
