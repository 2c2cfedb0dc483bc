"""Evaluate a model's predictions against eval suites, keeping real and synthetic apart.

A suite is a labelled tether dataset in the store. It is **real** when every row has a real
input and a real label, and **synthetic** when any row's input or label was generated (a mixed
suite is reported as synthetic, with a warning). Real suites are the acceptance result;
synthetic suites are unit tests, each with a pass threshold on the first metric asked for, and
are reported pass/fail, apart. Scores of the two kinds are never averaged together: the only
number joining them is the inflation gap, pooled synthetic accuracy minus pooled real accuracy,
with Newcombe's interval for a difference of two independent proportions (for a mean score:
pooled synthetic mean minus pooled real mean, with a bootstrap interval).

Metrics are classification metrics on class labels, per-item text scores of free-text
predictions against reference answers (exact match, token F1, ROUGE-L), or a numeric score
column of the prediction file (``score:COLUMN``, e.g. a judge's). Three roles are checked for
a shared model family: the generator that wrote a suite, the judge and the evaluated model.

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

import json
import math
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
    bootstrap_mean_interval,
    encode_labels,
)
from tether.evaluate.scores import METRICS as SCORE_METRICS
from tether.evaluate.scores import score_many
from tether.io import iter_records
from tether.results import Result, source_name
from tether.stats import Interval, newcombe, wilson
from tether.store import Store

WILSON = "wilson"
#: Largest suite given a BCa interval: its jackknife costs O(n²); above it the percentile
#: bootstrap (first-order accurate, and at that size as good) is used.
BCA_MAX_ROWS = 10_000
NEWCOMBE = "newcombe-wilson (difference of independent proportions)"
#: A metric ``score:COLUMN`` is the mean of the prediction file's numeric column ``COLUMN``.
SCORE_PREFIX = "score:"


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
    """A suite's scores; ``threshold``/``passed`` only for synthetic (unit-test) suites.

    ``correct`` counts predictions equal to the label (None when only ``score:`` metrics ran).
    """

    suite: str
    origin: str
    n: int
    correct: int | None
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
    """Pooled synthetic minus pooled real value of ``metric``, with its interval.

    ``synthetic_accuracy``/``real_accuracy`` hold the pooled values of ``metric``: accuracy,
    or the mean of a per-item score (names kept so that saved results still read).
    """

    gap: float
    ci: Interval
    synthetic_accuracy: float
    real_accuracy: float
    n_synthetic: int
    n_real: int
    method: str = NEWCOMBE
    metric: str = "accuracy"

    def to_dict(self) -> dict[str, Any]:
        return {"gap": self.gap, "ci": self.ci.to_dict(), "synthetic_accuracy": self.synthetic_accuracy,
                "real_accuracy": self.real_accuracy, "n_synthetic": self.n_synthetic,
                "n_real": self.n_real, "method": self.method, "metric": self.metric}


@dataclass(frozen=True)
class EvalResult(Result):
    """Real suites (acceptance), synthetic suites (unit tests), the inflation gap, warnings.

    ``family_overlaps`` lists each pair of roles sharing a model family:
    ``{"roles": ["generator", "model"], "family": "gpt", "suite": ..., "generator": ...}``
    (roles generator, judge, model; suite and generator only where a generator is involved).
    """

    model: str | None
    model_family: str | None
    alpha: float
    real: tuple[SuiteResult, ...]
    synthetic: tuple[SuiteResult, ...]
    inflation: Inflation | None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    judge_family: str | None = None
    family_overlaps: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of synthetic suites that missed their threshold."""
        return tuple(s.suite for s in self.synthetic if s.passed is False)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "model_family": self.model_family, "alpha": self.alpha,
                "real": [s.to_dict() for s in self.real],
                "synthetic": [s.to_dict() for s in self.synthetic],
                "inflation": self.inflation.to_dict() if self.inflation else None,
                "failed": list(self.failed), "warnings": list(self.warnings),
                "judge_family": self.judge_family,
                "family_overlaps": [dict(o) for o in self.family_overlaps]}


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


