"""``RunProvenanceDataset``: where a node's results come from, as the node reads it.

It loads an empty ``Provenance``; ``ProvenanceHook`` hands the node the run's (its id,
environment, commit and input versions) instead, so a node called without the hooks
still runs.
"""

from __future__ import annotations

from typing import Any

from kedro.io.core import AbstractDataset, DatasetError

from fixres_kedro.metrics import Provenance


class RunProvenanceDataset(AbstractDataset[None, Provenance]):
    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata

    def load(self) -> Provenance:
        return Provenance()

    def save(self, data: None) -> None:
        raise DatasetError("run_provenance is the run's, not saved to")

    def _describe(self) -> dict[str, Any]:
        return {}
