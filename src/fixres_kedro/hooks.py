"""Cross-cutting concerns of every run: the parameters, devices, precision, seeding,
checkpoints, provenance and timing.

Pluggy calls the hooks of one kind last-registered first; ``settings.HOOKS`` lists them in
the reverse of the order they must run in. Only nodes tagged ``BACKEND_TAG`` (those that
train or evaluate) start, seed or place a Keras backend.
"""

from __future__ import annotations

import logging
import os
import random
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset, DataCatalog
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node

from fixres_kedro import start_backend
from fixres_kedro.environment import use_environment
from fixres_kedro.metrics import Provenance
from fixres_kedro.parameters import RuntimeParams, check_parameters
from fixres_kedro.protocol import BACKEND_TAG, parse_namespace

logger = logging.getLogger(__name__)

PROVENANCE = "run_provenance"  # the dataset the nodes that write metrics read


def _runtime(catalog: DataCatalog) -> RuntimeParams:
    return RuntimeParams.model_validate(catalog.load("params:runtime"))


def _uses_backend(node: Node) -> bool:
    """Whether ``node`` trains or evaluates; then the backend starts (quietly) here."""
    if BACKEND_TAG not in node.tags:
        return False
    start_backend()
    return True


class ParametersHook:
    """Check the whole parameter tree once the context exists, before any other hook or
    node reads a parameter, so that an unknown key or a rule across sections stops the run
    with one line. It also makes ``KEDRO_ENV`` the run's environment, whose ``seeds`` the
    pipeline registry reads (and registers the pipelines again if they were registered
    for another environment in this process)."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        check_parameters(context.config_loader["parameters"])
        use_environment(context.env)


class DistributionHook:
    """Join a multi-host run before any node, and give each ``ParallelRunner`` worker its
    own accelerator before its backend starts (``fixres.devices``)."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline,
                            catalog: DataCatalog) -> None:
        if _runtime(catalog).data_parallel:
            from fixres_kedro.fixres.distribute import initialize_processes  # noqa: PLC0415

            initialize_processes()

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        if _uses_backend(node):
            from fixres_kedro.fixres.devices import pin_worker_to_accelerator  # noqa: PLC0415
            from fixres_kedro.workers import share_host  # noqa: PLC0415

            pin_worker_to_accelerator(share_host())


class CompilationCacheHook:
    """With ``runtime.compilation_cache``, keep what the backend compiles for the next run
    (``fixres.compilation_cache``), before the first node of a process compiles anything
    (``ParallelRunner``'s workers run no ``before_pipeline_run``)."""

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog) -> None:
        if _uses_backend(node) and _runtime(catalog).compilation_cache:
            from fixres_kedro.fixres.compilation_cache import enable_compilation_cache  # noqa: PLC0415

            enable_compilation_cache(catalog.load("compilation_cache"))


class PrecisionHook:
    """Apply ``runtime.precision`` (Keras' global dtype policy) in every process.

    ``mixed_bfloat16`` / ``mixed_float16`` compute in 16 bits with float32 weights;
    models saved under a policy keep it when loaded.
    """

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog) -> None:
        if not _uses_backend(node):
            return
        import keras  # noqa: PLC0415

        precision = _runtime(catalog).precision
        if keras.config.dtype_policy().name != precision:
            keras.config.set_dtype_policy(precision)
            logger.info("Keras dtype policy: %s", precision)


def node_seed(node_name: str, namespace: str | None, seed: int) -> int:
    """The seed of one node: ``seed`` (a seed namespace's own number inside one) mixed
    with the node's name, so that a node run alone draws what it draws in a whole run."""
    study_seed, _ = parse_namespace(namespace)
    base = seed if study_seed is None else study_seed
    return (base + zlib.crc32(node_name.encode())) % 2**31


class SeedHook:
    """Seed Python, NumPy and (for nodes that use it) the Keras backend before each node
    (``node_seed``)."""

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog) -> None:
        seed = node_seed(node.name, node.namespace, int(catalog.load("params:seed")))
        if _uses_backend(node):
            import keras  # noqa: PLC0415

            keras.utils.set_random_seed(seed)
        else:
            random.seed(seed)
            np.random.seed(seed)  # noqa: NPY002 - what keras.utils.set_random_seed seeds


