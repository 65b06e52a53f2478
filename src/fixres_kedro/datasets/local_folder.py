"""``LocalFolder``: a working folder of the project, loaded as its path.

Training runs keep their resume checkpoints in one (``training_checkpoints``); the
backends keep compiled programs in another (``compilation_cache``). Loading the dataset
gives the folder's absolute path (the catalog resolves ``filepath`` against the project
root), which the nodes and hooks hand to the code that writes there. It is never saved
to: what is in it is not a result of the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError


class LocalFolder(AbstractDataset[None, str]):
    """A local folder; ``load`` returns its path."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> str:
        return str(self._filepath)

    def save(self, data: None) -> None:
        raise DatasetError(f"LocalFolder({self._filepath}) is written by the run's code, not saved to")

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
