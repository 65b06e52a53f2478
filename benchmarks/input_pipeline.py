"""Throughput and peak memory of the three training input pipelines, ours against tf.data.

Not a test: a measurement to rerun on the machine at hand.

    .venv/bin/python benchmarks/input_pipeline.py --archive ../shared/data/flower_photos.tgz \
        [--epochs 5] [--cores 2] [--repeats 3] [--pipelines initial finetune vanilla] \
        [--impls ours tf] [--decode-share] [--json results.json]

Results and how to read them: docs/benchmarks.md.

For each implementation (``ours``, ``tf``) and training pipeline (``initial`` 128 px,
``finetune`` 224 px FixRes, ``vanilla`` 224 px; batch 32) a fresh subprocess, pinned to
the same ``--cores`` CPUs (``os.sched_setaffinity`` before anything is imported), loads
the flowers archive, takes tfds' ``train[:90%]`` split (3303 photos) and iterates
``--epochs`` epochs:

* ``ours``: what a training node gets. The split is written to a temporary Parquet file
  as the ``data`` pipeline writes ``train_split@bytes`` (``pandas.ParquetDataset`` with
  that catalog entry's ``save_args``), in the same process, and loaded back with
  ``DecodedSplitDataset`` as ``train_split@decoded`` is; then
  ``make_dataset(train, InputPipeline(...), train=True)`` (no decode, no copy)
  with ``workers = cores``, iterated as ``model.fit`` iterates it: Keras' own
  ``PyDatasetAdapter``, ``on_epoch_begin()``, ``get_numpy_iterator()``,
  ``on_epoch_end()``. The photos are decoded once, by ``DecodedSplitDataset.load``: that
  time is counted in the first epoch, not in the others.
* ``tf``: the Keras example's tf.data pipeline written out here from the same encoded
  JPEG bytes: ``from_tensor_slices((bytes, labels)).shuffle(32 * 10)
  .map(decode_jpeg + preprocess, AUTOTUNE).batch(32).prefetch(AUTOTUNE)``; it decodes
  every photo in every epoch, as the example's tfds pipeline does. TensorFlow's
  intra/inter-op thread pools keep their defaults (they follow the affinity).

The epochs are consumed without a model (each batch is only received), so the figures
are what each input pipeline can deliver, the upper bound of what ``fit`` can draw.
Each subprocess reports every epoch's images/s, the process's CPU time per image (user
+ system, all threads: steadier than images/s on a shared machine) and its peak
resident memory (``VmHWM``: it includes the ``import keras`` with TensorFlow, and the
encoded split that tf reads or what loading and writing it left to ours; "above import"
is the peak minus the RSS right after that import). ``--repeats`` runs every
subprocess that many times, interleaved, and the table shows medians: per subprocess
the median of the steady epochs (2 ... N), then the median over the repeats.
``--decode-share`` adds a tf.data run that only decodes, to split the example's time
into decoding and transforms.
"""
# ruff: noqa: T201, PLC0415  (a script that prints; imports wait for the CPU affinity)

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PIPELINES = ("initial", "finetune", "vanilla")
IMPLS = ("ours", "tf")
BATCH_SIZE = 32
LOW_RES, HIGH_RES = 128, 224
SPLIT = {"train": "train[:90%]", "validation": "train[90%:]"}


# ---------------------------------------------------------------- memory


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _mib(kib: int) -> float:
    return round(kib / 1024, 1)


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- child: one measurement


def _load_train_split(archive: str):
    from fixres_kedro.datasets import ImageSourceDataset
    from fixres_kedro.pipelines.data.nodes import split_dataset
    from fixres_kedro.parameters import SplitParams

    photos = ImageSourceDataset(source="archive", path=archive).load()
    train, _, _, _ = split_dataset(photos, SplitParams(**SPLIT))
    # What the tf.data pipeline reads: the split of encoded photos, not the whole archive.
    return train


