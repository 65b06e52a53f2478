"""Resume a training after its last completed epoch: ``TrainingCheckpoint``.

A Keras callback shaped like ``keras.callbacks.BackupAndRestore``: ``restore`` loads the
newest checkpoint of its folder before ``fit`` (whose ``initial_epoch`` it returns), and
every epoch saves a new one. Batches are drawn from ``(seed, epoch, index)``, so a resumed
training sees the batches an uninterrupted one would, and ends with its weights.

A training's folder holds ``lock`` (``fcntl.flock``, held by the process training it until
its model is stored: a second process stops with ``CheckpointInUseError``) and
``epoch-NNNN/`` (``weights.bin``, ``state.json`` with SHA-256 digests of both), written as
``.partial-epoch-NNNN/`` and renamed in one step. A damaged one is set aside as
``damaged-epoch-NNNN-<time>/`` with one warning. Variables are copied off the device on
the training thread and written by a background thread while the next epoch trains.

The checkpoint outlives ``fit``: ``finish`` removes it once the trained model is stored
elsewhere, ``release`` lets go of the lock and keeps it (a failed run). ``Checkpoints``
is the folder of every training's checkpoint, and remembers the trainings it opened until
they are finished or released.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import socket
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fixres_kedro.fixres.errors import CheckpointInUseError, DiskFullError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, documented
    fcntl = None

logger = logging.getLogger(__name__)

WEIGHTS = "weights.bin"
STATE = "state.json"
LOCK = "lock"
_EPOCH_PREFIX = "epoch-"
_PARTIAL_PREFIX = ".partial-"
_FORMAT = 1
_CHUNK = 1 << 22


def fingerprint(*parts: Any) -> str:
    """A short hash of JSON-able parts: what a checkpoint belongs to."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def weights_digest(model: keras.Model) -> str:
    """A hash of a model's current weights (its starting point, for fine-tuning)."""
    digest = hashlib.sha1()
    for array in _to_host(model.weights):
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


# --- the files ---------------------------------------------------------------------------


def _to_host(variables: list) -> list[np.ndarray]:
    """Host copies of ``variables``' values, independent of the live variables."""
    if keras.backend.backend() == "jax":
        import jax  # noqa: PLC0415

        values = [variable.value for variable in variables]
        on_cpu = all(device.platform == "cpu" for value in values for device in value.devices())
        # One batched transfer from an accelerator returns fresh host arrays; on the CPU
        # they may share the buffers that the next train step donates and rewrites.
        host = jax.device_get(values)
        return [np.array(array, copy=True) for array in host] if on_cpu else list(host)
    return [np.array(keras.ops.convert_to_numpy(variable), copy=True) for variable in variables]


def _variables(model: keras.Model) -> list:
    """The model's variables, then the optimizer's (built if it is not yet)."""
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    optimizer = list(model.optimizer.variables) if model.optimizer is not None else []
    return list(model.weights) + optimizer


def _state_digest(state: dict[str, Any]) -> str:
    body = {key: value for key, value in state.items() if key != "state_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _fsync_directory(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_checkpoint(
    directory: Path, epochs_done: int, names: list[str], arrays: list[np.ndarray], state: dict[str, Any]
) -> Path:
    """Write one checkpoint atomically as ``directory/epoch-NNNN`` and drop older ones.

    Raises ``DiskFullError`` (no partial files left) when the disk is full.
    """
    final = directory / f"{_EPOCH_PREFIX}{epochs_done:04d}"
    partial = directory / f"{_PARTIAL_PREFIX}{final.name}"
    needed = sum(array.nbytes for array in arrays)
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        digest = hashlib.sha256()
        manifest, offset = [], 0
        with open(partial / WEIGHTS, "wb") as file:
            for name, array in zip(names, arrays):
                data = memoryview(np.ascontiguousarray(array)).cast("B")
                for start in range(0, len(data), _CHUNK):
                    chunk = data[start : start + _CHUNK]
                    digest.update(chunk)
                    file.write(chunk)
                manifest.append({"name": name, "dtype": array.dtype.str, "shape": list(array.shape),
                                 "offset": offset})
                offset += array.nbytes
            file.flush()
            os.fsync(file.fileno())
        state = {**state, "format": _FORMAT, "epochs_done": epochs_done, "variables": manifest,
                 "weights_sha256": digest.hexdigest()}
        state["state_sha256"] = _state_digest(state)
        with open(partial / STATE, "w") as file:
            json.dump(state, file)
            file.flush()
            os.fsync(file.fileno())
        if final.exists():  # a run started afresh over an older checkpoint of this epoch
            os.replace(final, directory / f"{_PARTIAL_PREFIX}replaced-{final.name}")
        os.replace(partial, final)  # the checkpoint appears whole, or not at all
        _fsync_directory(directory)
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(partial / WEIGHTS, needed, error) from error
        raise
    # Every other checkpoint of the folder is now out of date (older epochs, or a run
    # that started afresh over them).
    for other in [*directory.glob(f"{_EPOCH_PREFIX}*"), *directory.glob(f"{_PARTIAL_PREFIX}replaced-*")]:
        if other != final:
            shutil.rmtree(other, ignore_errors=True)
    return final


