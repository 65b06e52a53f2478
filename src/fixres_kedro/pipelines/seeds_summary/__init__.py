"""The ``seeds_summary`` pipeline: the multi-seed statistics of whatever seeds finished."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
