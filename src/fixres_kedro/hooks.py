"""Cross-cutting concerns of every run: the parameters, devices, precision, seeding,
checkpoints, provenance and timing.

Pluggy calls the hooks of one kind last-registered first; ``settings.HOOKS`` lists them in
the reverse of the order they must run in. Only nodes tagged ``BACKEND_TAG`` (those that
train or evaluate) start, seed or place a Keras backend.
"""

from __future__ import annotations

import _thread
import logging
import os
import random
import signal
import subprocess
import threading
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

from fixres_kedro.fixres.backend import keras_backend, start_backend
from fixres_kedro.errors import MissingInputError, NoBackendError, StoppedError, find_cause, find_user_error
from fixres_kedro.environment import restore_environment, use_environment
from fixres_kedro.metrics import Provenance
from fixres_kedro.parameters import RuntimeParams, check_parameters
from fixres_kedro.protocol import BACKEND_TAG, MODELS, parse_namespace
from fixres_kedro.session import has_version, versioned_outputs
from fixres_kedro.writers import writing_pipeline

logger = logging.getLogger(__name__)

PROVENANCE = "run_provenance"  # the dataset the nodes that write metrics read


def _runtime(catalog: DataCatalog) -> RuntimeParams:
    return RuntimeParams.model_validate(catalog.load("params:runtime"))


def _uses_backend(node: Node) -> bool:
    """Whether ``node`` trains or evaluates (the hooks then start the backend, quietly, once
    a worker has its GPU)."""
    return BACKEND_TAG in node.tags


class ParametersHook:
    """Check the whole parameter tree once the context exists, before any other hook or
    node reads a parameter, so that an unknown key or a rule across sections stops the run
    with one line. It also makes ``KEDRO_ENV`` the run's environment, whose ``seeds`` the
    pipeline registry reads (and registers the pipelines again if they were registered
    for another environment in this process), until the run ends: a later session in the
    same process (a notebook, a test) starts from the environment it had before. A session
    that only loads its context, as a notebook does, keeps its environment in ``KEDRO_ENV``
    (Kedro has no hook for a session's end), so the notebook's later sessions share it."""

    def __init__(self) -> None:
        self._before: list[str | None] = []  # KEDRO_ENV before the first context of a run

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        check_parameters(context.config_loader["parameters"])
        if not self._before:  # a session may create its context more than once
            self._before.append(os.environ.get("KEDRO_ENV"))
        use_environment(context.env)

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._restore()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._before:
            restore_environment(self._before.pop())


class MissingInputsHook:
    """Refuse, before any node runs, a pipeline whose inputs another pipeline writes and
    nobody has written yet (``--pipelines=initial`` before ``data``): one line naming the
    smallest registered pipeline that writes each, instead of a failure halfway through."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline,
                            catalog: DataCatalog) -> None:
        from kedro.framework.project import pipelines  # noqa: PLC0415 - the registry is loaded by now

        registered = {name: each for name, each in pipelines.items() if name != "__default__"}
        def base(name: str) -> str:  # "train_split@decoded" is written as "train_split@bytes"
            return name.split("@")[0]

        written = {base(name) for each in registered.values() for name in each.all_outputs()}
        missing = sorted(name for name in pipeline.inputs()
                         if base(name) in written and name in catalog and not catalog.exists(name))
        if not missing:
            return
        env = run_params.get("env") or os.environ.get("KEDRO_ENV") or "local"
        writer = writing_pipeline(missing[0], registered)
        names = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        verb = "is" if len(missing) == 1 else "are"
        raise MissingInputError(
            f"{names} {verb} not written yet in the {env} environment: write "
            f"{'it' if len(missing) == 1 else 'them'} with `kedro run --pipelines={writer} --env {env}` first")


SPLIT_MANIFEST = "split_manifest"
# split_dataset's outputs, as the manifest names them.
SPLIT_PARTS = {"train_split@bytes": "train_split", "validation_split@bytes": "validation_split",
               "class_names": "class_names", "split_summary": "split_summary"}


class SplitManifestHook:
    """Write the split as one unit (``datasets.split_manifest``): the node that writes it
    takes the split's lock before it runs (a second data run stops there, in one line
    naming the first); the manifest says ``writing`` from the first part saved, and
    ``complete``, with the four parts' digests and the run id, once the last is saved. A
    node or run that fails releases the lock; the manifest then keeps saying ``writing``
    if any part was replaced, so that no reader takes the mixture.

    Everything happens in the process that runs the node (``ParallelRunner``'s worker)."""

    def __init__(self) -> None:
        self._writing: dict[str, dict[str, Any]] = {}  # node name -> its manifest and parts

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog, run_id: str) -> None:
        if not set(node.outputs) & SPLIT_PARTS.keys() or SPLIT_MANIFEST not in catalog:
            return
        manifest = catalog.get(SPLIT_MANIFEST)
        manifest.acquire(run_id)
        self._writing[node.name] = {"catalog": catalog, "manifest": manifest, "run_id": run_id,
                                    "parts": {}, "class_names": [], "begun": False}

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, node: Node) -> None:
        writing = self._writing.get(node.name)
        if writing is not None and not writing["begun"] and dataset_name in SPLIT_PARTS:
            writing["manifest"].begin(writing["run_id"])  # the old split stops being whole here
            writing["begun"] = True

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        writing = self._writing.get(node.name)
        if writing is None or dataset_name not in SPLIT_PARTS:
            return
        from fixres_kedro.datasets.atomic import file_digest, recorded_digest  # noqa: PLC0415

        path = writing["catalog"].get(dataset_name).written_path()
        part = SPLIT_PARTS[dataset_name]
        shown = os.path.relpath(path, writing["manifest"].folder)  # moves with the project
        writing["parts"][part] = {"file": shown, "sha256": recorded_digest(path) or file_digest(path)}
        if part == "class_names":
            writing["class_names"] = list(data)
        if len(writing["parts"]) == len(SPLIT_PARTS):
            del self._writing[node.name]
            writing["manifest"].complete(writing["run_id"], writing["parts"], writing["class_names"])
            writing["manifest"].release()

    @hook_impl
    def on_node_error(self, node: Node) -> None:
        writing = self._writing.pop(node.name, None)
        if writing is not None:
            writing["manifest"].release()

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._release_all()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._release_all()

    def _release_all(self) -> None:
        for writing in self._writing.values():
            writing["manifest"].release()
        self._writing.clear()


