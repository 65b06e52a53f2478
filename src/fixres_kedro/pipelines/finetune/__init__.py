from fixres_kedro.pipelines.finetune.pipeline import create_pipeline

__all__ = ["create_pipeline"]
