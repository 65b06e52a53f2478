"""``DaskRunner``: a study's namespaces as tasks on a dask.distributed cluster.

``kedro run --pipeline=seeds --runner=fixres_kedro.runners.DaskRunner`` submits one task
per namespace group (``Pipeline.group_nodes_by("namespace")``: a seed's protocol, a
variant's chain); a group whose inputs another group writes (the summaries, the report)
is submitted once those have finished. The Kedro session stays in this process, the
driver: one save version and one run id for every output, and the hooks of the run
(``before_pipeline_run`` ...) run here once.

* **The scheduler** is found as Dask finds it: ``--runner-params address=tcp://host:8786``,
  else ``DASK_SCHEDULER_ADDRESS`` / Dask's ``scheduler-address`` setting. With none, a
  local cluster is started for the run: one worker per GPU (``workers_per_gpu`` share
  one), or one per CPU core on a host without one, each seeing only its own GPU
  (``CUDA_VISIBLE_DEVICES``), with its share of the GPU's memory and of the cores.
* **Workers** receive the group's nodes and the run's catalog (pickled: the same save
  version) and load and save through it, in the project folder on storage every worker
  mounts at the same path; what crosses groups must be a persistent dataset. Only small
  records come back through the scheduler: which node started, finished or saved what.
* **Hooks**: a worker runs the project's hooks around each node (seeding, devices,
  checkpoints, provenance), except the ``DRIVER_HOOKS``, which log from the driver
  (MLflow: one parent run, a nested run per namespace). The workers' node and dataset
  events reach the driver as Dask events and are replayed to those hooks there, as they
  happen: what they log is what a ``SequentialRunner`` run logs.
* **Faults**: a task whose worker dies runs again on another worker (Dask's
  ``allowed-failures``); it skips the nodes that finished in this run (their events are
  on the scheduler) and a training resumes from its checkpoint on the shared data root.
  A failing node stops the run with its error. An unreachable scheduler is one line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset
from kedro.pipeline import Pipeline
from kedro.runner import AbstractRunner
from kedro.utils import load_obj

from fixres_kedro.errors import FixResError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kedro.io import CatalogProtocol
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

logger = logging.getLogger(__name__)

RUNNER = "fixres_kedro.runners.DaskRunner"
DRIVER_HOOKS = ("fixres_kedro.tracking.TrackingHook",)
"""Hooks that run on the driver only; the workers' node and dataset events are replayed to them."""
# What a driver hook logs as values (read back on the driver); any other saved dataset's
# event carries no data (an artifact is logged from its file).
LOADED_ON_DRIVER = ("history", "metrics")
CONNECT_SECONDS = 5
WORKER_LOG = "FIXRES_WORKER_LOG"  # a local cluster's worker writes its log there


class ClusterError(FixResError):
    """The Dask cluster cannot run the study: unreachable, not installed, or a pipeline
    it cannot split."""


def _command(env: str | None = None) -> str:
    env = env or os.environ.get("KEDRO_ENV") or "local"
    return f"kedro run --runner={RUNNER} --env {env}"


def _distributed() -> Any:
    try:
        import distributed  # noqa: PLC0415
    except ImportError:
        raise ClusterError(
            f"{RUNNER} needs dask.distributed, which is not installed: pip install -e '.[cluster]', "
            f"then `{_command()}`") from None
    return distributed


def scheduler_address(address: str | None = None) -> tuple[str | None, str]:
    """The scheduler to use and where it was named: ``address``, else Dask's
    ``scheduler-address`` (``DASK_SCHEDULER_ADDRESS``); ``(None, ...)``: a local cluster."""
    if address:
        return address, "--runner-params address"
    import dask  # noqa: PLC0415

    configured = dask.config.get("scheduler-address", None)
    if configured:
        source = "DASK_SCHEDULER_ADDRESS" if os.environ.get("DASK_SCHEDULER_ADDRESS") else "Dask's scheduler-address"
        return str(configured), source
    return None, "none: a local cluster"


