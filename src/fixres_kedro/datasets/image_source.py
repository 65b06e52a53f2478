"""``ImageSourceDataset``: the raw photos, from tfds, an archive or an image folder.

Whatever the source, ``load`` returns one ``pandas.DataFrame`` with a row per photo:
``key`` (``<class>/<file>``), ``label`` (int), ``class_name`` and ``image`` (the
encoded file bytes, never decoded pixels), in the order tfds presents the ``train``
split. The split node then only has to slice.

* ``tfds``: ``tfds.builder(tfds_name)`` downloads and prepares the dataset (needs
  TensorFlow and internet on first use) and is read back in its stored order.
* ``archive``: a ``.tgz``/``.tar``/``.zip`` laid out ``<root>/<class>/<file>`` like the
  ``flower_photos.tgz`` that tfds downloads; photos are ordered by tfds' key hash, so
  the split equals tfds' without TensorFlow or network.
* ``image_folder``: a folder ``<root>/<class>/<file>``, ordered the same way.

For tf_flowers' five classes the labels follow tfds' ``ClassLabel`` order; any other
folder uses the sorted class names.

Bad input (archive and image_folder sources). A photo file is a ``.jpg``/``.jpeg``/``.png``
file (whatever it holds; hidden files and ``__MACOSX`` are ignored). Before a photo file is
read whole, its size (tar header, zip directory, ``stat``) must be at most
``max_photo_megabytes`` (64 MB, 1 MB = 2**20 bytes, by default) and its first bytes JPEG's or
PNG's signature: memory stays bounded whatever the archive holds. While the source is read,
every photo file at ``<root>/<class>/<file>`` is checked in a thread pool: JPEGs are decoded
at 1/8 scale (libjpeg still parses the whole entropy-coded stream, so truncated or broken
data fails as it would in a full decode), PNGs are verified chunk by chunk (CRCs, through
``IEND``). Then:

* skipped, with ONE warning line per kind that counts them and names a few:
  photo files that cannot be decoded (empty, larger than ``max_photo_megabytes``, neither a
  JPEG nor a PNG, truncated or damaged, too many pixels: see
  ``fixres_kedro.fixres.photos.open_photo``); photo files at another depth (``root/x.jpg``,
  ``root/daisy/thumbs/x.jpg``); folders ``root/<name>/`` without a usable photo (an
  empty class folder, ``root/notes/`` with a README), which are not classes; links and
  unsafe paths, never read: archive members with an absolute path or ``..`` in their
  path, symbolic and hard links, devices and other special files; in a folder, symbolic
  links that point out of it, to a folder, or nowhere (a link to a file inside the
  folder is read as that file);
* handled: grayscale, CMYK, palette, RGBA and 16-bit photos are kept (``decode_photo``
  converts them to RGB); photos longer than ``MAX_DECODE_SIDE`` px are kept and decoded
  reduced (an info line lists them);
* the run stops with one ``DataSourceError`` line starting ``data.path:`` when the path
  is missing or not an archive/folder, when no photo file is at ``<root>/<class>/<file>``
  (the message gives the depths found and an example), when none of them decodes, or
  when the usable photos are in fewer than two class folders (no classifier to train).

The real ``flower_photos.tgz`` has 3670 valid JPEGs: nothing is skipped, and the split is
tfds'.
"""

from __future__ import annotations

import logging
import math
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import IO, Any, NamedTuple

import pandas as pd
from kedro.io.core import AbstractDataset

from fixres_kedro.errors import DataSourceError
from fixres_kedro.fixres.errors import UnreadablePhotoError, megabytes, one_line
from fixres_kedro.fixres.photos import (
    MAX_DECODE_SIDE,
    SIGNATURE_BYTES,
    check_photo,
    photo_signature,
)
from fixres_kedro.fixres.tfds_order import tfds_order
from fixres_kedro.workers import photo_threads

logger = logging.getLogger(__name__)

SOURCES = ("tfds", "archive", "image_folder")
TF_FLOWERS_CLASSES = ["dandelion", "daisy", "tulips", "sunflowers", "roses"]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
LAYOUT = "<root>/<class>/<file>.jpg"
PHOTO_DEPTH = 3  # root/class/file
NAMES_SHOWN = 5  # a warning names this many files, then says "and N more"
MEGABYTE = 2**20
DEFAULT_MAX_PHOTO_MEGABYTES = 64


