"""Experiment tracking with MLflow that never fails a run.

Every ``kedro run`` is an MLflow run (``conf/base/mlflow.yml``: the store, the experiment
``fixres_kedro``, the pipelines left untracked), with one nested run per namespace that trained or
evaluated a model (``initial``, ``finetune``, ``seed_3.vanilla``, ``finetune_official``,
...), so that the runs, seeds and variants compare side by side in the MLflow UI:

* the parent run: the whole parameter tree (flattened, ``initial.training.epochs``), tags
  (``fixres.environment``, ``fixres.git_commit``, ``fixres.keras_backend``,
  ``fixres.backbone``, ``fixres.seed``, ``fixres.kedro_run_id``: the version every output of
  the run is saved under), the plots, tables and report as artifacts;
* each namespace's run: its parameters (recipe, training, runtime), its per-epoch
  metrics (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``epoch_seconds`` by
  epoch), its final metrics (``top1``, ``final_loss``, ``train_seconds``, ...), its
  training curves and sample grid, and tags naming the run, the seed and the namespace.
  It starts and ends with its training node, so MLflow's duration is the training's.

A run stopped by Ctrl-C or SIGTERM (``hooks.StopHook``) is recorded as KILLED, with the
nested run it stopped; one that fails, as FAILED.

What is logged is declared in the catalog: an entry's ``metadata: {tracking: history}``
(per-epoch metrics), ``metrics`` (final metrics and parameters) or ``artifact`` (the saved
file), logged after it is saved: nothing in the nodes knows about MLflow. The experiment
is marked as model training (``mlflow.experimentKind``), and the run ends with a link to
its page in the UI's model-training view (``ui_link``).

``TrackingHook`` logs through ``MlflowClient`` with explicit run ids, so it works in
``ParallelRunner``'s workers too, and imports MLflow only when a run starts: a command that
runs nothing (``kedro registry list``, ``kedro run --help``) never pays for it. (It replaced
kedro-mlflow, whose CLI plugin imported MLflow for every project command, and which this
project used only to open and close the parent run.) Whatever fails in
tracking (an unreachable server, a read-only or damaged store) is one warning, and the
run goes on untracked. ``FIXRES_TRACKING=off`` switches tracking off; ``MLFLOW_TRACKING_URI``
points it at a server.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from pydantic import BaseModel, ConfigDict, Field

from fixres_kedro.errors import StoppedError, find_cause
from fixres_kedro.hooks import git_state
from fixres_kedro.protocol import parse_namespace

logger = logging.getLogger(__name__)

# MLflow retries an unreachable server for minutes and reports usage to its makers by
# default; neither helps a training run.
for _variable, _value in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"), ("MLFLOW_HTTP_REQUEST_TIMEOUT", "5"),
                          ("MLFLOW_DISABLE_TELEMETRY", "true"), ("MLFLOW_LOGGING_LEVEL", "WARNING")):
    os.environ.setdefault(_variable, _value)

PER_EPOCH = ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds", "checkpoint_seconds")
# A run's final metrics, by their names in the metrics file; its evaluation loss is logged
# as ``final_loss`` (``loss`` is the training loss of each epoch).
FINAL = {"top1": "top1", "loss": "final_loss", "epochs": "epochs", "train_seconds": "train_seconds",
         "images_per_second": "images_per_second", "train_flops_estimate": "train_flops_estimate",
         "peak_accelerator_memory_bytes": "peak_accelerator_memory_bytes",
         "validation_examples": "validation_examples"}


def tracking_enabled() -> bool:
    """False when ``FIXRES_TRACKING`` says off (``off``, ``0``, ``false``, ``no``)."""
    return os.environ.get("FIXRES_TRACKING", "on").strip().lower() not in ("off", "0", "false", "no")


def plain(value: Any) -> Any:
    """``value`` with its pydantic models (validated parameter sections) as dictionaries."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    return value


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists become their text."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat


