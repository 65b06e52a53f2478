"""Nodes of the three training runs (``fixres_kedro.protocol.run_pipeline``)."""
