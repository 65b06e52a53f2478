"""Cross-cutting concerns of every run: devices, precision, seeding, checkpoints, timing.

The parameters are checked before any of these runs (``fixres_kedro.context``), so the
hooks read them typed. Pluggy calls the hooks of one kind last-registered first;
``settings.HOOKS`` lists them in the reverse of the order they must run in.
"""

from __future__ import annotations

import logging
import time
import zlib
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node

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


class CompilationCacheHook:
    """With ``runtime.compilation_cache``, keep what the backend compiles for the next run
    (``fixres.compilation_cache``, in the catalog's ``compilation_cache`` folder), in the
    process that starts the run and in ``ParallelRunner``'s workers, before anything is
    compiled there."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline,
                            catalog: DataCatalog) -> None:
        self._enable(catalog)

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog) -> None:
        self._enable(catalog)

    @staticmethod
    def _enable(catalog: DataCatalog) -> None:
        if _runtime(catalog).compilation_cache:
            from fixres_kedro.fixres.compilation_cache import enable_compilation_cache  # noqa: PLC0415

            enable_compilation_cache(catalog.load("compilation_cache"))


class PrecisionHook:
    """Apply ``runtime.precision`` (Keras' global dtype policy) before a run, and before
    each node in processes that did not start the run (``ParallelRunner``'s workers, which
    run no ``before_pipeline_run`` hook).

    ``mixed_bfloat16`` / ``mixed_float16`` compute in 16 bits with float32 weights;
    models saved under a policy keep it when loaded.
    """

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline,
                            catalog: DataCatalog) -> None:
        self._apply(catalog)

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog) -> None:
        self._apply(catalog)

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


class NodeTimingHook:
    """Log one line per node with its wall time."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        seconds = time.perf_counter() - self._started.pop(node.name, time.perf_counter())
        logger.info("Node %s finished in %.1f s", node.name, seconds)
