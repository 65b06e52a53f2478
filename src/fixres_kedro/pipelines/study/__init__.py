from fixres_kedro.pipelines.study.pipeline import create_pipeline

__all__ = ["create_pipeline"]
