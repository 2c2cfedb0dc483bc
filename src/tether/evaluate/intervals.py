"""Confidence intervals for evaluation metrics: small pure functions over numpy arrays.

- :func:`wilson_interval` — a proportion (accuracy): Wilson's score interval.
- :func:`newcombe_interval` — a difference of two independent proportions (the inflation gap):
  Newcombe's hybrid score interval built from the two Wilson intervals (Newcombe 1998, method 10).
- :func:`bootstrap_interval` — any other metric of ``(y_true, y_pred)``: percentile or BCa
  bootstrap over rows (``scipy.stats.bootstrap``).
- :func:`z_interval` — estimate ± z·se, the normal interval every CLT-based method uses.

Classification metrics (:data:`METRICS`) work on integer label codes (:func:`encode_labels`) and
are vectorised over leading axes, so a bootstrap evaluates thousands of resamples in one numpy
call; they agree with scikit-learn's ``accuracy_score``, ``f1_score`` and
``balanced_accuracy_score`` on every single sample.

Example:
    >>> lo, hi = wilson_interval(80, 100)
    >>> round(lo, 3), round(hi, 3)
    (0.711, 0.867)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from scipy import stats

#: Names of the bootstrap methods :func:`bootstrap_interval` accepts.
BOOTSTRAP_METHODS = ("percentile", "bca")


def _z(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return float(stats.norm.ppf(1 - alpha / 2))


def z_interval(estimate: float, se: float, alpha: float = 0.05) -> tuple[float, float]:
    """Two-sided normal interval ``estimate ± z_{1-alpha/2} · se``.

    >>> tuple(round(v, 4) for v in z_interval(0.5, 0.1, alpha=0.05))
    (0.304, 0.696)
    """
    half = _z(alpha) * se
    return float(estimate - half), float(estimate + half)


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``successes / n``.

    Well behaved at small ``n`` and near 0 or 1, where the Wald interval under-covers.

    >>> tuple(round(v, 4) for v in wilson_interval(0, 10))
    (0.0, 0.2775)
    """
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n], got {successes} of {n}")
    z = _z(alpha)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def newcombe_interval(successes1: int, n1: int, successes2: int, n2: int,
                      alpha: float = 0.05) -> tuple[float, float]:
    """Interval for ``p1 - p2`` of two independent proportions (Newcombe's hybrid score method).

    Combines the Wilson intervals ``(l1, u1)`` and ``(l2, u2)``:
    ``d - sqrt((p1-l1)² + (u2-p2)²)`` to ``d + sqrt((u1-p1)² + (p2-l2)²)``.

    >>> tuple(round(v, 4) for v in newcombe_interval(90, 100, 80, 100))
    (0.0001, 0.1995)
    """
    p1, p2 = successes1 / n1, successes2 / n2
    l1, u1 = wilson_interval(successes1, n1, alpha)
    l2, u2 = wilson_interval(successes2, n2, alpha)
    d = p1 - p2
    return (float(d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)),
            float(d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)))


def bootstrap_interval(metric_fn: Callable[..., float | np.ndarray], y_true, y_pred,
                       alpha: float = 0.05, n_boot: int = 2000, seed: int = 0,
                       method: str = "bca", vectorized: bool = False) -> tuple[float, float]:
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

    level = 1 - alpha
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        with np.errstate(divide="ignore", invalid="ignore"):
            res = stats.bootstrap((np.arange(n),), statistic, n_resamples=n_boot,
                                  vectorized=vectorized, confidence_level=level,
                                  method="BCa" if method == "bca" else "percentile",
                                  batch=max(1, 4_000_000 // n), rng=np.random.default_rng(seed))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if np.isnan(lo) or np.isnan(hi):
        lo, hi = (float(v) for v in np.quantile(res.bootstrap_distribution,
                                                [alpha / 2, 1 - alpha / 2]))
    return lo, hi


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
