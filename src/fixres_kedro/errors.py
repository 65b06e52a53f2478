"""Errors that are the user's to fix (a parameter, a path, a photo), not bugs.

``kedro run`` reports them as one ``Error: ...`` line (see ``fixres_kedro.cli``);
everything else keeps its full traceback.
"""

from __future__ import annotations

from kedro.io.core import DatasetError


class FixResError(Exception):
    """Base class of the errors a user fixes in configuration or data."""


class InvalidParameterError(FixResError, ValueError):
    """A parameter value the experiment cannot run with."""


class NothingToSummariseError(FixResError, ValueError):
    """A summary was asked for before any of its inputs exist."""


class DataSourceError(FixResError, DatasetError):
    """The photo source is missing, unreadable or laid out wrongly."""


def find_user_error(error: BaseException) -> FixResError | None:
    """The first ``FixResError`` in ``error``'s chain of causes, if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, FixResError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class UnreadablePhotoError(FixResError, ValueError):
    """One encoded photo that cannot be decoded (empty, not an image, damaged, too large).

    ``ImageSourceDataset.load`` skips such photos with a warning; ``decode_split`` reports
    one that reaches it anyway as a ``DataSourceError``.
    """
