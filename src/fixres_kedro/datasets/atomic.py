"""Writes that appear whole or not at all, for every file dataset of the catalog.

Kedro's file datasets write their file in place: a run killed mid-write leaves a truncated
file, and for a versioned dataset that file is the newest version, which the next load
picks. Here each save writes ``<file>.<pid>-<random>.partial`` next to the target and
renames it into place in one step (same folder, so same file system). The name is the
writer's own: two runs saving the same file at once never rename each other's file away. A
versioned load lists ``<name>/<version>/<name>`` only, so a ``.partial`` left by a killed
run is never read; a full disk raises ``DiskFullError`` (one line naming the file) and
leaves nothing behind.

``atomic_file`` does it for code that writes a local file itself; ``AtomicSave`` is a
mixin for kedro-datasets' classes, whose ``save`` opens ``self._get_save_path()``:
``JSONDataset``, ``CSVDataset``, ``ParquetDataset`` and ``TextDataset`` below are
kedro-datasets' own, with atomic saves; ``SplitDataset`` also writes the file's digest.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io.core import DatasetError, get_filepath_str
from pydantic import BaseModel, ValidationError
from kedro_datasets._typing import JSONPreview
from kedro_datasets.json import JSONDataset as _JSONDataset
from kedro_datasets.pandas import CSVDataset as _CSVDataset
from kedro_datasets.pandas import ParquetDataset as _ParquetDataset
from kedro_datasets.text import TextDataset as _TextDataset

from fixres_kedro.errors import DamagedInputError, find_cause
from fixres_kedro.fixres.errors import DamagedFileError, DiskFullError, one_line
from fixres_kedro.writers import rewrite_command

PARTIAL_SUFFIX = ".partial"


def partial_name(name: str, keep_suffix: bool = False) -> str:
    """The temporary name of this writer for a file ``name``: ``<name>.<pid>-<random>.partial``
    (``<stem>.<pid>-<random>.partial<suffix>`` with ``keep_suffix``). Unique to the process
    and the save, so concurrent writers of one file never share it."""
    tag = f".{os.getpid()}-{secrets.token_hex(4)}{PARTIAL_SUFFIX}"
    if keep_suffix:
        stem, dot, suffix = name.rpartition(".")
        return f"{stem}{tag}{dot}{suffix}" if dot and stem else f"{name}{tag}"
    return name + tag


def _disk_full(error: OSError) -> bool:
    return error.errno in (errno.ENOSPC, errno.EDQUOT)


def _sync(path: str | Path) -> None:
    """Put a written file on disk before a rename makes it visible (else a crash could
    leave the new name on an empty file)."""
    with open(path, "rb+") as file:
        os.fsync(file.fileno())


@contextlib.contextmanager
def atomic_file(path: str | Path, needed: int = 0, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a partial path to write; on success it replaces ``path`` in one rename.

    The partial path is this writer's own (``partial_name``; the extension kept with
    ``keep_suffix``, for writers that insist on one). On failure it is removed;
    a full disk becomes ``DiskFullError`` naming ``path`` and ``needed`` (bytes, when the
    caller knows them; else what was written before the disk filled).
    """
    target = Path(path)
    partial = target.with_name(partial_name(target.name, keep_suffix))
    created = not target.parent.exists()  # a new version's folder: removed again on failure
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        yield partial
        _sync(partial)
        os.replace(partial, target)
    except OSError as error:
        written = partial.stat().st_size if partial.exists() else 0
        _discard(partial, created)
        if _disk_full(error):
            raise DiskFullError(target, needed or written, error) from error
        raise
    except BaseException:
        _discard(partial, created)
        raise


def _discard(partial: Path, created_folder: bool) -> None:
    partial.unlink(missing_ok=True)
    if created_folder:
        with contextlib.suppress(OSError):  # only if nothing else went there
            partial.parent.rmdir()


