"""The uncertainty of accuracies: one model's standard error, several seeds' interval.

One top-1 on ``n`` validation photos is a binomial proportion, with standard error
``sqrt(p (1 - p) / n)``: about 2.3 points at 75% on tf_flowers' 367 photos. Over seeds,
``mean_interval`` is the mean with its 95% Student-t interval, and ``paired_difference``
the paired t-test of two models on the same seeds (``scipy.stats``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def binomial_stderr(proportion: float, count: int) -> float:
    """The standard error of a proportion measured on ``count`` examples (NaN for none)."""
    if not count:
        return float("nan")
    return math.sqrt(proportion * (1 - proportion) / count)


def mean_interval(
    values: Sequence[float], bounds: tuple[float, float] | None = None
) -> dict[str, float]:
    """Mean, sample standard deviation and 95% t-interval of ``values``.

    ``bounds`` clips the interval to the range the quantity can take (``(0, 1)`` for an
    accuracy; ``(-1, 1)`` for a difference of two): with two or three seeds the t
    quantile is large and the plain interval can leave it.
    """
    from scipy import stats  # noqa: PLC0415 - a second of start-up for every command otherwise

    array = np.asarray(values, dtype=float)
    n = len(array)
    mean = float(array.mean()) if n else float("nan")
    std = float(array.std(ddof=1)) if n > 1 else float("nan")
    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n) if n > 1 else float("nan")
    low, high = mean - half, mean + half
    if bounds is not None and n > 1:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return {"n": n, "mean": mean, "std": std, "ci95_low": low, "ci95_high": high}


def paired_difference(first: Sequence[float], second: Sequence[float]) -> dict[str, float]:
    """``first - second`` paired by position: the differences' mean, std and 95% interval
    (clipped to [-1, 1]), and the paired t-test's statistic, degrees of freedom and
    two-sided p-value (NaN below two pairs or when every difference is the same)."""
    from scipy import stats  # noqa: PLC0415

    differences = np.asarray(first, dtype=float) - np.asarray(second, dtype=float)
    summary = mean_interval(differences, bounds=(-1.0, 1.0))
    n = summary["n"]
    t_statistic = p_value = float("nan")
    if n > 1 and np.ptp(differences) > 0:
        test = stats.ttest_rel(first, second)
        t_statistic, p_value = float(test.statistic), float(test.pvalue)
    return {**summary, "t_statistic": t_statistic, "degrees_of_freedom": max(n - 1, 0), "p_value": p_value}
