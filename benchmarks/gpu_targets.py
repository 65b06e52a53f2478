"""Issue #10's targets on a GPU host, measured in one command, each against its target.

    python benchmarks/gpu_targets.py --archive /path/to/flower_photos.tgz [--env gpu]
        [--steps cold,warm,epochs,seeds,sweep,study,ratio] [--seeds 1,2,4,5]
        [--params k=v,...] [--out results/]

Run it from the project folder on the GPU host (docs/gpu.md says how to install there). Each
step is ``kedro run`` in a fresh process, in the environment's own data root:

====== ================================================================== ============
step   what                                                               target
====== ================================================================== ============
cold   ``kedro run --pipeline=fixres`` with an empty compilation cache     <= 180 s
warm   the same again, the cache filled                                   <= 120 s
epochs each epoch's wall time, and its checkpoint's share (histories)     <= 5 %
seeds  the protocol for 1, 2, 4, 5 seeds at once (``ParallelRunner``)      5 <= 480 s
sweep  ``sweep`` (3 models x 7 resolutions x 2 transforms) and            <= 60 s,
       ``variants`` (re-estimating BN statistics, from node times)        <= 5 s
study  ``kedro run --pipeline=study`` (ParallelRunner), from scratch       <= 720 s
ratio  ``benchmarks/epoch_ratio.py``: real / synthetic epoch time         <= 1.15
====== ================================================================== ============

Wall times are of the whole command (process start to exit). The figures are printed as
one table, and written with the logs to ``--out``. On a CPU it runs too (``--env smoke
--params model.backbone=tiny``), which is how it is checked here: the figures then mean
nothing against the targets.
"""

# ruff: noqa: T201  (a script that prints)

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from pathlib import Path

import harness

TARGETS = {
    "cold": ("fixres, cold compilation cache", 180.0, "s"),
    "warm": ("fixres, warm compilation cache", 120.0, "s"),
    "epochs": ("checkpoint share of an epoch (max)", 5.0, "%"),
    "sweep": ("sweep: 3 models x 7 resolutions x 2 transforms", 60.0, "s"),
    "bn_stats": ("re-estimating post_bn's statistics", 5.0, "s"),
    "seeds": ("5 seeds at once", 480.0, "s"),
    "study": ("the whole study", 720.0, "s"),
    "ratio": ("real / synthetic epoch time", 1.15, "x"),
}
NODE_TIME = re.compile(r"\] (\S+) finished in ([0-9.]+) s")


def _kedro(args: list[str], env_name: str, params: str, log: Path) -> float:
    """Wall seconds of one ``kedro run`` in a fresh process, its output in ``log``."""
    command = [sys.executable, "-m", "kedro", "run", f"--env={env_name}", *args]
    if params:
        command += ["--params", params]
    return harness.run_logged(command, log)


def _node_seconds(log: Path) -> dict[str, float]:
    return {name: float(seconds) for name, seconds in NODE_TIME.findall(log.read_text())}


def _data_root(env_name: str) -> Path:
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415
    from kedro.framework.project import configure_project, settings  # noqa: PLC0415

    configure_project("fixres_kedro")
    loader = OmegaConfigLoader("conf", env=env_name, **settings.CONFIG_LOADER_ARGS)
    return Path(loader["globals"]["data_root"])


def _checkpoint_share(root: Path) -> float:
    shares = []
    for history in (root / "07_model_output").glob("*_history.json/*/*_history.json"):
        logs = json.loads(history.read_text())["history"]
        shares += [c / e for c, e in zip(logs.get("checkpoint_seconds", []), logs.get("epoch_seconds", [])) if e]
    return 100 * max(shares) if shares else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, required=True)
    parser.add_argument("--env", default="gpu")
    parser.add_argument("--steps", default="cold,warm,epochs,seeds,sweep,ratio,study")
    parser.add_argument("--seeds", default="1,2,4,5")
    parser.add_argument("--params", default="")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/gpu"))
    parser.add_argument("--ratio-args", default="--steps-per-execution 16",
                        help="more arguments for benchmarks/epoch_ratio.py")
    args = parser.parse_args()
    steps = args.steps.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.update({"FIXRES_DATA_SOURCE": "archive", "FIXRES_DATA_PATH": str(args.archive.resolve()),
                       "KEDRO_DISABLE_TELEMETRY": "1", "FIXRES_TRACKING": os.environ.get("FIXRES_TRACKING", "off")})
    root = _data_root(args.env)
    harness.print_header(f"env {args.env}", f"steps {args.steps}", f"params {args.params or '-'}")
    figures: dict[str, float] = {}
    notes: dict[str, str] = {}

    if "cold" in steps:
        shutil.rmtree(".cache/compilation", ignore_errors=True)
        figures["cold"] = _kedro(["--pipeline=fixres"], args.env, args.params, args.out / "cold.log")
    if "warm" in steps:
        figures["warm"] = _kedro(["--pipeline=fixres"], args.env, args.params, args.out / "warm.log")
    if "epochs" in steps:
        figures["epochs"] = _checkpoint_share(root)
    if "sweep" in steps:
        log = args.out / "sweep.log"
        _kedro(["--pipelines=sweep,variants"], args.env, args.params, log)
        nodes = _node_seconds(log)
        figures["sweep"] = sum(s for n, s in nodes.items() if n.endswith("evaluate_at_resolutions"))
        figures["bn_stats"] = nodes.get("finetune_bn_stats.reestimate_post_bn", float("nan"))
    if "seeds" in steps:
        scaling = {}
        for count in (int(n) for n in args.seeds.split(",")):
            spaces = ",".join(f"seed_{seed}" for seed in range(count))
            scaling[count] = _kedro(["--pipeline=seeds", f"--namespaces={spaces}", "--runner=ParallelRunner",
                                     "--runner-params", f"max_workers={count}"],
                                    args.env, args.params, args.out / f"seeds_{count}.log")
        figures["seeds"] = scaling[max(scaling)]
        TARGETS["seeds"] = (f"{max(scaling)} seeds at once", 480.0, "s")
        notes["seeds"] = ", ".join(f"{n} seeds: {s:.0f} s ({s / n:.0f} s a seed)" for n, s in scaling.items())
    if "ratio" in steps:
        harness.run_logged([sys.executable, str(Path(__file__).with_name("epoch_ratio.py")), "--archive",
                            str(args.archive), *args.ratio_args.split(), "--json", str(args.out / "ratio.json")],
                           args.out / "ratio.log")
        figures["ratio"] = json.loads((args.out / "ratio.json").read_text())["ratio"]
    if "study" in steps:
        shutil.rmtree(root, ignore_errors=True)
        figures["study"] = _kedro(["--pipeline=study", "--runner=ParallelRunner"], args.env, args.params,
                                  args.out / "study.log")

    rows = []
    for key, value in figures.items():
        what, target, unit = TARGETS[key]
        rows.append([what, f"{value:.2f}{unit}", f"{target:.2f}{unit}", "yes" if value <= target else "NO"])
    harness.print_table(["target", "measured", "target", "met"], rows)
    for key, note in notes.items():
        print(f"{key}: {note}")
    harness.write_json(args.out / "targets.json",
                       {"figures": figures, "notes": notes, "env": args.env, "params": args.params})
    return 0


if __name__ == "__main__":
    sys.exit(main())
