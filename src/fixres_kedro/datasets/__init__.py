"""Kedro datasets of this project: the photo source, decoded splits, backend-neutral Keras
models, checkpoints, report folders."""

from fixres_kedro.datasets.checkpoint_directory import CheckpointDirectory
from fixres_kedro.datasets.decoded_split import DecodedSplitDataset
from fixres_kedro.datasets.image_source import ImageSourceDataset
from fixres_kedro.datasets.keras_model import KerasModelDataset
from fixres_kedro.datasets.report_folder import ReportFolder

__all__ = ["CheckpointDirectory", "DecodedSplitDataset", "ImageSourceDataset", "KerasModelDataset",
           "ReportFolder"]
