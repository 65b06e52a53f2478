"""Trials on the peak memory of our training input pipeline (not a test).

    .venv/bin/python benchmarks/memory_trials.py --archive ../shared/data/flower_photos.tgz \
        [--pipeline vanilla] [--repeats 2] [--epochs 5] [--cores 2]

Each variant runs in a fresh subprocess, measured as ``input_pipeline.py`` measures
``ours`` (same split, same Keras ``PyDatasetAdapter`` iteration, same CPU affinity):

* ``default``: as the training node runs it.
* ``queue=workers``: Keras' queue holds ``workers`` batches instead of ``2 x workers``.
* ``drop+trim``: the encoded split is dropped after decoding and ``malloc_trim(0)``
  (glibc) returns the freed heap to the OS, as a node could do before ``fit``.
* ``MALLOC_ARENA_MAX=1``: glibc keeps one malloc arena for all threads.

Results and how to read them: docs/benchmarks.md.
"""
# ruff: noqa: T201, PLC0415  (a script that prints; imports wait for the CPU affinity)

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import input_pipeline as bench  # noqa: E402  (this folder's benchmark: its helpers)

VARIANTS = ("default", "queue=workers", "drop+trim", "MALLOC_ARENA_MAX=1")


def child(args: argparse.Namespace) -> None:
    cpus = [int(cpu) for cpu in args.cpus.split(",")]
    os.sched_setaffinity(0, cpus)
    import keras  # noqa: F401
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    from fixres_kedro.fixres.dataset import ImageBatches, make_dataset
    from fixres_kedro.fixres.preprocessing import InputPipeline

    train = bench._load_train_split(args.archive)
    if args.pipeline == "finetune":
        pipeline = InputPipeline(name="finetune", recipe="finetune", image_size=bench.HIGH_RES, batch_size=bench.BATCH_SIZE,
                                 train_image_size=bench.LOW_RES)
    else:
        size = bench.LOW_RES if args.pipeline == "initial" else bench.HIGH_RES
        pipeline = InputPipeline(name=args.pipeline, recipe="initial", image_size=size, batch_size=bench.BATCH_SIZE)
    batches = make_dataset(train, pipeline, train=True, workers=len(cpus))
    after_decode = bench._status_kib("VmRSS")
    if args.variant == "queue=workers":
        batches.max_queue_size = batches.workers
    elif args.variant == "drop+trim":
        import ctypes
        import gc

        del train
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    after_variant = bench._status_kib("VmRSS")
    # What the epochs add is measured from here: VmHWM already holds the decoding peak.
    adapter = PyDatasetAdapter(batches)
    rates, epoch_peak = [], after_variant
    for _ in range(args.epochs):
        start = time.perf_counter()
        adapter.on_epoch_begin()
        count = 0
        for _inputs, labels in adapter.get_numpy_iterator():
            count += len(labels)
            epoch_peak = max(epoch_peak, bench._status_kib("VmRSS"))
        adapter.on_epoch_end()
        rates.append(count / (time.perf_counter() - start))
    print("RESULT " + json.dumps({
        "variant": args.variant,
        "pipeline": args.pipeline,
        "steady_images_per_s": statistics.median(rates[1:]),
        "after_decode_mib": bench._mib(after_decode),
        "after_variant_mib": bench._mib(after_variant),
        "epochs_peak_rss_mib": bench._mib(epoch_peak),  # sampled once per batch
        "peak_rss_mib": bench._mib(bench._status_kib("VmHWM")),
    }), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", required=True)
    parser.add_argument("--pipeline", choices=bench.PIPELINES, default="vanilla")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cores", type=int, default=0)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--cpus", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    allowed = sorted(os.sched_getaffinity(0))
    cpus = allowed[: args.cores or len(allowed)]
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; {bench._cpu_model()}; "
          f"CPUs {cpus}; {args.pipeline}; load average before: {bench._loadavg()}", flush=True)
    runs = []
    for repeat in range(args.repeats):
        for variant in args.variants:
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KEDRO_DISABLE_TELEMETRY="1")
            if variant.startswith("MALLOC_ARENA_MAX="):
                env["MALLOC_ARENA_MAX"] = variant.split("=", 1)[1]
            command = [sys.executable, __file__, "--child", "--variant", variant,
                       "--pipeline", args.pipeline, "--archive", args.archive,
                       "--epochs", str(args.epochs), "--cpus", ",".join(map(str, cpus))]
            done = subprocess.run(command, capture_output=True, text=True, env=env,
                                  check=False)
            lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if not lines:
                sys.stderr.write(done.stdout + done.stderr)
                raise RuntimeError(f"{variant} failed with exit status {done.returncode}")
            run = json.loads(lines[0][len("RESULT "):])
            run["repeat"] = repeat + 1
            runs.append(run)
            print(f"[{repeat + 1}/{args.repeats}] {variant:20} {run['steady_images_per_s']:6.0f} "
                  f"img/s; RSS after decoding {run['after_decode_mib']:.0f}, after the variant "
                  f"{run['after_variant_mib']:.0f}, peak during epochs "
                  f"{run['epochs_peak_rss_mib']:.0f}, process peak {run['peak_rss_mib']:.0f} MiB; "
                  f"load average {bench._loadavg()}", flush=True)
    print(f"\nmedians over {args.repeats} repeats ({args.pipeline}):")
    print(f"{'variant':20} {'steady img/s':>12} {'peak during epochs MiB':>23} "
          f"{'epochs minus after-decode':>26} {'process peak MiB':>17}")
    for variant in args.variants:
        mine = [run for run in runs if run["variant"] == variant]
        med = {key: statistics.median(run[key] for run in mine)
               for key in ("steady_images_per_s", "epochs_peak_rss_mib", "peak_rss_mib")}
        over = statistics.median(run["epochs_peak_rss_mib"] - run["after_decode_mib"]
                                 for run in mine)
        print(f"{variant:20} {med['steady_images_per_s']:12.0f} "
              f"{med['epochs_peak_rss_mib']:23.0f} {over:26.0f} {med['peak_rss_mib']:17.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
