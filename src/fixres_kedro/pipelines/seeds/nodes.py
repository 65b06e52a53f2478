"""Nodes of the ``seeds`` pipeline: the protocol's spread over seeds, and a paired test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fixres_kedro.fixres.errors import NothingToSummariseError
from fixres_kedro.fixres.figure_type import Figure
from fixres_kedro.fixres.stats import mean_interval, paired_difference
from fixres_kedro.lazy_import import lazy_import
from fixres_kedro.metrics import Metrics
from fixres_kedro.protocol import MODELS, parse_namespace, seed_namespace

pd = lazy_import("pandas")
plots = lazy_import("fixres_kedro.fixres.plots")  # matplotlib


def finished_seed_metrics(
    seed_metrics: dict[str, Callable[[], dict[str, Any]]],
) -> list[Metrics]:
    """The latest metrics of every seed whose three models have all finished.

    ``seed_metrics`` is the catalog's partitioned view of the reporting folder (a loader
    per versioned ``<namespace>_metrics.json``, the partition id ending in the
    namespace); namespaces that are not a seed's model, seeds still running and seeds
    never started are left out.
    """
    latest: dict[tuple[int, str], tuple[str, str]] = {}
    for partition in seed_metrics:
        version, namespace = partition.split("/")[-2:]
        seed, model = parse_namespace(namespace)
        if seed is None or model is None or namespace != f"{seed_namespace(seed)}.{model}":
            continue
        if (seed, model) not in latest or version > latest[seed, model][0]:  # versions sort by time
            latest[seed, model] = (version, partition)
    seeds = sorted({seed for seed, _ in latest})
    finished = [seed for seed in seeds if all((seed, model) in latest for model in MODELS)]
    if not finished:
        raise NothingToSummariseError(
            f"No seed has finished all of {', '.join(MODELS)} yet (metrics found for seeds "
            f"{seeds}): run `kedro run --pipeline=seeds` first"
        )
    return [Metrics.model_validate(seed_metrics[latest[seed, model][1]]())
            for seed in finished for model in MODELS]


def summarise_finished_seeds(
    seed_metrics: dict[str, Callable[[], dict[str, Any]]],
) -> tuple[pd.DataFrame, dict[str, Any], Figure]:
    """``summarise_seeds`` over whatever seeds have finished (``finished_seed_metrics``),
    for seeds run one namespace at a time by a scheduler, or some not at all."""
    return summarise_seeds(*finished_seed_metrics(seed_metrics))


def summarise_seeds(*metrics: Metrics) -> tuple[pd.DataFrame, dict[str, Any], Figure]:
    """Aggregate the metrics of every model of every seed.

    Returns per model the mean, standard deviation and 95% t-interval of top-1 (clipped
    to [0, 1]) and the mean training time; a paired comparison of FixRes against vanilla
    on the same seeds (mean difference, its 95% interval, the paired t-test); and a plot
    of every seed's top-1 with the means and intervals.
    """
    table = pd.DataFrame([
        {"seed": int(values.dataset["seed"]), "model": values.model, "top1": values.top1,
         "loss": values.loss, "train_seconds": values.train_seconds}
        for values in metrics
    ]).sort_values(["model", "seed"])
    summary = []
    for model in MODELS:
        part = table[table["model"] == model]
        spread = mean_interval(list(part["top1"]), bounds=(0.0, 1.0))
        summary.append({"model": model, **{f"top1_{k}" if k != "n" else "seeds": v for k, v in spread.items()},
                        "train_seconds_mean": float(part["train_seconds"].mean())})
    summary = pd.DataFrame(summary)
    per_seed = {model: dict(zip(part["seed"], part["top1"])) for model, part in table.groupby("model")}
    seeds = sorted(set(per_seed.get("finetune", {})) & set(per_seed.get("vanilla", {})))
    paired = paired_difference([per_seed["finetune"][s] for s in seeds], [per_seed["vanilla"][s] for s in seeds])
    comparison = {
        "comparison": "finetune (FixRes) minus vanilla, top-1, paired by seed",
        "seeds": seeds,
        "differences": [per_seed["finetune"][s] - per_seed["vanilla"][s] for s in seeds],
        **{f"difference_{k}": v for k, v in paired.items()
           if k not in ("n", "t_statistic", "degrees_of_freedom", "p_value")},
        **{k: paired[k] for k in ("t_statistic", "degrees_of_freedom", "p_value")},
    }
    figure, axis = plots.figure(7, 4)
    for x, model in enumerate(MODELS):
        points = table[table["model"] == model]["top1"] * 100
        axis.scatter([x] * len(points), points, alpha=0.6)
        row = summary[summary["model"] == model].iloc[0]
        if not np.isnan(row["top1_ci95_low"]):
            axis.errorbar([x + 0.15], [row["top1_mean"] * 100],
                          yerr=[[row["top1_mean"] * 100 - row["top1_ci95_low"] * 100],
                                [row["top1_ci95_high"] * 100 - row["top1_mean"] * 100]],
                          fmt="D", color="black", capsize=5)
    axis.set_xticks(range(len(MODELS)), MODELS)
    axis.set_ylabel("validation top-1 (%)")
    axis.set_title(f"{len(seeds)} seeds: each model, mean and 95% interval")
    return summary, comparison, figure
