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
"""

from __future__ import annotations

import logging
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from kedro.io.core import AbstractDataset

from fixres_kedro.datasets.tfds_order import tfds_order
from fixres_kedro.errors import DataSourceError

logger = logging.getLogger(__name__)

SOURCES = ("tfds", "archive", "image_folder")
TF_FLOWERS_CLASSES = ["dandelion", "daisy", "tulips", "sunflowers", "roses"]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


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
            files = dict(_archive_files(path))
        else:
            if not path.is_dir():
                raise DataSourceError(
                    f"data.path: {path} is not a folder; use data.source=archive for a file"
                )
            files = dict(_folder_files(path))
        return _frame(files, where=str(path))

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


def _class_and_name(member: str) -> tuple[str, str] | None:
    """``(class, file)`` of an image file at ``<root>/<class>/<file>``, else None."""
    parts = PurePosixPath(member).parts
    if not parts or not parts[-1].lower().endswith(IMAGE_SUFFIXES):
        return None
    if any(part.startswith(".") or part == "__MACOSX" for part in parts):
        return None
    if len(parts) < 2:
        return ("", parts[-1])
    return parts[-2], parts[-1]


def _archive_files(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(member, bytes)`` for each image file in a tar or zip archive."""
    try:
        yield from _read_archive(path)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
        # A truncated download or a damaged archive fails only while its members are read.
        raise DataSourceError(
            f"data.path: {path} could not be read to its end ({error}); "
            "is the archive damaged or incomplete?"
        ) from error


def _read_archive(path: Path) -> Iterator[tuple[str, bytes]]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.is_dir() and _class_and_name(info.filename):
                    yield info.filename, archive.read(info)
        return
    try:
        archive = tarfile.open(path)
    except (tarfile.TarError, OSError) as error:
        raise DataSourceError(f"data.path: {path} is not a tar or zip archive ({error})") from error
    with archive:
        for member in archive:
            if member.isfile() and _class_and_name(member.name):
                yield member.name, archive.extractfile(member).read()


def _folder_files(root: Path) -> Iterator[tuple[str, bytes]]:
    """``(relative path, bytes)`` for each image file below ``root``."""
    for file in sorted(root.rglob("*")):
        relative = file.relative_to(root).as_posix()
        if file.is_file() and _class_and_name(relative):
            yield f"{root.name}/{relative}", file.read_bytes()


def _frame(files: dict[str, bytes], where: str) -> pd.DataFrame:
    """Rows in tfds order from ``{member path: bytes}`` laid out root/class/file."""
    depths = {len(PurePosixPath(member).parts) for member in files}
    if not files:
        raise DataSourceError(
            f"data.path: no .jpg/.jpeg/.png files in {where}; "
            "expected the layout <root>/<class>/<file>.jpg"
        )
    if depths != {3}:
        raise DataSourceError(
            f"data.path: {where} is not laid out <root>/<class>/<file>.jpg "
            f"(image files found at {sorted(depths)} levels, expected 3)"
        )
    keys, classes, blobs = [], [], []
    for member, blob in files.items():
        class_name, file_name = _class_and_name(member)
        keys.append(f"{class_name}/{file_name}")
        classes.append(class_name.lower())
        blobs.append(blob)
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
