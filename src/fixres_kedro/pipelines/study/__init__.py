"""The study report (``fixres_kedro.pipeline_registry``: the ``study`` pipeline)."""
