"""The multi-seed statistics: means, intervals and the paired comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fixres_kedro.pipelines.seeds.nodes import mean_interval, summarise_seeds, t95


def _metrics(top1: float, seconds: float = 10.0) -> dict:
    return {"top1": top1, "loss": 1.0, "train_seconds": seconds}


def test_t_quantiles():
    assert t95(1) == pytest.approx(12.706)
    assert t95(4) == pytest.approx(2.776)
    assert t95(100) == pytest.approx(1.96)
    assert math.isnan(t95(0))


def test_mean_interval_matches_the_textbook_formula():
    values = [0.70, 0.74, 0.78]
    stats = mean_interval(values)
    std = np.std(values, ddof=1)
    assert stats["mean"] == pytest.approx(0.74)
    assert stats["std"] == pytest.approx(std)
    assert stats["ci95_high"] - stats["mean"] == pytest.approx(4.303 * std / math.sqrt(3))


def test_one_seed_has_no_interval():
    stats = mean_interval([0.5])
    assert stats["n"] == 1 and math.isnan(stats["std"]) and math.isnan(stats["ci95_low"])


def test_summarise_seeds_pairs_fixres_with_vanilla_by_seed():
    finetune = {0: 0.80, 1: 0.76, 2: 0.79}
    vanilla = {0: 0.75, 1: 0.74, 2: 0.70}
    metrics = {}
    for seed in range(3):
        metrics[f"seed_{seed}_initial"] = _metrics(0.7)
        metrics[f"seed_{seed}_finetune"] = _metrics(finetune[seed])
        metrics[f"seed_{seed}_vanilla"] = _metrics(vanilla[seed])
    summary, comparison, figure = summarise_seeds(**metrics)
    assert list(summary["model"]) == ["initial", "finetune", "vanilla"]
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
