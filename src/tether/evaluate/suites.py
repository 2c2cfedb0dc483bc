"""Evaluate a model's predictions against eval suites, keeping real and synthetic apart.

A suite is a labelled tether dataset in the store. It is **real** when every row has a real
input and a real label, and **synthetic** when any row's input or label was generated (a mixed
suite is reported as synthetic, with a warning). Real suites are the acceptance result;
synthetic suites are unit tests, each with a pass threshold on the first metric asked for, and
are reported pass/fail, apart. Scores of the two kinds are never averaged together: the only
number joining them is the inflation gap, pooled synthetic accuracy minus pooled real accuracy,
with Newcombe's interval for a difference of two independent proportions.

Example:
    >>> from tether import Store
    >>> s = Store(":memory:")
    >>> _ = s.ingest("gold", [{"id": str(i), "text": "t", "label": "ab"[i % 2]} for i in range(40)],
    ...              origin="real", label_origin="real")
    >>> r = evaluate_suites(s, [{"id": str(i), "prediction": "a"} for i in range(40)], ["gold"])
    >>> r.real[0].metrics["accuracy"].estimate
    0.5
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tether.errors import InputError, NotFoundError
from tether.evaluate.intervals import (
    METRICS,
    bootstrap_interval,
    encode_labels,
)
from tether.io import iter_records
from tether.results import Result, source_name
from tether.stats import Interval, newcombe, wilson
from tether.store import Store

WILSON = "wilson"
#: Largest suite given a BCa interval: its jackknife costs O(n²); above it the percentile
#: bootstrap (first-order accurate, and at that size as good) is used.
BCA_MAX_ROWS = 10_000
NEWCOMBE = "newcombe-wilson (difference of independent proportions)"


@dataclass(frozen=True)
class MetricValue(Result):
    """One metric on one suite, with its interval and the method that made it."""

    estimate: float
    ci: Interval
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "ci": self.ci.to_dict(), "method": self.method}


@dataclass(frozen=True)
class SuiteResult(Result):
    """A suite's scores; ``threshold``/``passed`` only for synthetic (unit-test) suites."""

    suite: str
    origin: str
    n: int
    correct: int
    metrics: dict[str, MetricValue]
    generators: tuple[str, ...]
    mixed: bool = False
    threshold: float | None = None
    passed: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"suite": self.suite, "origin": self.origin, "n": self.n, "correct": self.correct,
               "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
               "generators": list(self.generators), "mixed": self.mixed}
        if self.origin == "synthetic":
            out.update(threshold=self.threshold, passed=self.passed)
        return out


@dataclass(frozen=True)
class Inflation(Result):
    """Pooled synthetic accuracy minus pooled real accuracy, with its interval."""

    gap: float
    ci: Interval
    synthetic_accuracy: float
    real_accuracy: float
    n_synthetic: int
    n_real: int
    method: str = NEWCOMBE

    def to_dict(self) -> dict[str, Any]:
        return {"gap": self.gap, "ci": self.ci.to_dict(), "synthetic_accuracy": self.synthetic_accuracy,
                "real_accuracy": self.real_accuracy, "n_synthetic": self.n_synthetic,
                "n_real": self.n_real, "method": self.method}


@dataclass(frozen=True)
class EvalResult(Result):
    """Real suites (acceptance), synthetic suites (unit tests), the inflation gap, warnings."""

    model: str | None
    model_family: str | None
    alpha: float
    real: tuple[SuiteResult, ...]
    synthetic: tuple[SuiteResult, ...]
    inflation: Inflation | None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of synthetic suites that missed their threshold."""
        return tuple(s.suite for s in self.synthetic if s.passed is False)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "model_family": self.model_family, "alpha": self.alpha,
                "real": [s.to_dict() for s in self.real],
                "synthetic": [s.to_dict() for s in self.synthetic],
                "inflation": self.inflation.to_dict() if self.inflation else None,
                "failed": list(self.failed), "warnings": list(self.warnings)}


def family_matches(family: str, generator: str) -> bool:
    """Whether a generator name belongs to a model family.

    Rule: case-insensitively, ``family`` occurs in the generator's name (the part before ``@``)
    at its start or right after a character that is not a letter or digit. So ``gpt`` matches
    ``llm:gpt-4o@2024-08-06`` and ``openai/gpt-4o-mini``, ``llama`` matches ``meta-llama-3-8b``,
    but ``gpt`` does not match ``chatgpt-clone``.

    >>> family_matches("gpt", "llm:gpt-4o@2024-08-06"), family_matches("gpt", "chatgpt@1")
    (True, False)
    """
    name = generator.split("@", 1)[0].lower()
    fam = family.strip().lower()
    return bool(fam) and re.search(r"(?<![a-z0-9])" + re.escape(fam), name) is not None


def save_suite_threshold(store: Store, suite: str, threshold: float) -> str:
    """Store a synthetic suite's pass threshold for later ``eval`` runs; returns the audit id."""
    if not 0 <= threshold <= 1:
        raise InputError(f"threshold must be in [0, 1], got {threshold}", field="threshold")
    if not store.has_dataset(suite):
        raise NotFoundError(f"no dataset {suite!r} in the store")
    return store.set_suite_threshold(suite, float(threshold))