class AtomicSave:
    """Mixin for a kedro-datasets class whose ``save`` writes ``self._get_save_path()``.

    The parent's save runs with the save path pointing at this writer's partial file
    (``partial_name``), which is then renamed to the real path (locally with
    ``os.replace``, elsewhere with the file system's move). Put it first among the bases.
    """

    def save(self, data: Any) -> None:
        target = self._get_save_path()  # type: ignore[attr-defined]
        target = PurePosixPath(target)
        partial = target.with_name(partial_name(target.name))
        # Kedro wraps every save (logging, version bookkeeping) and wraps this one too; the
        # parent's own body is the function it wrapped, run here with the path swapped.
        parent_save = super().save  # type: ignore[misc]
        body = getattr(parent_save, "__wrapped__", None)
        write = (lambda: body(self, data)) if body is not None else (lambda: parent_save(data))
        self._get_save_path = lambda: partial  # type: ignore[method-assign]
        protocol = self._protocol  # type: ignore[attr-defined]
        fs = self._fs  # type: ignore[attr-defined]
        local = protocol == "file"
        partial_path = get_filepath_str(partial, protocol)
        target_path = get_filepath_str(target, protocol)
        try:
            write()
            self._before_rename(partial_path, target_path)
            if local:
                _sync(partial_path)
                os.replace(partial_path, target_path)
            else:
                fs.mv(partial_path, target_path)
        except BaseException as error:
            with contextlib.suppress(OSError):
                fs.rm(partial_path)
            cause = error.__cause__ if isinstance(error.__cause__, OSError) else error
            if isinstance(cause, OSError) and _disk_full(cause):
                raise DiskFullError(target_path, 0, cause) from error
            raise
        finally:
            del self._get_save_path

    def _before_rename(self, partial: str, target: str) -> None:
        """Called with the written partial file, before it becomes ``target``."""

    def written_path(self) -> Path | None:
        """The local file the last save of this run wrote (its save version, for a versioned
        dataset; None on another file system)."""
        if self._protocol != "file":  # type: ignore[attr-defined]
            return None
        version = getattr(self, "_version", None)
        path = (self._get_versioned_path(self.resolve_save_version())  # type: ignore[attr-defined]
                if version is not None else self._filepath)  # type: ignore[attr-defined]
        return Path(get_filepath_str(path, "file"))

    def saved_path(self) -> Path | None:
        """The local file of the newest version (None on another file system)."""
        if self._protocol != "file":  # type: ignore[attr-defined]
            return None
        return Path(get_filepath_str(self._get_load_path(), "file"))  # type: ignore[attr-defined]


class JSONDataset(AtomicSave, _JSONDataset):
    """``json.JSONDataset`` with atomic saves; a file that is not JSON is one line naming it
    and the command that writes it (``dataset_name``: its catalog name, for that command)."""

    def __init__(self, *, dataset_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._dataset_name = dataset_name

    def rewrite_hint(self) -> str:
        """``rewrite it with `kedro run ...```, for messages about this file."""
        if self._dataset_name is None:
            return "write it again"
        return f"rewrite it with {rewrite_command(self._dataset_name)}"

    def load(self) -> Any:
        try:
            return super().load()
        except (DatasetError, ValueError) as error:
            cause = find_cause(error, ValueError)
            if cause is None or isinstance(cause, DamagedFileError):
                raise
            raise DamagedInputError(
                f"{self._get_load_path()} is not valid JSON ({one_line(cause, 80)}): {self.rewrite_hint()}"
            ) from None


class TypedJSONDataset(JSONDataset):
    """A JSON file holding one pydantic model (``schema``: its import path, such as
    ``fixres_kedro.metrics.Metrics``): saved from an instance, loaded as one. A file that is
    not one says so in one line naming it and the command that writes it."""

    def __init__(self, *, schema: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        module, _, name = schema.rpartition(".")
        self._schema: type[BaseModel] = getattr(importlib.import_module(module), name)

    def save(self, data: BaseModel) -> None:
        super().save(data.model_dump(mode="json"))

    def preview(self) -> JSONPreview:
        """kedro-viz's JSON tree of the file."""
        return JSONPreview(json.dumps(self.load().model_dump(mode="json")))

    def load(self) -> BaseModel:
        raw = super().load()
        try:
            return self._schema.model_validate(raw)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = ".".join(map(str, first["loc"])) or "its content"
            raise DamagedInputError(
                f"{self._get_load_path()} is not a {self._schema.__name__} file ({where}: {first['msg']}): "
                f"{self.rewrite_hint()}"
            ) from None


class CSVDataset(AtomicSave, _CSVDataset):
    """``pandas.CSVDataset`` with atomic saves."""


class ParquetDataset(AtomicSave, _ParquetDataset):
    """``pandas.ParquetDataset`` with atomic saves."""


class TextDataset(AtomicSave, _TextDataset):
    """``text.TextDataset`` with atomic saves."""


DIGEST_SUFFIX = ".sha256"


def file_digest(path: str | Path) -> str:
    """The SHA-256 of a local file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def recorded_digest(path: str | Path) -> str | None:
    """The SHA-256 written beside a file (``<file>.sha256``), if it was: splits written
    before digests were had none."""
    try:
        return Path(f"{path}{DIGEST_SUFFIX}").read_text().strip() or None
    except FileNotFoundError:
        return None


class SplitDataset(ParquetDataset):
    """A split's Parquet file (``*_split@bytes``), with its SHA-256 beside it.

    The digest (``<file>.sha256``) is written before the file is renamed into place, so
    a file with a digest is always whole; ``DecodedSplitDataset`` checks both the file's
    and, where the file's does not match or is missing, each photo's (the ``sha256`` column
    ``split_dataset`` adds) when it reads.
    """

    def recorded_digest(self) -> str | None:
        """The SHA-256 recorded beside the file (None without one)."""
        return recorded_digest(self._filepath) if self._protocol == "file" else None  # type: ignore[attr-defined]

    def _before_rename(self, partial: str, target: str) -> None:
        if self._protocol != "file":  # type: ignore[attr-defined]
            return
        with atomic_file(target + DIGEST_SUFFIX) as digest_file:
            digest_file.write_text(file_digest(partial) + "\n")
