from fixres_kedro.pipelines.seeds.pipeline import create_pipeline

__all__ = ["create_pipeline"]
