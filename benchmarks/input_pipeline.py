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
import os
import tempfile
from pathlib import Path

import harness
from harness import BATCH_SIZE, HIGH_RES, LOW_RES, PIPELINES

IMPLS = ("ours", "tf")


# ---------------------------------------------------------------- child: one measurement


def _write_train_split(archive: str, directory: str) -> tuple[str, int]:
    """Write the train split as the ``data`` pipeline does (``train_split@bytes``)."""
    import yaml
    from kedro_datasets.pandas import ParquetDataset

    entry = yaml.safe_load((harness.ROOT / "conf" / "base" / "catalog.yml").read_text())["train_split@bytes"]
    train, _ = harness.train_split(archive)
    path = os.path.join(directory, "train_split.parquet")
    ParquetDataset(filepath=path, save_args=entry.get("save_args")).save(train)
    return path, len(train)


def _ours(split_path: str, pipeline_name: str, epochs: int, workers: int, marks: dict) -> list[dict]:
    from fixres_kedro.datasets import DecodedSplitDataset
    from fixres_kedro.fixres.dataset import make_dataset

    pipeline = harness.input_pipeline(pipeline_name)
    watch = harness.Stopwatch()
    # What a training node gets: `train_split@decoded` (decoded in row batches by the
    # catalog's dataset; the encoded split is never held whole next to the decoded one).
    train = DecodedSplitDataset(filepath=split_path, workers=workers).load()
    decode_seconds = watch.seconds
    marks["after_decode_mib"] = harness.rss_mib()
    batches = make_dataset(train, pipeline, True, workers)  # no copy, no decode
    marks["after_make_dataset_mib"] = harness.rss_mib()
    results = harness.epochs_like_fit(batches, epochs, first=watch)
    results[0]["decode_seconds"] = decode_seconds
    marks["output"] = results[-1]["output"]
    return [{key: value for key, value in epoch.items() if key != "output"} for epoch in results]


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
    marks["after_build_mib"] = harness.rss_mib()
    results = []
    for epoch in range(epochs):
        watch = harness.Stopwatch()
        count = 0
        for inputs, labels in dataset:
            count += int(labels.shape[0])
            shape, dtype = inputs.shape[1:], inputs.dtype
        seconds = watch.seconds
        results.append({"epoch": epoch + 1, "images": count, "seconds": seconds,
                        "images_per_s": count / seconds,
                        "cpu_ms_per_image": 1000 * watch.cpu / count})
    marks["output"] = [list(shape), dtype.name]
    return results


def child(args: argparse.Namespace) -> None:
    cpus = harness.pin(int(cpu) for cpu in args.cpus.split(","))
    marks: dict = {"start_mib": harness.rss_mib()}
    import keras  # the configured backend (TensorFlow by default, as in training)

    marks["after_import_mib"] = harness.rss_mib()
    if args.impl == "ours":
        with tempfile.TemporaryDirectory() as directory:
            # As in a `kedro run` of the `fixres` pipeline: the archive is loaded and the
            # split written in this process (then released), and the training node
            # loads the split back through the catalog, decoded.
            split_path, photos = _write_train_split(args.archive, directory)
            marks["after_load_mib"] = harness.rss_mib()
            epochs = _ours(split_path, args.pipeline, args.epochs, len(cpus), marks)
    else:
        # What the tf.data pipeline reads: the split of encoded photos, not the whole archive.
        train, _ = harness.train_split(args.archive)
        photos = len(train)
        marks["after_load_mib"] = harness.rss_mib()
        epochs = _tf(train, args.pipeline, args.epochs, args.impl == "tf-decode", marks)
    harness.emit({
        "impl": args.impl,
        "pipeline": args.pipeline,
        "keras_backend": keras.backend.backend(),
        "cpus": cpus,
        "photos": photos,
        "epochs": epochs,
        "peak_rss_mib": harness.rss_mib("VmHWM"),
        # Of the resident memory, the pages mapped from files (mostly TensorFlow's
        # shared libraries, shared with other processes and reclaimable) at the end.
        "rss_file_mib_at_end": harness.rss_mib("RssFile"),
        "ru_maxrss_mib": harness.maxrss_mib(),
        "marks": marks,
    })


# ---------------------------------------------------------------- parent: the table


def _steady(run: dict, key: str = "images_per_s") -> float:
    return harness.steady([epoch[key] for epoch in run["epochs"]])