def connect(address: str, source: str, timeout: float = CONNECT_SECONDS) -> Any:
    """A client of the scheduler at ``address``; one line (``ClusterError``) within
    ``timeout`` seconds when it cannot be reached."""
    distributed = _distributed()
    try:
        return distributed.Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        reason = " ".join(str(error).split())[:160]
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} (from {source}): {reason}; start it "
            "(`dask scheduler`, then `dask worker <address>` per GPU: docs/cluster.md) or unset "
            f"DASK_SCHEDULER_ADDRESS for a local cluster, then `{_command()}`") from None


# --- the local cluster ------------------------------------------------------------------


def local_worker_settings(gpus: int, cores: int, workers_per_gpu: int = 1,
                          max_workers: int | None = None) -> list[dict[str, Any]]:
    """Each local worker's variables and resources: one per GPU slot, each on its own GPU
    with its share of its memory (``fixres.devices.accelerator_settings``), or one per
    core on a host without GPU; each with its share of the cores."""
    from fixres_kedro.fixres.devices import accelerator_settings  # noqa: PLC0415
    from fixres_kedro.workers import PARALLEL_WORKERS  # noqa: PLC0415

    count = gpus * max(1, workers_per_gpu) if gpus else max(1, cores)
    count = min(count, max_workers) if max_workers else count
    workers = []
    for number in range(1, count + 1):
        env = {PARALLEL_WORKERS: str(count)}
        resources: dict[str, float] = {}
        if gpus:
            env |= accelerator_settings(number, count, gpus)
            resources["GPU"] = 1
        workers.append({"env": env, "resources": resources})
    return workers


def start_local_cluster(workers: list[dict[str, Any]], log_folder: Path | None) -> Any:
    """A scheduler on 127.0.0.1 and one worker process (one thread) per entry of
    ``workers`` (``local_worker_settings``), each with its own environment."""
    distributed = _distributed()
    from distributed.deploy.spec import SpecCluster  # noqa: PLC0415

    specs = {}
    for number, worker in enumerate(workers, start=1):
        env = dict(worker["env"])
        if log_folder is not None:
            env[WORKER_LOG] = str(log_folder / f"dask-worker-{number}.log")
        specs[f"worker-{number}"] = {"cls": distributed.Nanny, "options": {
            "nthreads": 1, "env": env, "resources": worker["resources"] or None, "host": "127.0.0.1",
            "silence_logs": logging.WARNING}}
    scheduler = {"cls": distributed.Scheduler, "options": {"host": "127.0.0.1", "dashboard_address": ":0"}}
    return SpecCluster(workers=specs, scheduler=scheduler, silence_logs=logging.WARNING)


# --- on a worker ------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupTask:
    """What a worker needs to run one group, besides its nodes and the catalog."""

    group: str
    topic: str  # the Dask event topic of this group in this run
    run_id: str | None
    project_path: str
    package_name: str
    environment: dict[str, str] = field(default_factory=dict)
    driver_hooks: tuple[str, ...] = DRIVER_HOOKS


@dataclass(frozen=True)
class GroupReport:
    """What a worker says of a group it ran (no data)."""

    group: str
    worker: str
    pid: int
    ran: tuple[str, ...]
    skipped: tuple[str, ...]  # finished by an earlier attempt of this run
    seconds: float


class EventRelay:
    """On a worker: each node's start, end, error and saved datasets as Dask events of
    the group's topic (the driver replays them to its hooks; a rerun reads which nodes
    finished)."""

    def __init__(self, topic: str, worker: Any) -> None:
        self._topic, self._worker = topic, worker

    def send(self, event: str, **fields: Any) -> None:
        self._worker.log_event(self._topic, {"id": uuid.uuid4().hex, "event": event,
                                             "worker": self._worker.address, "time": time.time(), **fields})

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        self.send("before_node_run", node=node.name)

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        self.send("after_node_run", node=node.name)

    @hook_impl
    def on_node_error(self, error: Exception, node: Node) -> None:
        self.send("on_node_error", node=node.name, error=" ".join(str(error).split())[:500])

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Node) -> None:
        self.send("after_dataset_saved", node=node.name, dataset=dataset_name)


