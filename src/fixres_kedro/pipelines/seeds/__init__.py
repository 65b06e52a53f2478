"""Nodes of the multi-seed study (``fixres_kedro.pipeline_registry.seeds_pipeline``)."""
