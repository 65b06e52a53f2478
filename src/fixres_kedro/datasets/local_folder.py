"""``LocalFolder``: a working folder of the project, loaded as its path.

The backends keep compiled programs in one (``compilation_cache``), the trainings their
resume checkpoints in another (``training_checkpoints``, a ``CheckpointFolder``). Never
saved to: what is in them is not a result of the run.
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


class CheckpointFolder(LocalFolder):
    """The folder of the trainings' resume checkpoints; ``load`` returns a
    ``fixres.checkpoint.Checkpoints`` there, which ``CheckpointHook`` cleans up after."""

    def load(self) -> Any:
        from fixres_kedro.fixres.backend import start_backend  # noqa: PLC0415

        start_backend()  # the checkpoints hold Keras variables
        from fixres_kedro.fixres.checkpoint import Checkpoints  # noqa: PLC0415

        return Checkpoints(self._filepath)
