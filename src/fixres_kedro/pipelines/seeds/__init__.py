from fixres_kedro.pipelines.seeds.pipeline import create_pipeline, create_summary_pipeline

__all__ = ["create_pipeline", "create_summary_pipeline"]
