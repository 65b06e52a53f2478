from fixres_kedro.pipelines.initial.pipeline import create_pipeline

__all__ = ["create_pipeline"]