def _prepare_worker(task: GroupTask) -> None:
    """Once per worker process: the project configured, the run's variables, a log."""
    if not Path(task.project_path).is_dir():
        raise ClusterError(
            f"the project folder {task.project_path} is not on worker host {os.uname().nodename}: mount the "
            f"shared storage at the same path on every host (docs/cluster.md), then "
            f"`{_command(task.environment.get('KEDRO_ENV'))}`")
    os.chdir(task.project_path)  # the catalog's relative paths, as on the driver
    os.environ.update(task.environment)
    if getattr(_prepare_worker, "_configured", None) == task.package_name:
        return
    from kedro.framework.project import configure_project  # noqa: PLC0415

    configure_project(task.package_name)
    target = os.environ.get(WORKER_LOG)
    handler = logging.FileHandler(target) if target else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("fixres_kedro", "kedro"):  # the nodes' lines in the worker's log, once
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
        logging.getLogger(name).propagate = False
    _prepare_worker._configured = task.package_name
    _own_sampling_generator()


def _own_sampling_generator() -> None:
    """Dask sizes messages on the worker's event-loop thread by sampling them with Python's
    process-wide ``random``, which Keras draws its default seeds from on the task's thread
    (after ``SeedHook`` seeded it): a sample taken in between changes the initial weights.
    Dask's sampling gets a generator of its own."""
    import random  # noqa: PLC0415

    import dask.sizeof  # noqa: PLC0415

    if getattr(dask.sizeof, "random", None) is random:
        dask.sizeof.random = random.Random()


def _worker_hooks(task: GroupTask, relay: EventRelay) -> PluginManager:
    from kedro.framework.hooks.manager import (  # noqa: PLC0415
        _create_hook_manager,
        _register_hooks,
    )
    from kedro.framework.project import settings  # noqa: PLC0415

    driver_only = tuple(load_obj(path) for path in task.driver_hooks)
    manager = _create_hook_manager()
    manager.register(relay)  # registered first, called last: after the project's hooks
    # The project's hooks only: plugins' hooks (kedro-viz's statistics) need the catalog
    # hooks that run on the driver.
    _register_hooks(manager, tuple(hook for hook in settings.HOOKS if not isinstance(hook, driver_only)))
    return manager


def nodes_to_rerun(pipeline: Pipeline, finished: set[str], catalog: CatalogProtocol) -> list[Node]:
    """The nodes of ``pipeline`` to run when ``finished`` already ran in this run: the
    others, and the finished ones whose in-memory outputs those read (in run order)."""
    needed = {node.name for node in pipeline.nodes if node.name not in finished}
    by_name = {node.name: node for node in pipeline.nodes}
    writers = {output: node for node in pipeline.nodes for output in node.outputs}
    todo = list(needed)
    while todo:
        for name in by_name[todo.pop()].inputs:
            writer = writers.get(name)
            if writer is not None and writer.name not in needed and _ephemeral(catalog, name):
                needed.add(writer.name)
                todo.append(writer.name)
    return [node for node in pipeline.nodes if node.name in needed]


def _ephemeral(catalog: CatalogProtocol, name: str) -> bool:
    if name.startswith("params:") or name == "parameters":
        return False
    return name not in catalog or bool(getattr(catalog.get(name), "_EPHEMERAL", False))