def read_predictions(predictions: str | Path | Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``id -> prediction`` (as a string) from a JSONL file or dicts; errors name line and field."""
    out: dict[str, str] = {}
    first: dict[str, dict[str, Any]] = {}
    for where, record in iter_records(predictions):
        for name in ("id", "prediction"):
            if record.get(name) is None:
                raise InputError(f"missing field {name!r}", field=name, **where)
        key = str(record["id"])
        if key in out:
            seen = ", ".join(f"{k} {v}" for k, v in first[key].items() if k != "path")
            raise InputError(f"id {key!r} appears twice (first at {seen})", field="id", **where)
        out[key] = str(record["prediction"])
        first[key] = where
    if not out:
        raise InputError("no predictions", **({"path": str(predictions)}
                                               if isinstance(predictions, (str, Path)) else {}))
    return out


def _suite_rows(store: Store, suite: str) -> dict[str, list]:
    cols = store.table(suite).select(["id", "label", "origin", "label_origin", "generator"])
    rows = cols.to_pydict()
    missing_labels = sum(v is None for v in rows["label"])
    if missing_labels:
        raise InputError(f"suite {suite!r}: {missing_labels} of {len(rows['id'])} rows have no "
                         "label; an eval suite needs labels")
    if not rows["id"]:
        raise InputError(f"suite {suite!r} is empty")
    return rows


def _thresholds(store: Store, suites: Sequence[str],
                thresholds: float | Mapping[str, float] | None
                ) -> tuple[dict[str, float], dict[str, float]]:
    """(thresholds given per suite, threshold in force per suite: given, else stored)."""
    explicit = dict(thresholds) if isinstance(thresholds, Mapping) else {}
    for name in explicit:
        if name not in suites:
            raise InputError(f"threshold given for {name!r}, which is not among the suites",
                             field="threshold")
    for value in ([thresholds] if isinstance(thresholds, (int, float)) else explicit.values()):
        if not 0 <= value <= 1:
            raise InputError(f"threshold must be in [0, 1], got {value}", field="threshold")
    limits = {**store.suite_thresholds(), **explicit}
    if isinstance(thresholds, (int, float)):
        limits.update({name: float(thresholds) for name in suites})
    return explicit, limits


def _provenance(rows: dict[str, list]) -> tuple[str, bool, tuple[str, ...]]:
    """(origin, mixed, generators): synthetic when any row's input or label was generated."""
    made = [o == "synthetic" or lo == "synthetic"
            for o, lo in zip(rows["origin"], rows["label_origin"])]
    generators = tuple(sorted({g for g, m in zip(rows["generator"], made) if m and g}))
    return ("synthetic" if any(made) else "real"), any(made) and not all(made), generators


def _metric(name: str, y_true: np.ndarray, y_pred: np.ndarray, alpha: float, n_boot: int,
            seed: int) -> MetricValue:
    fn = METRICS[name]
    value = float(fn(y_true, y_pred))
    if name == "accuracy":
        return MetricValue(value, wilson(int(np.sum(y_true == y_pred)), y_true.size, 1 - alpha),
                           WILSON)
    method = "bca" if y_true.size <= BCA_MAX_ROWS else "percentile"
    if y_true.size < 2:
        return MetricValue(value, Interval(value, value, 1 - alpha, f"{method} bootstrap"),
                           f"bootstrap-{method}")
    return MetricValue(value, bootstrap_interval(fn, y_true, y_pred, alpha, n_boot, seed,
                                                 method, vectorized=True), f"bootstrap-{method}")


def evaluate_suites(store: Store, predictions: str | Path | Iterable[Mapping[str, Any]],
                    suites: Sequence[str], *, model: str | None = None,
                    model_family: str | None = None,
                    metrics: Sequence[str] = ("accuracy", "macro_f1"),
                    thresholds: float | Mapping[str, float] | None = None,
                    alpha: float = 0.05, n_boot: int = 2000, seed: int = 0) -> EvalResult:
    """Score ``predictions`` (rows with ``id``, ``prediction``) on each suite in ``store``.

    Accuracy gets a Wilson interval, every other metric a BCa bootstrap interval (``n_boot``
    resamples, ``seed``; percentile past :data:`BCA_MAX_ROWS` rows). A synthetic suite passes when its first metric reaches its threshold:
    ``thresholds`` (one number for every synthetic suite, or one per suite name), else the
    threshold stored with :func:`save_suite_threshold`; a synthetic suite with neither is
    reported with ``passed=None`` and a warning. Warns when ``model_family`` matches
    (:func:`family_matches`) a generator that wrote inputs or labels of a suite. The result is
    saved in ``store`` for the report.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise InputError(f"unknown metric {', '.join(unknown) or '(none given)'}; "
                         f"use {', '.join(METRICS)}", field="metric")
    if not suites or len(set(suites)) != len(suites):
        raise InputError("give each suite once", field="suites")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha}", field="alpha")
    explicit, limits = _thresholds(store, suites, thresholds)
    preds = read_predictions(predictions)

    warnings: list[str] = []
    real: list[SuiteResult] = []
    synthetic: list[SuiteResult] = []
    pooled = {"real": [0, 0], "synthetic": [0, 0]}  # correct, n
    for suite in suites:
        rows = _suite_rows(store, suite)
        ids = rows["id"]
        missing = [i for i in ids if i not in preds]
        if missing:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise InputError(f"{len(missing)} of {len(ids)} samples of suite {suite!r} have no "
                             f"prediction (ids: {shown})",
                             **({"path": str(predictions)}
                                if isinstance(predictions, (str, Path)) else {}))
        origin, mixed, generators = _provenance(rows)
        if mixed:
            warnings.append(f"suite {suite!r} mixes real and synthetic rows; reported as "
                            "synthetic")
        if model_family:
            for g in generators:
                if family_matches(model_family, g):
                    warnings.append(f"model family {model_family!r} wrote suite {suite!r} "
                                    f"(generator {g}): the teacher is grading its own questions")
        y_true, y_pred = encode_labels(rows["label"], [preds[i] for i in ids])
        scores = {m: _metric(m, y_true, y_pred, alpha, n_boot, seed) for m in metrics}
        correct = int(np.sum(y_true == y_pred))
        pooled[origin][0] += correct
        pooled[origin][1] += len(ids)
        if origin == "real":
            if suite in explicit:
                warnings.append(f"threshold for real suite {suite!r} ignored: real suites are the "
                                "acceptance result, not unit tests")
            real.append(SuiteResult(suite, origin, len(ids), correct, scores, generators))
            continue
        limit = limits.get(suite)
        if limit is None:
            warnings.append(f"synthetic suite {suite!r} has no pass threshold (--threshold)")
        synthetic.append(SuiteResult(
            suite, origin, len(ids), correct, scores, generators, mixed, limit,
            None if limit is None else bool(scores[metrics[0]].estimate >= limit)))

    inflation = None
    (cs, ns), (cr, nr) = pooled["synthetic"], pooled["real"]
    if ns and nr:
        inflation = Inflation(cs / ns - cr / nr, newcombe(cs, ns, cr, nr, 1 - alpha),
                              cs / ns, cr / nr, ns, nr)
    else:
        warnings.append("no inflation gap: it needs at least one real and one synthetic suite")
    result = EvalResult(model, model_family, alpha, tuple(real), tuple(synthetic), inflation,
                        tuple(warnings))
    store.save_result(result, {"predictions": source_name(predictions), "suites": list(suites),
                               "model": model, "model_family": model_family, "alpha": alpha})
    return result
