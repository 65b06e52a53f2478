"""``DecodedSplitDataset``: a persisted split read back with its photos decoded.

The ``data`` pipeline writes each split as Parquet rows of encoded photos
(``train_split@bytes``, a ``SplitDataset``). The training nodes read the same
file through this dataset (``train_split@decoded``, Kedro transcoding), so decoding is
the I/O layer's job and a node never holds the encoded split next to the decoded one:

* the file is read with pyarrow in row batches (``batch_rows``, 256 by default). Arrow
  reads a whole row group at a time, so the ``@bytes`` entries write row groups of 256
  rows (``save_args: row_group_size``): then only one row group of encoded photos is in
  memory at a time. After each one, the memory Arrow's allocator and glibc keep from it
  is handed back (Arrow's ``release_unused``, ``psutil.heap_trim``); otherwise some
  100 MiB of it would add to the peak. A file of one row group still loads, with the
  whole encoded column read at once;
* each batch's photos are decoded on a thread pool with
  ``fixres_kedro.fixres.photos.decode_photos`` and the encoded bytes dropped;
* ``load`` returns a ``pandas.DataFrame`` with the split's columns (``key``, ``label``,
  ``class_name``, ``image``, ``sha256``) where ``image`` holds RGB ``uint8``
  ``(height, width, 3)`` arrays.

Decoding happens once per process and file: the last two splits read (the train and the
validation split of a run) are kept, keyed by the file's resolved path, modification
time (ns) and size, so the ``initial``, ``finetune`` and ``vanilla`` nodes of one
``kedro run`` share one decode; a rewritten file is read again. Every ``load`` returns a
new DataFrame over the same (not copied) arrays: nodes must not modify the pixels.

Nothing damaged is decoded silently: the file's SHA-256 (``<file>.sha256``, written by
``SplitDataset``) is checked, and each photo's (the ``sha256`` column of
``split_dataset``) where the file does not match it or has none; a mismatch, or a file
pyarrow cannot read, stops the load with one ``DamagedFileError`` line naming the file
and, where a photo changed, its row. (Splits
written before the digests existed load unchecked.) A photo that cannot be decoded stops
the load with a ``DataSourceError`` naming its position in the split
(``ImageSourceDataset`` skips such photos, so the split is stale). The dataset is
read-only: ``save`` refuses, the split is written through its ``@bytes`` entry.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from kedro.io.core import AbstractDataset, DatasetError

from fixres_kedro.datasets.atomic import DIGEST_SUFFIX, file_digest, recorded_digest
from fixres_kedro.datasets.split_manifest import check_part, manifest_path
from fixres_kedro.errors import DataSourceError
from fixres_kedro.fixres.errors import DamagedFileError, FixResError, UnreadablePhotoError, one_line
from fixres_kedro.fixres.photos import decode_photos
from fixres_kedro.workers import photo_threads

IMAGE_COLUMN = "image"
DIGEST_COLUMN = "sha256"  # of each photo's bytes (split_dataset)
DEFAULT_BATCH_ROWS = 256
READ_BUFFER_BYTES = 1 << 20  # buffered reads of the file, not one read per column chunk

_CacheKey = tuple[str, int, int]


# Hands the C heap's free pages back to the system (glibc's malloc_trim; a no-op where
# psutil has none). The source's photos and the rows read so far were freed, but glibc
# keeps them resident beside the decoded split: some 220 MiB more at the peak after the
# data pipeline in the same process (benchmarks/photo_reading.py --decoded-split).
_trim_heap = getattr(psutil, "heap_trim", lambda: None)


class DecodedCache:
    """The last ``size`` decoded splits of this process, by a key the caller chooses.

    ``get(key, decode)`` returns the kept value for ``key`` or stores ``decode()``'s;
    ``same_source`` drops older keys of the same source first (a rewritten file), so a
    split is never held twice. Thread-safe: ``ParallelRunner`` and ``ThreadRunner`` nodes
    may load at once.
    """

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._kept: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, decode: Callable[[], Any],
            same_source: Callable[[Hashable], bool] | None = None) -> Any:
        with self._lock:
            if key not in self._kept:
                for stale in [k for k in self._kept if same_source and same_source(k)]:
                    del self._kept[stale]
                self._kept[key] = decode()
                while len(self._kept) > self.size:
                    self._kept.popitem(last=False)
            self._kept.move_to_end(key)
            return self._kept[key]

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


# The train and the validation split of the current run.
DECODED_SPLITS = DecodedCache(size=2)


def clear_cache() -> None:
    """Forget every decoded split of this process (tests; freeing memory)."""
    DECODED_SPLITS.clear()


def _rerun() -> str:
    """The end of a damaged-split line: the command that rewrites it in the run's environment."""
    env = os.environ.get("KEDRO_ENV", "local")  # the run's (ParametersHook sets it)
    return f": the split is damaged; write it again with `kedro run --pipelines=data --env {env}`"


