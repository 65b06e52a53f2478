from fixres_kedro.pipelines.vanilla.pipeline import create_pipeline

__all__ = ["create_pipeline"]
