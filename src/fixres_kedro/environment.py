"""The run's configuration environment, as ``KEDRO_ENV``: the pipeline registry reads the
``seeds`` of that environment, so the CLI and ``ParametersHook`` set it to ``--env``."""

from __future__ import annotations

import os
from pathlib import Path

from kedro.config import OmegaConfigLoader
from kedro.framework.project import pipelines, settings
from kedro.utils import find_kedro_project

DEFAULT_ENV = "local"
REGISTRY = "fixres_kedro.pipeline_registry"


def use_environment(env: str | None) -> str:
    """Make ``env`` (None: ``KEDRO_ENV``, else ``local``) the environment of this process;
    pipelines registered for another one are registered again when next asked for."""
    env = env or os.environ.get("KEDRO_ENV") or DEFAULT_ENV
    if os.environ.get("KEDRO_ENV", DEFAULT_ENV) != env:
        os.environ["KEDRO_ENV"] = env
        pipelines.configure(REGISTRY)
    return env


def restore_environment(saved: str | None) -> None:
    """Put ``KEDRO_ENV`` back to ``saved`` (None: unset) after a command that chose another."""
    if os.environ.get("KEDRO_ENV") == saved:
        return
    if saved is None:
        os.environ.pop("KEDRO_ENV", None)
    else:
        os.environ["KEDRO_ENV"] = saved
    pipelines.configure(REGISTRY)


def project_path() -> Path:
    """The project folder holding the working directory, as ``kedro`` finds it."""
    return find_kedro_project(Path.cwd()) or Path.cwd()


def config_loader(env: str | None = None) -> OmegaConfigLoader:
    """The project's configuration for ``env`` (default: ``KEDRO_ENV``, else ``local``)."""
    return OmegaConfigLoader(str(project_path() / settings.CONF_SOURCE),
                             env=env or os.environ.get("KEDRO_ENV"), **settings.CONFIG_LOADER_ARGS)
