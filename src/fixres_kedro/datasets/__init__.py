"""Kedro datasets of this project: the photo source, backend-neutral Keras models, checkpoints."""

from fixres_kedro.datasets.checkpoint_directory import CheckpointDirectory
from fixres_kedro.datasets.image_source import ImageSourceDataset
from fixres_kedro.datasets.keras_model import KerasModelDataset

__all__ = ["CheckpointDirectory", "ImageSourceDataset", "KerasModelDataset"]
