"""Kedro runners of the project: ``kedro run --runner=fixres_kedro.runners.DaskRunner``."""

from fixres_kedro.runners.dask import DaskRunner

__all__ = ["DaskRunner"]
