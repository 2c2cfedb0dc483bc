"""The bottom statistics layer: one interval type and the small pure functions that build it.

Every result in tether carries its uncertainty as an :class:`Interval` — a frozen
``(lo, hi, level, method)`` — and, where a point estimate goes with it, an :class:`Estimate`.
An interval unpacks and indexes like the ``(lo, hi)`` pair it is (``lo, hi = ci``, ``ci[1]``),
compares equal to that pair, and its JSON form is the two-element list ``[lo, hi]`` with
``null`` for a bound that is not finite, so the JSON contracts of every command stay as they
were; the level and method travel beside it in each result.

Builders (each returns an :class:`Interval`): :func:`normal` (estimate ± z·se), :func:`wilson`
(a proportion), :func:`newcombe` (a difference of two proportions), :func:`percentile`
(bootstrap or subsample draws; :func:`bootstrap_medians` draws a median's exactly),
:func:`mean_interval` (a mean and its CLT interval),
:func:`auc_interval` (an AUC and its DeLong standard error, clipped to [0, 1]); :func:`delong`
gives that standard error.

Example:
    >>> ci = wilson(80, 100)
    >>> round(ci.lo, 3), round(ci.hi, 3), ci.level, ci.method
    (0.711, 0.867, 0.95, 'wilson')
    >>> lo, hi = ci
    >>> ci.to_dict() == [lo, hi]
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

#: The two-sided 95% normal quantile.
Z95 = NormalDist().inv_cdf(0.975)


def _finite(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def finite(x: float | None) -> float | None:
    """``x`` as a float, or None when it is None, nan or infinite (JSON-safe).

    >>> finite(float("nan")) is None, finite(2)
    (True, 2.0)
    """
    return _finite(x)


@dataclass(frozen=True, eq=False)
class Interval:
    """A two-sided confidence interval ``[lo, hi]`` at ``level`` made by ``method``.

    A bound that could not be computed is ``nan``. It behaves as the pair ``(lo, hi)``:
    ``lo, hi = ci``, ``ci[0]``, ``len(ci) == 2`` and ``ci == (lo, hi)``.

    >>> Interval(0.1, 0.3, 0.9, "normal").contains(0.2)
    True
    """

    lo: float
    hi: float
    level: float = 0.95
    method: str = ""

    def __iter__(self) -> Iterator[float]:
        return iter((self.lo, self.hi))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int | slice) -> Any:
        return (self.lo, self.hi)[i]

    def __eq__(self, other: object) -> bool:
        # bounds compared in their JSON form: a bound that is not finite equals nan or None
        if isinstance(other, Interval):
            return ((self.to_dict(), self.level, self.method)
                    == (other.to_dict(), other.level, other.method))
        if isinstance(other, (tuple, list)):
            return len(other) == 2 and self.to_dict() == [_finite(x) for x in other]
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self.to_dict()))

    @property
    def width(self) -> float:
        return self.hi - self.lo

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in ``[lo, hi]``."""
        return bool(self.lo <= value <= self.hi)

    def overlaps(self, other: Interval) -> bool:
        """Whether the two intervals share a point."""
        return bool(self.lo <= other.hi and other.lo <= self.hi)

    def to_dict(self) -> list[float | None]:
        """The JSON form: ``[lo, hi]``, a bound that is not finite as None."""
        return [_finite(self.lo), _finite(self.hi)]

    @classmethod
    def from_dict(cls, value: Any, level: float = 0.95, method: str = "") -> Interval:
        """An interval from its JSON form (``[lo, hi]`` or ``{"lo", "hi", ...}``)."""
        if isinstance(value, Interval):
            return value
        if isinstance(value, dict):
            return cls(_float(value.get("lo")), _float(value.get("hi")),
                       float(value.get("level", level)), str(value.get("method", method)))
        lo, hi = value
        return cls(_float(lo), _float(hi), level, method)


def _float(x: Any) -> float:
    return float("nan") if x is None else float(x)


NAN_INTERVAL = Interval(float("nan"), float("nan"))


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its interval.

    >>> Estimate(0.8, wilson(8, 10)).to_dict()["estimate"]
    0.8
    """

    value: float
    interval: Interval

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": _finite(self.value), "ci": self.interval.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Estimate:
        return cls(_float(data.get("estimate")), Interval.from_dict(data["ci"]))


def z_of(level: float) -> float:
    """The two-sided normal quantile for a confidence ``level`` in (0, 1)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return Z95 if level == 0.95 else NormalDist().inv_cdf(0.5 + level / 2)


def normal(estimate: float, se: float, level: float = 0.95) -> Interval:
    """Two-sided normal interval ``estimate ± z · se``.

    >>> tuple(round(v, 4) for v in normal(0.5, 0.1))
    (0.304, 0.696)
    """
    half = z_of(level) * se
    return Interval(float(estimate - half), float(estimate + half), level, "normal")


