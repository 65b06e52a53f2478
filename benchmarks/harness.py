"""What every benchmark here shares: measurements in fresh child processes, timing, memory,
medians and ratios, the machine's description and the printed tables.

A script imports it as ``import harness`` (Python puts the script's folder first on
``sys.path``). Nothing here imports Keras, TensorFlow or the project at import time: a
child process pins its CPUs (``pin``) before anything sizes a thread pool.

A child process prints its result as one ``RESULT {json}`` line (``emit``); the parent
starts it with ``run_child`` and gets the dict back, or the child's whole output and an
error if it printed none.
"""

# ruff: noqa: T201, PLC0415  (a module that prints; imports wait for the CPU affinity)

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = "RESULT "
# Every child: TensorFlow's C++ start-up lines and Kedro's telemetry off.
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2", "KEDRO_DISABLE_TELEMETRY": "1"}

# The protocol the pipeline benchmarks measure: tfds' split, the example's three training
# input pipelines at their resolutions, batch 32.
SPLIT = {"train": "train[:90%]", "validation": "train[90%:]"}
PIPELINES = ("initial", "finetune", "vanilla")
BATCH_SIZE = 32
LOW_RES, HIGH_RES = 128, 224


# --- child processes ----------------------------------------------------------------------


def child_command(script: str | Path, *args: object) -> list[str]:
    """``python script --child args...``: the same script, measuring one thing."""
    return [sys.executable, str(script), "--child", *map(str, args)]


def emit(result: dict) -> None:
    """In a child: hand ``result`` to the parent."""
    print(RESULT + json.dumps(result), flush=True)


def run_child(
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cpus: Sequence[int] | None = None,
    timeout: float | None = None,
) -> dict:
    """Run ``command`` in a fresh process (pinned to ``cpus`` from its start); its result."""
    done = subprocess.run(
        list(command), capture_output=True, text=True, check=False, timeout=timeout,
        env={**os.environ, **QUIET, **(env or {})},
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT):])
    sys.stderr.write(done.stdout + done.stderr)
    raise RuntimeError(f"{' '.join(command)} failed with exit status {done.returncode}")


def run_logged(command: Sequence[str], log: Path, env: dict[str, str] | None = None) -> float:
    """Run ``command`` to its end, its output in ``log``; its wall seconds (start to exit).

    Exits with one line naming the log when the command fails.
    """
    start = time.perf_counter()
    with open(log, "w") as output:
        done = subprocess.run(list(command), stdout=output, stderr=subprocess.STDOUT, check=False,
                              env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (rc {done.returncode}): see {log}")
    return seconds


def cpus(count: int = 0) -> list[int]:
    """The first ``count`` CPUs this process may use (0: all of them)."""
    allowed = sorted(os.sched_getaffinity(0))
    if count > len(allowed):
        raise SystemExit(f"--cores {count}: only {len(allowed)} CPUs are allowed here")
    return allowed[: count or len(allowed)]


def pin(cpu_list: Iterable[int]) -> list[int]:
    """Pin this process to ``cpu_list`` (before TensorFlow sizes its thread pools)."""
    chosen = sorted(cpu_list)
    os.sched_setaffinity(0, chosen)
    return chosen


# --- time, memory ---------------------------------------------------------------------------


def cpu_seconds() -> float:
    """User + system CPU time of this process, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Stopwatch:
    """Wall and CPU seconds since it started (or was restarted)."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self._wall, self._cpu = time.perf_counter(), cpu_seconds()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self._wall

    @property
    def cpu(self) -> float:
        return cpu_seconds() - self._cpu


def status_kib(field: str) -> int:
    """A field of ``/proc/self/status`` in KiB (``VmRSS``, ``VmHWM``: the peak, ``RssFile``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def mib(kib: float) -> float:
    return round(kib / 1024, 1)


def rss_mib(field: str = "VmRSS") -> float:
    return mib(status_kib(field))


def maxrss_mib() -> float:
    """``ru_maxrss`` (the peak resident memory as the kernel's accounting has it), in MiB."""
    return mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def size_mib(path: Path) -> float:
    """The bytes of a file, or of every file under a folder, in MiB (2**20 bytes)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


# --- figures --------------------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def steady(values: Sequence[float]) -> float:
    """The median after the first value (the first epoch compiles, or decodes)."""
    return statistics.median(values[1:])


def span(values: Iterable[float]) -> tuple[float, float]:
    values = list(values)
    return min(values), max(values)


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


# --- the machine, printing ------------------------------------------------------------------


def utc_now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def print_header(*details: object) -> None:
    """The date, the CPU, ``details`` and the load average, on one line."""
    parts = [utc_now(), cpu_model(), *map(str, details), f"load average before: {loadavg()}"]
    print("; ".join(parts), flush=True)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A plain text table, each column as wide as its widest cell (numbers right-aligned)."""
    rows = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(column)] + [len(row[i]) for row in rows if i < len(row)])
              for i, column in enumerate(columns)]
    numeric = [all(_is_number(row[i]) for row in rows if i < len(row) and row[i]) for i in range(len(columns))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.rjust(width) if right else cell.ljust(width)
                         for cell, width, right in zip(cells, widths, numeric)).rstrip()

    print(line(columns))
    print("-" * len(line(columns)))
    for row in rows:
        print(line(row))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.0f}"
    return "" if value is None else str(value)