class CheckpointHook:
    """Remove a training's resume checkpoint once all its node's outputs are stored.

    The training node returns the model; Kedro saves it afterwards. If that save fails (a
    full disk, a permission), the checkpoint stays and a rerun resumes from it instead of
    training again. A failed node or run releases the checkpoints' locks (they stay).
    """

    def __init__(self) -> None:
        self._unsaved: dict[str, tuple[set[str], list[Any]]] = {}

    @staticmethod
    def _opened(inputs: dict[str, Any]) -> list[Any]:
        return [checkpoint for value in inputs.values() if hasattr(value, "take_open")
                for checkpoint in value.take_open()]

    @hook_impl
    def after_node_run(self, node: Node, inputs: dict[str, Any]) -> None:
        opened = self._opened(inputs)
        if opened:
            self._unsaved[node.name] = ({name.split("@")[0] for name in node.outputs}, opened)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Node) -> None:
        waiting = self._unsaved.get(node.name)
        if waiting is None:
            return
        outputs, opened = waiting
        outputs.discard(dataset_name.split("@")[0])
        if not outputs:
            del self._unsaved[node.name]
            for checkpoint in opened:
                checkpoint.finish()
            logger.info("%s's outputs are saved: its training checkpoint is removed", node.name)

    @hook_impl
    def on_node_error(self, node: Node, inputs: dict[str, Any]) -> None:
        for checkpoint in self._opened(inputs):
            checkpoint.release()

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._release_all()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._release_all()

    def _release_all(self) -> None:
        for _, opened in self._unsaved.values():
            for checkpoint in opened:
                checkpoint.release()
        self._unsaved.clear()


def git_state(project: Path) -> dict[str, Any]:
    """``git_commit`` and ``git_dirty`` of the project, when it is a git checkout."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(project), *args], capture_output=True,
                                  text=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    return {"git_commit": commit, "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def input_version(catalog: DataCatalog, name: str) -> str | None:
    """What identifies the data a node reads as ``name``: a versioned dataset's version,
    a split's digest; None for parameters and the rest."""
    if name.startswith("params:") or name in ("parameters", PROVENANCE):
        return None
    try:
        dataset = catalog.get(name)
        if isinstance(dataset, AbstractVersionedDataset):
            return dataset.resolve_load_version()
        digest = dataset.recorded_digest() if hasattr(dataset, "recorded_digest") else None
        if digest is not None:
            return "sha256:" + digest[:16]
    except Exception:  # noqa: BLE001 - provenance never fails a run
        return None
    return None


class ProvenanceHook:
    """Hand the nodes that read ``run_provenance`` (those that write metrics) where their
    results come from: the Kedro run (its id is also the version of every output it
    saves), the environment, the commit, the node and the versions of its inputs::

        {"run_id": "2026-11-30T01.02.03.456Z", "environment": "smoke",
         "git_commit": "0f60c3a...", "git_dirty": false, "node": "finetune.evaluate_model",
         "inputs": {"finetune.model": "2026-11-30T01.02.03.456Z",
                    "validation_split": "sha256:1f2e3d4c5b6a"}}
    """

    def __init__(self) -> None:
        self._git: dict[str, Any] | None = None

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog, run_id: str) -> dict[str, Any] | None:
        if PROVENANCE not in node.inputs:
            return None
        if self._git is None:  # once per process: ParallelRunner's workers have their own
            self._git = git_state(Path.cwd())
        inputs = {name: version for name in node.inputs
                  if (version := input_version(catalog, name)) is not None}
        return {PROVENANCE: Provenance(run_id=run_id, environment=os.environ.get("KEDRO_ENV", "local"),
                                       **self._git, node=node.name, inputs=inputs)}


class NodeTimingHook:
    """One line per node when it ends: ``[3/15] initial.train_model finished in 12.3 s``."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._total = 0
        self._done = 0

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline) -> None:
        self._total, self._done = len(pipeline.nodes), 0

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        seconds = time.perf_counter() - self._started.pop(node.name, time.perf_counter())
        self._done += 1
        progress = f"[{self._done}/{self._total}] " if self._total else ""
        logger.info("%s%s finished in %.1f s", progress, node.name, seconds)
