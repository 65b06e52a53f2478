"""Cross-cutting concerns of every run: parameter checks, seeding, node timing."""

from __future__ import annotations

import logging
import re
import time
import zlib
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node

from fixres_kedro.parameters import validate_parameters

logger = logging.getLogger(__name__)


class ParameterValidationHook:
    """Stop a run whose parameters cannot work, naming the offending key."""

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        validate_parameters(catalog.load("parameters"))


class PrecisionHook:
    """Apply ``runtime.precision`` (Keras' global dtype policy) before a run, and
    before each node in processes that did not start the run (``ParallelRunner``'s
    workers, which run no ``before_pipeline_run`` hook).

    ``mixed_bfloat16`` / ``mixed_float16`` compute in 16 bits with float32 weights;
    models saved under a policy keep it when loaded.
    """

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        self._apply(catalog)

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog) -> None:
        self._apply(catalog)

    @staticmethod
    def _apply(catalog: DataCatalog) -> None:
        import keras  # noqa: PLC0415

        precision = catalog.load("params:runtime").get("precision", "float32")
        if keras.config.dtype_policy().name != precision:
            keras.config.set_dtype_policy(precision)
            logger.info("Keras dtype policy: %s", precision)


class SeedHook:
    """Seed Python, NumPy and the Keras backend before each node.

    The seed is ``params:seed`` mixed with the node's name, so a node run alone
    (``kedro run --nodes=...``) draws the same numbers as in a whole run. Nodes of
    the multi-seed study (namespace ``seed_<n>``) use ``n`` instead of ``params:seed``.
    """

    def __init__(self) -> None:
        self._seed: int | None = None

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        self._seed = int(catalog.load("params:seed"))

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog) -> None:
        if self._seed is None:  # a ParallelRunner worker: no before_pipeline_run here
            self._seed = int(catalog.load("params:seed"))
        import keras  # noqa: PLC0415 - only runs that train need the backend

        study = re.match(r"seed_(\d+)\.", node.name)
        base = int(study.group(1)) if study else self._seed
        node_seed = (base + zlib.crc32(node.name.encode())) % 2**31
        keras.utils.set_random_seed(node_seed)


class DistributionHook:
    """Join a multi-host run before any node, and give each ``ParallelRunner``
    worker its own accelerator.

    * With ``runtime.data_parallel`` and Keras' ``KERAS_DISTRIBUTION_*`` variables set
      (JAX), the process joins the others before anything touches the devices
      (``fixres.distribute.initialize_processes``).
    * In a ``ParallelRunner`` worker process on a host with several GPUs, the worker
      sees only GPU ``(worker number - 1) mod GPUs`` (``CUDA_VISIBLE_DEVICES``), and
      no backend grabs all of its memory up front (JAX's preallocation is off,
      TensorFlow grows its allocation), so workers can share a GPU too. This has to
      happen before the backend starts in that process, hence before its first node.
    """

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        if catalog.load("params:runtime").get("data_parallel", False):
            from fixres_kedro.fixres.distribute import initialize_processes  # noqa: PLC0415

            initialize_processes()

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        from fixres_kedro.fixres.distribute import pin_worker_to_accelerator  # noqa: PLC0415

        pin_worker_to_accelerator()


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
