"""What the archive and folder walkers yield, and the rule both apply before a photo file
is read whole: its size first, then its signature, so that memory stays bounded whatever
the source holds (issue #12: two 1.5 GiB zero-filled ``.jpg`` members).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, NamedTuple

from fixres_kedro.fixres.errors import UnreadablePhotoError, megabytes
from fixres_kedro.fixres.photos import SIGNATURE_BYTES, photo_signature

MEGABYTE = 2**20


class Entry(NamedTuple):
    """One archive member or folder entry, its bytes not read yet."""

    name: str  # the member's name, or the folder's name / the relative path
    is_dir: bool
    read: Callable[[], bytes] | None = None  # a file's bytes, checked before read whole
    skipped: str | None = None  # why a link or an unsafe path is skipped unread


def read_photo_file(size: int, open_file: Callable[[], IO[bytes]], limit: int) -> bytes:
    """The bytes of a photo file of ``size`` bytes (as its header or ``stat`` says), read
    only when it can be one: not empty, at most ``limit`` bytes, starting with JPEG's or
    PNG's signature (read first). Raises ``UnreadablePhotoError`` otherwise."""
    if size == 0:
        raise UnreadablePhotoError("empty file")
    if size > limit:
        raise UnreadablePhotoError(
            f"too large: {megabytes(size)}, more than max_photo_megabytes={limit / MEGABYTE:g}"
        )
    with open_file() as file:
        head = file.read(SIGNATURE_BYTES)
        if photo_signature(head) is None:
            raise UnreadablePhotoError("not a JPEG or PNG file")
        data = head + file.read(limit + 1 - len(head))  # a file may grow after stat
    if len(data) > limit:
        raise UnreadablePhotoError(f"too large: more than max_photo_megabytes={limit / MEGABYTE:g}")
    return data