def run_name(run_params: Mapping[str, Any]) -> str:
    """An MLflow parent run's name: its environment and what ran (``smoke · fixres``,
    ``gpu · seeds --namespaces=seed_3``, ``local · --nodes=finetune.evaluate_model``)."""
    names = run_params.get("pipeline_names") or [run_params.get("pipeline_name") or "__default__"]
    what = "+".join("fixres" if name == "__default__" else name for name in names)
    for option in ("node_names", "namespaces", "tags", "from_nodes", "to_nodes"):
        chosen = run_params.get(option)
        if chosen:
            what += f" --{option.replace('_names', 's').replace('_', '-')}={','.join(chosen)}"
    return f"{run_params.get('env') or 'local'} · {what}"


UI_ADDRESS = "http://127.0.0.1:5000"  # where `mlflow ui` listens by default


def ui_link(tracking_uri: str, experiment_id: str, run_id: str | None = None) -> str:
    """The MLflow UI's page of an experiment (or one of its runs) in the model-training view.

    MLflow 3.17's UI takes the view from the page's ``workflowType`` query, else from its
    sidebar switch as the browser remembers it, and opens in its GenAI view otherwise: the
    experiment's ``mlflow.experimentKind`` tag no longer decides it (``mlflow/server/js``,
    the ``mlflow.workflowType`` setting).
    """
    parsed = urlparse(tracking_uri)
    base = tracking_uri.rstrip("/") if parsed.scheme in ("http", "https") else UI_ADDRESS
    page = f"#/experiments/{experiment_id}" + (f"/runs/{run_id}" if run_id else "")
    return f"{base}/{page}?workflowType=machine_learning"


@contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive lock beside a local SQLite store (``mlflow.db.lock``); a no-op for
    a server, which serialises its writers itself."""
    if urlparse(uri).scheme != "sqlite":
        yield
        return
    path = Path(uri.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def check_store(uri: str, timeout: float = 3.0) -> str | None:
    """Why the tracking store at ``uri`` cannot be used, or None when it can."""
    parsed = urlparse(uri)
    if parsed.scheme in ("http", "https"):
        import urllib.request  # noqa: PLC0415

        try:
            with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as answer:  # noqa: S310
                return None if answer.status == 200 else f"{uri} answers {answer.status}"
        except OSError as error:
            return f"{uri} cannot be reached ({error})"
    if parsed.scheme == "sqlite":
        path = Path(uri.removeprefix("sqlite:///"))
        folder = path if path.exists() else next((p for p in path.parents if p.exists()), Path("/"))
        if not os.access(folder, os.W_OK):
            return f"{path} is not writable"
    return None


class TrackingSettings(BaseModel):
    """``conf/<env>/mlflow.yml``."""

    model_config = ConfigDict(extra="forbid")

    tracking_uri: str = Field(min_length=1)
    experiment: str = Field("fixres_kedro", min_length=1)
    artifact_location: str | None = None  # used when the experiment is first created
    untracked_pipelines: list[str] = []


class TrackingHook:
    """Log every run to MLflow (see the module docstring); never let tracking fail it."""

    def __init__(self) -> None:
        self._settings: TrackingSettings | None = None
        self._kedro_run = ""
        self._client: Any = None
        self._parent: str | None = None
        self._experiment: str | None = None
        self._children: dict[str, str] = {}
        self._trains: dict[str, str] = {}  # the node that trains each namespace's model
        self._waiting: dict[str, list] = {}  # saved before its training began: logged then
        self._ended: dict[str, str] = {}  # the nested runs whose nodes all finished
        self._catalog: Any = None

    # --- the guard -------------------------------------------------------------------

    def _off(self, where: str, error: BaseException) -> None:
        if self._settings is not None or self._client is not None:
            run = f"run {self._kedro_run}, " if self._kedro_run else ""
            logger.warning("MLflow tracking is off for the rest of this run (%s%s: %s); its metrics files "
                           "are complete", run, where, " ".join(str(error).split())[:200])
        self._end_children("FAILED")
        self._settings = self._client = None

    def _guarded(self, where: str, call: Any, *args: Any, **kwargs: Any) -> None:
        if self._settings is None and self._client is None:
            return
        try:
            call(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - tracking never fails a run
            self._off(where, error)

    # --- the parent run ------------------------------------------------------------------

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        if not tracking_enabled():
            return
        try:
            settings = TrackingSettings.model_validate(context.config_loader["mlflow"])
            # Checked before MLflow opens the store: it retries a read-only SQLite file, or
            # an unreachable server, for minutes.
            problem = check_store(settings.tracking_uri)
            if problem:
                raise RuntimeError(problem)
            self._settings = settings
        except Exception as error:  # noqa: BLE001
            self._settings = TrackingSettings(tracking_uri="-")  # so that _off warns
            self._off("the tracking store", error)

    @hook_impl
    def after_catalog_created(self, catalog: Any) -> None:
        self._catalog = catalog

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any) -> None:
        if self._settings is None:
            return
        names = run_params.get("pipeline_names") or [run_params.get("pipeline_name") or "__default__"]
        if set(names) <= set(self._settings.untracked_pipelines):
            self._settings = None
            return
        self._catalog = catalog
        self._guarded("starting the run", self._start, run_params, pipeline, catalog)

    def _start(self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any) -> None:
        from mlflow.tracking import MlflowClient  # noqa: PLC0415

        self._kedro_run = run_params.get("run_id") or ""
        with store_lock(self._settings.tracking_uri):
            # Two runs on a new store would both create its schema (one then fails with
            # "duplicate column"), and both the experiment: one at a time.
            self._client = MlflowClient(tracking_uri=self._settings.tracking_uri)
            experiment = self._client.get_experiment_by_name(self._settings.experiment)
            self._experiment = (experiment.experiment_id if experiment is not None else
                                self._client.create_experiment(self._settings.experiment,
                                                               artifact_location=self._settings.artifact_location))
        # Read by MLflow versions before 3.17 (their UI's training view); ui_link for 3.17.
        self._client.set_experiment_tag(self._experiment, "mlflow.experimentKind", "custom_model_development")
        parameters = plain(catalog.load("parameters"))
        tags = {
            "fixres.environment": run_params.get("env") or "local",
            "fixres.kedro_run_id": run_params.get("run_id") or "",
            "fixres.keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
            "fixres.backbone": str(flatten(parameters).get("model.backbone", "")),
            "fixres.seed": str(parameters.get("seed", "")),
            "fixres.namespaces": ",".join(sorted({n.namespace for n in pipeline.nodes if n.namespace})),
        }
        state = git_state(Path(run_params.get("project_path") or "."))
        if state:
            tags |= {"fixres.git_commit": state["git_commit"], "fixres.git_dirty": str(state["git_dirty"])}
        self._parent = self._client.create_run(self._experiment, run_name=run_name(run_params),
                                               tags={key: value for key, value in tags.items() if value}).info.run_id
        self._trains = {node.name: node.namespace for node in pipeline.nodes
                        if node.namespace and any(name.endswith(".history") for name in node.outputs)}
        self._waiting = {namespace: [] for namespace in self._trains.values()}
        # Workers of a ParallelRunner log into the same runs.
        os.environ["MLFLOW_RUN_ID"] = self._parent
        self._client.log_batch(self._parent, params=_params(flatten(parameters)))

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._end_children("FINISHED")
        self._end_parent("FINISHED")
        if self._client is not None and self._parent is not None:
            uri = self._settings.tracking_uri
            served = urlparse(uri).scheme in ("http", "https")
            logger.info("MLflow: %s%s", ui_link(uri, self._experiment, self._parent),
                        "" if served else f" (with `mlflow ui --backend-store-uri {uri}` running)")
        self._finish()

    @hook_impl
    def on_pipeline_error(self, error: Exception) -> None:
        status = "KILLED" if find_cause(error, StoppedError) else "FAILED"
        self._end_children(status)
        self._end_parent(status)
        self._finish()

    def _end_parent(self, status: str) -> None:
        if self._client is not None and self._parent is not None:
            self._guarded("ending the run", self._client.set_terminated, self._parent, status)

    # --- a nested run lasts as long as its training ------------------------------------

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        if self._client is not None and node.name in self._trains:
            self._guarded(f"starting {node.namespace}", self._child, node.namespace)
            for saved in self._waiting.pop(node.namespace, []):
                self.after_dataset_saved(*saved)

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        namespace = self._trains.get(node.name)
        if self._client is None or namespace not in self._children:
            return
        # Nodes of other namespaces may run before its evaluation (the runner's order): the
        # run ends with its training, and what follows (its history, the evaluation) is
        # logged into the finished run.
        self._ended[namespace] = self._children.pop(namespace)
        self._guarded(f"ending {namespace}", self._client.set_terminated, self._ended[namespace], "FINISHED")

    def _finish(self) -> None:
        os.environ.pop("MLFLOW_RUN_ID", None)
        self._trains, self._ended, self._waiting = {}, {}, {}
        self._settings = self._client = self._parent = None

    # --- what the nodes saved -----------------------------------------------------------

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        if self._client is None:
            return
        if dataset_name.rpartition(".")[0] in self._waiting:  # a sample grid before its training
            self._waiting[dataset_name.rpartition(".")[0]].append((dataset_name, data, node))
            return
        self._guarded(f"logging {dataset_name}", self._log_saved, dataset_name, data, node)

    def _log_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        dataset = self._catalog.get(dataset_name) if self._catalog is not None else None
        declared = (getattr(dataset, "metadata", None) or {}).get("tracking")
        if declared is None:
            return
        namespace = dataset_name.rpartition(".")[0]
        record = plain(data)
        if declared == "history" and namespace:
            self._log_history(namespace, record)
        elif declared == "metrics" and namespace:
            self._log_metrics(namespace, record)
        path = dataset.saved_path() if declared in ("metrics", "artifact") and hasattr(dataset, "saved_path") else None
        if path is not None and path.is_file():
            run = self._child(namespace) if namespace else self._parent
            self._client.log_artifact(run, str(path), artifact_path=namespace or None)

    def _child(self, namespace: str) -> str:
        """The nested run of ``namespace`` (made on first use)."""
        if namespace in self._ended:
            return self._ended[namespace]
        if namespace not in self._children:
            seed, model = parse_namespace(namespace)
            tags = {"mlflow.parentRunId": self._parent, "fixres.namespace": namespace,
                    "fixres.model": model or namespace.split(".")[-1]}
            if seed is not None:
                tags["fixres.seed"] = str(seed)
            made = self._client.create_run(self._experiment, run_name=namespace, tags=tags)
            self._children[namespace] = made.info.run_id
        return self._children[namespace]

    def _log_history(self, namespace: str, history: Mapping[str, Any]) -> None:
        from mlflow.entities import Metric  # noqa: PLC0415

        now = int(time.time() * 1000)
        metrics = [
            Metric(key, float(value), now, step)
            for key, values in history.get("history", {}).items() if key in PER_EPOCH
            for step, value in enumerate(values)
            if isinstance(value, int | float) and math.isfinite(value)
        ]
        for start in range(0, len(metrics), 1000):  # MLflow's batch limit
            self._client.log_batch(self._child(namespace), metrics=metrics[start : start + 1000])

    def _log_metrics(self, namespace: str, metrics: Mapping[str, Any]) -> None:
        from mlflow.entities import Metric  # noqa: PLC0415

        now = int(time.time() * 1000)
        final = [Metric(name, float(metrics[key]), now, 0) for key, name in FINAL.items()
                 if isinstance(metrics.get(key), int | float) and math.isfinite(metrics[key])]
        params = flatten({key: value for key, value in (metrics.get("parameters") or {}).items() if value})
        self._client.log_batch(self._child(namespace), metrics=final, params=_params(params))

    def _end_children(self, status: str) -> None:
        children, self._children = self._children, {}
        if self._client is None:
            return
        for run_id in children.values():
            try:
                self._client.set_terminated(run_id, status)
            except Exception:  # noqa: BLE001, S112 - tracking never fails a run
                continue


def _params(values: Mapping[str, Any]) -> list:
    from mlflow.entities import Param  # noqa: PLC0415

    return [Param(key, str(value)[:6000]) for key, value in values.items() if value is not None]


def _tags(values: Mapping[str, str]) -> list:
    from mlflow.entities import RunTag  # noqa: PLC0415

    return [RunTag(key, value) for key, value in values.items() if value]
