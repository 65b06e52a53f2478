"""Resuming a run cut short means that run: ``kedro run ... --resume <run id>``.

Kedro's ``--only-missing-outputs`` counts any version of a versioned output as present, so
after an earlier complete study a cut-short one would skip its unfinished nodes and report
the earlier study's models. ``ResumableSession`` (``settings.SESSION_CLASS``) instead:

* with ``--resume <run id>`` (``cli.run_command`` sets ``RESUMING``): the session's id, and
  so its save version and its training checkpoints, are that run's; every versioned
  dataset the pipeline writes is loaded, and counted as present, at that run's version
  only; the nodes with an output of that version missing run, and every node after them
  (the report), reading that run's versions, so that the report covers the whole run;
* plain ``--only-missing-outputs`` on a pipeline that writes versioned datasets (each of
  the project's does) is refused in one line pointing to ``--resume``: refusing is clearer
  than guessing which earlier run the user meant.
"""

from __future__ import annotations

import contextvars
import logging
import re
from contextlib import contextmanager
from typing import Any, Iterator

from kedro.framework.project import pipelines as registered_pipelines
from kedro.framework.session import KedroSession
from kedro.io import AbstractVersionedDataset, DataCatalog
from kedro.pipeline import Pipeline

from fixres_kedro.fixres.errors import FixResError

logger = logging.getLogger(__name__)

RUN_ID = re.compile(r"^\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d\.\d{3}Z$")  # Kedro's generate_timestamp
RESUMING: contextvars.ContextVar[str | None] = contextvars.ContextVar("resuming", default=None)

_FILTERS = ("tags", "from_nodes", "to_nodes", "node_names", "from_inputs", "to_outputs", "namespaces")
_FILTER_ARGS = {"namespaces": "node_namespaces"}


class ResumeError(FixResError, ValueError):
    """A resume that cannot continue the run it names, or a plain ``--only-missing-outputs``
    that would mix runs."""


@contextmanager
def resuming(run_id: str) -> Iterator[None]:
    """The sessions created inside continue the run ``run_id``."""
    if not RUN_ID.match(run_id):
        raise ResumeError(f"--resume takes the run id a run printed (e.g. 2026-12-04T06.31.22.123Z), got {run_id!r}")
    token = RESUMING.set(run_id)
    try:
        yield
    finally:
        RESUMING.reset(token)


def versioned_outputs(pipeline: Pipeline, catalog: DataCatalog) -> list[str]:
    """The datasets ``pipeline`` writes that are versioned in ``catalog``, sorted."""
    return sorted(name for name in pipeline.all_outputs()
                  if name in catalog and isinstance(catalog.get(name), AbstractVersionedDataset)
                  and getattr(catalog.get(name), "_version", None) is not None)


class ResumableSession(KedroSession):
    """A ``KedroSession`` that can continue a run cut short (see the module)."""

    @classmethod
    def create(cls, *args: Any, **kwargs: Any) -> ResumableSession:
        session = super().create(*args, **kwargs)
        run_id = RESUMING.get()
        if run_id is not None:  # the save version is the session's id (KedroSession.run)
            session.session_id = run_id
            session._store["session_id"] = run_id
        return session

    def run(self, pipeline_names: list[str] | None = None, load_versions: dict[str, str] | None = None,
            only_missing_outputs: bool = False, **kwargs: Any) -> dict[str, Any]:
        run_id = RESUMING.get()
        if run_id is None and not only_missing_outputs:
            return super().run(pipeline_names=pipeline_names, load_versions=load_versions, **kwargs)
        registered_pipelines.set_requested(pipeline_names or None)
        catalog = self.load_context().catalog
        chosen = sum((registered_pipelines[name] for name in pipeline_names or ["__default__"]), Pipeline([]))
        chosen = chosen.filter(**{_FILTER_ARGS.get(key, key): kwargs[key] for key in _FILTERS
                                  if kwargs.get(key)})
        versioned = versioned_outputs(chosen, catalog)
        if run_id is None:
            if versioned:
                raise ResumeError(
                    f"--only-missing-outputs would count any earlier run's {versioned[0]} (and "
                    f"{len(versioned) - 1} more versioned outputs) as this run's: continue a run cut short "
                    "with --resume <its run id> (its stop line prints the command) instead")
            return super().run(pipeline_names=pipeline_names, load_versions=load_versions,
                               only_missing_outputs=True, **kwargs)
        written = {name for name in versioned if has_version(catalog, name, run_id)}
        if not written:
            raise ResumeError(f"run {run_id} wrote none of this pipeline's {len(versioned)} versioned outputs "
                              "in this environment's data: nothing to resume (check --env and the run id)")
        to_run = _unfinished(chosen, catalog, set(versioned) - written)
        # Every versioned output at the resumed run's version, so that later nodes read
        # that run's models and metrics, whatever came after it.
        pinned = {name: run_id for name in versioned}
        kwargs["node_names"] = [node.name for node in to_run.nodes]
        if not to_run.nodes:  # Kedro would run everything for an empty selection
            logger.info("run %s has every output of this pipeline: nothing to resume", run_id)
            return {}
        _remove_partial_outputs(to_run, catalog, written, run_id)
        return super().run(pipeline_names=pipeline_names, load_versions={**pinned, **(load_versions or {})},
                           **kwargs)


def _unfinished(pipeline: Pipeline, catalog: DataCatalog, missing: set[str]) -> Pipeline:
    """The nodes a resume runs: those with a versioned output the run did not write, every
    node after them (an unversioned output, a results page, cannot say which run wrote it:
    the one it has may be an earlier run's), and the nodes that make the in-memory inputs
    of those."""
    starts = [node.name for node in pipeline.nodes if set(node.outputs) & missing]
    if not starts:
        return Pipeline([])
    chosen = pipeline.from_nodes(*starts)
    producers = {output: node for node in pipeline.nodes for output in node.outputs}
    while True:
        needed = {producers[name] for node in chosen.nodes for name in node.inputs
                  if name in producers and _in_memory(catalog, name)} - set(chosen.nodes)
        if not needed:
            return chosen
        chosen = pipeline.only_nodes(*{node.name for node in [*chosen.nodes, *needed]})


def _remove_partial_outputs(to_run: Pipeline, catalog: DataCatalog, written: set[str], run_id: str) -> None:
    """Remove what the run wrote of the outputs of nodes that run again: a node stopped
    between the saves of its outputs (Kedro saves them one by one after the node) left some
    of them, and a version, once saved, cannot be saved again."""
    again = sorted({output for node in to_run.nodes for output in node.outputs} & written)
    if not again:
        return
    shown = ", ".join(again[:3]) + (f" and {len(again) - 3} more" if len(again) > 3 else "")
    logger.warning("resuming run %s: %s, which it had written, are written again (a node before them, or "
                   "their own, stopped before saving all its outputs)", run_id, shown)
    for name in again:
        dataset = catalog.get(name)
        folder = dataset._get_versioned_path(run_id).parent  # noqa: SLF001 - <file>/<version>/
        dataset._fs.rm(str(folder), recursive=True)  # noqa: SLF001


def _in_memory(catalog: DataCatalog, name: str) -> bool:
    return name not in catalog or bool(getattr(catalog.get(name), "_EPHEMERAL", False))


def has_version(catalog: DataCatalog, name: str, run_id: str) -> bool:
    """Whether the versioned dataset ``name`` has a version ``run_id`` saved."""
    dataset = catalog.get(name)
    return bool(dataset._exists_function(str(dataset._get_versioned_path(run_id))))  # noqa: SLF001
