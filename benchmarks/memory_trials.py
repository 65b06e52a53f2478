"""Trials on the peak memory of our training input pipeline (not a test).

    .venv/bin/python benchmarks/memory_trials.py --archive ../shared/data/flower_photos.tgz \
        [--pipeline vanilla] [--repeats 2] [--epochs 5] [--cores 2] [--variants default ...]

Each variant runs in a fresh subprocess, measured as ``input_pipeline.py`` measures
``ours`` (same split, same Keras ``PyDatasetAdapter`` iteration, same CPU affinity;
``harness.py``), here from the encoded split decoded by ``make_dataset``:

* ``default``: the batches as the training node gets them.
* ``queue=workers``: Keras' queue holds ``workers`` batches instead of ``2 x workers``.
  Since ``ImageBatches`` computes its batches ahead on its own threads and hands Keras
  ``workers=1`` (Keras starts no queue), this variant measures the same as ``default``;
  it is kept for the trials of 2026-11-27 (docs/benchmarks.md), which ran with the queue.
* ``drop+trim``: the encoded split is dropped after decoding and ``malloc_trim(0)``
  (glibc) returns the freed heap to the OS, as a node could do before ``fit``.
* ``MALLOC_ARENA_MAX=1``: glibc keeps one malloc arena for all threads.

Results and how to read them: docs/benchmarks.md.
"""
# ruff: noqa: T201, PLC0415  (a script that prints; imports wait for the CPU affinity)

from __future__ import annotations

import argparse

import harness

VARIANTS = ("default", "queue=workers", "drop+trim", "MALLOC_ARENA_MAX=1")


def child(args: argparse.Namespace) -> None:
    cpus = harness.pin(int(cpu) for cpu in args.cpus.split(","))
    import keras  # noqa: F401  (the backend, loaded before anything is measured)

    from fixres_kedro.fixres.dataset import make_dataset

    train, _ = harness.train_split(args.archive)
    batches = make_dataset(train, harness.input_pipeline(args.pipeline), True, len(cpus))
    after_decode = harness.rss_mib()
    if args.variant == "queue=workers":
        batches.max_queue_size = batches.workers
    elif args.variant == "drop+trim":
        import ctypes
        import gc

        del train
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    after_variant = harness.rss_mib()
    # What the epochs add is measured from here: VmHWM already holds the decoding peak.
    epoch_peak = [after_variant]

    def sample() -> None:  # once per batch
        epoch_peak[0] = max(epoch_peak[0], harness.rss_mib())

    epochs = harness.epochs_like_fit(batches, args.epochs, on_batch=sample)
    harness.emit({
        "variant": args.variant,
        "pipeline": args.pipeline,
        "steady_images_per_s": harness.steady([epoch["images_per_s"] for epoch in epochs]),
        "after_decode_mib": after_decode,
        "after_variant_mib": after_variant,
        "epochs_peak_rss_mib": epoch_peak[0],
        "peak_rss_mib": harness.rss_mib("VmHWM"),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", required=True)
    parser.add_argument("--pipeline", choices=harness.PIPELINES, default="vanilla")
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
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first, then the steady ones)")
    cpus = harness.cpus(args.cores)
    harness.print_header(f"CPUs {cpus}", args.pipeline)
    runs = []
    for repeat in range(args.repeats):
        for variant in args.variants:
            env = {"MALLOC_ARENA_MAX": variant.split("=", 1)[1]} if variant.startswith("MALLOC_ARENA_MAX=") else {}
            run = harness.run_child(
                harness.child_command(__file__, "--variant", variant, "--pipeline", args.pipeline,
                                      "--archive", args.archive, "--epochs", args.epochs,
                                      "--cpus", ",".join(map(str, cpus))),
                env=env)
            run["repeat"] = repeat + 1
            runs.append(run)
            print(f"[{repeat + 1}/{args.repeats}] {variant:20} {run['steady_images_per_s']:6.0f} "
                  f"img/s; RSS after decoding {run['after_decode_mib']:.0f}, after the variant "
                  f"{run['after_variant_mib']:.0f}, peak during epochs "
                  f"{run['epochs_peak_rss_mib']:.0f}, process peak {run['peak_rss_mib']:.0f} MiB; "
                  f"load average {harness.loadavg()}", flush=True)
    print(f"\nmedians over {args.repeats} repeats ({args.pipeline}):")
    rows = []
    for variant in args.variants:
        mine = [run for run in runs if run["variant"] == variant]
        rows.append([
            variant,
            f"{harness.median(run['steady_images_per_s'] for run in mine):.0f}",
            f"{harness.median(run['epochs_peak_rss_mib'] for run in mine):.0f}",
            f"{harness.median(run['epochs_peak_rss_mib'] - run['after_decode_mib'] for run in mine):.0f}",
            f"{harness.median(run['peak_rss_mib'] for run in mine):.0f}",
        ])
    harness.print_table(["variant", "steady img/s", "peak during epochs MiB", "epochs minus after-decode",
                         "process peak MiB"], rows)
    harness.write_json(args.json, runs)


if __name__ == "__main__":
    main()
