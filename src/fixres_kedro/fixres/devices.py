"""The host's accelerators, seen without starting a backend: how many NVIDIA GPUs there
are, and which one each worker process of a pool takes (before its backend starts)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import subprocess

logger = logging.getLogger(__name__)


def gpu_count() -> int:
    """The number of NVIDIA GPUs on this host, from ``nvidia-smi`` (no backend is
    started, so the devices can still be restricted afterwards); 0 without it."""
    try:
        listing = subprocess.run(
            ["nvidia-smi", "--list-gpus"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listing.splitlines())


def worker_number() -> int | None:
    """1, 2, ... in a worker process of a ``multiprocessing`` pool, else None."""
    if multiprocessing.parent_process() is None:
        return None
    identity = multiprocessing.current_process()._identity
    return identity[0] if identity else None


def pin_worker_to_accelerator(processes: int, gpus: int | None = None) -> dict[str, str]:
    """In a pool worker, one of ``processes`` on this host, restrict it to one GPU and cap
    the memory it may take there.

    Worker ``k`` (1-based) gets GPU ``(k - 1) mod gpus``. No backend preallocates the
    GPU, and under JAX each of the ``n`` workers sharing a GPU may grow to
    ``0.9 / n`` of its memory (``XLA_PYTHON_CLIENT_MEM_FRACTION``), so several seeds
    or branches train side by side on one accelerator. Does nothing outside a worker,
    on a host without GPUs, or where ``CUDA_VISIBLE_DEVICES`` is already set (the
    user's choice wins). Returns the variables it set. Runs once per process.
    """
    if getattr(pin_worker_to_accelerator, "_pid", None) == os.getpid():
        return {}
    pin_worker_to_accelerator._pid = os.getpid()
    number = worker_number()
    if number is None or "CUDA_VISIBLE_DEVICES" in os.environ:
        return {}
    gpus = gpu_count() if gpus is None else gpus
    if gpus == 0:
        return {}
    settings = accelerator_settings(number, processes, gpus)
    for key, value in settings.items():
        os.environ.setdefault(key, value)
    logger.info("Worker %d uses GPU %s of %d", number, settings["CUDA_VISIBLE_DEVICES"], gpus)
    return settings


def accelerator_settings(number: int, processes: int, gpus: int) -> dict[str, str]:
    """The variables that give worker ``number`` (1-based) of ``processes`` on a host with
    ``gpus`` GPUs its own GPU, ``(number - 1) mod gpus``, and its share of that GPU's memory
    (set before its backend starts)."""
    sharing = -(-processes // gpus)  # workers per GPU
    return {
        "CUDA_VISIBLE_DEVICES": str((number - 1) % gpus),
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",  # JAX takes 75% of the GPU otherwise
        "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{0.9 / sharing:.3f}",
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",  # TensorFlow takes all of it otherwise
    }


def gpu_names() -> list[str]:
    """The NVIDIA GPUs of this host by name, from ``nvidia-smi`` (no backend started)."""
    try:
        listing = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listing.splitlines() if line.strip()]


def backend_accelerators() -> list[str]:
    """The accelerators the started Keras backend computes on (empty: the CPU only)."""
    import keras  # noqa: PLC0415

    backend = keras.backend.backend()
    if backend == "jax":
        import jax  # noqa: PLC0415

        return [f"{device.device_kind}" for device in jax.devices() if device.platform != "cpu"]
    if backend == "tensorflow":
        import tensorflow as tf  # noqa: PLC0415

        return [device.name for device in tf.config.list_physical_devices("GPU")]
    if backend == "torch":
        import torch  # noqa: PLC0415

        return [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
    return []


def describe(backend: str, accelerators: list[str]) -> str:
    """``jax on 2 GPUs (NVIDIA H200)``, or ``tensorflow on the CPU (no accelerator)``."""
    if not accelerators:
        return f"{backend} on the CPU (no accelerator)"
    kinds = ", ".join(sorted(set(accelerators)))
    return f"{backend} on {len(accelerators)} GPU{'s' if len(accelerators) > 1 else ''} ({kinds})"
