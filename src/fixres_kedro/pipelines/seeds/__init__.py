"""Nodes of the multi-seed study (``fixres_kedro.protocol.seeds_pipeline``)."""