def _write_train_split(archive: str, directory: str) -> tuple[str, int]:
    """Write the train split as the ``data`` pipeline does (``train_split@bytes``)."""
    import yaml
    from kedro_datasets.pandas import ParquetDataset

    catalog = Path(__file__).resolve().parents[1] / "conf" / "base" / "catalog.yml"
    entry = yaml.safe_load(catalog.read_text())["train_split@bytes"]
    train = _load_train_split(archive)
    path = os.path.join(directory, "train_split.parquet")
    ParquetDataset(filepath=path, save_args=entry.get("save_args")).save(train)
    return path, len(train)


def _ours(split_path: str, pipeline_name: str, epochs: int, workers: int,
          marks: dict) -> list[dict]:
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    from fixres_kedro.datasets import DecodedSplitDataset
    from fixres_kedro.fixres.dataset import ImageBatches, make_dataset
    from fixres_kedro.fixres.preprocessing import InputPipeline

    if pipeline_name == "finetune":
        pipeline = InputPipeline(name="finetune", recipe="finetune", image_size=HIGH_RES, batch_size=BATCH_SIZE,
                                 train_image_size=LOW_RES)
    else:
        size = LOW_RES if pipeline_name == "initial" else HIGH_RES
        pipeline = InputPipeline(name=pipeline_name, recipe="initial", image_size=size, batch_size=BATCH_SIZE)

    results = []
    start, cpu = time.perf_counter(), _cpu_seconds()
    # What a training node gets: `train_split@decoded` (decoded in row batches by the
    # catalog's dataset; the encoded split is never held whole next to the decoded one).
    train = DecodedSplitDataset(filepath=split_path, workers=workers).load()
    decode_seconds = time.perf_counter() - start
    marks["after_decode_mib"] = _mib(_status_kib("VmRSS"))
    batches = make_dataset(train, pipeline, train=True)  # no copy, no decode
    marks["after_from_split_mib"] = _mib(_status_kib("VmRSS"))
    adapter = PyDatasetAdapter(batches, shuffle=False)  # as fit() wraps a PyDataset
    for epoch in range(epochs):
        if epoch:
            start, cpu = time.perf_counter(), _cpu_seconds()
        adapter.on_epoch_begin()
        count = 0
        for inputs, labels in adapter.get_numpy_iterator():
            count += len(labels)
            shape, dtype = inputs.shape[1:], inputs.dtype
        adapter.on_epoch_end()
        seconds = time.perf_counter() - start
        result = {"epoch": epoch + 1, "images": count, "seconds": seconds,
                  "images_per_s": count / seconds,
                  "cpu_ms_per_image": 1000 * (_cpu_seconds() - cpu) / count}
        if epoch == 0:
            result["decode_seconds"] = decode_seconds
        results.append(result)
    marks["output"] = [list(shape), str(dtype)]
    return results


def _tf_preprocess(pipeline_name: str):
    """The Keras example's preprocessing, one (image, label) pair at a time."""
    import keras
    import tensorflow as tf

    if pipeline_name == "finetune":
        resize_size = int(HIGH_RES / LOW_RES * HIGH_RES)  # 392
        center_crop = keras.layers.CenterCrop(HIGH_RES, HIGH_RES)

        def preprocess(image, label):
            image = tf.image.resize(image, [resize_size, resize_size])
            image = tf.image.random_flip_left_right(image)
            return center_crop(image), label

        return preprocess

    size = LOW_RES if pipeline_name == "initial" else HIGH_RES

    def preprocess(image, label):
        begin, box_size, _ = tf.image.sample_distorted_bounding_box(
            tf.shape(image),
            bounding_boxes=tf.zeros([1, 0, 4]),
            area_range=(0.05, 1.0),
            min_object_covered=0,
            use_image_if_no_bounding_boxes=True,
        )
        image = tf.slice(image, begin, box_size)
        image = tf.image.resize(image, [size, size])
        return tf.image.random_flip_left_right(image), label

    return preprocess