def _is_number(text: str) -> bool:
    try:
        float(text.rstrip("x%s"))
    except ValueError:
        return False
    return True


def write_json(path: str | Path | None, data: object) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=1, default=str))


# --- the data the pipeline benchmarks read --------------------------------------------------


def train_split(archive: str | Path, max_photos: int | None = None):
    """tfds' ``train[:90%]`` of the archive, encoded, as the ``data`` pipeline splits it;
    and the class names."""
    from fixres_kedro.datasets import ImageSourceDataset
    from fixres_kedro.parameters import SplitParams
    from fixres_kedro.pipelines.data.nodes import split_dataset

    photos = ImageSourceDataset(source="archive", path=str(archive)).load()
    train, _, class_names, _ = split_dataset(photos, SplitParams(**SPLIT))
    if max_photos:
        train = train.iloc[:max_photos]
    return train, class_names


def input_pipeline(name: str):
    """The ``InputPipeline`` of one of the example's three models (``PIPELINES``)."""
    from fixres_kedro.fixres.preprocessing import InputPipeline

    if name == "finetune":
        return InputPipeline(name="finetune", recipe="finetune", image_size=HIGH_RES, batch_size=BATCH_SIZE,
                             train_image_size=LOW_RES)
    size = LOW_RES if name == "initial" else HIGH_RES
    return InputPipeline(name=name, recipe="initial", image_size=size, batch_size=BATCH_SIZE)


def epochs_like_fit(
    batches,
    epochs: int,
    first: Stopwatch | None = None,
    on_batch: Callable[[], None] | None = None,
) -> list[dict]:
    """Iterate a ``PyDataset`` the way ``model.fit`` does, with no model; per epoch, the
    images, wall seconds, images/s and CPU ms per image.

    Keras' own ``PyDatasetAdapter`` drives it (``on_epoch_begin``, ``get_numpy_iterator``,
    ``on_epoch_end``). ``first`` (started earlier) times the first epoch from there: what
    happened before it, decoding say, is counted in it. ``on_batch`` is called after each
    batch is received.
    """
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    adapter = PyDatasetAdapter(batches, shuffle=False)  # as fit() wraps a PyDataset
    watch = first or Stopwatch()
    results = []
    for epoch in range(epochs):
        if epoch:
            watch.restart()
        adapter.on_epoch_begin()
        count = 0
        for inputs, labels in adapter.get_numpy_iterator():
            count += len(labels)
            shape, dtype = list(inputs.shape[1:]), str(inputs.dtype)
            if on_batch:
                on_batch()
        adapter.on_epoch_end()
        seconds = watch.seconds
        results.append({"epoch": epoch + 1, "images": count, "seconds": seconds,
                        "images_per_s": count / seconds, "cpu_ms_per_image": 1000 * watch.cpu / count,
                        "output": [shape, dtype]})
    return results