def run_group(task: GroupTask, pipeline: Pipeline, catalog: CatalogProtocol) -> GroupReport:
    """On a worker: the group's nodes in order, through the catalog, with the project's
    hooks; after a lost attempt, only what it did not finish."""
    from distributed import get_worker  # noqa: PLC0415
    from kedro.runner.task import Task  # noqa: PLC0415

    started = time.perf_counter()
    worker = get_worker()
    threads = worker.state.nthreads
    if threads != 1:  # the folder, the variables and Keras' state are the process's
        raise ClusterError(
            f"worker {worker.address} runs {threads} threads: start each worker with one "
            f"(`dask worker <scheduler> --nthreads 1`, docs/cluster.md), then "
            f"`{_command(task.environment.get('KEDRO_ENV'))}`")
    _prepare_worker(task)
    finished = {message["node"] for _, message in worker.client.get_events(task.topic)
                if message.get("event") == "node_finished"}
    nodes = nodes_to_rerun(pipeline, finished, catalog)
    skipped = tuple(sorted({node.name for node in pipeline.nodes} - {node.name for node in nodes}))
    if finished:
        logger.info("%s runs again on %s: %d of its nodes finished before (%s)", task.group, worker.address,
                    len(skipped), ", ".join(skipped) or "none kept")
    relay = EventRelay(task.topic, worker)
    hooks = _worker_hooks(task, relay)
    for node in nodes:
        Task(node=node, catalog=catalog, hook_manager=hooks, is_async=False, run_id=task.run_id).execute()
        relay.send("node_finished", node=node.name)  # its outputs are saved
    return GroupReport(task.group, worker.address, os.getpid(), tuple(node.name for node in nodes), skipped,
                       time.perf_counter() - started)


# --- the driver -------------------------------------------------------------------------


class RemoteNodeError(Exception):
    """A node's error on a worker, as the driver's hooks see it."""


class DaskRunner(AbstractRunner):
    """Run a pipeline's namespace groups as tasks on a dask.distributed cluster (see the
    module docstring).

    Args:
        address: the scheduler (default: Dask's ``scheduler-address``, else a local cluster).
        workers_per_gpu: local cluster only: workers sharing each GPU (each a memory share).
        max_workers: local cluster only: at most this many workers.
        is_async: Kedro's option, not supported (the workers load and save in turn).
    """

    def __init__(self, address: str | None = None, workers_per_gpu: int = 1, max_workers: int | None = None,
                 is_async: bool = False) -> None:
        super().__init__(is_async=False)
        if is_async:
            logger.warning("DaskRunner loads and saves in turn on each worker: is_async is ignored")
        self._workers_per_gpu = int(workers_per_gpu)
        self._max_workers = int(max_workers) if max_workers else None
        self._address, self._source = scheduler_address(address)
        # A given scheduler is reached now, before the session starts anything.
        self._client = connect(self._address, self._source) if self._address else None

    def _get_executor(self, max_workers: int) -> None:
        return None  # tasks go to the cluster, not to an executor

    def _run(self, pipeline: Pipeline, catalog: CatalogProtocol, hook_manager: PluginManager | None = None,
             run_id: str | None = None) -> None:
        groups = pipeline.group_nodes_by("namespace")
        _check_crossings(pipeline, groups, catalog)
        with self._cluster(len(groups)) as client:
            _Study(client, pipeline, groups, catalog, hook_manager, run_id).run()

    @contextlib.contextmanager
    def _cluster(self, groups: int):
        if self._client is not None:
            client, self._client = self._client, None
            try:
                yield client
            finally:
                client.close()
            return
        from fixres_kedro.fixres.devices import gpu_count  # noqa: PLC0415
        from fixres_kedro.fixres.photos import usable_cores  # noqa: PLC0415

        gpus = gpu_count()
        workers = local_worker_settings(gpus, usable_cores(), self._workers_per_gpu,
                                        self._max_workers or (None if gpus else groups))
        logs = Path.cwd() / "logs"
        # The cluster's start and stop, line by line, say nothing here (restored after).
        _distributed()  # its loggers exist once it is imported
        quiet = {name: logging.getLogger(name) for name in [*logging.root.manager.loggerDict, "distributed"]
                 if name.split(".")[0] == "distributed"}
        levels = {name: each.level for name, each in quiet.items()}
        for each in quiet.values():
            each.setLevel(logging.WARNING)
        try:
            with start_local_cluster(workers, logs if logs.is_dir() else None) as cluster, \
                    _distributed().Client(cluster, set_as_default=False) as client:
                logger.info("A local Dask cluster: %d workers (%s); dashboard %s", len(workers),
                            f"{gpus} GPU(s)" if gpus else "no GPU", cluster.dashboard_link)
                yield client
        finally:
            for name, each in quiet.items():
                each.setLevel(levels[name])


