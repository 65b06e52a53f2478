"""kedro-viz: the static site of the ``fixres`` DAG, rendered by headless Chromium.

``kedro viz build --include-previews`` runs in the smoke project copy (so the previews show a
real run's outputs); the site is served from ``127.0.0.1`` by a thread of this process and
opened by ``chromium --headless --dump-dom``, whose DOM is the page *after* kedro-viz's
JavaScript drew the flowchart. Chromium cannot resolve any host but 127.0.0.1
(``--host-resolver-rules``) and records its traffic in a net log, which the tests read.

What is asserted where:

* the build's ``api/pipelines/fixres`` holds every node of the project's ``fixres``
  pipeline (the 14 of the experiment in ``FIXRES_NODES``, and any added since), the layers
  in order, a layer for every dataset, and the preview type of each dataset in ``PREVIEWS``;
* with ``?pid=fixres&expandAllPipelines=true`` the page fetches that file and draws one SVG
  node per task node, with exactly those ids, and the six layer bands in order;
* the default view (``/``) collapses the namespaces ``initial``, ``finetune``, ``vanilla``
  into three modular-pipeline nodes; only the nodes outside them are drawn as tasks;
* selecting a dataset (``?sn=<name>``) opens its metadata panel with the preview: the metrics
  as a JSON tree, the plots as the very PNG bytes of the latest run, the comparison table.

Skipped only when ``chromium`` is not installed (``.ci/run`` installs Debian's).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fixres_kedro.protocol import MODELS
from tests.conftest import SMOKE_DATA

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)

# The experiment's nodes, as the brief of this test lists them; the pipeline may hold more.
FIXRES_NODES = {
    "split_dataset",
    *(f"{model}.define_input_pipeline" for model in MODELS),
    *(f"{model}.visualize_dataset" for model in MODELS),
    "initial.train_model",
    "vanilla.train_model",
    "finetune.finetune_model",
    *(f"{run}.evaluate_model" for run in MODELS),
    *(f"{run}.plot_training_curves" for run in MODELS),
    "compare_models",
}
LAYERS = ["raw", "intermediate", "models", "model_output", "reporting"]

# What kedro-viz 12.5 previews, per dataset (None: no preview; see conf/base/catalog.yml).
PREVIEWS = {
    "flower_photos": None,  # ImageSourceDataset has no preview()
    "run_provenance": None,  # the run's, handed to the nodes by a hook
    "train_split": None,  # preview: false, the rows are JPEG bytes
    "validation_split": None,
    "class_names": "JSONPreview",
    "split_summary": "JSONPreview",
    "model_comparison": "TablePreview",
    "model_comparison_plot": "ImagePreview",
    "accuracy_vs_cost_plot": "ImagePreview",
    **{f"{run}.input_pipeline": "JSONPreview" for run in MODELS},
    **{f"{run}.sample_grid": "ImagePreview" for run in MODELS},
    **{f"{run}.model": None for run in MODELS},  # KerasModelDataset has no preview()
    **{f"{run}.history": "JSONPreview" for run in MODELS},
    **{f"{run}.metrics": "JSONPreview" for run in MODELS},
    **{f"{run}.training_curves": "ImagePreview" for run in MODELS},
}

# Outside hosts the *page* may try (and fail to reach): kedro-viz's index.html links
# Google Fonts. Anything else (e.g. the Heap telemetry script) fails the test.
PAGE_OUTSIDE_HOSTS = {"fonts.googleapis.com", "fonts.gstatic.com"}


def _pipeline_nodes() -> set[str]:
    """The names of the nodes of the project's ``fixres`` pipeline, as registered."""
    from fixres_kedro.pipeline_registry import register_pipelines  # noqa: PLC0415

    return {n.name for n in register_pipelines()["fixres"].nodes}


# --- the site -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def viz_build(smoke_project: Path) -> tuple[Path, set[str]]:
    """``kedro viz build --include-previews`` in the smoke project (env smoke): the site, and
    the top-level packages the command imported (``PYTHONPROFILEIMPORTTIME``'s lines)."""
    shutil.rmtree(smoke_project / "build", ignore_errors=True)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "KEDRO_ENV": "smoke", "PYTHONPROFILEIMPORTTIME": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "build", "--include-previews"],
        cwd=smoke_project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0]
                for line in result.stderr.splitlines() if line.startswith("import time:")}
    output = result.stdout + "\n".join(line for line in result.stderr.splitlines()
                                       if not line.startswith("import time:"))
    # kedro viz build exits 0 even when it fails, so read what it says.
    assert result.returncode == 0 and "Success!" in output and "ERROR" not in output, output
    assert "circular dependency" not in output  # every pipeline is drawn in its layers
    site = smoke_project / "build"
    assert (site / "index.html").is_file() and (site / "api" / "pipelines" / "fixres").is_file()
    return site, imported