def _tf(train, pipeline_name: str, epochs: int, decode_only: bool, marks: dict) -> list[dict]:
    import tensorflow as tf

    preprocess = _tf_preprocess(pipeline_name)

    def decode_and_preprocess(encoded, label):
        image = tf.io.decode_jpeg(encoded, channels=3)
        if decode_only:
            return tf.image.resize(image, [8, 8]), label  # batchable, nearly free
        return preprocess(image, label)

    dataset = (
        tf.data.Dataset.from_tensor_slices(
            (train["image"].to_numpy(dtype=object), train["label"].to_numpy())
        )
        .shuffle(BATCH_SIZE * 10)
        .map(decode_and_preprocess, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(BATCH_SIZE)
        .prefetch(tf.data.AUTOTUNE)
    )
    marks["after_build_mib"] = _mib(_status_kib("VmRSS"))
    results = []
    for epoch in range(epochs):
        start, cpu = time.perf_counter(), _cpu_seconds()
        count = 0
        for inputs, labels in dataset:
            count += int(labels.shape[0])
            shape, dtype = inputs.shape[1:], inputs.dtype
        seconds = time.perf_counter() - start
        results.append({"epoch": epoch + 1, "images": count, "seconds": seconds,
                        "images_per_s": count / seconds,
                        "cpu_ms_per_image": 1000 * (_cpu_seconds() - cpu) / count})
    marks["output"] = [list(shape), dtype.name]
    return results


def child(args: argparse.Namespace) -> None:
    cpus = [int(cpu) for cpu in args.cpus.split(",")]
    os.sched_setaffinity(0, cpus)  # before TensorFlow sizes its thread pools
    marks: dict = {"start_mib": _mib(_status_kib("VmRSS"))}
    import keras  # the configured backend (TensorFlow by default, as in training)

    marks["after_import_mib"] = _mib(_status_kib("VmRSS"))
    if args.impl == "ours":
        with tempfile.TemporaryDirectory() as directory:
            # As in a `kedro run` of the `fixres` pipeline: the archive is loaded and the
            # split written in this process (then released), and the training node
            # loads the split back through the catalog, decoded.
            split_path, photos = _write_train_split(args.archive, directory)
            marks["after_load_mib"] = _mib(_status_kib("VmRSS"))
            epochs = _ours(split_path, args.pipeline, args.epochs, len(cpus), marks)
    else:
        train = _load_train_split(args.archive)
        photos = len(train)
        marks["after_load_mib"] = _mib(_status_kib("VmRSS"))
        epochs = _tf(train, args.pipeline, args.epochs, args.impl == "tf-decode", marks)
    report = {
        "impl": args.impl,
        "pipeline": args.pipeline,
        "keras_backend": keras.backend.backend(),
        "cpus": cpus,
        "photos": photos,
        "epochs": epochs,
        "peak_rss_mib": _mib(_status_kib("VmHWM")),
        # Of the resident memory, the pages mapped from files (mostly TensorFlow's
        # shared libraries, shared with other processes and reclaimable) at the end.
        "rss_file_mib_at_end": _mib(_status_kib("RssFile")),
        "ru_maxrss_mib": _mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "marks": marks,
    }
    print("RESULT " + json.dumps(report), flush=True)


# ---------------------------------------------------------------- parent: the table


def _run_child(args: argparse.Namespace, impl: str, pipeline: str, cpus: list[int]) -> dict:
    command = [
        sys.executable, __file__, "--child", "--impl", impl, "--pipeline", pipeline,
        "--archive", args.archive, "--epochs", str(args.epochs),
        "--cpus", ",".join(map(str, cpus)),
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KEDRO_DISABLE_TELEMETRY="1")
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False,
                          preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    sys.stderr.write(done.stdout + done.stderr)
    raise RuntimeError(f"{impl}/{pipeline} failed with exit status {done.returncode}")


def _steady(run: dict, key: str = "images_per_s") -> float:
    return statistics.median(epoch[key] for epoch in run["epochs"][1:])


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def _cell(mine: list[dict]) -> dict:
    steady = [_steady(run) for run in mine]
    first = [run["epochs"][0]["images_per_s"] for run in mine]
    peaks = [run["peak_rss_mib"] for run in mine]
    # Above what `import keras` (with TensorFlow) alone holds: the pipeline's own memory.
    own = [run["peak_rss_mib"] - run["marks"]["after_import_mib"] for run in mine]
    cell = {
        "steady_images_per_s": statistics.median(steady),
        "steady_range": [min(steady), max(steady)],
        "steady_cpu_ms_per_image": statistics.median(
            _steady(run, "cpu_ms_per_image") for run in mine),
        "first_epoch_images_per_s": statistics.median(first),
        "first_range": [min(first), max(first)],
        "peak_rss_mib": statistics.median(peaks),
        "peak_rss_range_mib": [min(peaks), max(peaks)],
        "peak_above_import_mib": statistics.median(own),
        "import_rss_mib": statistics.median(run["marks"]["after_import_mib"] for run in mine),
        "repeats": len(mine),
    }
    if "decode_seconds" in mine[0]["epochs"][0]:
        cell["decode_seconds"] = statistics.median(
            run["epochs"][0]["decode_seconds"] for run in mine)
        cell["first_epoch_seconds"] = statistics.median(
            run["epochs"][0]["seconds"] for run in mine)
        cell["after_decode_mib"] = statistics.median(
            run["marks"]["after_decode_mib"] for run in mine)
    return cell


def summarise(runs: list[dict], impls: list[str], pipelines: list[str]) -> dict:
    summary: dict = {}
    for pipeline in pipelines:
        row = {}
        for impl in impls:
            mine = [run for run in runs if run["impl"] == impl and run["pipeline"] == pipeline]
            if mine:
                row[impl] = _cell(mine)
        if "ours" in row and "tf" in row:
            ours, tf = row["ours"], row["tf"]
            row["ratio_steady"] = ours["steady_images_per_s"] / tf["steady_images_per_s"]
            row["ratio_first"] = ours["first_epoch_images_per_s"] / tf["first_epoch_images_per_s"]
            row["ratio_cpu"] = tf["steady_cpu_ms_per_image"] / ours["steady_cpu_ms_per_image"]
        summary[pipeline] = row
    decode = [run for run in runs if run["impl"] == "tf-decode"]
    if decode:
        summary["tf_decode_only"] = _cell(decode)
    return summary


def print_table(summary: dict, impls: list[str]) -> None:
    header = (f"{'pipeline':9} {'impl':8} {'steady img/s (min-max)':>23} {'CPU ms/img':>10} "
              f"{'epoch 1 img/s':>13} {'peak RSS MiB (min-max)':>23} {'above import':>12}")
    print(header)
    print("-" * len(header))
    for pipeline, row in summary.items():
        if pipeline == "tf_decode_only":
            continue
        for impl in impls:
            if impl not in row:
                continue
            cell = row[impl]
            low, high = cell["steady_range"]
            rss_low, rss_high = cell["peak_rss_range_mib"]
            print(f"{pipeline:9} {impl:8} {cell['steady_images_per_s']:7.0f} "
                  f"({low:5.0f}-{high:5.0f}) {cell['steady_cpu_ms_per_image']:10.3f} "
                  f"{cell['first_epoch_images_per_s']:13.0f} "
                  f"{cell['peak_rss_mib']:7.0f} ({rss_low:5.0f}-{rss_high:5.0f}) "
                  f"{cell['peak_above_import_mib']:12.0f}")
        if "ratio_steady" in row:
            print(f"{pipeline:9} {'ours/tf':8} {row['ratio_steady']:6.2f}x{'':15} "
                  f"{row['ratio_cpu']:9.2f}x {row['ratio_first']:12.2f}x")
    print("\nsteady: median of epochs 2..N per run, then median over the repeats. CPU ms/img:"
          "\nuser + system CPU time of the process (all threads) per image, less sensitive to"
          "\nother load than img/s; its ratio is tf / ours. above import: peak RSS minus the"
          "\nRSS right after `import keras` (and its backend), i.e. the pipeline's own.")
    rows = {name: row["ours"] for name, row in summary.items()
            if "decode_seconds" in row.get("ours", {})}
    if rows:
        print("\nours, epoch 1 = decoding the split once (DecodedSplitDataset.load) + one epoch "
              "of transforms:")
        for name, cell in rows.items():
            print(f"  {name:9} decode {cell['decode_seconds']:.1f} s of "
                  f"{cell['first_epoch_seconds']:.1f} s "
                  f"({cell['decode_seconds'] / cell['first_epoch_seconds']:.0%}); RSS "
                  f"{cell['import_rss_mib']:.0f} MiB after import, "
                  f"{cell['after_decode_mib']:.0f} after decoding")
    decode = summary.get("tf_decode_only")
    if decode:
        print(f"\ntf.data with decode_jpeg only: {decode['steady_images_per_s']:.0f} img/s, "
              f"{decode['steady_cpu_ms_per_image']:.3f} CPU ms/img; decode's share of tf's "
              "CPU time per image:")
        for name, row in summary.items():
            if "tf" in row:
                share = decode["steady_cpu_ms_per_image"] / row["tf"]["steady_cpu_ms_per_image"]
                print(f"  {name:9} {share:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", required=True, help="flower_photos.tgz")
    parser.add_argument("--epochs", type=int, default=5,
                        help="epochs per run; the first is reported apart (default 5)")
    parser.add_argument("--cores", type=int, default=0,
                        help="CPUs to pin both implementations to (default: all allowed)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="fresh subprocesses per implementation and pipeline (default 3)")
    parser.add_argument("--pipelines", nargs="+", choices=PIPELINES, default=list(PIPELINES))
    parser.add_argument("--impls", nargs="+", choices=IMPLS, default=list(IMPLS))
    parser.add_argument("--decode-share", action="store_true",
                        help="also time the tf.data pipeline with decode_jpeg only (one run "
                             "per repeat) to show decode's share of the example's CPU time")
    parser.add_argument("--json", help="write every run and the summary to this file")
    # Internal: one measurement in this (fresh) process.
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    parser.add_argument("--pipeline", help=argparse.SUPPRESS)
    parser.add_argument("--cpus", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.epochs < 4:
        parser.error("--epochs must be at least 4 (the first, then >= 3 steady epochs)")

    allowed = sorted(os.sched_getaffinity(0))
    cores = args.cores or len(allowed)
    if cores > len(allowed):
        parser.error(f"--cores {cores}: only {len(allowed)} CPUs are allowed here")
    cpus = allowed[:cores]
    jobs = [(pipeline, impl) for pipeline in args.pipelines for impl in args.impls]
    if args.decode_share:
        jobs.append((args.pipelines[0], "tf-decode"))
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; {_cpu_model()}; "
          f"CPUs {cpus}; {args.epochs} epochs; {args.repeats} repeats; "
          f"load average before: {_loadavg()}", flush=True)
    runs = []
    for repeat in range(args.repeats):
        for pipeline, impl in jobs:
            run = _run_child(args, impl, pipeline, cpus)
            run["repeat"] = repeat + 1
            run["loadavg_after"] = _loadavg()
            runs.append(run)
            epochs = ", ".join(f"{e['images_per_s']:.0f}" for e in run["epochs"])
            print(f"[{repeat + 1}/{args.repeats}] {pipeline:9} {impl:9} "
                  f"(Keras on {run['keras_backend']}) img/s per epoch: "
                  f"{epochs}; peak RSS {run['peak_rss_mib']:.0f} MiB; "
                  f"load average {run['loadavg_after']}", flush=True)
    summary = summarise(runs, [*args.impls, "tf-decode"], args.pipelines)
    print(f"\nmedians over {args.repeats} repeats; load average after: {_loadavg()}\n")
    print_table(summary, args.impls)
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