def save_suite_threshold(store: Store, suite: str, threshold: float, *,
                         bounded: bool = True) -> str:
    """Store a synthetic suite's pass threshold for later ``eval`` runs; returns the audit id.

    ``bounded=False`` allows any finite threshold, for a ``score:COLUMN`` pass metric on its own
    scale (a judge's 1-5, say).
    """
    if not math.isfinite(threshold) or (bounded and not 0 <= threshold <= 1):
        raise InputError(f"threshold must be in [0, 1], got {threshold}" if bounded else
                         f"threshold must be a finite number, got {threshold}",
                         field="threshold")
    if not store.has_dataset(suite):
        raise NotFoundError(f"no dataset {suite!r} in the store")
    return store.set_suite_threshold(suite, float(threshold))


def _is_score(metric: str) -> bool:
    """Whether ``metric`` is a per-item score averaged over items (not a classification one)."""
    return metric in SCORE_METRICS or metric.startswith(SCORE_PREFIX)


def _score_column(metric: str) -> str | None:
    """The prediction-file column of a ``score:COLUMN`` metric, else None."""
    return metric[len(SCORE_PREFIX):] if metric.startswith(SCORE_PREFIX) else None


def _check_metrics(metrics: Sequence[str]) -> None:
    bad = [m for m in metrics if m not in METRICS and m not in SCORE_METRICS
           and not (_score_column(m) or "").strip()]
    if bad or not metrics:
        raise InputError(f"unknown metric {', '.join(bad) or '(none given)'}; use "
                         f"{', '.join([*METRICS, *SCORE_METRICS])} or score:COLUMN (a numeric "
                         "column of the prediction file)", field="metric")
    if len(set(metrics)) != len(metrics):
        raise InputError("give each metric once", field="metric")


def _where(predictions: Any) -> dict[str, str]:
    return {"path": str(predictions)} if isinstance(predictions, (str, Path)) else {}


def read_predictions(predictions: str | Path | Iterable[Mapping[str, Any]],
                     scores: Sequence[str] = (), *, prediction: bool = True
                     ) -> dict[str, dict[str, Any]]:
    """``id -> {"prediction": text, "score:COLUMN": number, "judge_family": ...}`` from a JSONL
    file or dicts; errors name file, line and field.

    ``prediction`` (when asked for) must be text or a number, kept as text; each column of
    ``scores`` must be a finite number. A ``judge_family`` column (``tether judge``) is kept.

    >>> read_predictions([{"id": 1, "prediction": "Paris", "judge": 4}], ["judge"])
    {'1': {'prediction': 'Paris', 'score:judge': 4.0}}
    """
    columns = (["prediction"] if prediction else []) + list(scores)
    out: dict[str, dict[str, Any]] = {}
    first: dict[str, dict[str, Any]] = {}
    for where, record in iter_records(predictions):
        for name in ("id", *columns):
            if record.get(name) is None:
                raise InputError(f"missing field {name!r}", field=name, **where)
        key = str(record["id"])
        if key in out:
            seen = ", ".join(f"{k} {v}" for k, v in first[key].items() if k != "path")
            raise InputError(f"id {key!r} appears twice (first at {seen})", field="id", **where)
        row: dict[str, Any] = {}
        if prediction:
            value = record["prediction"]
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise InputError(f"prediction must be text or a number, got "
                                 f"{type(value).__name__}", field="prediction", **where)
            row["prediction"] = str(value)
        for name in scores:
            value = record[name]
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value)):
                raise InputError(f"score {name!r} must be a finite number, got {value!r}",
                                 field=name, **where)
            row[SCORE_PREFIX + name] = float(value)
        if record.get("judge_family") not in (None, ""):
            row["judge_family"] = str(record["judge_family"])
        out[key] = row
        first[key] = where
    if not out:
        raise InputError("no predictions", **_where(predictions))
    return out