@pytest.fixture(scope="module")
def build(viz_build: tuple[Path, set[str]]) -> Path:
    return viz_build[0]


def test_build_starts_no_keras_backend(viz_build):
    """Drawing the DAG and previewing the outputs trains nothing: no backend starts (#17), and
    nothing draws: the figures' previews are their PNG files."""
    imported = viz_build[1]
    assert {"kedro_viz", "fixres_kedro"} <= imported  # the import lines were read
    assert imported.isdisjoint({"keras", "tensorflow", "jax", "torch", "matplotlib"}), sorted(imported)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def server(build: Path):
    """The build served on 127.0.0.1 (a free port); ``.requests`` lists the paths asked for."""
    requests: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002
            requests.append(self.path)

    httpd = _Server(("127.0.0.1", 0), functools.partial(Handler, directory=str(build)))
    httpd.requests = requests
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(server, query: str = "") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/{query}"


def _chromium(url: str, tmp_path: Path) -> tuple[str, dict]:
    """The DOM after the page's scripts ran, and Chromium's net log."""
    profile = Path(tempfile.mkdtemp(dir=tmp_path, prefix="chromium-profile-"))
    netlog = tmp_path / f"netlog-{profile.name}.json"
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--log-net-log={netlog}",
            "--window-size=1600,1000",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, json.loads(netlog.read_text())


