"""The install extras: a GPU host's extra brings the CUDA libraries, and a host without a
backend is told in one line which extra to install."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO

EXTRAS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]

# Since TensorFlow 2.14 (and for every jax release) the CUDA wheels come only with these extras.
CUDA_EXTRA = {"tensorflow": "and-cuda", "jax": "cuda12"}


@pytest.mark.parametrize(("extra", "backend"), [("tf-gpu", "tensorflow"), ("jax-gpu", "jax")])
def test_each_gpu_extra_asks_for_its_backends_cuda_wheels(extra, backend):
    requirements = {Requirement(line).name: Requirement(line) for line in EXTRAS[extra]}
    assert CUDA_EXTRA[backend] in requirements[backend].extras
    # The GPU extra installs what the CPU extra does, and only the backend differs.
    cpu = {Requirement(line).name: Requirement(line) for line in EXTRAS[extra.removesuffix("-gpu")]}
    assert set(cpu) == set(requirements)
    assert {name: str(r.specifier) for name, r in cpu.items()} == {
        name: str(r.specifier) for name, r in requirements.items()}
    assert "fixres_kedro[tf-gpu,viz,notebook]" in EXTRAS["all-gpu"]


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_the_cuda_extra_is_one_pypi_knows(backend, tmp_path):
    """PyPI's metadata for the newest release lists nvidia-* wheels under that extra (needs
    the package index; skipped without it)."""
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--quiet",
         "--report", str(report), "--python-version", "3.12", "--platform", "manylinux2014_x86_64",
         "--only-binary=:all:", "--target", str(tmp_path / "target"), backend],
        capture_output=True, text=True, timeout=240, check=False)
    offline = ("connection", "network is unreachable", "temporary failure in name resolution", "timed out")
    if done.returncode != 0 and any(word in done.stderr.lower() for word in offline):
        pytest.skip("the package index is out of reach")
    assert done.returncode == 0, done.stderr[-2000:]
    metadata = json.loads(report.read_text())["install"][0]["metadata"]
    under_extra = [line for line in metadata.get("requires_dist", [])
                   if f'extra == "{CUDA_EXTRA[backend]}"' in line]
    assert under_extra, metadata.get("requires_dist")
    cuda = [line for line in under_extra if line.startswith(("nvidia-", "jax-cuda12-plugin"))]
    assert cuda, under_extra


def test_a_missing_backend_is_one_line_naming_its_extra(monkeypatch):
    from fixres_kedro.fixres import backend  # noqa: PLC0415
    from fixres_kedro.fixres.errors import NoBackendError  # noqa: PLC0415

    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    monkeypatch.setattr(backend.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(NoBackendError) as raised:
        backend.start_backend()
    assert str(raised.value) == (
        "the Keras backend 'jax' is not installed: pip install -e '.[jax]' "
        "(on a GPU host '.[jax-gpu]'; see docs/gpu.md)")
