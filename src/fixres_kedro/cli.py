"""Project CLI: Kedro's ``run`` and ``registry``, ending on one clear line when the user
must fix something.

* A wrong parameter, a missing archive, a damaged file, a full disk: a ``FixResError``
  raised somewhere below Kedro's runner is printed as ``Error: <what and where>`` and the
  command exits with status 1, instead of a page of stack trace; a full disk's line adds
  that ``kedro prune`` frees space (the core knows no commands). Any other exception keeps
  its traceback.
* An unknown pipeline, node or namespace is refused before anything runs, listing the
  valid names, closest first.
* ``kedro run --resume <run id>``: continue that run, cut short, as that run (its save
  version), running only the nodes whose outputs of that version are missing
  (``fixres_kedro.session``); the stop line of a run prints the command.
* ``kedro registry describe <name> --env <env>``: the pipelines of that environment (the
  ``seeds`` pipeline's namespaces follow its seeds).
"""

from __future__ import annotations

import difflib
import os
import re
from typing import Any

import click
import yaml
from kedro.framework.cli.project import run as kedro_run
from kedro.framework.project import pipelines as registered_pipelines
from kedro.framework.project import settings
from kedro.io.core import VersionNotFoundError
from kedro.pipeline import Pipeline

from fixres_kedro.environment import config_loader, project_path, restore_environment, use_environment
from fixres_kedro.errors import DiskFullError, FixResError, StoppedError, find_cause, find_user_error
from fixres_kedro.session import resuming
from fixres_kedro.workers import PARALLEL_WORKERS

SHOWN = 12  # names listed in an unknown-name error before "and N more"
PRUNE_HINT = " (`kedro prune` removes old versions)"


class UnknownNameError(FixResError, ValueError):
    """A pipeline, node or namespace that does not exist, with the valid ones."""

    def __init__(self, kind: str, name: str, valid: list[str], where: str = "") -> None:
        ranked = sorted(valid, key=lambda v: -difflib.SequenceMatcher(None, name, v).ratio())
        shown = ", ".join(ranked[:SHOWN])
        more = f" and {len(ranked) - SHOWN} more" if len(ranked) > SHOWN else ""
        super().__init__(f"no {kind} named {name!r}{where}; {kind}s, closest first: {shown}{more}")


def _missing_version(error: BaseException) -> str | None:
    """One line for an input that has no saved version in this environment's data."""
    current = find_cause(error, VersionNotFoundError)
    if current is None:
        return None
    found = re.search(r"filepath=(?:PurePosixPath\()?'([^']+)'", str(current))
    where = found.group(1) if found else "an input"
    return (f"nothing is saved yet at {where}: run the pipeline that writes it first "
            "(each environment has its own data: --env chooses which)")


def user_message(error: BaseException) -> str | None:
    """The one line to print for ``error``, if the user can fix it; None otherwise."""
    user_error = find_user_error(error)
    if user_error is None:
        return _missing_version(error)
    message = f"{user_error}{PRUNE_HINT}" if isinstance(user_error, DiskFullError) else str(user_error)
    return " ".join([message, *getattr(user_error, "__notes__", ())])  # e.g. hooks.ResumeHintHook's


class _UserErrorsOnOneLine(click.Command):
    def invoke(self, ctx: click.Context) -> Any:
        # The command's --env becomes KEDRO_ENV while it runs (fixres_kedro.environment),
        # and only then: a command invoked after it in the same process starts afresh.
        saved = os.environ.get("KEDRO_ENV")
        try:
            return super().invoke(ctx)
        except Exception as error:
            message = user_message(error)
            if message is None:
                raise
            failure = click.ClickException(message)
            stopped = find_cause(error, StoppedError)
            if stopped is not None:
                failure.exit_code = stopped.exit_code  # 130 after Ctrl-C, as the shell expects
            raise failure from None
        finally:
            restore_environment(saved)


def _project_pipelines(env: str | None, requested: list[str] | None = None) -> dict[str, Pipeline]:
    """Every pipeline of ``env``. ``requested`` as ``KedroSession.run`` will ask, so that
    the run finds them registered already (a different request registers them again)."""
    check_environment(env)
    use_environment(env)
    registered_pipelines.set_requested(requested)
    return dict(registered_pipelines)


def check_names(
    env: str | None, pipelines: list[str], node_names: list[str] | tuple[str, ...] = (),
    from_nodes: list[str] | tuple[str, ...] = (), to_nodes: list[str] | tuple[str, ...] = (),
    namespaces: list[str] | tuple[str, ...] = (),
) -> None:
    """Raise ``UnknownNameError`` for the first pipeline, node or namespace that does not exist."""
    registered = _project_pipelines(env, pipelines or None)
    valid_pipelines = sorted(name for name in registered if name != "__default__")
    for name in pipelines:
        if name not in registered:
            raise UnknownNameError("pipeline", name, valid_pipelines)
    chosen = sum((registered[name] for name in pipelines or ["__default__"]), Pipeline([]))
    where = f" in the pipeline {', '.join(pipelines) or 'fixres (the default)'}"
    nodes = [node.name for node in chosen.nodes]
    for name in [*node_names, *from_nodes, *to_nodes]:
        if name not in nodes:
            raise UnknownNameError("node", name, nodes, where)
    spaces = sorted({".".join(node.name.split(".")[:depth]) for node in chosen.nodes
                     for depth in range(1, node.name.count(".") + 1)})
    for name in namespaces:
        if name not in spaces:
            raise UnknownNameError("namespace", name, spaces, where)