class DeviceHook:
    """Say where training runs, and refuse the CPU where an accelerator is required.

    A run with nodes that train or evaluate names the backend and this host's GPUs in one
    line before its first node (from ``nvidia-smi``: no backend starts in the process that
    spawns ``ParallelRunner``'s workers); the first such node of each process names the
    devices the backend computes on, and warns when the host has GPUs it does not see.
    ``runtime.require_accelerator`` (the gpu environment) stops the run in one line instead.
    """

    def __init__(self) -> None:
        self._seen_in: int | None = None  # the process whose devices were named

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline,
                            catalog: DataCatalog) -> None:
        if not any(BACKEND_TAG in node.tags for node in pipeline.nodes):
            return
        from fixres_kedro.fixres.devices import gpu_names  # noqa: PLC0415

        backend, gpus = keras_backend(), gpu_names()
        host = f"{len(gpus)} NVIDIA GPU(s): {', '.join(sorted(set(gpus)))}" if gpus else "no NVIDIA GPU"
        logger.info("Keras backend %s; this host has %s", backend, host)
        if not gpus and _runtime(catalog).require_accelerator:
            raise NoBackendError(_no_accelerator(backend))

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog) -> None:
        if self._seen_in == os.getpid() or not _uses_backend(node):
            return
        self._seen_in = os.getpid()
        start_backend()
        from fixres_kedro.fixres.devices import backend_accelerators, describe, gpu_names  # noqa: PLC0415

        backend, seen = keras_backend(), backend_accelerators()
        logger.info("Training on %s", describe(backend, seen))
        if seen:
            return
        if _runtime(catalog).require_accelerator:
            raise NoBackendError(_no_accelerator(backend))
        if gpu_names():
            logger.warning("This host has NVIDIA GPUs but the %s backend sees none: it trains on the CPU "
                           "(install a GPU backend: %s; docs/gpu.md)", backend, _gpu_extra(backend))


def _gpu_extra(backend: str) -> str:
    return {"jax": "pip install -e '.[jax-gpu]'"}.get(backend, "pip install -e '.[tf-gpu]'")


def _no_accelerator(backend: str) -> str:
    return (f"runtime.require_accelerator is set (the gpu environment) but the {backend} backend has no "
            f"accelerator here: run on a GPU host with a GPU backend ({_gpu_extra(backend)}), or pass "
            "--params runtime.require_accelerator=false to train on the CPU")


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
            start_backend()
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
        start_backend()
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
            start_backend()
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