def _suite_rows(store: Store, suite: str, needs_label: bool,
                reference: str | None) -> dict[str, list]:
    cols = ["id", "label", "origin", "label_origin", "generator"] + (
        ["fields"] if reference else [])
    rows = store.table(suite).select(cols).to_pydict()
    if not rows["id"]:
        raise InputError(f"suite {suite!r} is empty")
    if reference:
        refs = []
        for sample, raw in zip(rows["id"], rows["fields"]):
            value = json.loads(raw).get(reference) if raw else None
            if not isinstance(value, str):
                raise InputError(f"suite {suite!r}: sample {sample!r} has no text field "
                                 f"{reference!r} to score against (declare it with fields= at "
                                 "ingest, or leave reference unset to use the label)",
                                 field=reference)
            refs.append(value)
        rows["reference"] = refs
    missing_labels = sum(v is None for v in rows["label"])
    if needs_label and missing_labels:
        raise InputError(f"suite {suite!r}: {missing_labels} of {len(rows['id'])} rows have no "
                         "label; an eval suite needs labels")
    return rows


def _thresholds(store: Store, suites: Sequence[str],
                thresholds: float | Mapping[str, float] | None, bounded: bool
                ) -> tuple[dict[str, float], dict[str, float]]:
    """(thresholds given per suite, threshold in force per suite: given, else stored)."""
    explicit = dict(thresholds) if isinstance(thresholds, Mapping) else {}
    for name in explicit:
        if name not in suites:
            raise InputError(f"threshold given for {name!r}, which is not among the suites",
                             field="threshold")
    for value in ([thresholds] if isinstance(thresholds, (int, float)) else explicit.values()):
        if not math.isfinite(value) or (bounded and not 0 <= value <= 1):
            raise InputError(f"threshold must be in [0, 1], got {value}" if bounded else
                             f"threshold must be a finite number, got {value}",
                             field="threshold")
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
    method = _boot_method(y_true.size)
    if y_true.size < 2:
        return MetricValue(value, Interval(value, value, 1 - alpha, f"{method} bootstrap"),
                           f"bootstrap-{method}")
    return MetricValue(value, bootstrap_interval(fn, y_true, y_pred, alpha, n_boot, seed,
                                                 method, vectorized=True), f"bootstrap-{method}")


def _boot_method(n: int) -> str:
    return "bca" if n <= BCA_MAX_ROWS else "percentile"


def _mean_score(values: np.ndarray, alpha: float, n_boot: int, seed: int) -> MetricValue:
    """The mean of per-item scores with its bootstrap interval."""
    value, method = float(values.mean()), _boot_method(values.size)
    ci = (bootstrap_mean_interval(values, None, alpha, n_boot, seed, method) if values.size >= 2
          else Interval(value, value, 1 - alpha, f"{method} bootstrap"))
    return MetricValue(value, ci, f"bootstrap-{method} (mean of per-item scores)")


def _item_scores(metric: str, preds: Mapping[str, Mapping[str, Any]], ids: Sequence[str],
                 references: Sequence[Any]) -> np.ndarray:
    if _score_column(metric):
        return np.array([preds[i][metric] for i in ids], dtype=float)
    return score_many([preds[i]["prediction"] for i in ids], [str(r) for r in references], metric)


