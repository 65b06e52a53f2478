"""The order in which TensorFlow Datasets presents a split, without TensorFlow.

tfds writes a split's examples sorted by the md5 of the split name (the salt)
followed by the example key, and reads them back in that order; percent slices such as
``train[:90%]`` are then contiguous ranges whose bounds are rounded to the closest
example (Python's ``round``). tf_flowers keys are ``<class>/<file>.jpg``, so sorting
photos of the archive tfds downloads by this hash gives exactly tfds' split.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_SLICE = re.compile(r"^(?P<split>\w+)\[(?P<start>-?\d+%?)?:(?P<stop>-?\d+%?)?\]$|^(?P<whole>\w+)$")


def tfds_hash(key: str, salt: str = "train") -> int:
    """tfds' 128-bit ordering hash of ``key`` within split ``salt``."""
    digest = hashlib.md5(salt.encode("utf-8"))
    digest.update(key.replace("\\", "/").encode("utf-8"))
    return int(digest.hexdigest(), 16)


def tfds_order(keys: Iterable[str], salt: str = "train") -> list[int]:
    """Positions of ``keys`` sorted as tfds stores them (indices into ``keys``)."""
    keys = list(keys)
    return sorted(range(len(keys)), key=lambda i: tfds_hash(keys[i], salt))


def _bound(text: str | None, count: int, default: int) -> int:
    if text is None:
        return default
    if text.endswith("%"):
        value = int(round(float(text[:-1]) * count / 100.0))
    else:
        value = int(text)
    if value < 0:
        value += count
    return min(max(value, 0), count)


def slice_bounds(spec: str, count: int) -> tuple[str, int, int]:
    """Parse a tfds split slice (``train[:90%]``, ``train[90%:]``, ``train[10:20]``).

    Returns the split name and the ``[start, stop)`` example range within ``count``.
    """
    match = _SLICE.match(spec.replace(" ", ""))
    if not match:
        raise ValueError(f"not a tfds split slice: {spec!r} (try 'train[:90%]')")
    if match["whole"]:
        return match["whole"], 0, count
    start = _bound(match["start"], count, 0)
    stop = _bound(match["stop"], count, count)
    return match["split"], start, max(start, stop)
