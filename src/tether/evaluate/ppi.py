"""Prediction-powered inference for a mean: classical, PPI and PPI++ (power-tuned).

A small real gold set carries true values ``Y`` and a model's predictions ``Yhat``; a large set
carries predictions ``Yhat_unlabeled`` only. PPI (Angelopoulos, Bates, Fannjiang, Jordan & Zrnic,
*Science* 2023) estimates the mean of ``Y`` as the mean of the predictions corrected by the
gold-set bias; PPI++ (Angelopoulos, Duchi & Zrnic 2023, arXiv:2311.01453) weights the predictions
by ``lambda`` chosen to minimise the variance, so a useless model costs nothing against the
classical interval. Accuracy and prevalence are means of indicator variables.

The functions follow the conventions of the reference implementation ``ppi_py`` exactly (tests
check agreement to 1e-6): two-sided normal intervals, standard deviations with ``ddof=0``, the
optimal ``lambda = cov(Y, Yhat) / ((1 + n/N) · var(Yhat ∪ Yhat_unlabeled))`` with the covariance
over the gold set (``ddof=0``) and the variance over all predictions (``ddof=1``), clipped to
[0, 1]. Unlike ``ppi_py`` (``alpha=0.1``), ``alpha`` defaults to 0.05 here, and predictions
without any variance give ``lambda = 0`` (the classical estimate) instead of NaN.

Example:
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=200); yhat = y + rng.normal(scale=0.3, size=200)
    >>> yhat_u = rng.normal(size=5000) + rng.normal(scale=0.3, size=5000)
    >>> lo, hi = ppi_mean_ci(y, yhat, yhat_u)
    >>> c_lo, c_hi = classical_mean_ci(y)
    >>> hi - lo < c_hi - c_lo
    True
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tether.errors import InputError
from tether.io import iter_records
from tether.results import Result, decode_fields, source_name
from tether.stats import Interval, normal
from tether.store import Store

#: Metrics :func:`estimate` knows.
ESTIMATE_METRICS = ("mean", "accuracy", "prevalence", "pass_rate", "win_rate")
#: How :func:`estimate` reads a pairwise preference (``label``, ``prediction``): A beat B = 1.
PREFERENCES = {"a": 1.0, "b": 0.0, "tie": 0.5}
METHOD = ("classical: normal (CLT) interval on the gold set; ppi: prediction-powered inference "
          "(Angelopoulos et al. 2023); ppi_pp: PPI++ with power-tuned lambda clipped to [0, 1] "
          "(Angelopoulos, Duchi & Zrnic 2023)")


def _vector(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    return arr


def _vectors(Y, Yhat, Yhat_unlabeled) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, yhat = _vector(Y, "Y"), _vector(Yhat, "Yhat")
    if y.size != yhat.size:
        raise ValueError(f"Y and Yhat differ in length: {y.size} and {yhat.size}")
    return y, yhat, _vector(Yhat_unlabeled, "Yhat_unlabeled")


# ------------------------------------------------------------------------------ classical
def classical_mean_se(Y) -> float:
    """Standard error of the gold-set mean, ``std(Y, ddof=0) / sqrt(n)`` (as ``ppi_py``)."""
    y = _vector(Y, "Y")
    return float(y.std() / np.sqrt(y.size))


def classical_mean_ci(Y, alpha: float = 0.05) -> Interval:
    """Normal interval for the mean of ``Y`` from the gold set alone.

    >>> tuple(round(v, 4) for v in classical_mean_ci([0.0, 1.0, 1.0, 0.0], alpha=0.05))
    (0.01, 0.99)
    """
    y = _vector(Y, "Y")
    return normal(float(y.mean()), classical_mean_se(y), 1 - alpha)


# ------------------------------------------------------------------------------------ PPI
def ppi_lambda(Y, Yhat, Yhat_unlabeled) -> float:
    """The PPI++ power-tuning weight: the variance-minimising ``lambda`` clipped to [0, 1].

    >>> ppi_lambda([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0] * 100) > 0.9
    True
    """
    y, yhat, yhat_u = _vectors(Y, Yhat, Yhat_unlabeled)
    n, N = y.size, yhat_u.size
    cov = float(np.mean((y - y.mean()) * (yhat - yhat.mean())))
    var = float(np.var(np.concatenate([yhat, yhat_u]), ddof=1))
    if var == 0:
        return 0.0
    return float(np.clip(cov / ((1 + n / N) * var), 0.0, 1.0))


def _lam(Y, Yhat, Yhat_unlabeled, lam: float | None) -> float:
    return ppi_lambda(Y, Yhat, Yhat_unlabeled) if lam is None else float(lam)


def ppi_mean_pointestimate(Y, Yhat, Yhat_unlabeled, lam: float | None = None) -> float:
    """``mean(lam · Yhat_unlabeled) + mean(Y - lam · Yhat)``; ``lam=None`` tunes it (PPI++),
    ``lam=1`` is PPI, ``lam=0`` the classical mean.

    >>> ppi_mean_pointestimate([1.0, 0.0], [1.0, 1.0], [0.5, 0.5], lam=1)
    0.0
    """
    lam = _lam(Y, Yhat, Yhat_unlabeled, lam)
    y, yhat, yhat_u = _vectors(Y, Yhat, Yhat_unlabeled)
    return float(np.mean(lam * yhat_u) + np.mean(y - lam * yhat))


def ppi_mean_se(Y, Yhat, Yhat_unlabeled, lam: float | None = None) -> float:
    """Standard error of :func:`ppi_mean_pointestimate`:
    ``sqrt(var(lam · Yhat_unlabeled) / N + var(Y - lam · Yhat) / n)`` with ``ddof=0``."""
    lam = _lam(Y, Yhat, Yhat_unlabeled, lam)
    y, yhat, yhat_u = _vectors(Y, Yhat, Yhat_unlabeled)
    imputed = np.std(lam * yhat_u) / np.sqrt(yhat_u.size)
    rectifier = np.std(y - lam * yhat) / np.sqrt(y.size)
    return float(np.sqrt(imputed ** 2 + rectifier ** 2))


def ppi_mean_ci(Y, Yhat, Yhat_unlabeled, alpha: float = 0.05,
                lam: float | None = None) -> Interval:
    """Prediction-powered normal interval for the mean of ``Y``.

    ``lam=1`` is PPI; ``lam=None`` (default) is PPI++ with the tuned ``lambda``.

    >>> lo, hi = ppi_mean_ci([1.0, 0.0, 1.0, 1.0], [1.0, 0.0, 1.0, 0.0], [1.0, 0.0] * 50, lam=1)
    >>> lo < 0.75 < hi
    True
    """
    lam = _lam(Y, Yhat, Yhat_unlabeled, lam)
    return normal(ppi_mean_pointestimate(Y, Yhat, Yhat_unlabeled, lam),
                  ppi_mean_se(Y, Yhat, Yhat_unlabeled, lam), 1 - alpha)


def effective_sample_size(n_gold: int, se_classical: float, se_ppi: float) -> float | None:
    """Gold rows the classical interval would need to be as narrow as the PPI one:
    ``n_gold · var_classical / var_ppi`` (None when the PPI variance is zero)."""
    if se_ppi == 0:
        return None
    return float(n_gold * se_classical ** 2 / se_ppi ** 2)


# ------------------------------------------------------------------------------- estimate
@dataclass(frozen=True)
class MeanEstimate(Result):
    """A point estimate with its two-sided interval and standard error."""

    estimate: float
    ci: Interval
    se: float

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "ci": self.ci.to_dict(), "se": self.se}


@dataclass(frozen=True)
class EstimateResult(Result):
    """Classical, PPI and PPI++ estimates of one metric, from a gold set and unlabelled rows."""

    metric: str
    alpha: float
    classical: MeanEstimate
    ppi: MeanEstimate
    ppi_pp: MeanEstimate
    lam: float
    n_gold: int
    n_unlabelled: int
    positive: str | None = None
    threshold: float | None = None
    #: whether :func:`estimate` chose ``metric`` from the data (none was asked for)
    metric_inferred: bool = False

    @property
    def effective_n(self) -> dict[str, float | None]:
        """Effective gold-set size of PPI and PPI++: what the predictions are worth in gold rows."""
        return {name: effective_sample_size(self.n_gold, self.classical.se, est.se)
                for name, est in (("ppi", self.ppi), ("ppi_pp", self.ppi_pp))}

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "positive": self.positive,
            "threshold": self.threshold,
            "metric_inferred": self.metric_inferred,
            "alpha": self.alpha,
            "classical": self.classical.to_dict(),
            "ppi": self.ppi.to_dict(),
            "ppi_pp": {**self.ppi_pp.to_dict(), "lambda": self.lam},
            "n_gold": self.n_gold,
            "n_unlabelled": self.n_unlabelled,
            "effective_n": self.effective_n,
            "method": METHOD,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EstimateResult:
        return decode_fields(cls, {**data, "lam": data["ppi_pp"]["lambda"]})


def _number(record: Mapping[str, Any], field: str, where: dict[str, Any]) -> float:
    value = record.get(field)
    if value is None:
        raise InputError(f"missing field {field!r}", field=field, **where)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{field} must be a finite number, got {value!r}", field=field, **where)
    return float(value)


def _probability(record: Mapping[str, Any], where: dict[str, Any]) -> float:
    value = _number(record, "score", where)
    if not 0 <= value <= 1:
        raise InputError(f"score must be a probability in [0, 1], got {value}", field="score",
                         **where)
    return value


def _text(record: Mapping[str, Any], field: str, where: dict[str, Any]) -> str:
    value = record.get(field)
    if value is None:
        raise InputError(f"missing field {field!r}", field=field, **where)
    return str(value)


Rows = str | Path | Iterable[Mapping[str, Any]]


def _preference(record: Mapping[str, Any], field: str, where: dict[str, Any]) -> float:
    """A pairwise preference as the chance that A beats B: ``A`` 1, ``B`` 0, ``tie`` 0.5, or a
    number among 0, 0.5 and 1."""
    value = record.get(field)
    if value is None:
        raise InputError(f"missing field {field!r}", field=field, **where)
    if isinstance(value, str) and value.strip().casefold() in PREFERENCES:
        return PREFERENCES[value.strip().casefold()]
    if not isinstance(value, bool) and isinstance(value, (int, float)) and value in (0, 0.5, 1):
        return float(value)
    raise InputError(f"{field} must be a preference: A, B or tie (or 1, 0, 0.5), got {value!r}",
                     field=field, **where)


#: Metrics whose proxy is ``score`` when every row has one, else read from ``prediction``.
_SCORE_OPTIONAL = ("prevalence", "pass_rate", "win_rate")


def _uses_score(metric: str, gold: list, unlabelled: list) -> bool:
    if metric == "accuracy":
        return True
    return metric in _SCORE_OPTIONAL and all(r.get("score") is not None
                                             for _, r in gold + unlabelled)


def _truth_and_proxy(record: Mapping[str, Any], field: str, metric: str, where: dict[str, Any],
                     positive: str | None, threshold: float | None) -> float:
    """The value of ``field`` (``label`` or ``prediction``) as the metric's indicator or number."""
    if metric == "mean":
        return _number(record, field, where)
    if metric == "prevalence":
        return float(_text(record, field, where) == positive)
    if metric == "pass_rate":
        return float(_number(record, field, where) >= threshold)  # type: ignore[operator]
    return _preference(record, field, where)


