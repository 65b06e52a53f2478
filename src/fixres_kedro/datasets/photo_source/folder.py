"""Everything below an image folder, as ``Entry``s, named as an archive of that folder
would name its members, so both sources give the same rows.

A symbolic link is followed only to a file inside the folder: one out of it, to a folder
or to nothing is yielded as skipped, unread. A file that cannot be opened (no permission,
gone since the walk) is an unreadable photo, not a stop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import IO

from fixres_kedro.datasets.photo_source.entry import Entry, read_photo_file
from fixres_kedro.fixres.errors import UnreadablePhotoError


def folder_entries(root: Path, limit: int) -> Iterator[Entry]:
    """Everything below ``root``, sorted, named ``<root name>/<relative path>``; photo
    files over ``limit`` bytes are not read. ``rglob`` never walks into a linked folder."""
    inside = root.resolve()
    for file in sorted(root.rglob("*")):
        name = f"{root.name}/{file.relative_to(root).as_posix()}"
        skipped = _link_skipped(file, inside) if file.is_symlink() else None
        if skipped:
            yield Entry(name, False, skipped=skipped)
        elif file.is_dir():
            yield Entry(name, True)
        elif file.is_file():
            yield Entry(name, False, partial(_read_file, file.stat().st_size, partial(file.open, "rb"), limit))
        else:
            yield Entry(name, False, skipped="not a regular file")


def _link_skipped(link: Path, inside: Path) -> str | None:
    """Why the symbolic link ``link`` is not followed, if it is not."""
    target = link.resolve()
    if not target.exists():
        return "symbolic link to nothing"
    if target != inside and inside not in target.parents:
        return f"symbolic link out of the folder, to {target}"
    if target.is_dir():
        return "symbolic link to a folder (not followed)"
    return None


def _read_file(size: int, open_file: Callable[[], IO[bytes]], limit: int) -> bytes:
    try:
        return read_photo_file(size, open_file, limit)
    except OSError as error:
        raise UnreadablePhotoError(f"cannot be read: {error.strerror or error}") from error
