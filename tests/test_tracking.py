"""MLflow tracking: a smoke run in the store, read back with MLflow's client, shown by the
MLflow UI in headless Chromium; a broken store never fails a run.

Everything stays on 127.0.0.1: the store is a SQLite file in the project copy, the UI
server listens on loopback, Chromium resolves no other host.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ARCHIVE, SMOKE_DATA, copy_project

mlflow = pytest.importorskip("mlflow")
CHROMIUM = shutil.which("chromium")


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "FIXRES_DATA_SOURCE": "archive",
           "FIXRES_DATA_PATH": str(ARCHIVE), "FIXRES_TRACKING": "on", **extra}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update({k: v for k, v in extra.items()})
    return env


def _kedro(project: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--env=smoke", *args, "--params", "model.backbone=tiny"],
        cwd=project, env=_env(**extra), capture_output=True, text=True, timeout=600, check=False,
    )


@pytest.fixture(scope="module")
def tracked(smoke_project, tmp_path_factory) -> Path:
    """A project copy after one tracked run of the training and the report."""
    project = copy_project(tmp_path_factory.mktemp("tracked"))
    shutil.copytree(smoke_project / SMOKE_DATA / "02_intermediate", project / SMOKE_DATA / "02_intermediate")
    result = _kedro(project, "--pipelines=training,report")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "WARNING" not in result.stdout, result.stdout
    (project / "kedro-run.out").write_text(result.stdout)
    return project


@pytest.fixture(scope="module")
def client(tracked):
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    return MlflowClient(tracking_uri=f"sqlite:///{tracked / 'mlflow.db'}")


def _runs(client) -> dict[str, object]:
    """The runs by name; the parent (the kedro run) as ``"parent"``."""
    experiment = client.get_experiment_by_name("fixres_kedro")
    runs = client.search_runs([experiment.experiment_id])
    named = {run.info.run_name: run for run in runs}
    (named["parent"],) = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    return named


def test_a_run_is_an_mlflow_run_with_its_parameters_and_tags(client):
    runs = _runs(client)
    parent = runs["parent"]
    assert parent.info.run_name in ("smoke · training+report", "smoke · report+training")  # environment · pipelines
    assert parent.info.status == "FINISHED"
    assert parent.data.params["initial.training.epochs"] == "1"
    assert parent.data.params["model.backbone"] == "tiny"
    assert parent.data.params["initial.dataset.image_size"] == "32"
    tags = parent.data.tags
    assert tags["fixres.environment"] == "smoke" and tags["fixres.backbone"] == "tiny"
    assert tags["fixres.keras_backend"] and tags["fixres.seed"] == "42"
    assert tags["fixres.kedro_run_id"]  # the version the outputs were saved under
    experiment = client.get_experiment(runs["parent"].info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # MLflow's training view
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"model_comparison.png", "model_comparison.csv", "accuracy_vs_cost.png"} <= artifacts


@pytest.fixture(scope="module")
def catalog(tracked):
    from kedro.framework.session import KedroSession  # noqa: PLC0415
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    bootstrap_project(tracked)
    with KedroSession.create(project_path=tracked, env="smoke") as session:
        return session.load_context().catalog


def test_each_model_of_the_protocol_is_a_nested_mlflow_run_with_its_epochs(client, catalog):
    runs = _runs(client)
    parent = runs["parent"].info.run_id
    for name in ("initial", "finetune", "vanilla"):
        child = runs[name]
        assert child.data.tags["mlflow.parentRunId"] == parent
        assert child.data.tags["fixres.model"] == name
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"):
            history = client.get_metric_history(child.info.run_id, key)
            assert [m.step for m in history] == [0], (name, key)
        saved = catalog.load(f"{name}.metrics")  # what the run saved is what MLflow shows
        assert child.data.metrics["top1"] == pytest.approx(saved.top1)
        assert child.data.metrics["final_loss"] == pytest.approx(saved.loss)
        assert child.data.params["training.learning_rate"] in ("0.001", "0.0001")
        files = {a.path for a in client.list_artifacts(child.info.run_id, name)}
        assert f"{name}/{name}_training_curves.png" in files


def test_each_nested_run_lasts_as_long_as_its_training(client, tracked):
    """MLflow shows a nested run's duration: its training node's, not the whole run's."""
    log = (tracked / "logs" / "info.log").read_text()
    trained = {found.group(1): float(found.group(3)) for found in
               re.finditer(r"\] (\w+)\.(train_model|finetune_model) finished in ([\d.]+) s", log)}
    runs = _runs(client)
    assert set(trained) == {"initial", "finetune", "vanilla"}, log[-2000:]
    for name, seconds in trained.items():
        info = runs[name].info
        assert info.status == "FINISHED"
        spent = (info.end_time - info.start_time) / 1000
        assert seconds - 0.2 <= spent <= seconds + 2.0, (name, spent, seconds)


