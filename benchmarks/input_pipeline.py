"""Throughput and peak memory of the three training input pipelines, ours against tf.data.

Not a test: a measurement to rerun on the machine at hand.

    .venv/bin/python benchmarks/input_pipeline.py --archive ../shared/data/flower_photos.tgz \
        [--epochs 5] [--cores 2] [--repeats 3] [--pipelines initial finetune vanilla] \
        [--impls ours tf] [--json results.json]

For each implementation (``ours``, ``tf``) and training pipeline (``initial`` 128 px,
``finetune`` 224 px FixRes, ``vanilla`` 224 px; batch 32) a fresh subprocess, pinned to
the same ``--cores`` CPUs (``os.sched_setaffinity`` before anything is imported), loads
the flowers archive, takes tfds' ``train[:90%]`` split (3303 photos) and iterates
``--epochs`` epochs:

* ``ours``: ``ImageBatches.from_split(train, InputPipeline(...), train=True)`` with
  ``workers = cores``, iterated as ``model.fit`` iterates it: Keras' own
  ``PyDatasetAdapter`` (its thread ``OrderedEnqueuer``), ``on_epoch_begin()``,
  ``get_numpy_iterator()``, ``on_epoch_end()``. The photos are decoded once, by
  ``from_split``: that time is counted in the first epoch, not in the others.
* ``tf``: the Keras example's tf.data pipeline written out here from the same encoded
  JPEG bytes: ``from_tensor_slices((bytes, labels)).shuffle(32 * 10)
  .map(decode_jpeg + preprocess, AUTOTUNE).batch(32).prefetch(AUTOTUNE)``; it decodes
  every photo in every epoch, as the example's tfds pipeline does. TensorFlow's
  intra/inter-op thread pools keep their defaults (they follow the affinity).

The epochs are consumed without a model (each batch is only received), so the figures
are what each input pipeline can deliver, the upper bound of what ``fit`` can draw.
Each subprocess reports every epoch's images/s and its peak resident memory
(``VmHWM``, which includes the TensorFlow/Keras import and the encoded split both
implementations hold, as a training node does). ``--repeats`` runs every subprocess
that many times, interleaved, and the table shows medians: per subprocess the median
of the steady epochs (2 ... N), then the median over the repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
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


# ---------------------------------------------------------------- child: one measurement


def _load_train_split(archive: str):
    from fixres_kedro.datasets import ImageSourceDataset
    from fixres_kedro.pipelines.data.nodes import split_dataset

    photos = ImageSourceDataset(source="archive", path=archive).load()
    train, _, _, _ = split_dataset(photos, SPLIT)
    # What a training node holds: its split of encoded photos, not the whole archive.
    return train


def _ours(train, pipeline_name: str, epochs: int, workers: int, marks: dict) -> list[dict]:
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    from fixres_kedro.fixres.input_pipeline import ImageBatches, InputPipeline

    if pipeline_name == "finetune":
        pipeline = InputPipeline("finetune", "finetune", HIGH_RES, BATCH_SIZE,
                                 train_image_size=LOW_RES, workers=workers)
    else:
        size = LOW_RES if pipeline_name == "initial" else HIGH_RES
        pipeline = InputPipeline(pipeline_name, "initial", size, BATCH_SIZE, workers=workers)

    results = []
    start = time.perf_counter()
    batches = ImageBatches.from_split(train, pipeline, train=True)
    decode_seconds = time.perf_counter() - start
    marks["after_decode_mib"] = _mib(_status_kib("VmRSS"))
    adapter = PyDatasetAdapter(batches, shuffle=False)  # as fit() wraps a PyDataset
    for epoch in range(epochs):
        if epoch:
            start = time.perf_counter()
        adapter.on_epoch_begin()
        count = 0
        for inputs, labels in adapter.get_numpy_iterator():
            count += len(labels)
            shape, dtype = inputs.shape[1:], inputs.dtype
        adapter.on_epoch_end()
        seconds = time.perf_counter() - start
        result = {"epoch": epoch + 1, "images": count, "seconds": seconds,
                  "images_per_s": count / seconds}
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
        start = time.perf_counter()
        count = 0
        for inputs, labels in dataset:
            count += int(labels.shape[0])
            shape, dtype = inputs.shape[1:], inputs.dtype
        seconds = time.perf_counter() - start
        results.append({"epoch": epoch + 1, "images": count, "seconds": seconds,
                        "images_per_s": count / seconds})
    marks["output"] = [list(shape), dtype.name]
    return results


def child(args: argparse.Namespace) -> None:
    cpus = [int(cpu) for cpu in args.cpus.split(",")]
    os.sched_setaffinity(0, cpus)  # before TensorFlow sizes its thread pools
    marks: dict = {"start_mib": _mib(_status_kib("VmRSS"))}
    import keras  # noqa: F401  (the default backend, TensorFlow, as in training)

    marks["after_import_mib"] = _mib(_status_kib("VmRSS"))
    train = _load_train_split(args.archive)
    marks["after_load_mib"] = _mib(_status_kib("VmRSS"))
    if args.impl == "ours":
        epochs = _ours(train, args.pipeline, args.epochs, len(cpus), marks)
    else:
        epochs = _tf(train, args.pipeline, args.epochs, args.impl == "tf-decode", marks)
    import resource

    report = {
        "impl": args.impl,
        "pipeline": args.pipeline,
        "cpus": cpus,
        "photos": len(train),
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
    done = subprocess.run(command, capture_output=True, text=True, env=env,
                          preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    sys.stderr.write(done.stdout + done.stderr)
    raise RuntimeError(f"{impl}/{pipeline} failed with exit status {done.returncode}")


def _steady(run: dict) -> float:
    return statistics.median(epoch["images_per_s"] for epoch in run["epochs"][1:])


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def summarise(runs: list[dict], impls: list[str], pipelines: list[str]) -> dict:
    summary = {}
    for pipeline in pipelines:
        row = {}
        for impl in impls:
            mine = [run for run in runs if run["impl"] == impl and run["pipeline"] == pipeline]
            if not mine:
                continue
            steady = [_steady(run) for run in mine]
            first = [run["epochs"][0]["images_per_s"] for run in mine]
            row[impl] = {
                "steady_images_per_s": statistics.median(steady),
                "steady_range": [min(steady), max(steady)],
                "first_epoch_images_per_s": statistics.median(first),
                "first_range": [min(first), max(first)],
                "peak_rss_mib": statistics.median(run["peak_rss_mib"] for run in mine),
                "peak_rss_range_mib": [min(r["peak_rss_mib"] for r in mine),
                                       max(r["peak_rss_mib"] for r in mine)],
                "repeats": len(mine),
            }
            if impl == "ours":
                decode = [run["epochs"][0]["decode_seconds"] for run in mine]
                epoch1 = [run["epochs"][0]["seconds"] for run in mine]
                row[impl]["decode_seconds"] = statistics.median(decode)
                row[impl]["first_epoch_seconds"] = statistics.median(epoch1)
        if "ours" in row and "tf" in row:
            row["ratio_steady"] = (row["ours"]["steady_images_per_s"]
                                   / row["tf"]["steady_images_per_s"])
            row["ratio_first"] = (row["ours"]["first_epoch_images_per_s"]
                                  / row["tf"]["first_epoch_images_per_s"])
        summary[pipeline] = row
    return summary


def print_table(summary: dict, impls: list[str]) -> None:
    header = (f"{'pipeline':9} {'impl':9} {'steady img/s (min-max)':>24} "
              f"{'epoch 1 img/s':>14} {'peak RSS MiB':>13}")
    print(header)
    print("-" * len(header))
    for pipeline, row in summary.items():
        for impl in impls:
            if impl not in row:
                continue
            cell = row[impl]
            low, high = cell["steady_range"]
            print(f"{pipeline:9} {impl:9} {cell['steady_images_per_s']:8.0f} "
                  f"({low:5.0f}-{high:5.0f})    {cell['first_epoch_images_per_s']:14.0f} "
                  f"{cell['peak_rss_mib']:13.0f}")
        if "ratio_steady" in row:
            print(f"{pipeline:9} {'ours/tf':9} {row['ratio_steady']:7.2f}x"
                  f"{'':16}{row['ratio_first']:13.2f}x")
    if any("decode_seconds" in row.get("ours", {}) for row in summary.values()):
        print("\nours, epoch 1 = decoding the split once + the first epoch of transforms:")
        for pipeline, row in summary.items():
            if "ours" in row:
                cell = row["ours"]
                print(f"  {pipeline:9} decode {cell['decode_seconds']:.1f} s of "
                      f"{cell['first_epoch_seconds']:.1f} s "
                      f"({cell['decode_seconds'] / cell['first_epoch_seconds']:.0%})")
    if "tf-decode" in impls:
        print("\ntf, share of decode_jpeg in an epoch (decode-only pipeline / full pipeline):")
        for pipeline, row in summary.items():
            if "tf" in row and "tf-decode" in row:
                share = (row["tf"]["steady_images_per_s"]
                         / row["tf-decode"]["steady_images_per_s"])
                print(f"  {pipeline:9} {share:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", required=True, help="flower_photos.tgz")
    parser.add_argument("--epochs", type=int, default=5,
                        help="epochs per run; the first is reported apart (default 5)")
    parser.add_argument("--cores", type=int, default=0,
                        help="CPUs to pin both implementations to (default: all allowed)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="fresh subprocesses per implementation and pipeline")
    parser.add_argument("--pipelines", nargs="+", choices=PIPELINES, default=list(PIPELINES))
    parser.add_argument("--impls", nargs="+", choices=[*IMPLS, "tf-decode"],
                        default=list(IMPLS),
                        help="tf-decode: the tf.data pipeline with decode_jpeg only")
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
    print(f"CPUs {cpus}, {args.epochs} epochs, {args.repeats} repeats, "
          f"load average before: {_loadavg()}", flush=True)
    runs = []
    for repeat in range(args.repeats):
        for pipeline in args.pipelines:
            for impl in args.impls:
                run = _run_child(args, impl, pipeline, cpus)
                run["repeat"] = repeat + 1
                run["loadavg_after"] = _loadavg()
                runs.append(run)
                epochs = ", ".join(f"{e['images_per_s']:.0f}" for e in run["epochs"])
                print(f"[{repeat + 1}/{args.repeats}] {pipeline:9} {impl:9} images/s per "
                      f"epoch: {epochs}; peak RSS {run['peak_rss_mib']:.0f} MiB; "
                      f"load {run['loadavg_after']}", flush=True)
    summary = summarise(runs, args.impls, args.pipelines)
    print(f"\nmedians over {args.repeats} repeats; steady = median of epochs 2-{args.epochs}; "
          f"load average after: {_loadavg()}\n")
    print_table(summary, args.impls)
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