def _overlaps(suite: str, generators: Sequence[str], model_family: str | None,
              judge_families: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Pairs of roles (generator, judge, model) sharing a family, and their warnings."""
    found: list[dict[str, Any]] = []
    texts: list[str] = []
    for g in generators:
        if model_family and family_matches(model_family, g):
            found.append({"roles": ["generator", "model"], "family": model_family,
                          "suite": suite, "generator": g})
            texts.append(f"model family {model_family!r} wrote suite {suite!r} (generator {g}): "
                         "the teacher is grading its own questions")
        for judge in judge_families:
            if family_matches(judge, g):
                found.append({"roles": ["generator", "judge"], "family": judge,
                              "suite": suite, "generator": g})
                texts.append(f"judge family {judge!r} wrote suite {suite!r} (generator {g}): "
                             "the judge is scoring answers to its own questions")
    return found, texts


def _judge_model_overlaps(model_family: str | None, judge_families: Sequence[str]
                          ) -> tuple[list[dict[str, Any]], list[str]]:
    found: list[dict[str, Any]] = []
    texts: list[str] = []
    for judge in judge_families:
        if model_family and (family_matches(judge, model_family)
                             or family_matches(model_family, judge)):
            found.append({"roles": ["judge", "model"], "family": judge})
            texts.append(f"judge family {judge!r} is the evaluated model's family "
                         f"({model_family!r}): the judge is grading its own family's answers")
    return found, texts


def evaluate_suites(store: Store, predictions: str | Path | Iterable[Mapping[str, Any]],
                    suites: Sequence[str], *, model: str | None = None,
                    model_family: str | None = None, judge_family: str | None = None,
                    metrics: Sequence[str] = ("accuracy", "macro_f1"),
                    reference: str | None = None,
                    thresholds: float | Mapping[str, float] | None = None,
                    alpha: float = 0.05, n_boot: int = 2000, seed: int = 0) -> EvalResult:
    """Score ``predictions`` (rows with ``id``, ``prediction``) on each suite in ``store``.

    ``metrics`` are classification metrics of the prediction against the label (accuracy,
    macro_f1, weighted_f1, balanced_accuracy), per-item text scores of the prediction against
    the label or, with ``reference=FIELD``, a declared text field of the suite (exact_match,
    token_f1, rouge_l: :mod:`tether.evaluate.scores`), or ``score:COLUMN``, a numeric column of
    the prediction file (a judge's score, say). Accuracy gets a Wilson interval, every other
    metric a BCa bootstrap interval (``n_boot`` resamples, ``seed``; percentile past
    :data:`BCA_MAX_ROWS` rows), a score the interval of its mean over items.

    A synthetic suite passes when its first metric reaches its threshold: ``thresholds`` (one
    number for every synthetic suite, or one per suite name), else the threshold stored with
    :func:`save_suite_threshold`; a synthetic suite with neither is reported with
    ``passed=None`` and a warning. The inflation gap is on the first metric when it is a score
    (difference of pooled means, bootstrap over the two independent pools), else on accuracy.

    Three roles are checked for a shared model family (:func:`family_matches`): the generators
    that wrote inputs or labels of a suite, the judge (``judge_family``, else the prediction
    file's ``judge_family`` column) and the evaluated model (``model_family``); each pair found
    is in ``family_overlaps`` and the warnings. The result is saved in ``store`` for the report.

    Example:
        >>> s = Store(":memory:")
        >>> _ = s.ingest("qa", [{"id": "1", "question": "Capital of France?", "label": "Paris"},
        ...                     {"id": "2", "question": "2+2?", "label": "four"}],
        ...              fields=("question",), text_field=None, origin="real", label_origin="real")
        >>> r = evaluate_suites(s, [{"id": "1", "prediction": "paris"},
        ...                         {"id": "2", "prediction": "4"}], ["qa"], metrics=("token_f1",))
        >>> r.real[0].metrics["token_f1"].estimate
        0.5
    """
    metrics = tuple(metrics)
    _check_metrics(metrics)
    if not suites or len(set(suites)) != len(suites):
        raise InputError("give each suite once", field="suites")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha}", field="alpha")
    explicit, limits = _thresholds(store, suites, thresholds,
                                   bounded=_score_column(metrics[0]) is None)
    score_columns = [c for m in metrics if (c := _score_column(m))]
    needs_prediction = any(_score_column(m) is None for m in metrics)
    preds = read_predictions(predictions, score_columns, prediction=needs_prediction)
    judges = ([judge_family] if judge_family else
              sorted({p["judge_family"] for p in preds.values() if "judge_family" in p}))
    gap_metric = metrics[0] if _is_score(metrics[0]) else "accuracy"
    needs_label = any(m in METRICS for m in metrics) or (
        reference is None and any(m in SCORE_METRICS for m in metrics))

    tables = {suite: _suite_rows(store, suite, needs_label, reference) for suite in suites}
    if not any(i in preds for rows in tables.values() for i in rows["id"]):
        raise InputError(f"no prediction id matches an item of suite{'s' * (len(suites) > 1)} "
                         f"{', '.join(map(repr, suites))} (ids like "
                         f"{', '.join(list(preds)[:3])}); are these predictions for these "
                         "suites?", **_where(predictions))
    warnings: list[str] = []
    overlaps: list[dict[str, Any]] = []
    real: list[SuiteResult] = []
    synthetic: list[SuiteResult] = []
    pooled: dict[str, list[np.ndarray]] = {"real": [], "synthetic": []}
    for suite, rows in tables.items():
        ids = rows["id"]
        missing = [i for i in ids if i not in preds]
        if missing:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise InputError(f"{len(missing)} of {len(ids)} samples of suite {suite!r} have no "
                             f"prediction (ids: {shown})", **_where(predictions))
        origin, mixed, generators = _provenance(rows)
        if mixed:
            warnings.append(f"suite {suite!r} mixes real and synthetic rows; reported as "
                            "synthetic")
        found, texts = _overlaps(suite, generators, model_family, judges)
        overlaps += found
        warnings += texts
        scores: dict[str, MetricValue] = {}
        correct = None
        if needs_label:
            y_true, y_pred = encode_labels(rows["label"], [preds[i]["prediction"] for i in ids])
            correct = int(np.sum(y_true == y_pred))
        per_item: dict[str, np.ndarray] = {}
        for m in metrics:
            if m in METRICS:
                scores[m] = _metric(m, y_true, y_pred, alpha, n_boot, seed)
            else:
                per_item[m] = _item_scores(m, preds, ids, rows.get("reference", rows["label"]))
                scores[m] = _mean_score(per_item[m], alpha, n_boot, seed)
        pooled[origin].append(per_item[gap_metric] if gap_metric in per_item
                              else (y_true == y_pred).astype(float))
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
    found, texts = _judge_model_overlaps(model_family, judges)
    overlaps += found
    warnings += texts

    inflation = _inflation(gap_metric, pooled, alpha, n_boot, seed)
    if inflation is None:
        warnings.append("no inflation gap: it needs at least one real and one synthetic suite")
    result = EvalResult(model, model_family, alpha, tuple(real), tuple(synthetic), inflation,
                        tuple(warnings), ", ".join(judges) or None, tuple(overlaps))
    store.save_result(result, {"predictions": source_name(predictions), "suites": list(suites),
                               "model": model, "model_family": model_family,
                               "judge_family": judge_family, "metrics": list(metrics),
                               "reference": reference, "alpha": alpha})
    return result


def _inflation(metric: str, pooled: Mapping[str, list[np.ndarray]], alpha: float, n_boot: int,
               seed: int) -> Inflation | None:
    """Pooled synthetic minus pooled real: Newcombe for accuracy, bootstrap for a mean score."""
    if not pooled["synthetic"] or not pooled["real"]:
        return None
    syn, rea = np.concatenate(pooled["synthetic"]), np.concatenate(pooled["real"])
    gap = float(syn.mean() - rea.mean())
    if metric == "accuracy":
        ci = newcombe(int(syn.sum()), syn.size, int(rea.sum()), rea.size, 1 - alpha)
        return Inflation(gap, ci, float(syn.mean()), float(rea.mean()), syn.size, rea.size)
    method = _boot_method(max(syn.size, rea.size))
    ci = (bootstrap_mean_interval(syn, rea, alpha, n_boot, seed, method)
          if min(syn.size, rea.size) >= 2 else Interval(gap, gap, 1 - alpha, "none (n < 2)"))
    return Inflation(gap, ci, float(syn.mean()), float(rea.mean()), syn.size, rea.size,
                     f"{method} bootstrap (difference of independent means)", metric)