_OFFLINE_HINT = (
    "without internet, use the archive tfds downloads: FIXRES_DATA_SOURCE=archive "
    "FIXRES_DATA_PATH=/path/to/flower_photos.tgz (or --params data.source=archive,"
    "data.path=...), or a folder of photos with data.source=image_folder"
)
_DOWNLOAD_HOST = ("storage.googleapis.com", 443)  # where tfds downloads tf_flowers from


def _check_online(name: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not after minutes of retries, when tfds cannot download."""
    import socket  # noqa: PLC0415

    try:
        socket.create_connection(_DOWNLOAD_HOST, timeout=timeout).close()
    except OSError as error:
        raise DataSourceError(
            f"data.source=tfds must download {name}, and {_DOWNLOAD_HOST[0]} cannot be reached "
            f"({error}); {_OFFLINE_HINT}"
        ) from error


class ImageSourceDataset(AbstractDataset[None, pd.DataFrame]):
    """Read-only dataset of encoded photos with their class labels.

    Example catalog entry::

        flower_photos:
          type: fixres_kedro.datasets.ImageSourceDataset
          source: archive
          path: ../shared/data/flower_photos.tgz
          max_photo_megabytes: 64

    ``max_photo_megabytes`` (archive and image_folder sources): a photo file larger than
    this (1 MB = 2**20 bytes) is skipped unread, with the other unreadable ones.
    """

    def __init__(
        self,
        source: str = "tfds",
        path: str | None = None,
        tfds_name: str = "tf_flowers",
        tfds_data_dir: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        max_photo_megabytes: float = DEFAULT_MAX_PHOTO_MEGABYTES,
    ) -> None:
        if source not in SOURCES:
            raise DataSourceError(
                f"data.source: unknown source {source!r}; use one of {', '.join(SOURCES)}"
            )
        if source != "tfds" and not path:
            raise DataSourceError(
                f"data.path: the {source} source needs a path "
                "(set FIXRES_DATA_PATH or --params data.path=...)"
            )
        if (
            isinstance(max_photo_megabytes, bool)
            or not isinstance(max_photo_megabytes, int | float)
            or not 0 < max_photo_megabytes < math.inf
        ):
            raise DataSourceError(
                "data.max_photo_megabytes: the largest photo file to read must be a positive "
                f"number of megabytes, got {max_photo_megabytes!r}"
            )
        self._source = source
        self._path = path
        self._max_photo_megabytes = max_photo_megabytes
        self._tfds_name = tfds_name
        self._tfds_data_dir = tfds_data_dir
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "source": self._source,
            "path": self._path,
            "tfds_name": self._tfds_name,
            "max_photo_megabytes": self._max_photo_megabytes,
        }

    def _save(self, data: None) -> None:
        raise DataSourceError("ImageSourceDataset is read-only")

    def _exists(self) -> bool:
        return self._source == "tfds" or Path(self._path).exists()

    def load(self) -> pd.DataFrame:
        if self._source == "tfds":
            return self._load_tfds()
        path = Path(self._path).expanduser()
        limit = int(self._max_photo_megabytes * MEGABYTE)
        if not path.exists():
            raise DataSourceError(f"data.path: {path} does not exist")
        if self._source == "archive":
            if path.is_dir():
                raise DataSourceError(
                    f"data.path: {path} is a folder; use data.source=image_folder for it"
                )
            entries = _archive_entries(path, limit)
        else:
            if not path.is_dir():
                raise DataSourceError(
                    f"data.path: {path} is not a folder; use data.source=archive for a file"
                )
            entries = _folder_entries(path, limit)
        kind = "archive member" if self._source == "archive" else "item"
        return _frame(entries, where=str(path), kind=kind)

    def _load_tfds(self) -> pd.DataFrame:
        try:
            import tensorflow_datasets as tfds  # noqa: PLC0415 - optional, heavy
        except ImportError as error:
            raise DataSourceError(
                "data.source=tfds needs tensorflow-datasets (pip install -e '.[tf]'); "
                "or use data.source=archive with the flower_photos.tgz file"
            ) from error
        builder = tfds.builder(self._tfds_name, data_dir=self._tfds_data_dir)
        if not builder.is_prepared():
            _check_online(self._tfds_name)
            try:
                builder.download_and_prepare()
            except Exception as error:  # noqa: BLE001 - a download fails in many ways
                raise DataSourceError(f"data.source=tfds could not download {self._tfds_name} "
                                      f"({one_line(error, 160)}); {_OFFLINE_HINT}") from error
        names = builder.info.features["label"].names
        dataset = builder.as_dataset(
            split="train",
            shuffle_files=False,
            decoders={"image": tfds.decode.SkipDecoding()},
            # One shard at a time: the examples in the order tfds stored them (by key
            # hash), as the archive source gives them; split_dataset interleaves each
            # slice as tfds reads it.
            read_config=tfds.ReadConfig(interleave_cycle_length=1),
        )
        rows = [
            {
                "key": f"{self._tfds_name}/train/{index:06d}",
                "label": int(example["label"]),
                "class_name": names[int(example["label"])],
                "image": bytes(example["image"]),
            }
            for index, example in enumerate(dataset.as_numpy_iterator())
        ]
        return pd.DataFrame(rows, columns=["key", "label", "class_name", "image"])


# --- reading an archive or a folder ---------------------------------------------------


class _Entry(NamedTuple):
    """One archive member or folder entry, its bytes not read yet."""

    name: str  # the member's name, or the folder's name / the relative path
    is_dir: bool
    read: Callable[[], bytes] | None = None  # a file's bytes, checked before read whole
    skipped: str | None = None  # why a link or an unsafe path is skipped unread


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def _is_photo_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def _reader(size: int, open_file: Callable[[], IO[bytes]], limit: int) -> Callable[[], bytes]:
    """Reads a photo file of ``size`` bytes (as its header says) only when it can be one:
    not empty, at most ``limit`` bytes, starting with JPEG's or PNG's signature (read
    first); raises ``UnreadablePhotoError`` otherwise."""

    def read() -> bytes:
        if size == 0:
            raise UnreadablePhotoError("empty file")
        if size > limit:
            raise UnreadablePhotoError(
                f"too large: {megabytes(size)}, more than max_photo_megabytes="
                f"{limit / MEGABYTE:g}"
            )
        with open_file() as file:
            head = file.read(SIGNATURE_BYTES)
            if photo_signature(head) is None:
                raise UnreadablePhotoError("not a JPEG or PNG file")
            data = head + file.read(limit + 1 - len(head))  # a file may grow after stat
        if len(data) > limit:
            raise UnreadablePhotoError(
                f"too large: more than max_photo_megabytes={limit / MEGABYTE:g}"
            )
        return data

    return read


def _unsafe_path(name: str) -> str | None:
    """Why an archive member's name cannot be a path below the archive's root, if it
    cannot: extracted, it would land elsewhere."""
    path = PurePosixPath(name)
    if path.is_absolute():
        return "absolute path"
    if ".." in path.parts:
        return "'..' in its path"
    return None


_ARCHIVE_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error)


def _damaged(path: Path, error: BaseException) -> DataSourceError:
    # A truncated download or a damaged archive fails only while its members are read.
    return DataSourceError(
        f"data.path: {path} could not be read to its end ({error}); "
        "is the archive damaged or incomplete?"
    )


def _archive_entries(path: Path, limit: int) -> Iterator[_Entry]:
    """The members of a tar or zip archive, in the archive's order."""

    def reading(read: Callable[[], bytes]) -> Callable[[], bytes]:
        def read_member() -> bytes:
            try:
                return read()
            except _ARCHIVE_ERRORS as error:
                raise _damaged(path, error) from error

        return read_member

    try:
        for entry in _read_archive(path, limit):
            yield entry._replace(read=reading(entry.read)) if entry.read else entry
    except _ARCHIVE_ERRORS as error:
        raise _damaged(path, error) from error


def _read_archive(path: Path, limit: int) -> Iterator[_Entry]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            yield from _zip_entries(archive, limit)
        return
    try:
        archive = tarfile.open(path)
    except (tarfile.TarError, OSError) as error:
        raise DataSourceError(f"data.path: {path} is not a tar or zip archive ({error})") from error
    with archive:
        yield from _tar_entries(archive, limit)


def _zip_entries(archive: zipfile.ZipFile, limit: int) -> Iterator[_Entry]:
    for info in archive.infolist():
        name = info.filename.rstrip("/")
        mode = info.external_attr >> 16  # the Unix mode, where a Unix zip wrote one
        unsafe = _unsafe_path(info.filename)
        if unsafe:
            yield _Entry(name, info.is_dir(), skipped=unsafe)
        elif stat.S_ISLNK(mode):
            yield _Entry(name, False, skipped="symbolic link")
        elif info.is_dir():
            yield _Entry(name, True)
        elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # 0: no file type written
            yield _Entry(name, False, skipped="not a regular file")
        else:  # the size is the zip directory's: reading stops there, whatever the data
            yield _Entry(name, False, _reader(info.file_size, lambda i=info: archive.open(i), limit))


def _tar_entries(archive: tarfile.TarFile, limit: int) -> Iterator[_Entry]:
    for member in archive:
        name = member.name.rstrip("/")
        unsafe = _unsafe_path(member.name)
        if unsafe:
            yield _Entry(name, member.isdir(), skipped=unsafe)
        elif member.issym():
            yield _Entry(name, False, skipped=f"symbolic link to {member.linkname}")
        elif member.islnk():
            yield _Entry(name, False, skipped=f"hard link to {member.linkname}")
        elif member.isdir():
            yield _Entry(name, True)
        elif member.isfile():  # the size is the header's (a sparse member's, expanded)
            yield _Entry(
                name, False, _reader(member.size, lambda m=member: archive.extractfile(m), limit)
            )
        else:
            yield _Entry(name, False, skipped="not a regular file")


def _folder_entries(root: Path, limit: int) -> Iterator[_Entry]:
    """Everything below ``root``, named ``<root name>/<relative path>``.

    Symbolic links are followed only to a file inside ``root``; ``rglob`` never walks
    into a linked folder.
    """
    inside = root.resolve()
    for file in sorted(root.rglob("*")):
        name = f"{root.name}/{file.relative_to(root).as_posix()}"
        if file.is_symlink():
            target = file.resolve()
            if not target.exists():
                yield _Entry(name, False, skipped="symbolic link to nothing")
                continue
            if target != inside and inside not in target.parents:
                yield _Entry(name, False, skipped=f"symbolic link out of the folder, to {target}")
                continue
            if target.is_dir():
                yield _Entry(name, False, skipped="symbolic link to a folder (not followed)")
                continue
        if file.is_dir():
            yield _Entry(name, True)
        elif file.is_file():
            yield _Entry(name, False, _unless_unreadable(
                _reader(file.stat().st_size, lambda f=file: f.open("rb"), limit)
            ))
        else:
            yield _Entry(name, False, skipped="not a regular file")


def _unless_unreadable(read: Callable[[], bytes]) -> Callable[[], bytes]:
    """``read``, a file that cannot be read (no permission, gone) being unreadable."""

    def read_file() -> bytes:
        try:
            return read()
        except OSError as error:
            raise UnreadablePhotoError(f"cannot be read: {error.strerror or error}") from error

    return read_file


def _check(encoded: bytes) -> tuple[tuple[int, int] | None, str | None]:
    try:
        return check_photo(encoded), None
    except UnreadablePhotoError as error:
        return None, str(error)


def _listing(names: Iterable[str]) -> str:
    """``a, b, c, d, e and 3 more``."""
    names = list(names)
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _read_and_check(
    entries: Iterator[_Entry],
) -> tuple[dict[str, bytes], dict[str, tuple], list[str], set[str], dict[str, str]]:
    """Photo files at root/class/file with their checks, misplaced ones, root/<name>
    folders, and the links and unsafe paths skipped.

    A photo file is read (after its size and signature are checked) only at
    root/class/file, and checked in a thread pool while the rest of the archive is read.
    """
    photos: dict[str, bytes] = {}
    misplaced: list[str] = []
    folders: set[str] = set()
    skipped: dict[str, str] = {}
    checks: dict[str, Future | tuple] = {}
    pool = ThreadPoolExecutor(photo_threads(), thread_name_prefix="check_photo")
    try:
        for entry in entries:
            name = entry.name
            if entry.skipped:  # before anything reads the name as a path below the root
                skipped[name or "/"] = entry.skipped
                continue
            parts = PurePosixPath(name).parts
            if not parts or _hidden(parts):
                continue
            if len(parts) >= PHOTO_DEPTH or (entry.is_dir and len(parts) == PHOTO_DEPTH - 1):
                folders.add("/".join(parts[: PHOTO_DEPTH - 1]))
            if entry.is_dir or not _is_photo_name(name):
                continue
            if len(parts) != PHOTO_DEPTH:
                misplaced.append(name)
                continue
            try:
                photos[name] = entry.read()
            except UnreadablePhotoError as error:
                photos[name] = b""
                checks[name] = (None, str(error))
                continue
            checks[name] = pool.submit(_check, photos[name])
        results = {
            name: check.result() if isinstance(check, Future) else check
            for name, check in checks.items()
        }
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return photos, results, sorted(misplaced), folders, skipped


def _frame(entries: Iterator[_Entry], where: str, kind: str) -> pd.DataFrame:
    """Rows in tfds order of the usable photos at root/class/file among ``entries``
    (``kind``: what an entry is called in warnings, ``archive member`` or ``item``)."""
    photos, results, misplaced, folders, skipped = _read_and_check(entries)
    if skipped:
        logger.warning(
            "Skipped %s in %s, %s (never read): %s",
            _plural(len(skipped), kind), where,
            "a link, special file or unsafe path" if len(skipped) == 1
            else "links, special files or unsafe paths",
            _listing(f"{name} ({why})" for name, why in sorted(skipped.items())),
        )
    if not photos and not misplaced:
        raise DataSourceError(
            f"data.path: no .jpg/.jpeg/.png files in {where}; expected the layout {LAYOUT}"
        )
    if not photos:
        depths = sorted({len(PurePosixPath(name).parts) for name in misplaced})
        raise DataSourceError(
            f"data.path: {where} is not laid out {LAYOUT} (image files found at {depths} "
            f"levels, e.g. {misplaced[0]}; expected {PHOTO_DEPTH})"
        )
    if misplaced:
        logger.warning(
            "Skipped %s in %s not at %s: %s",
            _plural(len(misplaced), "photo file"), where, LAYOUT, _listing(misplaced),
        )
    unreadable = {name: reason for name, (_, reason) in sorted(results.items()) if reason}
    if unreadable:
        logger.warning(
            "Skipped %d of %s in %s that cannot be decoded: %s",
            len(unreadable), _plural(len(photos), "photo file"), where,
            _listing(f"{name} ({reason})" for name, reason in unreadable.items()),
        )
    if len(unreadable) == len(photos):
        first = next(iter(unreadable))
        raise DataSourceError(
            f"data.path: none of the {_plural(len(photos), 'photo file')} at {LAYOUT} in "
            f"{where} can be decoded (e.g. {first}: {unreadable[first]})"
        )
    large = {
        name: size
        for name, (size, _) in sorted(results.items())
        if size and max(size) > MAX_DECODE_SIDE
    }
    if large:
        logger.info(
            "%s longer than %d px will be decoded reduced to at most %d px: %s",
            _plural(len(large), "photo"), MAX_DECODE_SIDE, MAX_DECODE_SIDE,
            _listing(f"{name} ({width}x{height})" for name, (width, height) in large.items()),
        )
    return _rows(
        {name: blob for name, blob in photos.items() if name not in unreadable}, folders, where
    )


def _rows(photos: dict[str, bytes], folders: set[str], where: str) -> pd.DataFrame:
    """The frame of usable ``{root/class/file: bytes}``; warns about folders left without."""
    keys, classes, blobs, used_folders = [], [], [], set()
    for member, blob in photos.items():
        root, class_name, file_name = PurePosixPath(member).parts
        used_folders.add(f"{root}/{class_name}")
        keys.append(f"{class_name}/{file_name}")
        classes.append(class_name.lower())
        blobs.append(blob)
    empty = sorted(folders - used_folders)
    if empty:
        logger.warning(
            "Skipped %s in %s without a usable photo (%s): %s",
            _plural(len(empty), "folder"), where,
            "not a class" if len(empty) == 1 else "not classes",
            _listing(f"{folder}/" for folder in empty),
        )
    found = sorted(set(classes))
    if len(found) < 2:
        raise DataSourceError(
            f"data.path: {where} has usable photos in only one class folder "
            f"({_listing(sorted(used_folders))}/); a classifier needs at least 2 classes, "
            f"laid out {LAYOUT}"
        )
    names = TF_FLOWERS_CLASSES if set(found) == set(TF_FLOWERS_CLASSES) else found
    index = {name: label for label, name in enumerate(names)}
    order = tfds_order(keys)
    logger.info("Read %d photos of %d classes from %s", len(keys), len(names), where)
    return pd.DataFrame(
        {
            "key": [keys[i] for i in order],
            "label": [index[classes[i]] for i in order],
            "class_name": [classes[i] for i in order],
            "image": [blobs[i] for i in order],
        }
    )
