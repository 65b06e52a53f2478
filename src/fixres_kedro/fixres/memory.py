"""What the host can hold: upper bounds on image and batch sizes from its memory.

A training or evaluation step holds one batch of ``batch_size`` x ``image_size`` x
``image_size`` RGB float32 images, and the model's activations for it. The activations
are counted roughly, as ``ACTIVATION_FACTOR`` batches' worth (a lower bound: the
augmented copy, the rescaled input and the first convolution's output, 64 channels at
half the size, already make about seven), so that a bound refuses only what cannot run,
never what merely might be tight. The batch is made on the host (``HOST_COPIES``: the
decoded images and their float copy); the activations live on the GPU when there is
one, else in RAM too. No backend is started: RAM comes from psutil, the GPUs' memory
from ``nvidia-smi``.
"""

from __future__ import annotations

import functools
import math
import subprocess
from dataclasses import dataclass

import psutil

BYTES_PER_PIXEL = 3 * 4  # RGB, float32
ACTIVATION_FACTOR = 8  # batches' worth held during a step, the batch itself included
HOST_COPIES = 2  # batches' worth the input pipeline holds in RAM


@dataclass(frozen=True)
class Memory:
    """One memory a step's batch must fit in: what it is, its size, and how many
    batches' worth of bytes it holds at once."""

    what: str  # "RAM", "GPU memory"
    total_bytes: int
    batches: int

    def __str__(self) -> str:
        return f"the {size_text(self.total_bytes)} of {self.what} here"


def size_text(count: int) -> str:
    """``count`` bytes as people read them: ``112.0 GiB``, ``3.5 TiB``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def batch_bytes(batch_size: int, image_size: int) -> int:
    """Bytes of one batch of ``batch_size`` float32 RGB images of ``image_size`` square."""
    return batch_size * image_size * image_size * BYTES_PER_PIXEL


def needed_bytes(batch_size: int, image_size: int, memory: Memory) -> int:
    """What ``memory`` must hold for one step at this batch and image size."""
    return memory.batches * batch_bytes(batch_size, image_size)


def largest_image_size(batch_size: int, memories: tuple[Memory, ...]) -> int:
    """The largest image size whose batch of ``batch_size`` fits every memory (0: none)."""
    return min((math.isqrt(memory.total_bytes // (memory.batches * batch_bytes(batch_size, 1)))
                for memory in memories), default=0)


def largest_batch_size(image_size: int, memories: tuple[Memory, ...]) -> int:
    """The largest batch of ``image_size`` images that fits every memory (0: not one)."""
    return min((memory.total_bytes // (memory.batches * batch_bytes(1, image_size))
                for memory in memories), default=0)


def too_small(batch_size: int, image_size: int, memories: tuple[Memory, ...]) -> Memory | None:
    """The first of ``memories`` that cannot hold a step at this batch and image size."""
    return next((memory for memory in memories
                 if needed_bytes(batch_size, image_size, memory) > memory.total_bytes), None)


@functools.lru_cache(maxsize=1)
def gpu_memory_bytes() -> tuple[int, ...]:
    """Each NVIDIA GPU's total memory in bytes, from ``nvidia-smi`` (none: no GPU, or no
    driver to ask)."""
    try:
        listing = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    try:  # MiB, one GPU a line
        return tuple(int(float(line)) * 2**20 for line in listing.split() if line.strip())
    except ValueError:  # "[N/A]" and the like: no bound from it
        return ()


def host_memories(data_parallel: bool = False) -> tuple[Memory, ...]:
    """The memories a step uses on this host: RAM, and where there is a GPU, its memory
    (with ``data_parallel`` the batch is split across every GPU, so their sum)."""
    ram = psutil.virtual_memory().total
    gpus = gpu_memory_bytes()
    if not gpus:
        return (Memory("RAM", ram, ACTIVATION_FACTOR),)
    if data_parallel and len(gpus) > 1:
        device = Memory(f"GPU memory of the {len(gpus)} GPUs together", sum(gpus), ACTIVATION_FACTOR)
    else:
        device = Memory("GPU memory", min(gpus), ACTIVATION_FACTOR)
    return (Memory("RAM", ram, HOST_COPIES), device)