class StopHook:
    """Ctrl-C or SIGTERM stop a run as an error: one line naming the nodes it stopped, and
    every ``on_node_error`` / ``on_pipeline_error`` hook runs (the checkpoint's lock is
    released, MLflow records the runs as KILLED) instead of an interpreter that unwinds
    without them. A second signal acts as it would without this hook (Ctrl-C at once).

    The handler raises in whatever the main thread is running; where that code swallows
    exceptions (``logging`` does, while it writes an epoch's line), the stop is raised again
    every half second until a node or the run reports it.
    """

    SIGNALS = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}
    AGAIN = 0.5  # seconds between raising a stop that was swallowed

    def __init__(self) -> None:
        self._running: list[str] = []
        self._saved: dict[int, Any] = {}
        self._stopping: StoppedError | None = None
        self._reported = threading.Event()
        self._again = False  # the next call of the handler is our own repeat
        self._run_id: str | None = None  # the one --resume continues

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any] | None = None) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers belong to the main thread (a notebook's may differ)
        self._run_id = (run_params or {}).get("run_id")
        self._running, self._stopping = [], None
        self._reported.clear()
        for number in self.SIGNALS:
            self._saved[number] = signal.signal(number, self._stop)

    def _stop(self, number: int, frame: Any) -> None:
        if self._stopping is not None and not self._again:  # the user's second signal
            self._restore()
            signal.raise_signal(number)
            return
        self._again = False
        if self._stopping is None:
            during = f" during {', '.join(self._running)}" if self._running else ""
            self._stopping = StoppedError(
                f"stopped by {self.SIGNALS.get(number, signal.Signals(number).name)}{during}: run the same "
                f"command with --resume {self._run_id or '<run id>'} to continue this run (the nodes that "
                "finished are skipped; a training resumes after its last finished epoch)", exit_code=128 + number)
            threading.Thread(target=self._raise_again, args=(number,), daemon=True, name="stop-again").start()
            logging.raiseExceptions = False  # a stop swallowed by a log line prints no traceback
        raise self._stopping

    def _raise_again(self, number: int) -> None:
        while not self._reported.wait(self.AGAIN):
            self._again = True
            _thread.interrupt_main(number)  # calls _stop in the main thread

    def _restore(self) -> None:
        self._reported.set()
        logging.raiseExceptions = True
        saved, self._saved = self._saved, {}
        for number, handler in saved.items():
            signal.signal(number, handler)

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        self._running.append(node.name)

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        if node.name in self._running:
            self._running.remove(node.name)

    @hook_impl
    def on_node_error(self, error: Exception) -> None:
        if self._stopping is not None and find_cause(error, StoppedError) is not None:
            self._reported.set()  # it reached Kedro: the node's and the run's error hooks follow

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._restore()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._restore()


class ResumeHintHook:
    """A run that fails with a user's error after saving some of its versioned outputs says,
    on its one line, how to continue it once fixed: ``--resume <run id>`` keeps what it
    saved (a plain rerun would train it all again under a new version). Checked on disk, so
    that it holds for outputs written by any runner's workers."""

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline: Pipeline,
                          catalog: DataCatalog) -> None:
        user_error = find_user_error(error)
        run_id = (run_params or {}).get("run_id")
        if user_error is None or isinstance(user_error, StoppedError) or not run_id:
            return  # a stop's line already names its --resume
        saved = [name for name in versioned_outputs(pipeline, catalog) if has_version(catalog, name, run_id)]
        if saved:
            user_error.add_note(f"(run {run_id} saved {len(saved)} of its outputs: once this is fixed, the same "
                                f"command with --resume {run_id} continues it)")


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


def _report_order(name: str) -> tuple:
    """Seed, then the example's model order (initial, finetune, vanilla), then the name."""
    seed, model = parse_namespace(name.removesuffix(".metrics"))
    return (seed or 0, MODELS.index(model) if model else len(MODELS), name)