def _cell(mine: list[dict]) -> dict:
    steady = [_steady(run) for run in mine]
    first = [run["epochs"][0]["images_per_s"] for run in mine]
    peaks = [run["peak_rss_mib"] for run in mine]
    # Above what `import keras` (with TensorFlow) alone holds: the pipeline's own memory.
    own = [run["peak_rss_mib"] - run["marks"]["after_import_mib"] for run in mine]
    cell = {
        "steady_images_per_s": harness.median(steady),
        "steady_range": list(harness.span(steady)),
        "steady_cpu_ms_per_image": harness.median(_steady(run, "cpu_ms_per_image") for run in mine),
        "first_epoch_images_per_s": harness.median(first),
        "first_range": list(harness.span(first)),
        "peak_rss_mib": harness.median(peaks),
        "peak_rss_range_mib": list(harness.span(peaks)),
        "peak_above_import_mib": harness.median(own),
        "import_rss_mib": harness.median(run["marks"]["after_import_mib"] for run in mine),
        "repeats": len(mine),
    }
    if "decode_seconds" in mine[0]["epochs"][0]:
        cell["decode_seconds"] = harness.median(run["epochs"][0]["decode_seconds"] for run in mine)
        cell["first_epoch_seconds"] = harness.median(run["epochs"][0]["seconds"] for run in mine)
        cell["after_decode_mib"] = harness.median(run["marks"]["after_decode_mib"] for run in mine)
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
            row["ratio_steady"] = harness.ratio(ours["steady_images_per_s"], tf["steady_images_per_s"])
            row["ratio_first"] = harness.ratio(ours["first_epoch_images_per_s"], tf["first_epoch_images_per_s"])
            row["ratio_cpu"] = harness.ratio(tf["steady_cpu_ms_per_image"], ours["steady_cpu_ms_per_image"])
        summary[pipeline] = row
    decode = [run for run in runs if run["impl"] == "tf-decode"]
    if decode:
        summary["tf_decode_only"] = _cell(decode)
    return summary


def print_table(summary: dict, impls: list[str]) -> None:
    rows = []
    for pipeline, row in summary.items():
        if pipeline == "tf_decode_only":
            continue
        for impl in impls:
            if impl in row:
                cell = row[impl]
                rows.append([pipeline, impl,
                             "{:.0f} ({:.0f}-{:.0f})".format(cell["steady_images_per_s"], *cell["steady_range"]),
                             f"{cell['steady_cpu_ms_per_image']:.3f}",
                             f"{cell['first_epoch_images_per_s']:.0f}",
                             "{:.0f} ({:.0f}-{:.0f})".format(cell["peak_rss_mib"], *cell["peak_rss_range_mib"]),
                             f"{cell['peak_above_import_mib']:.0f}"])
        if "ratio_steady" in row:
            rows.append([pipeline, "ours/tf", f"{row['ratio_steady']:.2f}x", f"{row['ratio_cpu']:.2f}x",
                         f"{row['ratio_first']:.2f}x", "", ""])
    harness.print_table(["pipeline", "impl", "steady img/s (min-max)", "CPU ms/img", "epoch 1 img/s",
                         "peak RSS MiB (min-max)", "above import"], rows)
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

    cpus = harness.cpus(args.cores)
    jobs = [(pipeline, impl) for pipeline in args.pipelines for impl in args.impls]
    if args.decode_share:
        jobs.append((args.pipelines[0], "tf-decode"))
    harness.print_header(f"CPUs {cpus}", f"{args.epochs} epochs", f"{args.repeats} repeats")
    runs = []
    for repeat in range(args.repeats):
        for pipeline, impl in jobs:
            run = harness.run_child(
                harness.child_command(__file__, "--impl", impl, "--pipeline", pipeline, "--archive", args.archive,
                                      "--epochs", args.epochs, "--cpus", ",".join(map(str, cpus))),
                cpus=cpus)
            run["repeat"] = repeat + 1
            run["loadavg_after"] = harness.loadavg()
            runs.append(run)
            epochs = ", ".join(f"{e['images_per_s']:.0f}" for e in run["epochs"])
            print(f"[{repeat + 1}/{args.repeats}] {pipeline:9} {impl:9} "
                  f"(Keras on {run['keras_backend']}) img/s per epoch: "
                  f"{epochs}; peak RSS {run['peak_rss_mib']:.0f} MiB; "
                  f"load average {run['loadavg_after']}", flush=True)
    summary = summarise(runs, [*args.impls, "tf-decode"], args.pipelines)
    print(f"\nmedians over {args.repeats} repeats; load average after: {harness.loadavg()}\n")
    print_table(summary, args.impls)
    harness.write_json(args.json, {"runs": runs, "summary": summary})


if __name__ == "__main__":
    main()
