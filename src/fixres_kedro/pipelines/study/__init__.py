"""The study report (``fixres_kedro.protocol``: the ``study`` pipeline)."""
