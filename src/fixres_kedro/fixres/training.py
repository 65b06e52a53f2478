"""``train_and_evaluate``: the example's compile, fit and evaluation, resumable.

``evaluate`` is the top-1 and loss of a model on a validation pipeline, computed from
its predicted probabilities so that every photo counts once whatever the batching.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import keras
import numpy as np

from fixres_kedro.fixres import cost
from fixres_kedro.fixres.checkpoint import TrainingCheckpoint
from fixres_kedro.fixres.dataset import ImageBatches, SyncEpoch, inference_batches

logger = logging.getLogger(__name__)

# Keras' cross-entropy clips probabilities to [EPSILON, 1 - EPSILON] before the log.
EPSILON = 1e-7


def compile_model(
    model: keras.Model, learning_rate: float, steps_per_execution: int = 1,
    jit_compile: bool | str = "auto",
) -> keras.Model:
    """Adam, sparse categorical cross-entropy and accuracy, as in the example."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        # Weighted: padded validation batches (data-parallel runs) weight their padding 0;
        # without sample weights it is the plain accuracy.
        weighted_metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    return model


class EpochLog(keras.callbacks.Callback):
    """One log line per epoch: ``initial epoch 3/30: loss 1.2345, accuracy 0.5123,
    val_loss ..., val_accuracy ..., 41.2 s`` (in a terminal, under Keras' progress bar)."""

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


class PaceWarning(keras.callbacks.Callback):
    """One warning, after the first ``measured`` steps past the first (which compiles), with
    how long the whole training will take at that pace: for a full-size training on the CPU,
    where an epoch takes tens of minutes and nothing else would say so."""

    def __init__(self, name: str, measured: int = 10) -> None:
        super().__init__()
        self.name, self.measured = name, measured
        self._started: float | None = None
        self._steps = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._steps > self.measured:
            return
        self._steps += 1
        if self._steps == 1:  # the first step compiles: the pace starts after it
            self._started = time.perf_counter()
            return
        if self._steps <= self.measured:
            return
        per_step = (time.perf_counter() - self._started) / self.measured  # steps 2 .. measured + 1
        epochs, steps = self.params.get("epochs", 1), self.params.get("steps") or 0
        logger.warning("%s trains on the CPU at %.1f s a step: its %d epochs of %d steps take about %s "
                       "(a GPU host takes minutes; docs/gpu.md)", self.name, per_step, epochs, steps,
                       _duration(per_step * epochs * steps))


def _duration(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


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
    warn_pace: bool = False,
) -> dict[str, Any]:
    """Compile and fit ``model``, and report its top-1 on the validation set, as the
    example's ``train_and_evaluate`` does.

    The validation metrics of the last epoch are the trained model's (Keras evaluates
    after each epoch's last step), so the evaluation costs no extra pass. Returns the
    per-epoch logs (``history``), ``epochs_run``, ``train_seconds`` (summed over epochs,
    across resumptions), ``images_per_second``, the final validation ``top1`` and
    ``loss``. With a ``checkpoint`` every epoch is saved and an interrupted training
    resumes after its last completed epoch. ``warn_pace``: warn how long it will take
    (``PaceWarning``).
    """
    compile_model(model, learning_rate, steps_per_execution, jit_compile)
    if verbose is None:  # a progress bar for people, log lines for log files
        verbose = 1 if sys.stdout.isatty() else 0
    checkpoint = checkpoint or TrainingCheckpoint(None)
    initial_epoch = checkpoint.restore(model)
    # The checkpoint first: it adds each epoch's wall time (its own copy of the weights
    # included) to the logs the others see.
    chain: list[keras.callbacks.Callback] = [SyncEpoch(train_batches), checkpoint]
    if verbose:  # the bar finishes its line before the log line
        chain.append(keras.callbacks.ProgbarLogger())
    chain.append(EpochLog(train_batches.pipeline.name))
    if warn_pace:
        chain.append(PaceWarning(train_batches.pipeline.name))
    if early_stopping_patience:
        chain.append(keras.callbacks.EarlyStopping(patience=early_stopping_patience))
    model.fit(
        train_batches,
        validation_data=validation_batches,
        epochs=epochs,
        initial_epoch=initial_epoch,
        # ImageBatches draws each epoch's order from (seed, epoch); Keras' own batch
        # shuffling would use Python's global RNG and break resumption.
        shuffle=False,
        callbacks=chain,
        verbose=verbose,
    )
    logs = checkpoint.history
    epochs_run = len(logs.get("loss", []))
    train_seconds = checkpoint.train_seconds
    top1, loss = logs["val_accuracy"][-1], logs["val_loss"][-1]
    logger.info("%s: top-1 accuracy on the validation set: %.2f%%", train_batches.pipeline.name,
                top1 * 100)
    return {
        "epochs_run": epochs_run,
        "train_examples": len(train_batches.images),
        "train_seconds": train_seconds,
        "images_per_second": epochs_run * len(train_batches.images) / train_seconds if train_seconds else None,
        "peak_accelerator_memory_bytes": cost.peak_accelerator_memory(),
        "top1": top1,
        "loss": loss,
        "history": logs,
    }


def evaluate(model: keras.Model, batches: ImageBatches) -> dict[str, float]:
    """Top-1 accuracy and mean cross-entropy of ``model`` on ``batches``.

    One compiled prediction program per input shape (``inference_batches``); the
    accuracy and the loss are computed from the predicted probabilities of the real
    photos, each counted once.
    """
    full, real = inference_batches(batches)
    probabilities = np.asarray(model.predict(full, verbose=0), np.float64)[real]
    labels = batches.labels[np.concatenate(full.batches)]
    chosen = np.clip(probabilities[np.arange(len(labels)), labels], EPSILON, 1 - EPSILON)
    return {"top1": float(np.mean(probabilities.argmax(axis=1) == labels)),
            "loss": float(-np.mean(np.log(chosen)))}
