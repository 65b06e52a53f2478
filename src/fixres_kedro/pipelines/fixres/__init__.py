from fixres_kedro.pipelines.fixres.pipeline import create_pipeline

__all__ = ["create_pipeline"]