class _Elements(HTMLParser):
    """Every element's tag and attributes, in document order, with its direct text."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[dict] = []
        self._open: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, **{k: v or "" for k, v in attrs}, "text": ""}
        element["classes"] = set(element.get("class", "").split())
        self.elements.append(element)
        if tag not in {"img", "br", "input", "meta", "link", "path", "rect", "circle"}:
            self._open.append(element)

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        if self._open:
            self._open[-1]["text"] += data

    def with_class(self, name: str) -> list[dict]:
        return [e for e in self.elements if name in e["classes"]]


def _page(server, tmp_path: Path, query: str = "") -> _Elements:
    return _Elements(_chromium(_url(server, query), tmp_path)[0])


def _traffic(netlog: dict, port: int) -> tuple[list[str], list[str], set[str]]:
    """(connections not to 127.0.0.1, UDP sends, outside hosts the page itself requested)."""
    names = {v: k for k, v in netlog["constants"]["logEventTypes"].items()}
    local = f"127.0.0.1:{port}"
    connections, udp_sends, page_hosts = [], [], set()
    for event in netlog["events"]:
        kind, params = names.get(event["type"]), event.get("params", {})
        if kind == "TCP_CONNECT_ATTEMPT" and "address" in params:  # (begin events only)
            connections.append(params["address"])
        elif kind == "TCP_CONNECT" and "address_list" in params:
            connections.extend(params["address_list"])
        elif kind == "UDP_BYTES_SENT":
            udp_sends.append(str(params))
        elif kind == "URL_REQUEST_START_JOB" and params.get("initiator") == f"http://{local}":
            host = urlsplit(params["url"]).hostname
            if host != "127.0.0.1":
                page_hosts.add(host)
    return [c for c in connections if c != local], udp_sends, page_hosts


# --- the build ------------------------------------------------------------------------


def test_build_holds_the_fixres_pipeline_with_layers_and_previews(build):
    data = json.loads((build / "api" / "pipelines" / "fixres").read_text())
    assert data["selected_pipeline"] == "fixres"
    tasks = {n["full_name"] for n in data["nodes"] if n["type"] == "task"}
    assert tasks == _pipeline_nodes()
    assert FIXRES_NODES <= tasks
    assert data["layers"] == LAYERS
    datasets = {n["name"]: n for n in data["nodes"] if n["type"] == "data"}
    assert set(PREVIEWS) <= set(datasets)
    assert {name: n["layer"] for name, n in datasets.items() if n["layer"] not in LAYERS} == {}

    previews = {}
    for name in PREVIEWS:
        metadata = json.loads((build / "api" / "nodes" / datasets[name]["id"]).read_text())
        previews[name] = metadata.get("preview_type") if metadata.get("preview") else None
    assert previews == PREVIEWS
    # Each run's nodes carry its name as a tag: kedro-viz's filter shows one run at a time.
    assert set(MODELS) <= {tag["id"] for tag in data["tags"]}
    for node in data["nodes"]:
        if node["type"] == "task" and node["full_name"].split(".")[0] in MODELS:
            assert node["full_name"].split(".")[0] in node["tags"], node["full_name"]
    # No telemetry script went into the page: .telemetry says consent: false.
    assert "heap" not in (build / "index.html").read_text().lower()


# --- the rendered page ----------------------------------------------------------------


def test_page_draws_every_fixres_node_expanded_without_leaving_localhost(build, server, tmp_path):
    data = json.loads((build / "api" / "pipelines" / "fixres").read_text())
    expected_ids = {n["id"] for n in data["nodes"] if n["type"] == "task"}
    names = {n["id"]: n["full_name"] for n in data["nodes"] if n["type"] == "task"}

    server.requests.clear()
    dom, netlog = _chromium(_url(server, "?pid=fixres&expandAllPipelines=true"), tmp_path)
    # The page itself fetched the pipeline's data from our server...
    assert "/api/pipelines/fixres" in server.requests, server.requests
    page = _Elements(dom)
    # ...and drew one flowchart node per task node of it, namespaces expanded.
    drawn = {e["data-id"] for e in page.with_class("pipeline-node--task")}
    assert drawn == expected_ids, sorted(names.get(i, i) for i in drawn ^ expected_ids)
    assert not page.with_class("pipeline-node--modularPipeline")
    labels = {e["text"] for e in page.with_class("pipeline-node__text")}
    assert {name.rsplit(".", 1)[-1] for name in names.values()} <= labels
    # The layer bands, top to bottom.
    layers = [e["data-id"] for e in page.with_class("pipeline-layer-name")]
    assert layers == [f"layer-label--{layer}" for layer in LAYERS]

    # Nothing left 127.0.0.1: every TCP connection went to our server and no UDP datagram
    # was sent; the outside URLs tried (Google Fonts by the page, Chromium's own pings)
    # could not resolve, and the page rendered anyway.
    outside, udp_sends, page_hosts = _traffic(netlog, server.server_address[1])
    assert outside == [] and udp_sends == []
    assert page_hosts <= PAGE_OUTSIDE_HOSTS, page_hosts


def test_default_view_collapses_the_three_runs(server, tmp_path):
    page = _page(server, tmp_path)
    tasks = {e["data-node-fullname"] for e in page.with_class("pipeline-node--task")}
    modular = {e["data-id"] for e in page.with_class("pipeline-node--modularPipeline")}
    assert tasks == {name for name in _pipeline_nodes() if "." not in name}
    assert {"split_dataset", "compare_models"} <= tasks
    assert modular == set(MODELS)


def _latest(smoke_project: Path, relative: str) -> bytes:
    folder = smoke_project / SMOKE_DATA / "08_reporting" / relative
    version = max(p.name for p in folder.iterdir())
    return (folder / version / relative).read_bytes()


@pytest.mark.parametrize(
    ("dataset", "file"),
    [
        ("initial.training_curves", "initial_training_curves.png"),
        ("finetune.sample_grid", "finetune_sample_grid.png"),
        ("model_comparison_plot", "model_comparison.png"),
    ],
)
def test_plot_preview_shows_the_latest_png(smoke_project, server, tmp_path, dataset, file):
    page = _page(server, tmp_path, f"?pid=fixres&sn={dataset}&expandAllPipelines=true")
    images = page.with_class("pipeline-metadata__plot-image")
    assert len(images) == 1, f"no image preview for {dataset}"
    prefix = "data:image/png;base64,"
    assert images[0]["src"].startswith(prefix)
    assert base64.b64decode(images[0]["src"][len(prefix) :]) == _latest(smoke_project, file)


def test_metrics_preview_is_a_json_tree(server, tmp_path):
    page = _page(server, tmp_path, "?pid=fixres&sn=vanilla.metrics&expandAllPipelines=true")
    assert page.with_class("pipeline-metadata__preview-json")
    keys = {e["text"] for e in page.elements if e["tag"] == "span" and e["text"]}
    assert {"model", "top1", "loss", "parameters"} <= keys


def test_comparison_preview_is_a_table(server, tmp_path):
    page = _page(server, tmp_path, "?pid=fixres&sn=model_comparison&expandAllPipelines=true")
    headers = [e["text"] for e in page.with_class("preview-table__header")]
    cells = [e["text"] for e in page.with_class("preview-table__data")]
    assert {"model", "top1", "top1_stderr"} <= set(headers)
    assert set(MODELS) <= set(cells)