def _interrupt(project: Path, number: int) -> tuple[int, str, float]:
    """Start a long training, send ``number`` once its first epoch ends; the exit status,
    the output and the seconds from the signal to the exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kedro", "run", "--env=smoke", "--pipelines=initial",
         "--params", "model.backbone=tiny,initial.training.epochs=400"],
        cwd=project, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "epoch 2/400" in line:
            break
    sent = time.monotonic()
    process.send_signal(number)
    rest, _ = process.communicate(timeout=120)
    return process.returncode, "".join(lines) + rest, time.monotonic() - sent


@pytest.mark.parametrize(("number", "name"), [(signal.SIGINT, "Ctrl-C (SIGINT)"), (signal.SIGTERM, "SIGTERM")])
def test_a_stopped_run_ends_on_one_line_and_mlflow_records_it_killed(smoke_project, tmp_path, number, name):
    project = copy_project(tmp_path)
    shutil.copytree(smoke_project / SMOKE_DATA / "02_intermediate", project / SMOKE_DATA / "02_intermediate")
    code, output, seconds = _interrupt(project, number)
    assert code == 128 + number, output[-3000:]
    assert output.strip().splitlines()[-1].startswith(
        f"Error: stopped by {name} during initial.train_model: run the same command with --resume "), output[-3000:]
    assert "Traceback" not in output and "Aborted" not in output and "Logging error" not in output
    assert seconds < 30, seconds
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    runs = _runs(MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}"))
    assert {run_name: run.info.status for run_name, run in runs.items()} == {
        "parent": "KILLED", "initial": "KILLED", runs["parent"].info.run_name: "KILLED"}
    # What the message promises: the finished epochs are checkpointed for the next run.
    assert list((project / SMOKE_DATA / "06_models" / "checkpoints").glob("*/epoch-*"))


def test_a_broken_store_never_fails_a_run(smoke_project, tmp_path):
    project = copy_project(tmp_path)
    shutil.copytree(smoke_project / SMOKE_DATA / "02_intermediate", project / SMOKE_DATA / "02_intermediate")
    start = time.perf_counter()
    result = _kedro(project, "--pipelines=initial", MLFLOW_TRACKING_URI="http://127.0.0.1:9")
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stdout[-3000:]
    warnings = [line for line in result.stdout.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "MLflow tracking is off" in warnings[0], warnings
    assert seconds < 120  # no minutes of HTTP retries (a bound, not a benchmark)


def test_tracking_switched_off_opens_no_store(tmp_path, monkeypatch):
    from kedro.framework.session import KedroSession  # noqa: PLC0415
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    from fixres_kedro.tracking import TrackingHook  # noqa: PLC0415

    project = copy_project(tmp_path)
    monkeypatch.chdir(project)
    monkeypatch.setenv("FIXRES_TRACKING", "off")
    bootstrap_project(project)
    hook = TrackingHook()
    with KedroSession.create(project_path=project, env="smoke") as session:
        hook.after_context_created(session.load_context())
    assert hook._settings is None and hook._client is None
    assert not (project / "mlflow.db").exists() and not (project / "mlruns").exists()


# --- the MLflow UI ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def ui(tracked):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tracked / 'mlflow.db'}",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=tracked, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    break
        except OSError:
            time.sleep(1)
    else:
        server.kill()
        pytest.fail("the MLflow UI did not start within 180 s")
    yield url
    server.terminate()
    server.wait(timeout=30)


def _chromium(url: str, tmp_path: Path, *outputs: str) -> tuple[subprocess.CompletedProcess, dict]:
    profile = tempfile.mkdtemp(dir=tmp_path, prefix="chromium-")
    netlog = tmp_path / f"netlog-{Path(profile).name}.json"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
         f"--log-net-log={netlog}", "--window-size=1600,1000", "--virtual-time-budget=20000", *outputs, url],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result, json.loads(netlog.read_text())


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_the_mlflow_ui_shows_the_run_and_a_metric_chart(ui, client, tmp_path):
    runs = _runs(client)
    child = runs["initial"]
    experiment = child.info.experiment_id
    query = (f"#/metric?runs=%5B%22{child.info.run_id}%22%5D&metric=%22loss%22"
             f"&experiments=%5B%22{experiment}%22%5D&plot_metric_keys=%5B%22loss%22%5D&x_axis=step")
    result, netlog = _chromium(f"{ui}/{query}", tmp_path, "--dump-dom")
    page = result.stdout
    assert "js-plotly-plot" in page and "main-svg" in page  # the chart is drawn
    assert "initial" in page  # the run, by its name
    # The page asked nothing of any host but 127.0.0.1.
    names = {v: k for k, v in netlog["constants"]["logEventTypes"].items()}
    port = ui.rsplit(":", 1)[1]
    outside = [
        event["params"]["address"] for event in netlog["events"]
        if names.get(event["type"]) == "TCP_CONNECT_ATTEMPT" and "address" in event.get("params", {})
        and event["params"]["address"] != f"127.0.0.1:{port}"
    ]
    assert outside == []


def _printed_link(tracked: Path) -> str:
    """The MLflow UI link the tracked run printed last."""
    (link,) = re.findall(r"MLflow: (http://\S+)", (tracked / "kedro-run.out").read_text())
    return link


def test_a_run_ends_with_its_page_in_the_model_training_view(tracked, client):
    parent = _runs(client)["parent"]
    link = _printed_link(tracked)
    assert link == (f"http://127.0.0.1:5000/#/experiments/{parent.info.experiment_id}/runs/"
                    f"{parent.info.run_id}?workflowType=machine_learning")
    assert f"mlflow ui --backend-store-uri sqlite:///{tracked / 'mlflow.db'}" in (tracked / "kedro-run.out").read_text()


def _page_text(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style).*?</\1>", "", page, flags=re.S)).split())


GENAI_VIEW = ("Observability", "Detect Issues", "Token Usage")  # MLflow 3's GenAI overview


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_the_printed_link_opens_the_experiment_in_the_model_training_view(ui, tracked, tmp_path):
    # The link the run printed, on the test's UI server: the run's page, with its name, in
    # the training view (Runs, Models), none of the GenAI view's panels.
    link = _printed_link(tracked).replace("http://127.0.0.1:5000", ui)
    experiment_page = link.split("/runs/")[0] + "?" + link.split("?")[1]
    for url in (link, experiment_page):
        page = _page_text(_chromium(url, tmp_path, "--dump-dom")[0].stdout)
        assert re.search("smoke · (training\\+report|report\\+training)", page), page[:2000]
        assert "Runs" in page and "Models" in page
        assert not [marker for marker in GENAI_VIEW if marker in page], page[:2000]
    # Without the view in the link, MLflow 3.17 opens its GenAI view, whatever the
    # experiment's tags say: this is why the link carries it.
    bare = _page_text(_chromium(experiment_page.split("?")[0], tmp_path, "--dump-dom")[0].stdout)
    assert [marker for marker in GENAI_VIEW if marker in bare], bare[:2000]


class _Context:
    def __init__(self, mlflow_yml: dict) -> None:
        self.config_loader = {"mlflow": mlflow_yml}


def test_a_mistyped_mlflow_yml_is_one_warning_and_the_run_goes_on_untracked(tmp_path, monkeypatch, caplog):
    from fixres_kedro.tracking import TrackingHook  # noqa: PLC0415

    monkeypatch.setenv("FIXRES_TRACKING", "on")
    hook = TrackingHook()
    hook.after_context_created(_Context({"tracking_uri": f"sqlite:///{tmp_path}/mlflow.db", "experment": "x"}))
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1 and "MLflow tracking is off" in warnings[0] and "experment" in warnings[0]
    assert hook._settings is None and not (tmp_path / "mlflow.db").exists()


def test_untracked_pipelines_open_no_store(tmp_path, monkeypatch):
    from fixres_kedro.tracking import TrackingHook  # noqa: PLC0415

    monkeypatch.setenv("FIXRES_TRACKING", "on")
    hook = TrackingHook()
    hook.after_context_created(_Context({"tracking_uri": f"sqlite:///{tmp_path}/mlflow.db",
                                         "untracked_pipelines": ["data"]}))
    hook.before_pipeline_run({"pipeline_names": ["data"], "env": "smoke"}, None, None)
    assert hook._client is None and not (tmp_path / "mlflow.db").exists()


@pytest.mark.faults
def test_two_runs_on_a_new_store_are_both_recorded(tmp_path):
    """Two tracked runs started together on a store that does not exist yet: without the
    lock both create its schema, and one goes untracked ("duplicate column")."""
    if not ARCHIVE.exists():
        pytest.skip(f"{ARCHIVE} is missing")
    store = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    projects = [copy_project(Path(tempfile.mkdtemp(dir=tmp_path))) for _ in range(2)]
    command = [sys.executable, "-m", "kedro", "run", "--env=smoke", "--pipeline=data", "--params", "model.backbone=tiny"]
    runs = [subprocess.Popen(command, cwd=project, env=_env(MLFLOW_TRACKING_URI=store), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for project in projects]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    for run, output in zip(runs, outputs):
        assert run.returncode == 0, output[-3000:]
        assert "tracking is off" not in output, output[-3000:]
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("fixres_kedro")
    assert len(client.search_runs([experiment.experiment_id])) == 2