def wilson(successes: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval of a binomial proportion ``successes / n`` (nan when ``n == 0``).

    Well behaved at small ``n`` and near 0 or 1, where the Wald interval under-covers.

    >>> tuple(round(v, 4) for v in wilson(0, 10))
    (0.0, 0.2775)
    """
    if n == 0:
        return Interval(float("nan"), float("nan"), level, "wilson")
    if n < 0:
        raise ValueError("n must be positive")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n], got {successes} of {n}")
    z = z_of(level)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends, no rounding residue
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(lo, hi, level, "wilson")


def newcombe(successes1: int, n1: int, successes2: int, n2: int,
             level: float = 0.95) -> Interval:
    """Interval for ``p1 - p2`` of two independent proportions (Newcombe's hybrid score method,
    1998 method 10), built from the two Wilson intervals.

    >>> tuple(round(v, 4) for v in newcombe(90, 100, 80, 100))
    (0.0001, 0.1995)
    """
    p1, p2 = successes1 / n1, successes2 / n2
    l1, u1 = wilson(successes1, n1, level)
    l2, u2 = wilson(successes2, n2, level)
    d = p1 - p2
    return Interval(d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
                    d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2), level, "newcombe")


def percentile(draws: Sequence[float], level: float = 0.95, method: str = "percentile") -> Interval:
    """Percentile interval of bootstrap or subsample draws (non-finite draws ignored)."""
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return Interval(float("nan"), float("nan"), level, method)
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(lo), float(hi), level, method)


def bootstrap_medians(values: Sequence[float], n_boot: int,
                      rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` bootstrap medians of ``values``, drawn exactly without building a resample.

    A resample of size n from the sorted values is ``x[⌊n·U⌋]`` for n uniforms U, so its k-th
    order statistic is ``x[⌊n·U₍ₖ₎⌋]`` with ``U₍ₖ₎ ~ Beta(k, n − k + 1)``; for an even n the
    next one is ``U₍ₖ₊₁₎ = U₍ₖ₎ + (1 − U₍ₖ₎)·Beta(1, n − k)``. Same distribution as
    ``np.median(rng.choice(values, (n_boot, n)), axis=1)`` in O(n log n + n_boot) time and
    O(n) memory, where that takes n_boot × n (16 GB for 2,000 draws of a million values).

    >>> rng = np.random.default_rng(0)
    >>> draws = bootstrap_medians([1.0, 2.0, 3.0], 1000, rng)
    >>> sorted(set(draws.tolist()))
    [1.0, 2.0, 3.0]
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    if n == 0:
        return np.full(n_boot, np.nan)
    k = (n + 1) // 2
    u = rng.beta(k, n - k + 1, size=n_boot)

    def at(q: np.ndarray) -> np.ndarray:
        return x[np.minimum((q * n).astype(np.int64), n - 1)]

    if n % 2:
        return at(u)
    return (at(u) + at(u + (1 - u) * rng.beta(1, n - k, size=n_boot))) / 2


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, Interval]:
    """Mean of the finite values and its normal (CLT) interval."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), Interval(float("nan"), float("nan"), level, "normal")
    mean = float(v.mean())
    if v.size == 1:
        return mean, Interval(mean, mean, level, "normal")
    return mean, normal(mean, float(v.std(ddof=1)) / math.sqrt(v.size), level)


def delong(positive: Sequence[float], negative: Sequence[float]) -> tuple[float, float]:
    """AUC of ``positive`` over ``negative`` scores (ties count one half) and its DeLong standard
    error, computed from mid-ranks in O(n log n) (Sun & Xu 2014).

    >>> auc, se = delong([0.9, 0.8, 0.7], [0.1, 0.75, 0.2])
    >>> round(auc, 4)
    0.8889
    """
    from scipy.stats import rankdata

    x = np.asarray(positive, dtype=float)
    y = np.asarray(negative, dtype=float)
    m, n = x.size, y.size
    if m == 0 or n == 0:
        return float("nan"), float("nan")
    tz = rankdata(np.concatenate([x, y]))
    tx, ty = rankdata(x), rankdata(y)
    auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:m] - tx) / n
    v01 = 1.0 - (tz[m:] - ty) / m
    var = (v10.var(ddof=1) / m if m > 1 else 0.0) + (v01.var(ddof=1) / n if n > 1 else 0.0)
    return float(auc), float(np.sqrt(var))


def auc_interval(auc: float, se: float, level: float = 0.95) -> Interval:
    """Normal interval ``auc ± z·se`` clipped to [0, 1] (the DeLong interval of an AUC)."""
    lo, hi = normal(auc, se, level)
    return Interval(max(0.0, lo), min(1.0, hi), level, "delong")
