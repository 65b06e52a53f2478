"""The uncertainty of accuracies: one run's standard error, several seeds' interval.

One run's top-1 on ``n`` validation photos is a binomial proportion: its standard error
is ``sqrt(p (1 - p) / n)``, about 2.3 points at 75% on tf_flowers' 367 photos. Over
several seeds, ``mean_interval`` gives the mean, the sample standard deviation and the
95% Student-t interval of the mean, optionally clipped to the values' range (an
accuracy's interval never leaves [0, 1]).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def binomial_stderr(proportion: float, count: int) -> float:
    """The standard error of a proportion measured on ``count`` examples (NaN for none)."""
    if not count:
        return float("nan")
    return math.sqrt(proportion * (1 - proportion) / count)


def t95(degrees_of_freedom: int) -> float:
    """The 95% two-sided Student-t quantile (1.96 beyond 30 degrees of freedom)."""
    if degrees_of_freedom < 1:
        return float("nan")
    return _T95[degrees_of_freedom - 1] if degrees_of_freedom <= len(_T95) else 1.96


def mean_interval(
    values: Sequence[float], bounds: tuple[float, float] | None = None
) -> dict[str, float]:
    """Mean, sample standard deviation and 95% t-interval of ``values``.

    ``bounds`` clips the interval to the range the quantity can take (``(0, 1)`` for an
    accuracy; ``(-1, 1)`` for a difference of two): with two or three seeds the t
    quantile is large and the plain interval can leave it.
    """
    array = np.asarray(values, dtype=float)
    n = len(array)
    mean = float(array.mean()) if n else float("nan")
    std = float(array.std(ddof=1)) if n > 1 else float("nan")
    half = t95(n - 1) * std / math.sqrt(n) if n > 1 else float("nan")
    low, high = mean - half, mean + half
    if bounds is not None and n > 1:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return {"n": n, "mean": mean, "std": std, "ci95_low": low, "ci95_high": high}
