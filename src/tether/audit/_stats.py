"""Small pure statistics shared by the audits: DeLong AUC variance and percentile intervals, and
the Wilson and normal intervals of :mod:`tether.evaluate.intervals` in the audits' convention
(a confidence ``level``, lists for JSON). Each returns plain floats.

Example:
    >>> auc, se = delong([0.9, 0.8, 0.7], [0.1, 0.75, 0.2])
    >>> round(auc, 4)
    0.8889
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from tether.evaluate.intervals import wilson_interval, z_interval

Z95 = float(stats.norm.ppf(0.975))


def delong(positive: Sequence[float], negative: Sequence[float]) -> tuple[float, float]:
    """AUC of ``positive`` over ``negative`` scores (ties count one half) and its DeLong standard
    error, computed from mid-ranks in O(n log n) (Sun & Xu 2014)."""
    x = np.asarray(positive, dtype=float)
    y = np.asarray(negative, dtype=float)
    m, n = x.size, y.size
    if m == 0 or n == 0:
        return float("nan"), float("nan")
    tz = stats.rankdata(np.concatenate([x, y]))
    tx, ty = stats.rankdata(x), stats.rankdata(y)
    auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:m] - tx) / n
    v01 = 1.0 - (tz[m:] - ty) / m
    var = (v10.var(ddof=1) / m if m > 1 else 0.0) + (v01.var(ddof=1) / n if n > 1 else 0.0)
    return float(auc), float(np.sqrt(var))


def auc_interval(auc: float, se: float, level: float = 0.95) -> list[float]:
    """Normal interval ``auc ± z·se`` clipped to [0, 1]."""
    lo, hi = z_interval(auc, se, alpha=1 - level)
    return [max(0.0, lo), min(1.0, hi)]


def wilson(successes: int, n: int, level: float = 0.95) -> list[float]:
    """Wilson score interval of a proportion (``[nan, nan]`` when ``n == 0``), as a list."""
    if n == 0:
        return [float("nan"), float("nan")]
    return list(wilson_interval(int(successes), int(n), alpha=1 - level))


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, list[float]]:
    """Mean of the finite values and its normal (CLT) interval."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), [float("nan"), float("nan")]
    mean = float(v.mean())
    if v.size == 1:
        return mean, [mean, mean]
    return mean, list(z_interval(mean, float(v.std(ddof=1)) / np.sqrt(v.size), alpha=1 - level))


def percentile_interval(draws: Sequence[float], level: float = 0.95) -> list[float]:
    """Percentile interval of bootstrap or subsample draws."""
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return [float("nan"), float("nan")]
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    return [float(lo), float(hi)]


def finite(x: float) -> float | None:
    """``x`` as a float, or None when it is nan/inf (JSON-safe)."""
    return float(x) if x is not None and np.isfinite(x) else None
