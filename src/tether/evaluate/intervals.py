"""Evaluation metrics and their bootstrap interval: small pure functions over numpy arrays.

:func:`bootstrap_interval` gives any metric of ``(y_true, y_pred)`` a percentile or BCa bootstrap
interval over rows (``scipy.stats.bootstrap``); the closed-form intervals (Wilson, Newcombe,
normal) live in :mod:`tether.stats` with the one :class:`~tether.stats.Interval` type.

Classification metrics (:data:`METRICS`) work on integer label codes (:func:`encode_labels`) and
are vectorised over leading axes, so a bootstrap evaluates thousands of resamples in one numpy
call; they agree with scikit-learn's ``accuracy_score``, ``f1_score`` and
``balanced_accuracy_score`` on every single sample.

Example:
    >>> t, p = encode_labels(["a", "b", "a", "b"] * 25, ["a", "b", "b", "b"] * 25)
    >>> round(float(accuracy(t, p)), 2)
    0.75
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from tether.stats import Interval

#: Names of the bootstrap methods :func:`bootstrap_interval` accepts.
BOOTSTRAP_METHODS = ("percentile", "bca")


def bootstrap_interval(metric_fn: Callable[..., float | np.ndarray], y_true, y_pred,
                       alpha: float = 0.05, n_boot: int = 2000, seed: int = 0,
                       method: str = "bca", vectorized: bool = False) -> Interval:
    """Bootstrap interval for ``metric_fn(y_true, y_pred)``, resampling rows (pairs).

    ``method`` is ``"percentile"`` or ``"bca"`` (bias-corrected and accelerated, the default).
    With ``vectorized=True`` ``metric_fn`` receives 2-D arrays (one resample per row) and must
    return one value per row, like the functions in :data:`METRICS`; this is orders of magnitude
    faster than a Python loop. When every resample gives the same value (a perfect model, say)
    the interval is that value; when BCa is undefined there it falls back to the percentile one.

    >>> t, p = encode_labels(["a", "b", "a", "b"] * 25, ["a", "b", "b", "b"] * 25)
    >>> lo, hi = bootstrap_interval(macro_f1, t, p, vectorized=True)
    >>> bool(lo < macro_f1(t, p) < hi)
    True
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if method not in BOOTSTRAP_METHODS:
        raise ValueError(f"method must be one of {BOOTSTRAP_METHODS}, got {method!r}")
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = y_true.shape[0]
    if n < 2 or y_pred.shape[0] != n:
        raise ValueError("y_true and y_pred need the same length, at least 2")

    if vectorized:
        def statistic(idx, axis=-1):
            return np.asarray(metric_fn(y_true[idx], y_pred[idx]), dtype=float)
    else:
        def statistic(idx):
            return float(metric_fn(y_true[idx], y_pred[idx]))

    return _scipy_bootstrap((np.arange(n),), statistic, vectorized, alpha, n_boot, seed, method)