def _check_rows(path: str, start: int, encoded: list[bytes], digests: list[str]) -> None:
    for offset, (blob, digest) in enumerate(zip(encoded, digests)):
        if hashlib.sha256(blob).hexdigest() != digest:
            raise DamagedFileError(
                f"{path}: the photo of row {start + offset} does not match its digest{_rerun()}"
            )


class DecodedSplitDataset(AbstractDataset[None, pd.DataFrame]):
    """Load-only: a split's Parquet file with its ``image`` column decoded.

    Example catalog entries (transcoding: the same file, two ways)::

        train_split@bytes:
          type: pandas.ParquetDataset
          filepath: data/02_intermediate/train_split.parquet

        train_split@decoded:
          type: fixres_kedro.datasets.DecodedSplitDataset
          filepath: data/02_intermediate/train_split.parquet

    ``workers``: decoding threads (0: one per CPU core). ``batch_rows``: rows read and
    decoded at a time. ``manifest``: the split's manifest (``split_manifest``; a path or ``{filepath: ...}``), checked on
    every load: the file must be the ``part`` (default: the file's stem) that the data run
    which wrote the rest of the split recorded there.
    """

    def __init__(
        self,
        filepath: str,
        workers: int = 0,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        manifest: str | dict[str, str] | None = None,
        part: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if batch_rows < 1:
            raise ValueError(f"batch_rows must be at least 1, got {batch_rows}")
        self._filepath = Path(filepath)
        self._workers = workers
        self._batch_rows = batch_rows
        self._manifest = manifest_path(manifest) if manifest is not None else None
        self._part = part or self._filepath.stem
        self.metadata = metadata

    def recorded_digest(self) -> str | None:
        """The SHA-256 recorded beside the split's file (None without one): what
        identifies the split a result was computed from."""
        return recorded_digest(self._filepath)

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "workers": self._workers,
            "batch_rows": self._batch_rows,
            "manifest": self._manifest,
        }

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def save(self, data: Any) -> None:
        raise DatasetError(
            f"DecodedSplitDataset({self._filepath}) is read-only: save the split through "
            "its encoded entry (e.g. 'train_split@bytes'), then load '...@decoded'."
        )

    def _cache_key(self) -> _CacheKey:
        path = self._filepath.resolve()
        try:
            stat = path.stat()
        except FileNotFoundError as error:
            env = os.environ.get("KEDRO_ENV", "local")  # the run's (ParametersHook sets it)
            raise DataSourceError(
                f"{self._filepath}: no such split file in the {env} environment: write it with "
                f"`kedro run --pipelines=data --env {env}` first"
            ) from error
        return str(path), stat.st_mtime_ns, stat.st_size

    def load(self) -> pd.DataFrame:
        key = self._cache_key()
        if self._manifest is not None:  # the recorded digest: the file's own is checked when read
            check_part(self._manifest, self._part, key[0], recorded_digest(key[0]) or file_digest(key[0]))
        # An older decode of this same path (a rewritten file) is dropped first.
        frame = DECODED_SPLITS.get(key, lambda: self._read(key[0]),
                                   same_source=lambda other: other[0] == key[0])
        # A new frame over the same column arrays (and the same image arrays).
        return frame.copy(deep=False)

    def _read(self, path: str) -> pd.DataFrame:
        try:
            return self._read_checked(path)
        except FixResError:
            raise
        except (OSError, ValueError) as error:  # what pyarrow raises for a damaged file
            raise DamagedFileError(f"{path} cannot be read ({one_line(error, 160)}){_rerun()}") from error

    def _find_damaged_row(self, path: str) -> None:
        """Raise ``DamagedFileError`` naming the first row whose photo fails its digest."""
        import pyarrow.parquet as pq  # noqa: PLC0415

        parquet = pq.ParquetFile(path, buffer_size=READ_BUFFER_BYTES, pre_buffer=False)
        if DIGEST_COLUMN not in parquet.schema_arrow.names:
            return
        start = 0
        for batch in parquet.iter_batches(batch_size=self._batch_rows, columns=[IMAGE_COLUMN, DIGEST_COLUMN],
                                          use_threads=False):
            encoded = batch.column(IMAGE_COLUMN).to_pylist()
            _check_rows(path, start, encoded, batch.column(DIGEST_COLUMN).to_pylist())
            start += len(encoded)

    def _read_checked(self, path: str) -> pd.DataFrame:
        import pyarrow as pa  # noqa: PLC0415
        import pyarrow.parquet as pq  # noqa: PLC0415

        expected = recorded_digest(path)
        if expected is not None and file_digest(path) != expected:
            # Name the damaged row if a photo is what changed; else the file.
            self._find_damaged_row(path)
            raise DamagedFileError(f"{path} does not match its digest ({path}{DIGEST_SUFFIX}){_rerun()}")
        pool_release = pa.default_memory_pool().release_unused
        parquet = pq.ParquetFile(path, buffer_size=READ_BUFFER_BYTES, pre_buffer=False)
        names = parquet.schema_arrow.names
        if IMAGE_COLUMN not in names:
            raise DatasetError(f"{path}: a split needs an '{IMAGE_COLUMN}' column, got {names}")
        count = parquet.metadata.num_rows
        # A file that matched its recorded digest holds the photos as written: each
        # photo's own digest is checked only where the file has none (an older split).
        check_rows = expected is None and DIGEST_COLUMN in names
        others = [name for name in names if name != IMAGE_COLUMN]
        images: list[np.ndarray] = []
        parts: list[pd.DataFrame] = []

        for batch in parquet.iter_batches(batch_size=self._batch_rows, use_threads=False):
            encoded = batch.column(IMAGE_COLUMN).to_pylist()
            start = len(images)
            if check_rows:
                _check_rows(path, start, encoded, batch.column(DIGEST_COLUMN).to_pylist())
            try:
                images.extend(decode_photos(
                    encoded, self._workers or photo_threads(),
                    lambda index, start=start: f"photo {start + index} of the split {path} ({count} photos)",
                ))
            except UnreadablePhotoError as error:  # the source's load skips these: stale?
                raise DataSourceError(f"data.path: {error}") from error
            del encoded
            parts.append(batch.select(others).to_pandas())
            del batch
            # Arrow's allocator (mimalloc) and glibc keep the freed pages of the
            # batches read so far: hand them back as we go, or they add some 100 MiB
            # to the peak next to the decoded photos.
            pool_release()
            _trim_heap()
        del parquet
        pool_release()
        frame = (
            pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=others)
        )
        column = np.empty(len(images), dtype=object)  # 1-D: never stacked into 4-D
        for index, image in enumerate(images):
            column[index] = image
        frame[IMAGE_COLUMN] = column
        return frame[names]
