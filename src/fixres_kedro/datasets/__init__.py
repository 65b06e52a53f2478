"""Kedro datasets of this project: the photo source, decoded splits, backend-neutral Keras
models, figures that load back, working folders, report folders, and kedro-datasets' JSON,
CSV, Parquet and text datasets with atomic saves.

Each is imported when first named (``fixres_kedro.datasets.FigureDataset`` in the catalog):
pandas and matplotlib are not loaded by commands that read no dataset.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_MODULES = {
    "CSVDataset": "atomic", "JSONDataset": "atomic", "ParquetDataset": "atomic", "SplitDataset": "atomic",
    "TextDataset": "atomic", "TypedJSONDataset": "atomic",
    "DecodedSplitDataset": "decoded_split",
    "ClassNamesDataset": "split_manifest", "SplitManifestDataset": "split_manifest",
    "SplitPartJSONDataset": "split_manifest",
    "FigureDataset": "figure",
    "ImageSourceDataset": "photo_source",
    "KerasModelDataset": "keras_model",
    "CheckpointFolder": "local_folder", "LocalFolder": "local_folder",
    "ReportFolder": "report_folder",
    "RunProvenanceDataset": "run_provenance",
}

__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)


if TYPE_CHECKING:
    from fixres_kedro.datasets.atomic import (
        CSVDataset,
        JSONDataset,
        ParquetDataset,
        SplitDataset,
        TextDataset,
        TypedJSONDataset,
    )
    from fixres_kedro.datasets.decoded_split import DecodedSplitDataset
    from fixres_kedro.datasets.figure import FigureDataset
    from fixres_kedro.datasets.keras_model import KerasModelDataset
    from fixres_kedro.datasets.local_folder import CheckpointFolder, LocalFolder
    from fixres_kedro.datasets.photo_source import ImageSourceDataset
    from fixres_kedro.datasets.report_folder import ReportFolder
    from fixres_kedro.datasets.run_provenance import RunProvenanceDataset
    from fixres_kedro.datasets.split_manifest import ClassNamesDataset, SplitManifestDataset, SplitPartJSONDataset