def bootstrap_mean_interval(x, y=None, alpha: float = 0.05, n_boot: int = 2000, seed: int = 0,
                            method: str = "bca") -> Interval:
    """Bootstrap interval for ``mean(x)``, or for ``mean(x) - mean(y)`` when ``y`` is given
    (``x`` and ``y`` independent samples, each resampled on its own).

    Meant for means of bounded per-item scores (ROUGE-L, token F1, a judge's 1-5 score).

    >>> ci = bootstrap_mean_interval(np.r_[np.ones(60), np.zeros(40)])
    >>> bool(ci.lo < 0.6 < ci.hi)
    True
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if method not in BOOTSTRAP_METHODS:
        raise ValueError(f"method must be one of {BOOTSTRAP_METHODS}, got {method!r}")
    samples = tuple(np.asarray(v, dtype=float) for v in ((x,) if y is None else (x, y)))
    if any(v.ndim != 1 or v.size < 2 for v in samples):
        raise ValueError("need 1-D arrays of at least 2 scores")
    if y is None:
        def statistic(a, axis=-1):
            return a.mean(axis=axis)
    else:
        def statistic(a, b, axis=-1):
            return a.mean(axis=axis) - b.mean(axis=axis)
    return _scipy_bootstrap(samples, statistic, True, alpha, n_boot, seed, method)


def _scipy_bootstrap(data: tuple[np.ndarray, ...], statistic: Callable[..., Any],
                     vectorized: bool, alpha: float, n_boot: int, seed: int,
                     method: str) -> Interval:
    """``scipy.stats.bootstrap`` as an :class:`Interval`; the percentile interval where BCa is
    undefined (every resample equal), the value itself where every resample is equal."""
    level = 1 - alpha
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        with np.errstate(divide="ignore", invalid="ignore"):
            res = stats.bootstrap(data, statistic, n_resamples=n_boot, paired=False,
                                  vectorized=vectorized, confidence_level=level,
                                  method="BCa" if method == "bca" else "percentile",
                                  batch=max(1, 4_000_000 // max(v.size for v in data)),
                                  rng=np.random.default_rng(seed))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if np.isnan(lo) or np.isnan(hi):
        lo, hi = (float(v) for v in np.quantile(res.bootstrap_distribution,
                                                [alpha / 2, 1 - alpha / 2]))
    return Interval(lo, hi, level, f"{method} bootstrap")


# --------------------------------------------------------------------------- metrics on codes
def encode_labels(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Map labels (any hashable values, compared as strings) to shared integer codes.

    >>> encode_labels(["b", "a"], ["a", "c"])
    (array([1, 0]), array([0, 2]))
    """
    t = np.asarray([str(v) for v in y_true], dtype=object)
    p = np.asarray([str(v) for v in y_pred], dtype=object)
    _, codes = np.unique(np.concatenate([t, p]), return_inverse=True)
    codes = codes.astype(np.int64)
    return codes[: t.size], codes[t.size:]


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Confusion matrices ``[..., true, predicted]`` of integer codes, over the last axis."""
    t, p = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    k = int(max(t.max(), p.max())) + 1
    flat = (t * k + p).reshape(-1, t.shape[-1])
    offsets = np.arange(flat.shape[0])[:, None] * (k * k)
    counts = np.bincount((flat + offsets).ravel(), minlength=flat.shape[0] * k * k)
    return counts.reshape(*t.shape[:-1], k, k)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray | float:
    """Share of rows where the codes agree (vectorised over leading axes)."""
    return np.mean(np.asarray(y_true) == np.asarray(y_pred), axis=-1)


def _per_class(y_true, y_pred):
    c = confusion_counts(y_true, y_pred)
    tp = np.diagonal(c, axis1=-2, axis2=-1).astype(float)
    support, predicted = c.sum(axis=-1), c.sum(axis=-2)
    return tp, support, predicted


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray | float:
    """Unweighted mean F1 over the classes present in ``y_true`` or ``y_pred`` (as scikit-learn)."""
    tp, support, predicted = _per_class(y_true, y_pred)
    present = (support + predicted) > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros_like(tp), where=present)
    return f1.sum(axis=-1) / present.sum(axis=-1)


def weighted_f1(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray | float:
    """Support-weighted mean F1 over classes (as scikit-learn's ``average="weighted"``)."""
    tp, support, predicted = _per_class(y_true, y_pred)
    present = (support + predicted) > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros_like(tp), where=present)
    return (f1 * support).sum(axis=-1) / support.sum(axis=-1)


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray | float:
    """Mean recall over the classes present in ``y_true``."""
    tp, support, _ = _per_class(y_true, y_pred)
    seen = support > 0
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=seen)
    return recall.sum(axis=-1) / seen.sum(axis=-1)


#: Classification metrics by name, each ``fn(codes_true, codes_pred)`` vectorised over rows.
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray | float]] = {
    "accuracy": accuracy,
    "macro_f1": macro_f1,
    "weighted_f1": weighted_f1,
    "balanced_accuracy": balanced_accuracy,
}
