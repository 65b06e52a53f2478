"""Each ParallelRunner worker takes one GPU, without starting a backend."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from fixres_kedro.fixres import devices
from fixres_kedro.fixres.devices import worker_number


def _worker_number() -> int | None:
    return worker_number()


def test_parallel_runner_workers_get_one_gpu_each_and_no_preallocation(monkeypatch):
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert isinstance(pool.submit(_worker_number).result(), int)
    assert devices.worker_number() is None
    assert devices.pin_worker_to_accelerator(3, gpus=4) == {}  # not a worker: left alone

    for key in ("CUDA_VISIBLE_DEVICES", "XLA_PYTHON_CLIENT_PREALLOCATE", "TF_FORCE_GPU_ALLOW_GROWTH",
                "XLA_PYTHON_CLIENT_MEM_FRACTION"):
        monkeypatch.delenv(key, raising=False)
    seen = []
    for number in (1, 2, 3):  # three workers sharing two GPUs
        monkeypatch.setattr(devices, "worker_number", lambda number=number: number)
        monkeypatch.setattr(devices.pin_worker_to_accelerator, "_pid", None, raising=False)
        settings = devices.pin_worker_to_accelerator(3, gpus=2)
        seen.append(settings["CUDA_VISIBLE_DEVICES"])
        assert settings["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
        assert settings["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
        assert settings["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.450"  # 3 workers, 2 per GPU at most
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
        monkeypatch.delenv("XLA_PYTHON_CLIENT_MEM_FRACTION")
    assert seen == ["0", "1", "0"]
    monkeypatch.setattr(devices.pin_worker_to_accelerator, "_pid", None, raising=False)
    assert devices.pin_worker_to_accelerator(3, gpus=0) == {}  # no GPU: nothing to pin
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5")
    monkeypatch.setattr(devices.pin_worker_to_accelerator, "_pid", None, raising=False)
    assert devices.pin_worker_to_accelerator(3, gpus=2) == {}  # the user's choice wins
