"""One smoke study (the ``seeds`` pipeline) under ``SequentialRunner``, ``ParallelRunner``
and ``DaskRunner`` (a local cluster: no scheduler given), with the same settings, on this
machine, in one run.

    python benchmarks/cluster_runners.py --archive ../shared/data/flower_photos.tgz \\
        [--repeats 3] [--backbone tiny] [--json out.json]

Each measurement is a whole ``kedro run --env smoke --pipeline=seeds --runner=<runner>``
in a fresh copy of the project holding the same split (written once, first): its wall
time from start to exit, the interpreter's and Kedro's start-up and the local cluster's
start and stop included. The runners take turns, so a change in the machine's load falls
on all of them. Printed: each runner's median and range, and its ratio to the sequential
run's median. Tracking is off (``FIXRES_TRACKING=off``): the runners are measured, not the
MLflow store.
"""

# ruff: noqa: T201  (a script that prints)

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness

RUNNERS = {"SequentialRunner": "SequentialRunner", "ParallelRunner": "ParallelRunner",
           "DaskRunner (local cluster)": "fixres_kedro.runners.DaskRunner"}
SPLIT = Path("data") / "smoke" / "02_intermediate"


def _copy(template: Path, target: Path) -> Path:
    shutil.copytree(template, target, ignore=shutil.ignore_patterns("08_reporting", "06_models", "07_model_output",
                                                                    "05_model_input", "mlflow.db", "mlruns"))
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backbone", default="tiny")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    env = {**harness.QUIET, "FIXRES_TRACKING": "off", "FIXRES_DATA_SOURCE": "archive",
           "FIXRES_DATA_PATH": str(args.archive.resolve()), "KEDRO_ENV": "smoke"}
    kedro = [sys.executable, "-m", "kedro", "run", "--env", "smoke"]
    harness.print_header(f"{args.repeats} runs of each runner", f"backbone {args.backbone}")
    with tempfile.TemporaryDirectory(prefix="fixres-cluster-bench-") as scratch:
        folder = Path(scratch)
        template = folder / "template"
        template.mkdir()
        sys.path.insert(0, str(harness.ROOT))
        from tests.conftest import copy_project  # noqa: PLC0415 - the tests' project copy

        copy_project(template)
        _timed([*kedro, "--pipeline=data"], template, env)
        seconds: dict[str, list[float]] = {name: [] for name in RUNNERS}
        for repeat in range(args.repeats):
            for name, runner in RUNNERS.items():
                project = _copy(template, folder / f"{repeat}-{runner.rsplit('.', 1)[-1]}")
                command = [*kedro, "--pipeline=seeds", f"--runner={runner}", "--params",
                           f"model.backbone={args.backbone}"]
                seconds[name].append(_timed(command, project, env))
                print(f"  run {repeat + 1} {name}: {seconds[name][-1]:.1f} s", flush=True)
                shutil.rmtree(project)
    sequential = harness.median(seconds["SequentialRunner"])
    rows = [(name, f"{harness.median(values):.1f}", "{:.1f} to {:.1f}".format(*harness.span(values)),
             f"{harness.ratio(harness.median(values), sequential):.2f}") for name, values in seconds.items()]
    harness.print_table(["runner", "median s", "range s", "/ sequential"], rows)
    print(f"load average after: {harness.loadavg()}")
    harness.write_json(args.json, {"seconds": seconds, "backbone": args.backbone, "date": harness.utc_now()})
    return 0


def _timed(command: list[str], project: Path, env: dict[str, str]) -> float:
    """``command``'s wall seconds, run in ``project`` (its output in ``project/run.log``)."""
    start = time.perf_counter()
    with open(project / "run.log", "w") as log:
        done = subprocess.run(command, cwd=project, env={**os.environ, **env}, stdout=log,
                              stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (rc {done.returncode}): see {project / 'run.log'}")
    return time.perf_counter() - start


if __name__ == "__main__":
    raise SystemExit(main())
