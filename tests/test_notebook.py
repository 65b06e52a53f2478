"""notebooks/fixres_results.ipynb: committed without outputs, and runs on a real run's outputs.

The notebook is copied into the smoke project's ``notebooks/`` and executed there by nbclient
(kernel ``python3``, which jupyter_client starts with this interpreter) with
``KEDRO_ENV=smoke``, so ``%load_ext kedro.ipython`` finds the copy and its smoke run. The
images it shows must be the pixels of the latest PNG of each plot, and its tables the latest
versions, metrics and comparison.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

nbformat = pytest.importorskip("nbformat")  # the notebook extra
NotebookClient = pytest.importorskip("nbclient").NotebookClient
from nbclient.exceptions import CellExecutionError  # noqa: E402

from fixres_kedro.protocol import MODELS

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "fixres_results.ipynb"
REPORTING = "data/smoke/08_reporting"  # the smoke environment's data root
# The images in the order the notebook shows them: (catalog entry, file under data/08_reporting).
IMAGES = [
    ("model_comparison_plot", "model_comparison.png"),
    *((f"{run}.training_curves", f"{run}_training_curves.png") for run in MODELS),
    *((f"{run}.sample_grid", f"{run}_sample_grid.png") for run in MODELS),
]
# The tables' entries and files.
TABLES = [
    *((f"{run}.metrics", f"{run}_metrics.json") for run in MODELS),
    ("model_comparison", "model_comparison.csv"),
]


def _latest_version(project: Path, file: str) -> str:
    return max(p.name for p in (project / REPORTING / file).iterdir())


def _pixels(image: Image.Image) -> tuple:
    return image.size, image.convert("RGBA").tobytes()


def test_committed_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert nb.metadata.kernelspec.name == "python3"


@pytest.fixture(scope="module")
def executed(smoke_project: Path):
    """The notebook as executed in the smoke project copy, env smoke."""
    notebooks = smoke_project / "notebooks"
    notebooks.mkdir(exist_ok=True)
    shutil.copy(NOTEBOOK, notebooks / NOTEBOOK.name)
    nb = nbformat.read(notebooks / NOTEBOOK.name, as_version=4)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KEDRO_ENV", "smoke")
        env.setenv("KEDRO_DISABLE_TELEMETRY", "1")
        client = NotebookClient(
            nb,
            kernel_name="python3",
            timeout=600,
            startup_timeout=180,  # a cold kernel importing TensorFlow on 2 busy cores
            resources={"metadata": {"path": str(notebooks)}},
        )
        client.execute()  # raises CellExecutionError, with the traceback, if a cell fails
    return nb


def test_an_environment_with_no_outputs_is_one_line_naming_the_command(tmp_path):
    from tests.conftest import copy_project  # noqa: PLC0415

    project = copy_project(tmp_path)
    (project / "notebooks").mkdir()
    shutil.copy(NOTEBOOK, project / "notebooks" / NOTEBOOK.name)
    nb = nbformat.read(project / "notebooks" / NOTEBOOK.name, as_version=4)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KEDRO_ENV", "smoke")
        env.setenv("KEDRO_DISABLE_TELEMETRY", "1")
        client = NotebookClient(nb, kernel_name="python3", timeout=600, startup_timeout=180,
                                resources={"metadata": {"path": str(project / "notebooks")}})
        with pytest.raises(CellExecutionError):  # Run All stops there
            client.execute()
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    stdout = "".join(o.text for o in shown if o.get("name") == "stdout").strip().splitlines()
    assert stdout[-1] == (
        f"{len(TABLES + IMAGES)} of the {len(TABLES + IMAGES)} outputs are not written yet in the smoke "
        "environment (first: initial.metrics): run `kedro run --pipelines=fixres --env smoke` first"), stdout
    assert not [o for o in shown if o.output_type == "error" and o.get("traceback")], shown


def _outputs(nb, mime: str) -> list:
    return [
        output["data"][mime]
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if mime in output.get("data", {})
    ]


def test_notebook_loads_the_project_in_the_chosen_env(executed, smoke_project):
    assert all(o.output_type != "error" for c in executed.cells for o in c.get("outputs", []))
    stdout = "".join(
        o.text for c in executed.cells for o in c.get("outputs", []) if o.get("name") == "stdout"
    )
    assert f"project {smoke_project.name}, environment smoke" in stdout


def test_notebook_says_which_run_and_environment_it_shows(executed):
    markdown = "".join(_outputs(executed, "text/markdown"))
    assert "All metrics come from run `" in markdown and "in the environment `smoke`" in markdown


def test_notebook_shows_the_latest_plots(executed, smoke_project):
    shown = [
        Image.open(io.BytesIO(base64.b64decode(b64))) for b64 in _outputs(executed, "image/png")
    ]
    assert len(shown) == len(IMAGES)
    for image, (entry, file) in zip(shown, IMAGES, strict=True):
        version = _latest_version(smoke_project, file)
        on_disk = Image.open(smoke_project / REPORTING / file / version / file)
        assert _pixels(image) == _pixels(on_disk), f"{entry} is not the latest {file}"


def test_notebook_shows_versions_metrics_and_comparison(executed, smoke_project):
    html = _outputs(executed, "text/html")
    tables = [h for h in html if "<table" in h]
    assert len(tables) == 3  # versions, metrics, comparison
    versions, metrics, comparison = tables
    for entry, file in TABLES + IMAGES:
        version = _latest_version(smoke_project, file)
        assert re.search(rf"<th>{entry}</th>\s*<td>{re.escape(version)}</td>", versions), entry
    # Metrics: one column per run, a row per field (parameters flattened).
    for field in ("top1", "loss", "validation_examples", "parameters.dataset.image_size"):
        assert f"<th>{field}</th>" in metrics
    assert all(f"<th>{run}</th>" in metrics for run in MODELS)
    # The comparison table, one row per model.
    assert all(f"<th>{column}</th>" in comparison for column in ("model", "top1", "top1_stderr"))
    assert all(f"<td>{run}</td>" in comparison for run in MODELS)


def test_kedro_jupyter_lab_starts_as_the_readme_says(tmp_path):
    """``kedro jupyter lab --env smoke`` (README: Notebook) serves Jupyter Lab with the
    project's kernel; stopped again once it answers."""
    pytest.importorskip("jupyterlab")
    import os  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import socket  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import time  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    from tests.conftest import copy_project  # noqa: PLC0415

    project = copy_project(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "kedro", "jupyter", "lab", "--env", "smoke", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", "--IdentityProvider.token=", f"--notebook-dir={project}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=project, env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # kedro starts jupyter-lab as a child: stop the whole group
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/kernelspecs", timeout=2) as answer:  # noqa: S310
                    specs = json.loads(answer.read())
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(server.stdout.read()[-3000:])
                time.sleep(1)
        else:
            pytest.fail("Jupyter Lab did not answer within 120 s")
        assert specs["default"] == "kedro_fixres_kedro"  # the project's kernel, made by kedro
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