def _columns(rows: list, metric: str, positive: str | None, threshold: float | None, gold: bool,
             use_score: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(Yhat, Y) for one set of rows; Y is None for unlabelled rows."""
    yhat, y = [], []
    for where, r in rows:
        if metric == "accuracy":
            yhat.append(_probability(r, where))
            if gold:
                y.append(float(_text(r, "label", where) == _text(r, "prediction", where)))
            continue
        yhat.append(_probability(r, where) if use_score
                    else _truth_and_proxy(r, "prediction", metric, where, positive, threshold))
        if gold:
            y.append(_truth_and_proxy(r, "label", metric, where, positive, threshold))
    return np.asarray(yhat), (np.asarray(y) if gold else None)


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


def infer_metric(gold: list, unlabelled: list = (), positive: str | None = None,
                 threshold: float | None = None) -> str:
    """The metric :func:`estimate` uses when none is asked for (``(where, record)`` rows):
    ``prevalence`` with a ``positive`` class, ``pass_rate`` with a ``threshold``; else ``mean``
    when the gold labels are numbers, and ``accuracy`` when they are classes and every row
    (gold and unlabelled) has a ``score``. Class labels without scores are an error that says
    exactly what to pass.

    >>> infer_metric([({}, {"label": 4})]), infer_metric([({}, {"label": "a"})], positive="a")
    ('mean', 'prevalence')
    >>> infer_metric([({}, {"label": "a", "score": 0.9})], [({}, {"score": 0.7})])
    'accuracy'
    """
    if positive is not None:
        return "prevalence"
    if threshold is not None:
        return "pass_rate"
    if any(_is_number(r.get("label")) for _, r in gold):  # a row that is not: its own error
        return "mean"
    where, first = next(((w, r.get("label")) for w, r in gold if not _is_number(r.get("label"))),
                        ({}, None))
    if first is None:
        raise InputError("missing field 'label'", field="label", **where)
    unscored = next(((w, r) for w, r in [*gold, *unlabelled] if r.get("score") is None), None)
    if unscored is None:
        return "accuracy"
    classes = sorted({str(r.get("label")) for _, r in gold if r.get("label") is not None})
    preferences = all(c.casefold() in PREFERENCES for c in classes)
    raise InputError(
        f"the gold labels are classes (e.g. {first!r}), not numbers, and a row has no 'score', "
        f"so neither a mean nor an accuracy can be estimated: pass --positive LABEL for the "
        f"prevalence of one class (e.g. --positive {shlex.quote(classes[0])}), "
        + ("or --metric win_rate for these A/B/tie preferences, " if preferences else "")
        + "or add a 'score' (the model's probability of being right) to every row for accuracy",
        field="score", **unscored[0])


def estimate(gold: Rows, unlabelled: Rows, metric: str | None = None, alpha: float = 0.05,
             positive: str | None = None, *, threshold: float | None = None,
             store: Store | None = None) -> EstimateResult:
    """Estimate a population metric three ways: classical (gold only), PPI and PPI++.

    ``gold`` and ``unlabelled`` are JSONL paths or iterables of dicts. What ``Y`` (truth, gold
    rows only) and ``Yhat`` (model-made proxy, every row) are:

    - ``mean``: ``Y`` = the numeric ``label`` (a person's score), ``Yhat`` = the numeric
      ``prediction`` (a judge's score, say).
    - ``accuracy`` (of a model on the unlabelled population): ``Y = 1[label == prediction]``,
      ``Yhat`` = ``score``, the model's own probability of being right (e.g. its top-class
      probability); every row needs ``score``.
    - ``prevalence`` of the class ``positive``: ``Y = 1[label == positive]``, ``Yhat`` = ``score``
      (the probability of ``positive``) when every row has one, else ``1[prediction == positive]``.
    - ``pass_rate`` at ``threshold``: ``Y = 1[label >= threshold]``, ``Yhat`` = ``score`` (the
      judge's probability of a pass) when every row has one, else ``1[prediction >= threshold]``.
    - ``win_rate`` of answer A over answer B: ``Y`` = the person's preference, ``Yhat`` = the
      judge's (``A`` 1, ``B`` 0, ``tie`` 0.5), or ``score`` (the judge's chance that A wins) when
      every row has one.

    Without ``metric`` it is inferred (:func:`infer_metric`: numeric labels give ``mean``, class
    labels ``accuracy`` when every row has a ``score``) and the result says so
    (``metric_inferred``). Class labels compare as strings. With ``store``
    the result is saved there for the report.

    >>> gold = [{"label": 1.0, "prediction": 0.9}, {"label": 0.0, "prediction": 0.2},
    ...         {"label": 1.0, "prediction": 0.8}]
    >>> r = estimate(gold, [{"prediction": 0.7}] * 10)
    >>> r.metric, r.metric_inferred, r.n_gold, r.n_unlabelled, round(r.ppi.estimate, 4)
    ('mean', True, 3, 10, 0.7333)
    """
    if metric is not None and metric not in ESTIMATE_METRICS:
        raise InputError(f"unknown metric {metric!r}; use one of {', '.join(ESTIMATE_METRICS)}",
                         field="metric")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha}", field="alpha")
    if threshold is not None and (not _is_number(threshold) or not math.isfinite(threshold)):
        raise InputError(f"threshold must be a finite number, got {threshold!r}",
                         field="threshold")
    gold_rows, unlabelled_rows = list(iter_records(gold)), list(iter_records(unlabelled))
    if len(gold_rows) < 2:
        raise InputError(f"the gold set needs at least 2 rows, got {len(gold_rows)}",
                         **({"path": gold} if isinstance(gold, (str, Path)) else {}))
    if not unlabelled_rows:
        raise InputError("the unlabelled set has no rows",
                         **({"path": unlabelled} if isinstance(unlabelled, (str, Path)) else {}))
    inferred = metric is None
    metric = (infer_metric(gold_rows, unlabelled_rows, positive, threshold)
              if metric is None else metric)
    if metric == "prevalence":
        if positive is None:
            raise InputError("prevalence needs the positive class (--positive LABEL)",
                             field="positive")
        positive = str(positive)
    if metric == "pass_rate" and threshold is None:
        raise InputError("pass_rate needs the lowest passing score (--threshold NUMBER)",
                         field="threshold")
    use_score = _uses_score(metric, gold_rows, unlabelled_rows)
    yhat, y = _columns(gold_rows, metric, positive, threshold, True, use_score)
    yhat_u, _ = _columns(unlabelled_rows, metric, positive, threshold, False, use_score)

    lam = ppi_lambda(y, yhat, yhat_u)

    def powered(weight: float) -> MeanEstimate:
        return MeanEstimate(ppi_mean_pointestimate(y, yhat, yhat_u, weight),
                            ppi_mean_ci(y, yhat, yhat_u, alpha, weight),
                            ppi_mean_se(y, yhat, yhat_u, weight))

    result = EstimateResult(
        metric=metric, alpha=alpha,
        classical=MeanEstimate(float(y.mean()), classical_mean_ci(y, alpha), classical_mean_se(y)),
        ppi=powered(1.0), ppi_pp=powered(lam), lam=lam,
        n_gold=int(y.size), n_unlabelled=int(yhat_u.size), positive=positive,
        threshold=None if threshold is None else float(threshold), metric_inferred=inferred)
    if store is not None:
        store.save_result(result, {"gold": source_name(gold), "predicted": source_name(unlabelled),
                                   "metric": metric, "alpha": alpha, "positive": positive,
                                   "threshold": threshold})
    return result
