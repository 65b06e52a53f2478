"""The multi-seed statistics, and the seeds that have finished read from disk."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fixres_kedro.errors import NothingToSummariseError
from fixres_kedro.pipelines.seeds.nodes import (
    finished_seed_metrics,
    summarise_finished_seeds,
    summarise_seeds,
)
from fixres_kedro.metrics import Metrics
from fixres_kedro.protocol import MODELS

OLD, NEW = "2026-11-27T10.00.00.000Z", "2026-11-27T11.00.00.000Z"


def _record(model: str, seed: int, top1: float, seconds: float = 10.0) -> dict:
    """A metrics file as JSON."""
    return {"model": model, "top1": top1, "loss": 1.0, "train_seconds": seconds, "validation_examples": 367,
            "epochs": 1, "parameters": {"dataset": {"seed": seed}}}


def _metrics(model: str, seed: int, top1: float, seconds: float = 10.0) -> Metrics:
    return Metrics(**_record(model, seed, top1, seconds))


def test_summarise_seeds_pairs_fixres_with_vanilla_by_seed():
    finetune = {0: 0.80, 1: 0.76, 2: 0.79}
    vanilla = {0: 0.75, 1: 0.74, 2: 0.70}
    metrics = []
    for seed in (2, 0, 1):  # any order: each metrics file says its seed and run
        metrics += [_metrics("initial", seed, 0.7), _metrics("finetune", seed, finetune[seed]),
                    _metrics("vanilla", seed, vanilla[seed])]
    summary, comparison, figure = summarise_seeds(*metrics)
    assert list(summary["model"]) == list(MODELS)
    assert list(summary["seeds"]) == [3, 3, 3]
    row = summary.set_index("model").loc["finetune"]
    assert row["top1_mean"] == pytest.approx(np.mean(list(finetune.values())))
    differences = [finetune[s] - vanilla[s] for s in range(3)]
    assert comparison["seeds"] == [0, 1, 2]
    assert comparison["differences"] == pytest.approx(differences)
    assert comparison["difference_mean"] == pytest.approx(np.mean(differences))
    expected_t = np.mean(differences) / (np.std(differences, ddof=1) / math.sqrt(3))
    assert comparison["t_statistic"] == pytest.approx(expected_t)
    assert comparison["degrees_of_freedom"] == 2
    assert figure.axes


def test_seed_intervals_are_clipped_to_zero_and_one():
    metrics = [_metrics(run, seed, top1) for seed, top1 in ((0, 0.05), (1, 0.95)) for run in MODELS]
    summary, comparison, _ = summarise_seeds(*metrics)
    assert (summary["top1_ci95_low"] >= 0).all() and (summary["top1_ci95_high"] <= 1).all()


def _partition(namespace: str, version: str) -> str:
    return f"{namespace}_metrics.json/{version}/{namespace}"


def _loader(run: str, seed: int, top1: float):
    return lambda: _record(run, seed, top1)


def test_only_seeds_with_all_three_runs_and_their_latest_versions():
    partitions = {
        _partition("seed_0.initial", OLD): _loader("initial", 0, 0.1),
        _partition("seed_0.initial", NEW): _loader("initial", 0, 0.2),  # rerun: the latest counts
        _partition("seed_0.finetune", OLD): _loader("finetune", 0, 0.3),
        _partition("seed_0.vanilla", OLD): _loader("vanilla", 0, 0.4),
        _partition("seed_1.initial", OLD): _loader("initial", 1, 0.5),  # seed 1 has not finished
        _partition("initial", OLD): _loader("initial", 42, 0.9),  # not a seed's
        _partition("finetune_official", OLD): _loader("finetune", 42, 0.9),
    }
    chosen = finished_seed_metrics(partitions)
    assert [(m.model, m.top1) for m in chosen] == [("initial", 0.2), ("finetune", 0.3), ("vanilla", 0.4)]
    summary, comparison, _ = summarise_finished_seeds(partitions)
    assert list(summary["seeds"]) == [1, 1, 1] and comparison["seeds"] == [0]


def test_no_finished_seed_is_a_clear_error():
    with pytest.raises(NothingToSummariseError, match=r"No seed has finished .* seeds \[1\]"):
        finished_seed_metrics({_partition("seed_1.initial", OLD): _loader("initial", 1, 0.5)})
