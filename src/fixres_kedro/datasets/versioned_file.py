"""``VersionedFile``: what the project's own versioned file datasets share.

A file on any fsspec file system, versioned by Kedro (``<name>/<version>/<name>``); the
subclasses say how to save and load it (``KerasModelDataset``, ``FigureDataset``).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)


class VersionedFile(AbstractVersionedDataset):
    """Base of a dataset stored as one (optionally versioned) file."""

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **(fs_args or {}))
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path), version=version,
            exists_function=self._fs.exists, glob_function=self._fs.glob,
        )

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}

    def _load_path(self) -> str:
        """The file to load: the newest version, unless one was asked for."""
        return get_filepath_str(self._get_load_path(), self._protocol)

    def saved_path(self) -> Path | None:
        """The local file of the newest version (None on another file system)."""
        return Path(self._load_path()) if self._protocol == "file" else None

    def _save_path(self) -> str:
        """The file this save writes (a new version's, when versioned)."""
        return get_filepath_str(self._get_save_path(), self._protocol)

    def _exists(self) -> bool:
        try:
            path = self._load_path()
        except DatasetError:
            return False
        return self._fs.exists(path)
