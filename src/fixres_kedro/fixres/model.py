"""The classifier of the Keras example and the ways it is trained and adapted.

``get_training_model`` is the example's ResNet50V2 (random init, global average
pooling, softmax head) with the rescaling to [-1, 1] inside the model, so that every
input pipeline hands over plain 0-255 pixels; ``backbone="tiny"`` swaps in a small
network of the same shape (its last BatchNormalization is ``post_bn`` too) for tests.
``freeze_all_but_post_bn`` is the FixRes fine-tuning set-up: in the backbone only the
final BatchNormalization (``post_bn``) learns; the classifier stays trainable.
``train_and_evaluate`` compiles and fits, resumable through a ``TrainingCheckpoint``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import keras
import numpy as np

from fixres_kedro.fixres import cost
from fixres_kedro.fixres.checkpoint import TrainingCheckpoint
from fixres_kedro.fixres.input_pipeline import ImageBatches, SyncEpoch

logger = logging.getLogger(__name__)

# The backbones ``get_training_model`` can build, and the smallest input each takes
# (ResNet50V2 downsamples by 32: a smaller input leaves no feature map to pool).
MIN_IMAGE_SIZE = {"resnet50v2": 32, "tiny": 8}
BACKBONES = tuple(MIN_IMAGE_SIZE)
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
FINAL_BN_NAME = "post_bn"
# How the fine-tuning run trains (``prepare_finetune``); the variants that take no
# gradient step (statistics re-estimated, or nothing) are nodes of their own.
FINETUNE_VARIANTS = ("example", "official")


def min_image_size(backbone: str) -> int:
    """The smallest image size ``backbone`` can classify."""
    return MIN_IMAGE_SIZE[backbone]


def _tiny_backbone() -> keras.Model:
    """Two strided convolutions, each with BatchNormalization, the last named ``post_bn``
    and followed by ReLU and global average pooling, as ResNet50V2 ends."""
    inputs = keras.layers.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.ReLU(name="conv1_relu")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="conv2")(x)
    x = keras.layers.BatchNormalization(name=FINAL_BN_NAME)(x)
    x = keras.layers.ReLU(name="post_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, x, name="tiny")


def get_training_model(
    num_classes: int, backbone: str = "resnet50v2", seed: int | None = None
) -> keras.Model:
    """Input(None, None, 3) -> Rescaling -> backbone -> Dense softmax, from scratch.

    ``backbone``: ``resnet50v2`` (the example's) or ``tiny``. ``seed`` makes the initial
    weights reproducible independently of anything that ran before in the process.
    """
    if backbone not in MIN_IMAGE_SIZE:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.layers.Input((None, None, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescaling")(inputs)
    if backbone == "resnet50v2":
        network = keras.applications.ResNet50V2(
            include_top=False, weights=None, pooling="avg", name=backbone
        )
    else:
        network = _tiny_backbone()
    network.trainable = True
    x = network(x)
    # The head stays float32 under a mixed-precision policy, so the softmax is stable.
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="classifier"
    )(x)
    return keras.Model(inputs, outputs, name="fixres_classifier")


def backbone_of(model: keras.Model) -> keras.Model:
    """The nested backbone of a model made by ``get_training_model``."""
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def freeze_all_but_post_bn(model: keras.Model) -> keras.Model:
    """Freeze every backbone layer except ``post_bn``; leave the classifier trainable.

    A frozen BatchNormalization layer in Keras 3 also runs in inference mode (moving
    statistics), while ``post_bn`` keeps normalising with batch statistics and
    updates its moving averages: the example's fine-tuning.
    """
    backbone = backbone_of(model)
    backbone.trainable = True
    for layer in backbone.layers:
        layer.trainable = False
    backbone.get_layer(FINAL_BN_NAME).trainable = True
    return model


def prepare_finetune(model: keras.Model, variant: str = "example") -> keras.Model:
    """Set which weights learn when fine-tuning at the test resolution.

    * ``example`` (the Keras example): ``post_bn`` (scale, offset and statistics)
      and the classifier learn; everything else is frozen.
    * ``official`` (the FixRes authors' code): only the classifier learns;
      ``post_bn`` still normalises with batch statistics and re-estimates its moving
      statistics, but its scale and offset stay frozen.
    """
    if variant not in FINETUNE_VARIANTS:
        raise ValueError(f"variant must be one of {FINETUNE_VARIANTS}, got {variant!r}")
    freeze_all_but_post_bn(model)
    if variant == "official":
        post_bn = backbone_of(model).get_layer(FINAL_BN_NAME)
        # The layer stays trainable so it runs in training mode (batch statistics,
        # moving averages updated); its two learnable variables do not.
        post_bn.gamma.trainable = False
        post_bn.beta.trainable = False
    return model


def _full_batches(batches: ImageBatches) -> tuple[ImageBatches, np.ndarray]:
    """The same photos in inference batches all of ``batch_size`` (the last one padded
    with copies that are then dropped), and the mask of the real rows.

    One input shape per resolution: the backend compiles one program, not one more for
    the short last batch, and the same program for every model of the same architecture
    (which the persistent compilation cache then shares between them).
    """
    size = batches.pipeline.batch_size
    full = ImageBatches(batches.images, batches.labels, batches.pipeline, train=False,
                        batch_multiple=size)
    real = np.concatenate([np.arange(size) < len(chosen) for chosen in full.batches])
    return full, real


def reestimate_bn_statistics(model: keras.Model, batches: ImageBatches) -> keras.Model:
    """Replace ``post_bn``'s moving mean and variance by the exact statistics of its
    inputs over ``batches`` (one compiled forward pass, no gradient step).

    The statistics are pooled over every pixel of every image, as a BatchNorm layer
    normalises per channel over batch and space: the compiled program returns each
    image's per-channel sum and sum of squares (float32, over one image's positions),
    which are added up in float64.
    """
    backbone = backbone_of(model)
    post_bn = backbone.get_layer(FINAL_BN_NAME)
    features = keras.Model(backbone.inputs, post_bn.input)
    images = model.inputs[0]
    x = keras.ops.cast(features(model.get_layer("rescaling")(images)), "float32")
    sums = keras.Model(images, [keras.ops.sum(x, axis=(1, 2)), keras.ops.sum(x * x, axis=(1, 2))])
    full, real = _full_batches(batches)
    total, total_sq = (np.asarray(part, np.float64)[real] for part in sums.predict(full, verbose=0))
    size = batches.pipeline.image_size
    height, width = features.compute_output_spec(keras.KerasTensor((1, size, size, 3))).shape[1:3]
    count = real.sum() * height * width
    mean = total.sum(0) / count
    variance = np.maximum(total_sq.sum(0) / count - mean**2, 0.0)
    post_bn.moving_mean.assign(mean.astype("float32"))
    post_bn.moving_variance.assign(variance.astype("float32"))
    return model


def trainable_layer_names(model: keras.Model) -> list[str]:
    """Names (``backbone/layer`` inside the backbone) of layers with trainable weights."""
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            names += [f"{layer.name}/{inner.name}" for inner in layer.layers if inner.trainable_weights]
        elif layer.trainable_weights:
            names.append(layer.name)
    return names


def compile_model(
    model: keras.Model,
    learning_rate: float,
    steps_per_execution: int = 1,
    jit_compile: bool | str = "auto",
) -> keras.Model:
    """Adam, sparse categorical cross-entropy and accuracy, as in the example."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        # Weighted: padded validation batches (data-parallel runs) weight their
        # padding 0; without sample weights it is the plain accuracy.
        weighted_metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    return model


class EpochLog(keras.callbacks.Callback):
    """One log line per epoch: the run, the epoch, its metrics and its wall time.

    ``initial epoch 3/30: loss 1.2345, accuracy 0.5123, val_loss ..., val_accuracy ...,
    41.2 s``: what a log file shows, and in a terminal the line under the progress bar.
    """

    def __init__(self, name: str = "model") -> None:
        super().__init__()
        self.name = name

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        logger.info(
            "%s epoch %d/%d: loss %.4f, accuracy %.4f, val_loss %.4f, val_accuracy %.4f, %.1f s",
            self.name, epoch + 1, self.params.get("epochs", 0),
            logs.get("loss", float("nan")), logs.get("accuracy", float("nan")),
            logs.get("val_loss", float("nan")), logs.get("val_accuracy", float("nan")),
            logs.get("epoch_seconds", float("nan")),
        )


def train_and_evaluate(
    model: keras.Model,
    train_batches: ImageBatches,
    validation_batches: ImageBatches,
    epochs: int,
    learning_rate: float,
    early_stopping_patience: int | None = None,
    steps_per_execution: int = 1,
    jit_compile: bool | str = "auto",
    verbose: int | None = None,
    checkpoint: TrainingCheckpoint | None = None,
) -> dict[str, Any]:
    """Compile and fit ``model``; return its history with timings.

    The history holds the per-epoch Keras logs (``loss``, ``accuracy``, ``val_loss``,
    ``val_accuracy``, ``epoch_seconds``, ``checkpoint_seconds``), ``epochs_run``,
    ``train_seconds`` (summed over epochs, across resumptions) and the training
    ``images_per_second``. With a ``checkpoint`` (``TrainingCheckpoint`` with a folder)
    every epoch is saved and an interrupted run resumes after its last completed
    epoch; the checkpoint stays until ``fixres.checkpoint.finish(model)`` (the model stored).
    """
    compile_model(model, learning_rate, steps_per_execution, jit_compile)
    if verbose is None:  # a progress bar for people, log lines for log files
        verbose = 1 if sys.stdout.isatty() else 0
    checkpoint = checkpoint or TrainingCheckpoint(None)
    # The checkpoint first: it restores before fit starts, and it adds each epoch's wall
    # time (its own copy of the weights included) to the logs the others see.
    chain: list[keras.callbacks.Callback] = [SyncEpoch(train_batches), checkpoint]
    if verbose:  # the bar finishes its line before the log line
        chain.append(keras.callbacks.ProgbarLogger())
    chain.append(EpochLog(train_batches.pipeline.name))
    if early_stopping_patience:
        chain.append(keras.callbacks.EarlyStopping(patience=early_stopping_patience))
    model.fit(
        train_batches,
        validation_data=validation_batches,
        epochs=epochs,
        # ImageBatches draws each epoch's order from (seed, epoch); Keras' own
        # batch shuffling would use Python's global RNG and break resumption.
        shuffle=False,
        callbacks=chain,
        verbose=verbose,
    )
    logs = checkpoint.history
    epochs_run = len(logs.get("loss", []))
    train_seconds = checkpoint.train_seconds
    images_seen = epochs_run * len(train_batches.images)
    return {
        "epochs_run": epochs_run,
        "train_examples": len(train_batches.images),
        "train_seconds": train_seconds,
        "images_per_second": images_seen / train_seconds if train_seconds else None,
        "peak_accelerator_memory_bytes": cost.peak_accelerator_memory(),
        "history": logs,
    }


# Keras' cross-entropy clips probabilities to [EPSILON, 1 - EPSILON] before the log.
EPSILON = 1e-7


def evaluate(model: keras.Model, batches: ImageBatches) -> dict[str, float]:
    """Top-1 accuracy and mean cross-entropy of ``model`` on ``batches``.

    One compiled prediction program per input shape (``_full_batches``); the accuracy
    and the loss are computed from the predicted probabilities of the real photos,
    each counted once.
    """
    full, real = _full_batches(batches)
    probabilities = np.asarray(model.predict(full, verbose=0), np.float64)[real]
    labels = batches.labels[np.concatenate(full.batches)]
    chosen = np.clip(probabilities[np.arange(len(labels)), labels], EPSILON, 1 - EPSILON)
    return {"top1": float(np.mean(probabilities.argmax(axis=1) == labels)),
            "loss": float(-np.mean(np.log(chosen)))}
