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


class TorchSGD(keras.optimizers.SGD):
    """SGD as ``torch.optim.SGD`` computes it, which the FixRes authors fine-tune with
    (imnet_finetune/train.py:209): the weight decay is an L2 term added to the gradient
    before the momentum, ``b = momentum * b + (g + weight_decay * w)``, ``w -= lr * b``.
    Keras' own ``weight_decay`` is decoupled (subtracted from the weights after the step)
    and its momentum buffer holds ``lr`` times PyTorch's, which differs once the rate steps.
    """

    def __init__(self, learning_rate, momentum: float, l2: float = 0.0, **kwargs) -> None:
        super().__init__(learning_rate=learning_rate, momentum=momentum, **kwargs)
        self.l2 = l2

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = keras.ops.cast(learning_rate, variable.dtype)
        gradient = keras.ops.cast(gradient, variable.dtype)
        if self.l2:
            gradient = gradient + keras.ops.cast(self.l2, variable.dtype) * variable
        if self.momentum == 0:
            self.assign_sub(variable, gradient * learning_rate)
            return
        buffer = self.momentums[self._get_variable_index(variable)]
        self.assign(buffer, buffer * keras.ops.cast(self.momentum, variable.dtype) + gradient)
        self.assign_sub(variable, buffer * learning_rate)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "l2": self.l2}


def make_optimizer(
    optimizer: str, learning_rate: float, steps_per_epoch: int, momentum: float = 0.0,
    weight_decay: float = 0.0, lr_step_epochs: int | None = None,
) -> keras.optimizers.Optimizer:
    """``adam`` (the example's) or ``sgd`` (``TorchSGD``); with ``lr_step_epochs`` the rate
    is divided by 10 every that many epochs, as ``torch.optim.lr_scheduler.StepLR(step_size)``
    stepped once an epoch (train.py:210, :283)."""
    rate: float | keras.optimizers.schedules.LearningRateSchedule = learning_rate
    if lr_step_epochs:
        # In optimizer steps (one per batch, counted from 0): a rate holds while the step
        # is <= its boundary, so epoch k * lr_step_epochs starts with the next. 100 steps
        # of the rate are more than any training here runs.
        boundaries = [lr_step_epochs * steps_per_epoch * k - 1 for k in range(1, 100)]
        rate = keras.optimizers.schedules.PiecewiseConstantDecay(
            boundaries, [learning_rate * 0.1**k for k in range(100)])
    if optimizer == "sgd":
        return TorchSGD(rate, momentum=momentum, l2=weight_decay)
    if optimizer != "adam":
        raise ValueError(f"optimizer must be adam or sgd, got {optimizer!r}")
    return keras.optimizers.Adam(learning_rate=rate)


def compile_model(
    model: keras.Model, learning_rate: float | keras.optimizers.Optimizer, steps_per_execution: int = 1,
    jit_compile: bool | str = "auto",
) -> keras.Model:
    """Adam (or the ``optimizer`` given instead of a learning rate), sparse categorical
    cross-entropy and accuracy, as in the example."""
    optimizer = (learning_rate if isinstance(learning_rate, keras.optimizers.Optimizer)
                 else keras.optimizers.Adam(learning_rate=learning_rate))
    model.compile(
        optimizer=optimizer,
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
        # ``pace``: for whoever knows the rest of the run (fixres_kedro.hooks.PaceHook).
        logger.warning("%s trains on the CPU at %.1f s a step: its %d epochs of %d steps take about %s "
                       "(a GPU host takes minutes; docs/gpu.md)", self.name, per_step, epochs, steps,
                       duration(per_step * epochs * steps),
                       extra={"pace": {"seconds_per_step": per_step, "steps_per_epoch": steps, "epochs": epochs}})


def duration(seconds: float) -> str:
    """``1 h 05 min``, or ``3 min 07 s`` under an hour."""
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
    optimizer: str = "adam",
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    lr_step_epochs: int | None = None,
) -> dict[str, Any]:
    """Compile and fit ``model``, and report its top-1 on the validation set, as the
    example's ``train_and_evaluate`` does.

    The validation metrics of the last epoch are the trained model's (Keras evaluates
    after each epoch's last step), so the evaluation costs no extra pass. Returns the
    per-epoch logs (``history``), ``epochs_run``, ``train_seconds`` (summed over epochs,
    across resumptions), ``images_per_second``, the final validation ``top1`` and
    ``loss``. With a ``checkpoint`` every epoch is saved and an interrupted training
    resumes after its last completed epoch. ``warn_pace``: warn how long it will take
    (``PaceWarning``). ``optimizer``, ``momentum``, ``weight_decay``, ``lr_step_epochs``:
    ``make_optimizer``'s (Adam at ``learning_rate`` by default).
    """
    compile_model(model, make_optimizer(optimizer, learning_rate, len(train_batches), momentum,
                                        weight_decay, lr_step_epochs),
                  steps_per_execution, jit_compile)
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
