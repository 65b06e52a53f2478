"""Nodes of the ``seeds`` pipeline: the protocol's spread over seeds, and a paired test."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fixres_kedro.fixres import plots
from fixres_kedro.fixres.errors import NothingToSummariseError
from fixres_kedro.fixres.stats import mean_interval
from fixres_kedro.protocol import RUNS, parse_namespace, seed_namespace


def _seed_and_run(metrics: dict[str, Any]) -> tuple[int, str]:
    """Which seed and run produced ``metrics``: the run's name and its pipelines' seed."""
    return int(metrics["parameters"]["dataset"]["seed"]), metrics["model"]


def finished_seed_metrics(
    seed_metrics: dict[str, Callable[[], dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The latest metrics of every seed whose three runs have all finished.

    ``seed_metrics`` is the catalog's partitioned view of the reporting folder (a loader
    per versioned ``<namespace>_metrics.json``, the partition id ending in the
    namespace); namespaces that are not a seed's run, seeds still running and seeds
    never started are left out.
    """
    latest: dict[tuple[int, str], tuple[str, str]] = {}
    for partition in seed_metrics:
        version, namespace = partition.split("/")[-2:]
        seed, run = parse_namespace(namespace)
        if seed is None or run is None or namespace != f"{seed_namespace(seed)}.{run}":
            continue
        if (seed, run) not in latest or version > latest[seed, run][0]:  # versions sort by time
            latest[seed, run] = (version, partition)
    seeds = sorted({seed for seed, _ in latest})
    finished = [seed for seed in seeds if all((seed, run) in latest for run in RUNS)]
    if not finished:
        raise NothingToSummariseError(
            f"No seed has finished all of {', '.join(RUNS)} yet (metrics found for seeds "
            f"{seeds}): run `kedro run --pipeline=seeds` first"
        )
    return [seed_metrics[latest[seed, run][1]]() for seed in finished for run in RUNS]


def summarise_finished_seeds(
    seed_metrics: dict[str, Callable[[], dict[str, Any]]],
) -> tuple[pd.DataFrame, dict[str, Any], Figure]:
    """``summarise_seeds`` over whatever seeds have finished (``finished_seed_metrics``),
    for seeds run one namespace at a time by a scheduler, or some not at all."""
    return summarise_seeds(*finished_seed_metrics(seed_metrics))


def summarise_seeds(*metrics: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any], Figure]:
    """Aggregate the metrics of every run of every seed.

    Returns per model the mean, standard deviation and 95% t-interval of top-1 (clipped
    to [0, 1]) and the mean training time; a paired comparison of FixRes against vanilla
    on the same seeds (mean difference, its 95% interval and the paired t statistic);
    and a plot of every seed's top-1 with the means and intervals.
    """
    rows = []
    for values in metrics:
        seed, run = _seed_and_run(values)
        rows.append({"seed": seed, "model": run, "top1": values["top1"], "loss": values["loss"],
                     "train_seconds": values["train_seconds"]})
    table = pd.DataFrame(rows).sort_values(["model", "seed"])
    summary = []
    for run in RUNS:
        part = table[table["model"] == run]
        stats = mean_interval(list(part["top1"]), bounds=(0.0, 1.0))
        summary.append({"model": run, **{f"top1_{k}" if k != "n" else "seeds": v for k, v in stats.items()},
                        "train_seconds_mean": float(part["train_seconds"].mean())})
    summary = pd.DataFrame(summary)
    per_seed = {run: dict(zip(part["seed"], part["top1"])) for run, part in table.groupby("model")}
    seeds = sorted(set(per_seed.get("finetune", {})) & set(per_seed.get("vanilla", {})))
    differences = [per_seed["finetune"][s] - per_seed["vanilla"][s] for s in seeds]
    paired = mean_interval(differences, bounds=(-1.0, 1.0))
    spread = paired["std"] / math.sqrt(paired["n"]) if paired["n"] > 1 else float("nan")
    comparison = {
        "comparison": "finetune (FixRes) minus vanilla, top-1, paired by seed",
        "seeds": seeds,
        "differences": differences,
        **{f"difference_{k}": v for k, v in paired.items() if k != "n"},
        "t_statistic": paired["mean"] / spread if spread and spread > 0 else float("nan"),
        "degrees_of_freedom": max(paired["n"] - 1, 0),
    }
    figure, axis = plots.figure(7, 4)
    for x, run in enumerate(RUNS):
        points = table[table["model"] == run]["top1"] * 100
        axis.scatter([x] * len(points), points, alpha=0.6)
        row = summary[summary["model"] == run].iloc[0]
        if not np.isnan(row["top1_ci95_low"]):
            axis.errorbar([x + 0.15], [row["top1_mean"] * 100],
                          yerr=[[row["top1_mean"] * 100 - row["top1_ci95_low"] * 100],
                                [row["top1_ci95_high"] * 100 - row["top1_mean"] * 100]],
                          fmt="D", color="black", capsize=5)
    axis.set_xticks(range(len(RUNS)), RUNS)
    axis.set_ylabel("validation top-1 (%)")
    axis.set_title(f"{len(seeds)} seeds: each run, mean and 95% interval")
    return summary, comparison, figure
