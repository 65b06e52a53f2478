"""The ``fixres`` pipeline: the whole experiment (split, three runs, comparison)."""

from kedro.pipeline import Pipeline

from fixres_kedro.pipelines.data.pipeline import create_pipeline as data_pipeline
from fixres_kedro.pipelines.report.pipeline import create_pipeline as report_pipeline
from fixres_kedro.pipelines.training.pipeline import create_pipeline as training_pipeline


def create_pipeline(**kwargs) -> Pipeline:
    return data_pipeline() + training_pipeline() + report_pipeline()
