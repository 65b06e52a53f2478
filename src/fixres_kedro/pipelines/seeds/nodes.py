"""Nodes of the ``seeds`` pipeline: the protocol's spread over seeds, and a paired test."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fixres_kedro.errors import NothingToSummariseError  # noqa: E402

RUNS = ("initial", "finetune", "vanilla")
# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
       2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
       2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t95(degrees_of_freedom: int) -> float:
    """The 95% two-sided Student-t quantile (1.96 beyond 30 degrees of freedom)."""
    if degrees_of_freedom < 1:
        return float("nan")
    return T95[degrees_of_freedom - 1] if degrees_of_freedom <= len(T95) else 1.96


def mean_interval(values: list[float]) -> dict[str, float]:
    """Mean, sample standard deviation and 95% t-interval of ``values``."""
    array = np.asarray(values, dtype=float)
    n = len(array)
    mean = float(array.mean()) if n else float("nan")
    std = float(array.std(ddof=1)) if n > 1 else float("nan")
    half = t95(n - 1) * std / math.sqrt(n) if n > 1 else float("nan")
    return {"n": n, "mean": mean, "std": std, "ci95_low": mean - half, "ci95_high": mean + half}


# A partition of ``seed_metrics``: <dataset>.json/<version>/<dataset> (json suffix cut).
_SEED_METRICS = re.compile(r"^seed_(\d+)_(initial|finetune|vanilla)_metrics\.json/([^/]+)/")


def finished_seed_metrics(seed_metrics: dict[str, Callable[[], dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The latest metrics of every seed whose three runs have all finished.

    ``seed_metrics`` is the catalog's partitioned view of the reporting folder (a
    loader per versioned JSON file); a seed still running, or never started, is left
    out. Returns ``summarise_seeds``' inputs (``seed_<n>_<run>``).
    """
    latest: dict[tuple[int, str], tuple[str, str]] = {}
    for partition in seed_metrics:
        match = _SEED_METRICS.match(partition)
        if match:
            key, version = (int(match.group(1)), match.group(2)), match.group(3)
            if key not in latest or version > latest[key][0]:  # versions sort by time
                latest[key] = (version, partition)
    seeds = sorted({seed for seed, _ in latest})
    finished = [seed for seed in seeds if all((seed, run) in latest for run in RUNS)]
    if not finished:
        raise NothingToSummariseError(
            "No seed has finished all of initial, finetune and vanilla yet "
            f"(metrics found for seeds {seeds}): run `kedro run --pipeline=seeds` first"
        )
    return {f"seed_{seed}_{run}": seed_metrics[latest[seed, run][1]]()
            for seed in finished for run in RUNS}


def summarise_finished_seeds(
    seed_metrics: dict[str, Callable[[], dict[str, Any]]],
) -> tuple[pd.DataFrame, dict[str, Any], Figure]:
    """``summarise_seeds`` over whatever seeds have finished (``finished_seed_metrics``),
    for seeds run one namespace at a time by a scheduler, or some not at all."""
    return summarise_seeds(**finished_seed_metrics(seed_metrics))


def summarise_seeds(**metrics: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any], Figure]:
    """Aggregate the per-seed metrics (inputs named ``seed_<n>_<run>``).

    Returns per model the mean, standard deviation and 95% t-interval of top-1 and
    of training time; a paired comparison of FixRes against vanilla on the same
    seeds (mean difference, its 95% interval and the paired t statistic); and a
    plot of every seed's top-1 with the means and intervals.
    """
    rows = []
    per_seed: dict[str, dict[int, float]] = {run: {} for run in RUNS}
    for name, values in metrics.items():
        seed_text, run = name.removeprefix("seed_").split("_", 1)
        per_seed[run][int(seed_text)] = values["top1"]
        rows.append({"seed": int(seed_text), "model": run, "top1": values["top1"],
                     "loss": values["loss"], "train_seconds": values["train_seconds"]})
    table = pd.DataFrame(rows).sort_values(["model", "seed"])
    summary = []
    for run in RUNS:
        part = table[table["model"] == run]
        stats = mean_interval(list(part["top1"]))
        summary.append({"model": run, **{f"top1_{k}" if k != "n" else "seeds": v for k, v in stats.items()},
                        "train_seconds_mean": float(part["train_seconds"].mean())})
    summary = pd.DataFrame(summary)
    seeds = sorted(set(per_seed["finetune"]) & set(per_seed["vanilla"]))
    differences = [per_seed["finetune"][s] - per_seed["vanilla"][s] for s in seeds]
    paired = mean_interval(differences)
    t_stat = paired["mean"] / (paired["std"] / math.sqrt(paired["n"])) if paired["n"] > 1 and paired["std"] > 0 else float("nan")
    comparison = {
        "comparison": "finetune (FixRes) minus vanilla, top-1, paired by seed",
        "seeds": seeds,
        "differences": differences,
        **{f"difference_{k}": v for k, v in paired.items() if k != "n"},
        "t_statistic": t_stat,
        "degrees_of_freedom": max(paired["n"] - 1, 0),
    }
    figure, axis = plt.subplots(figsize=(7, 4))
    for x, run in enumerate(RUNS):
        points = table[table["model"] == run]["top1"] * 100
        axis.scatter([x] * len(points), points, alpha=0.6)
        row = summary[summary["model"] == run].iloc[0]
        if not math.isnan(row["top1_ci95_low"]):
            axis.errorbar([x + 0.15], [row["top1_mean"] * 100],
                          yerr=[[row["top1_mean"] * 100 - row["top1_ci95_low"] * 100],
                                [row["top1_ci95_high"] * 100 - row["top1_mean"] * 100]],
                          fmt="D", color="black", capsize=5)
    axis.set_xticks(range(len(RUNS)), RUNS)
    axis.set_ylabel("validation top-1 (%)")
    axis.set_title(f"{len(seeds)} seeds: each run, mean and 95% interval")
    figure.tight_layout()
    return summary, comparison, figure
