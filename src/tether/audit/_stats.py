"""The audits' view of :mod:`tether.stats`: the same intervals as JSON-ready lists.

Example:
    >>> auc, se = delong([0.9, 0.8, 0.7], [0.1, 0.75, 0.2])
    >>> round(auc, 4)
    0.8889
"""

from __future__ import annotations

from collections.abc import Sequence

from tether import stats
from tether.stats import Z95, delong, finite

__all__ = ["Z95", "auc_interval", "delong", "finite", "mean_interval", "percentile_interval",
           "wilson"]


def auc_interval(auc: float, se: float, level: float = 0.95) -> list[float]:
    """Normal interval ``auc ± z·se`` clipped to [0, 1]."""
    return list(stats.auc_interval(auc, se, level))


def wilson(successes: int, n: int, level: float = 0.95) -> list[float]:
    """Wilson score interval of a proportion (``[nan, nan]`` when ``n == 0``), as a list."""
    return list(stats.wilson(int(successes), int(n), level))


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, list[float]]:
    """Mean of the finite values and its normal (CLT) interval."""
    mean, ci = stats.mean_interval(values, level)
    return mean, list(ci)


def percentile_interval(draws: Sequence[float], level: float = 0.95) -> list[float]:
    """Percentile interval of bootstrap or subsample draws."""
    return list(stats.percentile(draws, level))
