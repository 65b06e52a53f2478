"""``CheckpointDirectory``: where training runs keep their resume checkpoints.

Loading it gives the folder's absolute path (the catalog resolves ``filepath``
against the project root), which training nodes pass to Keras' checkpointing. It
is an input, not an output: checkpoints live only while a run is unfinished, so a
killed run can resume; the trained models themselves are versioned catalog outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError


class CheckpointDirectory(AbstractDataset[None, str]):
    """A local folder for resume checkpoints; ``load`` returns its path."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> str:
        return str(self._filepath)

    def save(self, data: None) -> None:
        raise DatasetError("CheckpointDirectory is written by training nodes, not saved to")

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
