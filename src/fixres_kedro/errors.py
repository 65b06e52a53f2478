"""Errors that are the user's to fix, and how ``kedro run`` finds them.

The errors themselves live in the core (``fixres_kedro.fixres.errors``); the one that
belongs to Kedro's I/O layer is here: ``DataSourceError``, a ``DatasetError`` so that
Kedro reports it as the dataset's. ``kedro run`` prints any of them as one
``Error: ...`` line (``fixres_kedro.cli``); everything else keeps its traceback.
"""

from __future__ import annotations

from typing import TypeVar

from kedro.io.core import DatasetError

from fixres_kedro.fixres.errors import (
    CheckpointInUseError,
    DamagedFileError,
    DiskFullError,
    FixResError,
    InvalidParameterError,
    NoBackendError,
    NothingToSummariseError,
    Problem,
    UnreadablePhotoError,
)

__all__ = [
    "CheckpointInUseError", "DamagedFileError", "DamagedInputError", "DataSourceError", "DiskFullError",
    "FixResError", "InvalidParameterError", "MissingInputError", "SplitInUseError", "StoppedError", "NoBackendError", "NothingToSummariseError", "Problem",
    "UnreadablePhotoError", "find_cause", "find_user_error",
]

E = TypeVar("E", bound=BaseException)


class DataSourceError(FixResError, DatasetError):
    """The photo source is missing, unreadable or laid out wrongly."""


class StoppedError(FixResError):
    """The run was stopped by a signal (Ctrl-C, SIGTERM): ``exit_code`` is the shell's
    128 + the signal's number."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class DamagedInputError(DamagedFileError, DatasetError):
    """A file a dataset reads that is not what its writer wrote (invalid JSON, the wrong
    content, a part of another data run's split). A ``DatasetError``, so that Kedro passes
    it on as it is: one line, in a run or in a notebook."""


class SplitInUseError(FixResError, RuntimeError):
    """Another data run is writing the split (it holds the split's lock)."""


class MissingInputError(FixResError, DatasetError):
    """A pipeline reads a dataset that another pipeline writes, and it is not written yet."""


def find_cause(error: BaseException, kind: type[E]) -> E | None:
    """The first exception of type ``kind`` in ``error``'s chain of causes, if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def find_user_error(error: BaseException) -> FixResError | None:
    """The first ``FixResError`` in ``error``'s chain of causes, if any."""
    return find_cause(error, FixResError)