class RunSummaryHook:
    """A few lines when a run ends: each model's top-1 with its 95% interval, the run id,
    where its outputs are and the MLflow run that holds them."""

    SHOWN = 8  # metrics lines before "and N more"

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog) -> None:
        from scipy.stats import binomtest  # noqa: PLC0415

        names = sorted((name for name in pipeline.all_outputs() if name.endswith(".metrics")), key=_report_order)
        lines, folder = [], None
        for name in names[: self.SHOWN]:
            try:
                metrics = catalog.load(name)
                folder = folder or catalog.get(name).saved_path()
            except Exception:  # noqa: BLE001 - a summary never fails a run
                continue
            count = metrics.validation_examples
            low, high = binomtest(round(metrics.top1 * count), count).proportion_ci(0.95) if count else (0, 0)
            lines.append(f"  {name.removesuffix('.metrics')}: top-1 {metrics.top1:.1%} "
                         f"(95% interval {low:.1%} to {high:.1%}, {count} photos)")
        if len(names) > self.SHOWN:
            lines.append(f"  and {len(names) - self.SHOWN} more metrics")
        where = next((p for p in (folder.parents if folder else ()) if p.name == "08_reporting"), None)
        footer = [f"run {run_params.get('run_id')}"]
        if where is not None:
            footer.append(f"outputs under {where.parent}")
        if os.environ.get("MLFLOW_RUN_ID"):
            footer.append(f"MLflow run {os.environ['MLFLOW_RUN_ID']}")
        logger.info("Finished: %s", "; ".join(footer) + (":" if lines else ""))
        for line in lines:
            logger.info("%s", line)


TRAINING_NODES = ("train_model", "finetune_model")


class _TrainingWork:
    """How much one training of the run computes, relative to the others: its epochs over
    the shared training split, times its image's pixels, times about 3 forward passes a
    step when the whole network learns and 1 when only the final BatchNorm and the
    classifier do (as ``fixres.cost.training_flops`` counts)."""

    def __init__(self, image_size: int, epochs: int, backbone_learns: bool) -> None:
        self.per_epoch_example = (3 if backbone_learns else 1) * image_size**2
        self.epochs = epochs


class PaceHook:
    """Extend the one warning of a slow training (``fixres.training.PaceWarning``) with
    the expected duration of every training the run has left, from the same measured pace:
    a CPU host learns in the first minute that the three trainings take hours, not only
    the first. Each training's share follows its resolution, epochs and what learns
    (``_TrainingWork``); early stopping can only shorten it. The warning keeps one line:
    the hook adds its estimate to the record, through a filter on the training logger,
    while its run lasts. In ``ParallelRunner``'s workers the line stays the training's own."""

    def __init__(self) -> None:
        self._work: dict[str, _TrainingWork] = {}  # node name -> its work, for the trainings to run
        self._current: str | None = None
        self._logger = logging.getLogger("fixres_kedro.fixres.training")

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: DataCatalog) -> None:
        definitions = {output: node for node in pipeline.nodes for output in node.outputs
                       if output.endswith("input_pipeline")}
        self._work = {}
        for node in pipeline.nodes:
            if node.func.__name__ not in TRAINING_NODES:
                continue
            pipeline_input = next((name for name in node.inputs if name.endswith("input_pipeline")), None)
            training = next((name for name in node.inputs if name.endswith(".training")), None)
            definition = definitions.get(pipeline_input)
            if definition is None or training is None:  # a partial run: its definition is not here
                continue
            try:
                image_size = int(catalog.load(definition.inputs[0])["image_size"])
                epochs = int(catalog.load(training)["epochs"])
            except Exception:  # noqa: BLE001 - an estimate never fails a run
                continue
            self._work[node.name] = _TrainingWork(image_size, epochs, node.func.__name__ == "train_model")
        if len(self._work) > 1:
            self._logger.addFilter(self._add_run_estimate)

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        if node.name in self._work:
            self._current = node.name

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        if self._work.pop(node.name, None) is not None:
            self._current = None

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._stop()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._stop()

    def _stop(self) -> None:
        self._logger.removeFilter(self._add_run_estimate)
        self._work, self._current = {}, None

    def run_estimate(self, seconds_per_step: float, steps_per_epoch: int, epochs: int) -> str | None:
        """The trainings left to this run, the current one included, at the current one's pace."""
        from fixres_kedro.fixres.training import duration  # noqa: PLC0415 - the node imported it

        current = self._work.get(self._current or "")
        if current is None or len(self._work) < 2:
            return None
        # Seconds per example and unit of work, from the current training.
        pace = seconds_per_step * steps_per_epoch * epochs / (current.per_epoch_example * current.epochs)
        seconds = sum(pace * work.per_epoch_example * work.epochs for work in self._work.values())
        return f"the run's {len(self._work)} trainings left take about {duration(seconds)} in all"

    def _add_run_estimate(self, record: logging.LogRecord) -> bool:
        pace = getattr(record, "pace", None)
        estimate = self.run_estimate(**pace) if isinstance(pace, dict) else None
        if estimate:
            message = record.getMessage()
            head, _, tail = message.rpartition(" (a GPU host")
            record.msg, record.args = (f"{head}; {estimate} (a GPU host{tail}" if head else
                                       f"{message}; {estimate}"), ()
        return True
