"""``ImageSourceDataset``: the Kedro face of the photo source. It checks its catalog
arguments, picks the reader for the source, and lays the photos out as one frame in tfds'
order, so that the split node only has to slice; the readers and the survey do the rest.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from kedro.io.core import AbstractDataset

from fixres_kedro.datasets.photo_source.archive import archive_entries
from fixres_kedro.datasets.photo_source.checking import read_photos
from fixres_kedro.datasets.photo_source.entry import MEGABYTE, Entry
from fixres_kedro.datasets.photo_source.folder import folder_entries
from fixres_kedro.datasets.photo_source.survey import Survey
from fixres_kedro.datasets.photo_source.tfds import load_tfds
from fixres_kedro.datasets.photo_source.tfds_order import tfds_order
from fixres_kedro.errors import DataSourceError

SOURCES = ("tfds", "archive", "image_folder")
TF_FLOWERS_CLASSES = ["dandelion", "daisy", "tulips", "sunflowers", "roses"]
DEFAULT_MAX_PHOTO_MEGABYTES = 64


def _check_arguments(source: str, path: str | None, max_photo_megabytes: Any) -> None:
    if source not in SOURCES:
        raise DataSourceError(f"data.source: unknown source {source!r}; use one of {', '.join(SOURCES)}")
    if source != "tfds" and not path:
        raise DataSourceError(
            f"data.path: the {source} source needs a path (set FIXRES_DATA_PATH or --params data.path=...)"
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
        _check_arguments(source, path, max_photo_megabytes)
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
            return load_tfds(self._tfds_name, self._tfds_data_dir)
        path = Path(self._path).expanduser()
        survey = Survey(str(path), kind="archive member" if self._source == "archive" else "item")
        photos = read_photos(self._entries(path), survey)
        survey.report()
        frame = photo_frame(photos)
        survey.note_read(len(frame), frame["label"].nunique())
        return frame

    def _entries(self, path: Path) -> Iterator[Entry]:
        limit = int(self._max_photo_megabytes * MEGABYTE)
        if not path.exists():
            raise DataSourceError(f"data.path: {path} does not exist")
        if self._source == "archive":
            if path.is_dir():
                raise DataSourceError(f"data.path: {path} is a folder; use data.source=image_folder for it")
            return archive_entries(path, limit)
        if not path.is_dir():
            raise DataSourceError(f"data.path: {path} is not a folder; use data.source=archive for a file")
        return folder_entries(path, limit)


def photo_frame(photos: dict[str, bytes]) -> pd.DataFrame:
    """The rows of ``{root/class/file: bytes}`` in tfds' order: ``key`` is ``class/file``;
    labels follow tfds' for tf_flowers' five classes, else the sorted class names."""
    keys, classes = [], []
    for name in photos:
        _, class_name, file_name = PurePosixPath(name).parts
        keys.append(f"{class_name}/{file_name}")
        classes.append(class_name.lower())
    found = sorted(set(classes))
    names = TF_FLOWERS_CLASSES if set(found) == set(TF_FLOWERS_CLASSES) else found
    index = {name: label for label, name in enumerate(names)}
    blobs = list(photos.values())
    order = tfds_order(keys)
    return pd.DataFrame(
        {
            "key": [keys[i] for i in order],
            "label": [index[classes[i]] for i in order],
            "class_name": [classes[i] for i in order],
            "image": [blobs[i] for i in order],
        }
    )
