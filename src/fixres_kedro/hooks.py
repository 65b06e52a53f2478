"""Cross-cutting concerns of every run: devices, precision, seeding, checkpoints, timing.

The parameters are checked before any of these runs (``fixres_kedro.context``), so the
hooks read them typed. Pluggy calls the hooks of one kind last-registered first;
``settings.HOOKS`` lists them in the reverse of the order they must run in.
"""

from __future__ import annotations

import logging
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset, DataCatalog
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node

from fixres_kedro.datasets.atomic import recorded_digest
from fixres_kedro.parameters import RuntimeParams
from fixres_kedro.protocol import parse_namespace

logger = logging.getLogger(__name__)


def _runtime(catalog: DataCatalog) -> RuntimeParams:
    return RuntimeParams.coerce(catalog.load("params:runtime"))


class DistributionHook:
    """Join a multi-host run before any node, and give each ``ParallelRunner`` worker its
    own accelerator.

    * With ``runtime.data_parallel`` and Keras' ``KERAS_DISTRIBUTION_*`` variables set
      (JAX), the process joins the others before anything touches the devices
      (``fixres.distribute.initialize_processes``).
    * In a ``ParallelRunner`` worker process on a host with several GPUs, the worker
      sees only GPU ``(worker number - 1) mod GPUs`` (``CUDA_VISIBLE_DEVICES``), and
      no backend grabs all of its memory up front, so workers can share a GPU too.
      This has to happen before the backend starts in that process, hence before its
      first node, and before the other hooks (seeding starts the backend).
    """

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline,
                            catalog: DataCatalog) -> None:
        if _runtime(catalog).data_parallel:
            from fixres_kedro.fixres.distribute import initialize_processes  # noqa: PLC0415

            initialize_processes()

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        from fixres_kedro.fixres.distribute import pin_worker_to_accelerator  # noqa: PLC0415

        pin_worker_to_accelerator()


class _InEveryProcess:
    """A setting applied before a run, and again before each node in the processes that
    did not start the run (``ParallelRunner``'s workers run no ``before_pipeline_run``);
    ``_apply`` is idempotent."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline,
                            catalog: DataCatalog) -> None:
        self._apply(catalog)

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog) -> None:
        self._apply(catalog)

    @staticmethod
    def _apply(catalog: DataCatalog) -> None:
        raise NotImplementedError


class CompilationCacheHook(_InEveryProcess):
    """With ``runtime.compilation_cache``, keep what the backend compiles for the next run
    (``fixres.compilation_cache``, in the catalog's ``compilation_cache`` folder), before
    anything is compiled in the process."""

    @staticmethod
    def _apply(catalog: DataCatalog) -> None:
        if _runtime(catalog).compilation_cache:
            from fixres_kedro.fixres.compilation_cache import enable_compilation_cache  # noqa: PLC0415

            enable_compilation_cache(catalog.load("compilation_cache"))


class PrecisionHook(_InEveryProcess):
    """Apply ``runtime.precision`` (Keras' global dtype policy) in every process.

    ``mixed_bfloat16`` / ``mixed_float16`` compute in 16 bits with float32 weights;
    models saved under a policy keep it when loaded.
    """

    @staticmethod
    def _apply(catalog: DataCatalog) -> None:
        import keras  # noqa: PLC0415 - the backend starts only when a run needs it

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
    """Seed Python, NumPy and the Keras backend before each node (``node_seed``)."""

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog) -> None:
        import keras  # noqa: PLC0415

        keras.utils.set_random_seed(node_seed(node.name, node.namespace, int(catalog.load("params:seed"))))


class CheckpointHook:
    """Remove a training run's resume checkpoint once its model is stored, not before.

    The training node returns the model; Kedro saves it afterwards. If that save fails
    (a full disk, a permission), the checkpoint is still there and a rerun resumes from
    it instead of training again. A failed run releases this process's checkpoint locks
    (the checkpoints stay).
    """

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        from fixres_kedro.fixres import checkpoint  # noqa: PLC0415

        if type(data).__module__.startswith("keras") and checkpoint.finish(data):
            logger.info("%s is saved: its training checkpoint is removed", dataset_name)

    @hook_impl
    def on_node_error(self) -> None:
        self._release()

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._release()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._release()

    @staticmethod
    def _release() -> None:
        from fixres_kedro.fixres import checkpoint  # noqa: PLC0415

        checkpoint.release_locks()


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
    if name.startswith("params:") or name == "parameters":
        return None
    try:
        dataset = catalog.get(name)
        if isinstance(dataset, AbstractVersionedDataset):
            return dataset.resolve_load_version()
        filepath = getattr(dataset, "_filepath", None)
        digest = recorded_digest(filepath) if filepath else None
        if digest is not None:
            return "sha256:" + digest[:16]
    except Exception:  # noqa: BLE001 - provenance never fails a run
        return None
    return None


class ProvenanceHook:
    """Every metrics file says what produced it: the run, the environment, the commit, and
    the versions of the node's inputs (the model evaluated, the split).

    ``<namespace>.metrics`` dictionaries get a ``provenance`` entry before they are saved::

        {"run_id": "2026-11-30T01.02.03.456Z", "environment": "smoke",
         "git_commit": "0f60c3a...", "git_dirty": false, "node": "finetune.evaluate_model",
         "inputs": {"finetune.model": "2026-11-30T01.02.03.456Z",
                    "validation_split": "sha256:1f2e3d4c5b6a"}}

    ``run_id`` is the Kedro session id, which is also the version every output of the
    run is saved under. The comparison, the study report and the notebook warn when they
    put together metrics of different runs or environments.
    """

    def __init__(self) -> None:
        self._run: dict[str, Any] = {}
        self._inputs: dict[str, dict[str, str]] = {}

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        self._run = {"run_id": run_params.get("run_id"), "environment": run_params.get("env") or "local",
                     **git_state(Path(run_params.get("project_path") or "."))}

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog) -> None:
        if any(output.endswith(".metrics") for output in node.outputs):  # only those carry it
            self._inputs[node.name] = {name: version for name in node.inputs
                                       if (version := input_version(catalog, name)) is not None}

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        if dataset_name.endswith(".metrics") and isinstance(data, dict):
            data["provenance"] = {**self._run, "node": node.name,
                                  "inputs": self._inputs.get(node.name, {})}


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