class DamagedCheckpoint(Exception):
    """A checkpoint that fails its integrity check (internal: set aside, never raised out)."""


def read_checkpoint(path: Path) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The state and the arrays (in the order saved) of a checkpoint folder, verified.

    Raises ``DamagedCheckpoint`` when a file is missing, unreadable, or does not match
    its digest.
    """
    try:
        state = json.loads((path / STATE).read_text())
        if state.get("format") != _FORMAT or state.get("state_sha256") != _state_digest(state):
            raise DamagedCheckpoint(f"{STATE} does not match its digest")
        blob = (path / WEIGHTS).read_bytes()
    except (OSError, ValueError) as error:
        raise DamagedCheckpoint(str(error)) from error
    if hashlib.sha256(blob).hexdigest() != state["weights_sha256"]:
        raise DamagedCheckpoint(f"{WEIGHTS} does not match its digest")
    arrays = []
    for entry in state["variables"]:
        dtype = np.dtype(entry["dtype"])
        count = int(np.prod(entry["shape"], dtype=np.int64))
        arrays.append(np.frombuffer(blob, dtype, count, entry["offset"]).reshape(entry["shape"]))
    return state, arrays


def newest_checkpoint(directory: Path) -> Path | None:
    """The newest complete ``epoch-NNNN`` folder in ``directory``, if any."""
    found = sorted(p for p in directory.glob(f"{_EPOCH_PREFIX}*") if p.is_dir())
    return found[-1] if found else None


def set_aside(path: Path, reason: str) -> Path:
    """Rename a damaged checkpoint out of the way (kept for inspection) and warn once."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"damaged-{path.name}-{stamp}")
    os.replace(path, target)
    logger.warning("Checkpoint %s is damaged (%s): set aside as %s; training starts afresh",
                   path, reason, target.name)
    return target


# --- the lock and the callback ---------------------------------------------------------


def _describe_holder(text: str) -> str:
    try:
        holder = json.loads(text)
        return (f"pid {holder['pid']} on {holder['host']} ({holder['command']}), "
                f"since {holder['since']}")
    except (ValueError, KeyError, TypeError):
        return "another process"


