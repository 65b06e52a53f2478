"""Kedro datasets of this project: the photo source, decoded splits, backend-neutral Keras
models, figures that load back, working folders, report folders, and kedro-datasets' JSON,
CSV, Parquet and text datasets with atomic saves."""

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
from fixres_kedro.datasets.photo_source import ImageSourceDataset
from fixres_kedro.datasets.keras_model import KerasModelDataset
from fixres_kedro.datasets.local_folder import CheckpointFolder, LocalFolder
from fixres_kedro.datasets.report_folder import ReportFolder
from fixres_kedro.datasets.run_provenance import RunProvenanceDataset

__all__ = [
    "CSVDataset", "CheckpointFolder", "DecodedSplitDataset", "FigureDataset",
    "ImageSourceDataset", "JSONDataset", "KerasModelDataset", "LocalFolder", "ParquetDataset",
    "ReportFolder", "RunProvenanceDataset", "SplitDataset", "TextDataset", "TypedJSONDataset",
]
