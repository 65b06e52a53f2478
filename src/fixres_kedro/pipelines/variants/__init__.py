from fixres_kedro.pipelines.variants.pipeline import create_pipeline

__all__ = ["create_pipeline"]
