"""Upper bounds from the host's memory: the arithmetic, and where the sizes come from."""

from __future__ import annotations

import subprocess

import pytest

from fixres_kedro.fixres import memory
from fixres_kedro.fixres.memory import Memory

GIB = 2**30
RAM_16 = (Memory("RAM", 16 * GIB, memory.ACTIVATION_FACTOR),)


def test_a_batch_is_its_float32_rgb_pixels():
    assert memory.batch_bytes(1, 100000) == 100000 * 100000 * 3 * 4  # the 112 GiB
    assert memory.size_text(memory.batch_bytes(1, 100000)) == "111.8 GiB"
    assert memory.batch_bytes(32, 224) == 32 * 224 * 224 * 12


def test_the_largest_sizes_are_the_last_that_fit():
    size = memory.largest_image_size(32, RAM_16)
    assert memory.too_small(32, size, RAM_16) is None
    assert memory.too_small(32, size + 1, RAM_16) == RAM_16[0]
    batch = memory.largest_batch_size(224, RAM_16)
    assert memory.too_small(batch, 224, RAM_16) is None
    assert memory.too_small(batch + 1, 224, RAM_16) == RAM_16[0]
    assert memory.largest_batch_size(100000, RAM_16) == 0  # not one image


def test_the_tightest_memory_bounds():
    ram, gpu = Memory("RAM", 64 * GIB, memory.HOST_COPIES), Memory("GPU memory", 8 * GIB, memory.ACTIVATION_FACTOR)
    assert memory.largest_image_size(32, (ram, gpu)) == memory.largest_image_size(32, (gpu,))
    size = memory.largest_image_size(32, (gpu,))
    assert memory.too_small(32, size + 1, (ram, gpu)) == gpu
    assert str(gpu) == "the 8.0 GiB of GPU memory here"


def _nvidia_smi(monkeypatch, stdout: str | None) -> None:
    def run(command, **kwargs):
        assert command[0] == "nvidia-smi"
        if stdout is None:
            raise FileNotFoundError("nvidia-smi")
        return subprocess.CompletedProcess(command, 0, stdout, "")
    monkeypatch.setattr(memory.subprocess, "run", run)
    memory.gpu_memory_bytes.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_probe():
    memory.gpu_memory_bytes.cache_clear()
    yield
    memory.gpu_memory_bytes.cache_clear()


def test_without_a_gpu_the_activations_are_in_ram(monkeypatch):
    _nvidia_smi(monkeypatch, None)
    (ram,) = memory.host_memories()
    assert (ram.what, ram.batches) == ("RAM", memory.ACTIVATION_FACTOR)
    assert ram.total_bytes == memory.psutil.virtual_memory().total


def test_with_gpus_the_activations_are_on_the_smallest_or_on_all_with_data_parallel(monkeypatch):
    _nvidia_smi(monkeypatch, "81559\n40960\n")
    ram, gpu = memory.host_memories()
    assert (ram.batches, gpu.batches) == (memory.HOST_COPIES, memory.ACTIVATION_FACTOR)
    assert gpu.total_bytes == 40960 * 2**20
    _, both = memory.host_memories(data_parallel=True)
    assert both.total_bytes == (81559 + 40960) * 2**20 and "2 GPUs" in both.what


def test_an_unreadable_gpu_listing_gives_no_gpu_bound(monkeypatch):
    _nvidia_smi(monkeypatch, "[N/A]\n")
    assert memory.gpu_memory_bytes() == ()