def _group_of(node: Node) -> str:
    return node.namespace.split(".")[0] if node.namespace else node.name


def _check_crossings(pipeline: Pipeline, groups: Iterable[Any], catalog: CatalogProtocol) -> None:
    """Refuse a pipeline whose groups hand each other data in memory (a worker's memory
    is its own)."""
    writers = {output: _group_of(node) for node in pipeline.nodes for output in node.outputs}
    crossing = sorted({name for node in pipeline.nodes for name in node.inputs
                       if name in writers and writers[name] != _group_of(node) and _ephemeral(catalog, name)})
    if crossing:
        raise ClusterError(
            f"{', '.join(crossing[:3])} pass between namespaces in memory, which Dask workers do not share: "
            f"declare {'it' if len(crossing) == 1 else 'them'} in conf/base/catalog.yml, then `{_command()}`")


class _Study:
    """One run on the cluster: submits groups as their dependencies finish, replays the
    workers' events to the driver's hooks, stops at the first failure."""

    def __init__(self, client: Any, pipeline: Pipeline, groups: list[Any], catalog: CatalogProtocol,
                 hook_manager: PluginManager | None, run_id: str | None) -> None:
        from kedro.framework.project import PACKAGE_NAME  # noqa: PLC0415

        self.client, self.pipeline, self.catalog, self.run_id = client, pipeline, catalog, run_id
        self.groups = {group.name: group for group in groups}
        self.nodes = {node.name: node for node in pipeline.nodes}
        self.events: queue.Queue = queue.Queue()
        self.seen: set[str] = set()
        self.hooks = _DriverHooks(hook_manager, DRIVER_HOOKS)
        study = f"fixres-kedro:{run_id or uuid.uuid4().hex}"
        self.tasks = {name: GroupTask(
            group=name, topic=f"{study}:{name}", run_id=run_id, project_path=str(Path.cwd().resolve()),
            package_name=PACKAGE_NAME or "fixres_kedro", environment=_run_environment()) for name in self.groups}
        workers = client.scheduler_info()["workers"].values()
        self.resources = {"GPU": 1} if any("GPU" in w.get("resources", {}) for w in workers) else None
        if not workers:
            logger.warning("The Dask scheduler has no worker yet: the tasks wait for one")

    def run(self) -> None:
        for name, task in self.tasks.items():
            self.client.subscribe_topic(task.topic, lambda event, group=name: self.events.put(("event", group, event)))
        todo, done, running = set(self.groups), set(), {}
        try:
            while todo or running:
                for name in sorted(g for g in todo if set(self.groups[g].dependencies) <= done):
                    todo.discard(name)
                    running[name] = self._submit(name)
                if not running:
                    raise ClusterError(f"the groups {', '.join(sorted(todo))} wait for each other")
                try:
                    kind, name, payload = self.events.get(timeout=1)  # a signal stops the wait
                except queue.Empty:
                    continue
                if kind == "event":
                    self._replay(name, payload[1])
                    continue
                self._catch_up(name)
                del running[name]
                report = self._result(name, payload)
                done.add(name)
                resumed = f", {len(report.skipped)} nodes finished before" if report.skipped else ""
                logger.info("%s finished on %s in %.1f s (%d of %d groups%s)", name, report.worker,
                            report.seconds, len(done), len(self.groups), resumed)
        except BaseException:
            for future in running.values():
                future.cancel()
            raise
        finally:
            for task in self.tasks.values():
                with contextlib.suppress(Exception):
                    self.client.unsubscribe_topic(task.topic)

    def _result(self, name: str, future: Any) -> GroupReport:
        """The group's report; a worker's error is raised here as it was raised there."""
        distributed = _distributed()
        try:
            return future.result()
        except distributed.KilledWorker as error:
            allowed = getattr(error, "allowed_failures", 3)
            last = getattr(getattr(error, "last_worker", None), "address", "?")
            raise ClusterError(
                f"{name} was running on {allowed + 1} workers that died ({last} last; "
                f"out of memory? see the workers' logs): the finished outputs stay, so "
                f"`{_command()} --resume {self.run_id}` runs what is missing") from None
        except distributed.client.FutureCancelledError as error:
            raise ClusterError(f"{name} was cancelled by the Dask cluster ({' '.join(str(error).split())[:160]}): "
                               f"the finished outputs stay; `{_command()} --resume {self.run_id}` "
                               "runs what is missing") from None

    def _submit(self, name: str) -> Any:
        group = self.groups[name]
        future = self.client.submit(
            run_group, self.tasks[name], self.pipeline.only_nodes(*group.nodes), self.catalog,
            key=f"{name}-{uuid.uuid4().hex[:8]}", pure=False, resources=self.resources)
        future.add_done_callback(lambda finished: self.events.put(("done", name, finished)))
        logger.info("Submitted %s (%d nodes)%s", name, len(group.nodes), " on a GPU" if self.resources else "")
        return future

    def _catch_up(self, name: str) -> None:
        """The group's events that had not arrived when its task ended, in order."""
        for _, message in sorted(self.client.get_events(self.tasks[name].topic), key=lambda e: e[0]):
            self._replay(name, message)

    def _replay(self, group: str, message: dict[str, Any]) -> None:
        if message.get("id") in self.seen:
            return
        self.seen.add(message.get("id"))
        node = self.nodes.get(message.get("node", ""))
        if node is None:
            return
        event = message["event"]
        if event == "after_node_run":
            logger.info("%s finished on %s", node.name, message.get("worker"))
        self.hooks.replay(event, node, message, self.catalog, self.run_id)


