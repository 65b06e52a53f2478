"""Resume a training run from its last completed epoch.

After every epoch ``EpochCheckpoint`` writes the model's weights together with the
optimizer's state (``last.weights.h5``) and ``state.json`` (epochs done, the history
so far, the training seconds spent, and a fingerprint of what is being trained).
``restore`` loads them into a freshly compiled model before ``fit`` starts again at
the next epoch. The input pipelines draw each epoch from ``(seed, epoch)``, so a
resumed run sees the same batches as an uninterrupted one. Files are replaced
atomically: a run killed while writing leaves the previous epoch's checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import keras

logger = logging.getLogger(__name__)

WEIGHTS = "last.weights.h5"
STATE = "state.json"


def fingerprint(*parts: Any) -> str:
    """A short hash of JSON-able parts: what a checkpoint belongs to."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def weights_digest(model: keras.Model) -> str:
    """A hash of a model's current weights (its starting point, for fine-tuning)."""
    digest = hashlib.sha1()
    for weight in model.weights:
        digest.update(keras.ops.convert_to_numpy(weight).tobytes())
    return digest.hexdigest()[:16]


class EpochHistory(keras.callbacks.Callback):
    """Collect every epoch's logs and seconds, continuing a resumed run's history."""

    def __init__(self, previous: dict[str, Any] | None = None):
        super().__init__()
        previous = previous or {}
        self.history = {name: list(values) for name, values in previous.get("history", {}).items()}
        self.train_seconds = float(previous.get("train_seconds", 0.0))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        self.train_seconds += float((logs or {}).get("epoch_seconds", 0.0))


class EpochCheckpoint(EpochHistory):
    """``EpochHistory`` that also saves weights, optimizer state and progress."""

    def __init__(self, directory: str | Path, key: str, previous: dict[str, Any] | None = None):
        super().__init__(previous)
        self.directory = Path(directory)
        self.key = key

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        self.directory.mkdir(parents=True, exist_ok=True)
        weights = self.directory / WEIGHTS
        partial = self.directory / f"partial.{WEIGHTS}"
        self.model.save_weights(partial)
        os.replace(partial, weights)
        state = {
            "key": self.key,
            "epochs_done": epoch + 1,
            "history": self.history,
            "train_seconds": self.train_seconds,
        }
        partial_state = self.directory / f"partial.{STATE}"
        partial_state.write_text(json.dumps(state))
        os.replace(partial_state, self.directory / STATE)


def restore(model: keras.Model, directory: str | Path, key: str) -> dict[str, Any] | None:
    """Load the checkpoint in ``directory`` into compiled ``model``, if it matches ``key``.

    Returns the saved state (``epochs_done``, ``history``, ``train_seconds``) or
    None when there is nothing to resume; a checkpoint of other parameters or data is
    left alone with a warning.
    """
    directory = Path(directory)
    state_file, weights = directory / STATE, directory / WEIGHTS
    if not state_file.exists() or not weights.exists():
        return None
    state = json.loads(state_file.read_text())
    if state.get("key") != key:
        logger.warning(
            "Not resuming from %s: it belongs to other parameters or data; starting afresh",
            directory,
        )
        return None
    model.optimizer.build(model.trainable_variables)
    model.load_weights(weights)
    logger.info("Resuming from %s after epoch %d", directory, state["epochs_done"])
    return state


def discard(directory: str | Path) -> None:
    """Remove a finished run's checkpoint."""
    shutil.rmtree(directory, ignore_errors=True)
