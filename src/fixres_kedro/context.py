"""The project's Kedro context: the whole parameter tree checked first, and the pipelines
of the run's configuration environment.

Kedro checks a node's typed parameters (``kedro/validation``) when it builds the catalog.
``FixResContext`` checks the whole tree against ``ExperimentParameters`` before that, the
first time anything reads the parameters (a hook, the catalog), so that an unknown key, a
key the nodes do not read (``seed``, ``runtime``: read by hooks too) or a rule across
sections also stops the run with one line. It also tells the pipeline registry which
environment the session runs in, before any pipeline is registered.
"""

from __future__ import annotations

from typing import Any

from kedro.framework.context import KedroContext

from fixres_kedro.parameters import ExperimentParameters
from fixres_kedro.pipeline_registry import use_environment


class FixResContext(KedroContext):
    """``KedroContext`` whose parameters are checked whole (``ExperimentParameters``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_environment(self.env, self.project_path)

    def _get_validated_params(self) -> dict[str, Any]:
        if self._validated_params_cache is None:  # once: Kedro caches what it validated
            ExperimentParameters(**self.config_loader["parameters"])  # raises, naming each key
        return super()._get_validated_params()
