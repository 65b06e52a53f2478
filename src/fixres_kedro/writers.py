"""Which registered pipeline writes a dataset, for messages that say how to rewrite it.

A file a node reads may be missing, damaged or from another run; the one line that says
so ends with the command that writes it again, e.g. ``kedro run --pipelines=data --env
smoke``. The pipeline named is the smallest registered one whose outputs include the
dataset (``train_split@decoded`` is written as ``train_split@bytes``).
"""

from __future__ import annotations

import os
from typing import Any


def run_environment() -> str:
    """The run's configuration environment (``ParametersHook`` sets ``KEDRO_ENV``)."""
    return os.environ.get("KEDRO_ENV") or "local"


def _base(name: str) -> str:
    return name.split("@")[0]


def writing_pipeline(dataset_name: str, registered: dict[str, Any] | None = None) -> str | None:
    """The smallest registered pipeline that writes ``dataset_name`` (None: none does, or
    no project is configured in this process)."""
    if registered is None:
        try:
            from kedro.framework.project import pipelines  # noqa: PLC0415

            registered = dict(pipelines.items())
        except Exception:  # noqa: BLE001 - a message never fails for want of a registry
            return None
    writers = [(len(pipeline.nodes), name) for name, pipeline in registered.items()
               if name != "__default__" and _base(dataset_name) in {_base(out) for out in pipeline.all_outputs()}]
    return min(writers)[1] if writers else None


def rewrite_command(dataset_name: str, env: str | None = None, default: str | None = None) -> str:
    """``kedro run --pipelines=<writer> --env <env>`` for ``dataset_name``, in backquotes
    (``default``: the writer where no registry says, as outside a project)."""
    env = env or run_environment()
    pipeline = writing_pipeline(dataset_name) or default
    return f"`kedro run --pipelines={pipeline} --env {env}`" if pipeline else f"`kedro run --env {env}`"