def _run_environment() -> dict[str, str]:
    """The driver's variables a worker's hooks and datasets read for this run."""
    names = ("KEDRO_ENV", "FIXRES_DATA_SOURCE", "FIXRES_DATA_PATH", "FIXRES_COMPILATION_CACHE", "KERAS_BACKEND")
    return {name: os.environ[name] for name in names if name in os.environ}


class _DriverHooks:
    """The driver's own hooks (``DRIVER_HOOKS``) called with a worker's node events."""

    def __init__(self, hook_manager: PluginManager | None, driver_hooks: tuple[str, ...]) -> None:
        self._manager = hook_manager
        if hook_manager is None or not hasattr(hook_manager, "get_plugins"):
            self._others: list[Any] | None = None
            return
        classes = tuple(load_obj(path) for path in driver_hooks)
        self._others = [plugin for plugin in hook_manager.get_plugins() if not isinstance(plugin, classes)]

    def replay(self, event: str, node: Node, message: dict[str, Any], catalog: CatalogProtocol,
               run_id: str | None) -> None:
        if self._others is None or event not in ("before_node_run", "after_node_run", "on_node_error",
                                                  "after_dataset_saved"):
            return
        call = self._manager.subset_hook_caller(event, remove_plugins=self._others)
        common = {"node": node, "catalog": catalog, "inputs": {}, "is_async": False, "run_id": run_id}
        if event == "before_node_run":
            call(**common)
        elif event == "after_node_run":
            call(**common, outputs={})
        elif event == "on_node_error":
            call(**common, error=RemoteNodeError(message.get("error", "")))
        else:
            name = message["dataset"]
            call(dataset_name=name, data=_saved_data(catalog, name), node=node)


def _saved_data(catalog: CatalogProtocol, name: str) -> Any:
    """What a worker saved as ``name``, read back when a driver hook logs its values."""
    dataset = catalog.get(name)
    cache = getattr(dataset, "_version_cache", None) if isinstance(dataset, AbstractVersionedDataset) else None
    if cache is not None:  # a worker saved a new version: forget the one resolved here before
        cache.clear()
    tracked = (getattr(dataset, "metadata", None) or {}).get("tracking")
    return catalog.load(name) if tracked in LOADED_ON_DRIVER else None
