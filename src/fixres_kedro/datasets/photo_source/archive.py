"""The members of a tar or zip archive, as ``Entry``s, never extracted.

A member that extraction would put outside the archive's root (an absolute path, ``..``),
a link or a special file is yielded as skipped, unread. A damaged or truncated archive
fails only while its members are read: that, wherever it happens, is one ``data.path``
line asking whether the download is complete.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

from fixres_kedro.datasets.photo_source.entry import Entry, read_photo_file
from fixres_kedro.errors import DataSourceError

_ARCHIVE_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error)


def archive_entries(path: Path, limit: int) -> Iterator[Entry]:
    """The members of the archive at ``path``, in its order; photo files over ``limit``
    bytes are not read."""
    try:
        yield from _members(path, limit)
    except _ARCHIVE_ERRORS as error:
        raise _damaged(path, error) from error


def _damaged(path: Path, error: BaseException) -> DataSourceError:
    return DataSourceError(
        f"data.path: {path} could not be read to its end ({error}); "
        "is the archive damaged or incomplete?"
    )


def _read_member(path: Path, size: int, open_member: Callable[[], IO[bytes]], limit: int) -> bytes:
    try:
        return read_photo_file(size, open_member, limit)
    except _ARCHIVE_ERRORS as error:
        raise _damaged(path, error) from error


def _members(path: Path, limit: int) -> Iterator[Entry]:
    reader = partial(_read_member, path, limit=limit)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            yield from _zip_entries(archive, reader)
        return
    try:
        archive = tarfile.open(path)
    except (tarfile.TarError, OSError) as error:
        raise DataSourceError(f"data.path: {path} is not a tar or zip archive ({error})") from error
    with archive:
        yield from _tar_entries(archive, reader)


def unsafe_path(name: str) -> str | None:
    """Why a member's name cannot be a path below the archive's root, if it cannot:
    extracted, it would land elsewhere."""
    path = PurePosixPath(name)
    if path.is_absolute():
        return "absolute path"
    if ".." in path.parts:
        return "'..' in its path"
    return None


# ``reader(size, open_member)``: the member's bytes, read as ``read_photo_file`` allows.
_Reader = Callable[[int, Callable[[], IO[bytes]]], bytes]


def _zip_entries(archive: zipfile.ZipFile, reader: _Reader) -> Iterator[Entry]:
    for info in archive.infolist():
        name = info.filename.rstrip("/")
        mode = info.external_attr >> 16  # the Unix mode, where a Unix zip wrote one
        unsafe = unsafe_path(info.filename)
        if unsafe:
            yield Entry(name, info.is_dir(), skipped=unsafe)
        elif stat.S_ISLNK(mode):
            yield Entry(name, False, skipped="symbolic link")
        elif info.is_dir():
            yield Entry(name, True)
        elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # 0: no file type written
            yield Entry(name, False, skipped="not a regular file")
        else:  # the size is the zip directory's: reading stops there, whatever the data
            yield Entry(name, False, partial(reader, info.file_size, partial(archive.open, info)))


def _tar_entries(archive: tarfile.TarFile, reader: _Reader) -> Iterator[Entry]:
    for member in archive:
        name = member.name.rstrip("/")
        unsafe = unsafe_path(member.name)
        if unsafe:
            yield Entry(name, member.isdir(), skipped=unsafe)
        elif member.issym():
            yield Entry(name, False, skipped=f"symbolic link to {member.linkname}")
        elif member.islnk():
            yield Entry(name, False, skipped=f"hard link to {member.linkname}")
        elif member.isdir():
            yield Entry(name, True)
        elif member.isfile():  # the size is the header's (a sparse member's, expanded)
            yield Entry(name, False, partial(reader, member.size, partial(archive.extractfile, member)))
        else:
            yield Entry(name, False, skipped="not a regular file")