def check_environment(env: str | None) -> None:
    """``UnknownNameError`` for an environment (``--env``, else ``KEDRO_ENV``) with no folder
    in ``conf/``."""
    env = env or os.environ.get("KEDRO_ENV")
    conf = project_path() / settings.CONF_SOURCE
    known = sorted(p.name for p in conf.iterdir() if p.is_dir()) if conf.is_dir() else []
    if env and known and env not in known:
        raise UnknownNameError("environment", env, [name for name in known if name != "base"],
                               " (--env or KEDRO_ENV) in conf/")


RESUME = click.Option(
    ["--resume"], default=None, metavar="RUN_ID",
    help="Continue the run RUN_ID (printed when it stopped) as that run: only the nodes whose "
         "outputs of its version are missing run, and later nodes read its versions.")


def run_command(resume: str | None = None, **options: Any) -> Any:
    if "ParallelRunner" in (options.get("runner") or ""):
        # Its workers share the host: each takes its part of the GPU and of the CPU cores
        # (each worker reads the count through fixres_kedro.workers).
        workers = (options.get("runner_params") or {}).get("max_workers") or os.cpu_count() or 1
        os.environ[PARALLEL_WORKERS] = str(workers)
    check_environment(options.get("env"))
    # The design card's --pipeline=X, as --pipelines=X: the same run, without Kedro's
    # deprecation warning.
    if options.get("pipeline"):
        options["pipelines"], options["pipeline"] = (options["pipeline"],), None
    pipelines = list(options.get("pipelines") or [])
    check_names(options.get("env"), pipelines, options.get("node_names") or (),
                options.get("from_nodes") or (), options.get("to_nodes") or (),
                options.get("namespaces") or ())
    if resume is None:
        return kedro_run.callback(**options)
    with resuming(resume):
        return kedro_run.callback(**options)


@click.group(name="fixres_kedro")
def cli() -> None:
    """Commands of the fixres_kedro project."""


cli.add_command(
    _UserErrorsOnOneLine(
        name="run",
        params=[*kedro_run.params, RESUME],
        callback=run_command,
        help=kedro_run.help,
        short_help=kedro_run.short_help,
        context_settings=kedro_run.context_settings,
    )
)


@cli.command(cls=_UserErrorsOnOneLine)
@click.option("--keep", default=3, show_default=True, type=click.IntRange(min=1),
              help="The newest versions to keep of each output.")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@click.option("--env", "-e", default=None, help="The configuration environment whose data to prune (KEDRO_ENV).")
def prune(keep: int, dry_run: bool, env: str | None) -> None:
    """Remove old versions of the models, metrics and plots of an environment's data.

    Keeps the newest --keep versions of each output and every version that a kept
    metrics file names (the run that made it, the model it evaluated).
    """
    from fixres_kedro.prune import prune as prune_versions  # noqa: PLC0415

    check_environment(env)
    project = project_path()
    root = project / config_loader(env)["globals"]["data_root"]
    result = prune_versions(root, keep, dry_run)
    verb = "Would remove" if dry_run else "Removed"
    for folder in result.remove:
        click.echo(f"{'would remove' if dry_run else 'removed'} {folder.relative_to(project)}")
    click.echo(f"{verb} {len(result.remove)} versions ({result.freed_bytes / 2**20:,.1f} MB) in {root}; "
               f"kept {len(result.keep)}")


@cli.group()
def registry() -> None:
    """Commands for working with registered pipelines."""


_env_option = click.option("--env", "-e", default=None, help="The configuration environment (KEDRO_ENV).")


@registry.command("list", cls=_UserErrorsOnOneLine)
@_env_option
def list_registered_pipelines(env: str | None) -> None:
    """List the pipelines of the project."""
    click.echo(yaml.dump(sorted(_project_pipelines(env))))


@registry.command("describe", cls=_UserErrorsOnOneLine)
@click.argument("name", default="__default__")
@_env_option
def describe_registered_pipeline(name: str, env: str | None) -> None:
    """The nodes of one pipeline (default: the default pipeline)."""
    registered = _project_pipelines(env)
    if name not in registered:
        raise UnknownNameError("pipeline", name, sorted(p for p in registered if p != "__default__"))
    nodes = [f"{node.name} ({node._func_name})" for node in registered[name].nodes]
    click.echo(yaml.dump({"Nodes": nodes}))
