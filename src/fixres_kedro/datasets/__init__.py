"""Kedro datasets of this project: the photo source and backend-neutral Keras models."""

from fixres_kedro.datasets.image_source import ImageSourceDataset
from fixres_kedro.datasets.keras_model import KerasModelDataset

__all__ = ["ImageSourceDataset", "KerasModelDataset"]
