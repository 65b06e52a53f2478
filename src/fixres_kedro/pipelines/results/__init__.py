"""The ``results`` pipeline: ``docs/results.md`` and its sweep picture, from the study's outputs."""

from fixres_kedro.pipelines.results.pipeline import create_pipeline

__all__ = ["create_pipeline"]
