"""Uncertainty of accuracies: the binomial standard error, t quantiles, seed intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fixres_kedro.fixres.stats import binomial_stderr, mean_interval, t95


def test_binomial_stderr():
    assert binomial_stderr(0.75, 367) == pytest.approx(math.sqrt(0.75 * 0.25 / 367))
    assert binomial_stderr(0.75, 367) == pytest.approx(0.0226, abs=1e-4)  # the README's 2.3 points
    assert math.isnan(binomial_stderr(0.5, 0))


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


def test_an_accuracy_interval_stays_within_zero_and_one():
    # Two very different seeds: the t quantile (12.7) makes the plain interval far wider
    # than [0, 1] ([-2.03, 2.74] here, as a real study once printed).
    plain = mean_interval([0.1, 0.6])
    assert plain["ci95_low"] < 0 and plain["ci95_high"] > 1
    clipped = mean_interval([0.1, 0.6], bounds=(0.0, 1.0))
    assert (clipped["ci95_low"], clipped["ci95_high"]) == (0.0, 1.0)
    assert clipped["mean"] == pytest.approx(0.35)
