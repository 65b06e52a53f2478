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
file (whatever it holds; hidden files and ``__MACOSX`` are ignored). While the source is
read, every photo file at ``<root>/<class>/<file>`` is checked in a thread pool: JPEGs are
decoded at 1/8 scale (libjpeg still parses the whole entropy-coded stream, so truncated or
broken data fails as it would in a full decode), PNGs are verified chunk by chunk (CRCs,
through ``IEND``), other formats are decoded. Then:

* skipped, with ONE warning line per kind that counts them and names a few:
  photo files that cannot be decoded (empty, not an image, truncated or damaged, too
  large: see ``fixres_kedro.fixres.photos.open_photo``); photo files at another depth (``root/x.jpg``,
  ``root/daisy/thumbs/x.jpg``); folders ``root/<name>/`` without a usable photo (an
  empty class folder, ``root/notes/`` with a README), which are not classes;
* handled: grayscale, CMYK, palette, RGBA and 16-bit photos are kept (``decode_photo``
  converts them to RGB); photos longer than ``MAX_DECODE_SIDE`` px are kept and decoded
  reduced (an info line lists them);
* the run stops with one ``DataSourceError`` line starting ``data.path:`` when the path
  is missing or not an archive/folder, when no photo file is at ``<root>/<class>/<file>``
  (the message gives the depths found and an example), or when none of them decodes.

The real ``flower_photos.tgz`` has 3670 valid JPEGs: nothing is skipped, and the split is
tfds'.
"""

from __future__ import annotations

import logging
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from kedro.io.core import AbstractDataset

from fixres_kedro.errors import DataSourceError
from fixres_kedro.fixres.errors import UnreadablePhotoError
from fixres_kedro.fixres.photos import MAX_DECODE_SIDE, check_photo, default_workers
from fixres_kedro.fixres.tfds_order import tfds_order

logger = logging.getLogger(__name__)

SOURCES = ("tfds", "archive", "image_folder")
TF_FLOWERS_CLASSES = ["dandelion", "daisy", "tulips", "sunflowers", "roses"]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
LAYOUT = "<root>/<class>/<file>.jpg"
PHOTO_DEPTH = 3  # root/class/file
NAMES_SHOWN = 5  # a warning names this many files, then says "and N more"



class ImageSourceDataset(AbstractDataset[None, pd.DataFrame]):
    """Read-only dataset of encoded photos with their class labels.

    Example catalog entry::

        flower_photos:
          type: fixres_kedro.datasets.ImageSourceDataset
          source: archive
          path: ../shared/data/flower_photos.tgz
    """

    def __init__(
        self,
        source: str = "tfds",
        path: str | None = None,
        tfds_name: str = "tf_flowers",
        tfds_data_dir: str | None = None,
        metadata: dict[str, Any] | None = None,
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
        self._source = source
        self._path = path
        self._tfds_name = tfds_name
        self._tfds_data_dir = tfds_data_dir
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"source": self._source, "path": self._path, "tfds_name": self._tfds_name}

    def _save(self, data: None) -> None:
        raise DataSourceError("ImageSourceDataset is read-only")

    def _exists(self) -> bool:
        return self._source == "tfds" or Path(self._path).exists()

    def load(self) -> pd.DataFrame:
        if self._source == "tfds":
            return self._load_tfds()
        path = Path(self._path).expanduser()
        if not path.exists():
            raise DataSourceError(f"data.path: {path} does not exist")
        if self._source == "archive":
            if path.is_dir():
                raise DataSourceError(
                    f"data.path: {path} is a folder; use data.source=image_folder for it"
                )
            entries = _archive_entries(path)
        else:
            if not path.is_dir():
                raise DataSourceError(
                    f"data.path: {path} is not a folder; use data.source=archive for a file"
                )
            entries = _folder_entries(path)
        return _frame(entries, where=str(path))

    def _load_tfds(self) -> pd.DataFrame:
        try:
            import tensorflow_datasets as tfds  # noqa: PLC0415 - optional, heavy
        except ImportError as error:
            raise DataSourceError(
                "data.source=tfds needs tensorflow-datasets (pip install -e '.[tf]'); "
                "or use data.source=archive with the flower_photos.tgz file"
            ) from error
        builder = tfds.builder(self._tfds_name, data_dir=self._tfds_data_dir)
        builder.download_and_prepare()
        names = builder.info.features["label"].names
        dataset = builder.as_dataset(
            split="train",
            shuffle_files=False,
            decoders={"image": tfds.decode.SkipDecoding()},
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


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def _is_photo_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def _archive_entries(path: Path) -> Iterator[tuple[str, bool, bytes | None]]:
    """``(member, is_dir, bytes)`` for each member of a tar or zip archive.

    The bytes are read for photo files only (``None`` for other members).
    """
    try:
        yield from _read_archive(path)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
        # A truncated download or a damaged archive fails only while its members are read.
        raise DataSourceError(
            f"data.path: {path} could not be read to its end ({error}); "
            "is the archive damaged or incomplete?"
        ) from error


def _read_archive(path: Path) -> Iterator[tuple[str, bool, bytes | None]]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename.rstrip("/")
                if info.is_dir():
                    yield name, True, None
                elif _is_photo_name(name):
                    yield name, False, archive.read(info)
                else:
                    yield name, False, None
        return
    try:
        archive = tarfile.open(path)
    except (tarfile.TarError, OSError) as error:
        raise DataSourceError(f"data.path: {path} is not a tar or zip archive ({error})") from error
    with archive:
        for member in archive:
            name = member.name.rstrip("/")
            if member.isdir():
                yield name, True, None
            elif member.isfile():
                photo = _is_photo_name(name)
                yield name, False, archive.extractfile(member).read() if photo else None


def _folder_entries(root: Path) -> Iterator[tuple[str, bool, bytes | None]]:
    """``(root name/relative path, is_dir, bytes)`` for everything below ``root``."""
    for file in sorted(root.rglob("*")):
        name = f"{root.name}/{file.relative_to(root).as_posix()}"
        if file.is_dir():
            yield name, True, None
        elif file.is_file():
            yield name, False, file.read_bytes() if _is_photo_name(name) else None


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
    entries: Iterator[tuple[str, bool, bytes | None]],
) -> tuple[dict[str, bytes], dict[str, tuple], list[str], set[str]]:
    """Photo files at root/class/file with their checks, misplaced ones, root/<name> folders.

    Each photo is checked in a thread pool while the rest of the archive is read.
    """
    photos: dict[str, bytes] = {}
    misplaced: list[str] = []
    folders: set[str] = set()
    checks: dict[str, Future] = {}
    pool = ThreadPoolExecutor(default_workers(), thread_name_prefix="check_photo")
    try:
        for name, is_dir, blob in entries:
            parts = PurePosixPath(name).parts
            if not parts or _hidden(parts):
                continue
            if len(parts) >= PHOTO_DEPTH or (is_dir and len(parts) == PHOTO_DEPTH - 1):
                folders.add("/".join(parts[: PHOTO_DEPTH - 1]))
            if is_dir or blob is None:
                continue
            if len(parts) != PHOTO_DEPTH:
                misplaced.append(name)
                continue
            photos[name] = blob
            checks[name] = pool.submit(_check, blob)
        results = {name: future.result() for name, future in checks.items()}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return photos, results, sorted(misplaced), folders


def _frame(entries: Iterator[tuple[str, bool, bytes | None]], where: str) -> pd.DataFrame:
    """Rows in tfds order of the usable photos at root/class/file among ``entries``."""
    photos, results, misplaced, folders = _read_and_check(entries)
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
