"""Uncertainty of accuracies: the binomial standard error, seed intervals, the paired test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fixres_kedro.fixres.stats import binomial_stderr, mean_interval, paired_difference


def test_binomial_stderr():
    assert binomial_stderr(0.75, 367) == pytest.approx(math.sqrt(0.75 * 0.25 / 367))
    assert binomial_stderr(0.75, 367) == pytest.approx(0.0226, abs=1e-4)  # the README's 2.3 points
    assert math.isnan(binomial_stderr(0.5, 0))


def test_mean_interval_matches_the_textbook_formula():
    values = [0.70, 0.74, 0.78]
    stats = mean_interval(values)
    std = np.std(values, ddof=1)
    assert stats["mean"] == pytest.approx(0.74)
    assert stats["std"] == pytest.approx(std)
    assert stats["ci95_high"] - stats["mean"] == pytest.approx(4.303 * std / math.sqrt(3), rel=1e-4)  # t(0.975, 2) = 4.3027


def test_one_seed_has_no_interval():
    stats = mean_interval([0.5])
    assert stats["n"] == 1 and math.isnan(stats["std"]) and math.isnan(stats["ci95_low"])


def test_an_accuracy_interval_stays_within_zero_and_one():
    # Two very different seeds: the t quantile (12.7) makes the plain interval far wider
    # than [0, 1] ([-2.03, 2.74] here, as a real study once printed).
    plain = mean_interval([0.1, 0.6])
    assert plain["ci95_low"] < 0 and plain["ci95_high"] > 1
    clipped = mean_interval([0.1, 0.6], bounds=(0.0, 1.0))
    assert (clipped["ci95_low"], clipped["ci95_high"]) == (0.0, 1.0)
    assert clipped["mean"] == pytest.approx(0.35)


def test_the_interval_covers_the_true_mean_95_percent_of_the_time():
    """Coverage, not constants: 4000 simulated studies of 3 seeds each."""
    rng = np.random.default_rng(0)
    covered = [
        (stats := mean_interval(rng.normal(0.7, 0.02, 3)))["ci95_low"] <= 0.7 <= stats["ci95_high"]
        for _ in range(4000)
    ]
    assert np.mean(covered) == pytest.approx(0.95, abs=0.015)


def test_the_paired_difference_is_scipys_paired_t_test():
    fixres, vanilla = [0.78, 0.80, 0.75, 0.79], [0.77, 0.76, 0.74, 0.78]
    paired = paired_difference(fixres, vanilla)
    differences = np.subtract(fixres, vanilla)
    assert paired["mean"] == pytest.approx(differences.mean())
    se = differences.std(ddof=1) / 2
    assert paired["t_statistic"] == pytest.approx(differences.mean() / se)
    assert paired["degrees_of_freedom"] == 3
    assert 0.05 < paired["p_value"] < 0.2  # t = 2.6 on 3 degrees of freedom: p = 0.08
    assert paired["ci95_low"] < 0 < paired["ci95_high"]  # so no difference is shown
    same = paired_difference([0.5, 0.6], [0.4, 0.5])  # every difference equal: no test
    assert math.isnan(same["t_statistic"]) and same["mean"] == pytest.approx(0.1)