class TrainingCheckpoint(keras.callbacks.Callback):
    """Restore before ``fit``, save after every epoch; keep the history.

    ``directory`` None keeps only the history (no files). ``key`` is the fingerprint of
    what is trained: a checkpoint with another key is not resumed (it is left alone with
    a warning). After ``fit``: ``history`` (per-epoch logs, with ``epoch_seconds`` and
    ``checkpoint_seconds``), ``train_seconds`` (their sum of ``epoch_seconds``, across
    resumptions) and ``resumed_from`` (the epochs restored).
    """

    def __init__(self, directory: str | Path | None, key: str = "") -> None:
        super().__init__()
        self.directory = Path(directory) if directory is not None else None
        self.key = key
        self.history: dict[str, list[float]] = {}
        self.train_seconds = 0.0
        self.resumed_from = 0
        self._lock: int | None = None  # the descriptor holding the folder's flock
        self._writer: ThreadPoolExecutor | None = None
        self._pending: Future | None = None
        self._epoch_start = 0.0

    # the lock
    def acquire(self) -> None:
        """Hold the folder's lock (again: nothing to do); ``CheckpointInUseError`` when
        another process holds it."""
        if self._lock is not None or self.directory is None or fcntl is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace")
            os.close(fd)
            raise CheckpointInUseError(self.directory, _describe_holder(holder)) from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv)),
                  "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._lock = fd

    def release(self) -> None:
        """Let go of the lock; the checkpoint stays for the next run to resume."""
        fd, self._lock = self._lock, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def finish(self) -> None:
        """Remove the checkpoint and release the lock: the trained model is stored."""
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
        self.release()

    # restore
    def restore(self, model: keras.Model) -> int:
        """Load the newest checkpoint of this training into ``model`` (compiled: the
        optimizer's state is restored too) and return the epochs it had done: ``fit``'s
        ``initial_epoch``. 0 when there is none to resume."""
        self.history, self.train_seconds, self.resumed_from = {}, 0.0, 0
        if self.directory is None:
            return 0
        self.acquire()
        newest = newest_checkpoint(self.directory)
        if newest is None:
            return 0
        try:
            state, saved = read_checkpoint(newest)
        except DamagedCheckpoint as error:
            set_aside(newest, str(error))
            return 0
        if state.get("key") != self.key:
            logger.warning("Not resuming from %s: it belongs to other parameters or data; "
                           "starting afresh", newest)
            return 0
        # Matched by position and shape: the fingerprint already says it is this model
        # (layer names may differ when Keras numbers unnamed layers in a process).
        variables = _variables(model)
        if len(saved) != len(variables) or any(
            tuple(array.shape) != tuple(variable.shape) for array, variable in zip(saved, variables)
        ):
            set_aside(newest, "its variables are not this model's")
            return 0
        for array, variable in zip(saved, variables):
            variable.assign(array)
        self.history = {name: list(values) for name, values in state["history"].items()}
        self.train_seconds = float(state["train_seconds"])
        self.resumed_from = int(state["epochs_done"])
        logger.info("Resuming from %s after epoch %d", self.directory, self.resumed_from)
        return self.resumed_from

    # save
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        checkpoint_start = time.perf_counter()
        if self.directory is not None:
            self._wait_for_write()  # its error, if any, stops the run here
            variables = _variables(self.model)
            names = [variable.path for variable in variables]
            arrays = _to_host(variables)
        now = time.perf_counter()
        logs["checkpoint_seconds"] = now - checkpoint_start
        logs["epoch_seconds"] = now - self._epoch_start
        for name, value in logs.items():
            self.history.setdefault(name, []).append(float(value))
        self.train_seconds += logs["epoch_seconds"]
        if self.directory is not None:
            state = {"key": self.key, "history": self.history, "train_seconds": self.train_seconds}
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, "fixres-checkpoint")
            self._pending = self._writer.submit(
                write_checkpoint, self.directory, epoch + 1, names, arrays, json.loads(json.dumps(state))
            )

    def on_train_end(self, logs: dict | None = None) -> None:
        try:
            self._wait_for_write()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None

    def _wait_for_write(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()


class Checkpoints:
    """The folder of every training's checkpoint (``root`` None: no files), and the
    trainings each thread opened in it since it last asked (``take_open``)."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root is not None else None
        self._open: dict[int, list[TrainingCheckpoint]] = {}
        self._guard = threading.Lock()

    def open(self, name: str, key: str) -> TrainingCheckpoint:
        """The checkpoint of the training ``name`` of what ``key`` fingerprints."""
        checkpoint = TrainingCheckpoint(self.root / f"{name}-{key}" if self.root else None, key)
        with self._guard:
            self._open.setdefault(threading.get_ident(), []).append(checkpoint)
        return checkpoint

    def take_open(self) -> list[TrainingCheckpoint]:
        """The trainings this thread opened since its last call (a node and the hooks
        around it run on one thread), no longer remembered here."""
        with self._guard:
            return self._open.pop(threading.get_ident(), [])
