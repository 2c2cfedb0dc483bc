"""Label issues: samples whose label is likely wrong, found by confident learning, by provenance.

A student gives out-of-fold predicted probabilities (``cross_val_predict``, stratified folds).
The default student featurizes once (hashed word 1-2-gram TF-IDF,
:func:`tether.audit.features.ngram_matrix`; no labels involved, so nothing leaks across folds)
and fits a logistic-loss SGD classifier per fold: linear in the rows, where the TF-IDF + saga
pipeline refitted per fold did not finish at 100k rows, with the same recall of planted label
flips (``benchmarks/bench_labels.py``). Any scikit-learn classifier with ``predict_proba``
fitted on texts can replace it (``estimator=``). :func:`cleanlab.filter.find_label_issues` flags the
samples whose given label disagrees with the student beyond the estimated noise rates (Northcutt
et al. 2021). Issues are then counted by ``label_origin`` and by ``generator``, each rate with
its Wilson interval: hard mistakes, found where they are.

Example:
    >>> import pyarrow as pa
    >>> t = pa.table({"id": ["a", "b", "c", "d"], "text": ["w", "x", "y", "z"],
    ...               "label": ["p", "p", "q", "q"]})
    >>> probs = [[0.9, 0.1], [0.1, 0.9], [0.2, 0.8], [0.1, 0.9]]
    >>> [i["id"] for i in label_issues(t, pred_probs=probs).issues]
    ['b']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cleanlab.filter import find_label_issues
from sklearn.base import BaseEstimator
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from tether.audit._load import (
    field_name,
    field_params,
    field_table,
    from_json,
    made_by,
    plain,
)
from tether.audit.features import ngram_matrix
from tether.errors import InputError
from tether.results import Result
from tether.stats import Interval, wilson
from tether.store import Store
from tether.students import fresh

#: the default student's classifier, fitted per fold on the n-gram matrix
STUDENT = SGDClassifier(loss="log_loss", alpha=3e-5, max_iter=20, tol=None)

@dataclass(frozen=True)
class LabelIssuesResult(Result):
    """Likely label errors (lowest self-confidence first) and issue rates per provenance group.

    Each issue: ``id``, ``given``, ``suggested`` (the student's most probable label),
    ``self_confidence`` (the student's out-of-fold probability of the given label),
    ``label_origin`` and ``generator``. ``by_label_origin`` / ``by_generator`` map each group
    to ``{"n", "issues", "rate", "rate_ci"}``.
    """

    issues: list[dict[str, Any]]
    n: int
    issue_count: int
    issue_rate: float
    issue_rate_ci: Interval = field(metadata=made_by("wilson"))
    by_label_origin: dict[str, dict[str, Any]]
    by_generator: dict[str, dict[str, Any]]
    classes: list[str]
    method: str
    field: str = "text"

    from_dict = classmethod(from_json)

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


def out_of_fold_probs(texts: Sequence[str], labels: Sequence[str], *,
                      estimator: BaseEstimator | None = None, folds: int = 5,
                      seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Out-of-fold predicted probabilities ``(n, classes)`` and the classes (sorted) they index.

    >>> p, classes = out_of_fold_probs(["good win", "bad loss"] * 5, ["a", "b"] * 5, folds=2)
    >>> p.shape, classes
    ((10, 2), ['a', 'b'])
    """
    classes, y = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)
    smallest = int(np.bincount(y).min()) if y.size else 0
    if classes.size < 2:
        raise InputError("label issues need at least two distinct labels", field="label")
    if smallest < folds:
        raise InputError(f"every label needs at least {folds} samples for {folds}-fold "
                         f"cross-validation; the rarest has {smallest}", field="label")
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    if estimator is None:
        model, X = fresh(STUDENT).set_params(random_state=seed), ngram_matrix(texts, chars=False)
    else:
        model, X = fresh(estimator, seed), list(texts)
    probs = cross_val_predict(model, X, y, cv=cv, method="predict_proba")
    return probs, classes.tolist()


def _column(table: pa.Table, name: str) -> list[str]:
    if name not in table.schema.names:
        return [""] * table.num_rows
    return ["" if v is None else str(v) for v in table.column(name).to_pylist()]


def _rates(groups: list[str], flagged: np.ndarray) -> dict[str, dict[str, Any]]:
    out = {}
    for group in sorted(set(groups)):
        members = np.asarray([g == group for g in groups])
        k, n = int(flagged[members].sum()), int(members.sum())
        out[group] = {"n": n, "issues": k, "rate": k / n, "rate_ci": wilson(k, n)}
    return out


def label_issues(table: pa.Table, *, estimator: BaseEstimator | None = None, folds: int = 5,
                 seed: int = 0, pred_probs: Sequence[Sequence[float]] | None = None,
                 ) -> LabelIssuesResult:
    """Confident-learning label issues of the labelled rows of ``table`` (columns ``id``,
    ``text``, ``label``; ``label_origin`` and ``generator`` when present).

    ``pred_probs`` (rows aligned with the labelled rows, columns = sorted labels) replaces the
    student's out-of-fold probabilities, e.g. those of your own model.
    """
    missing = {"id", "text", "label"} - set(table.schema.names)
    if missing:
        raise InputError(f"the data has no {', '.join(sorted(missing))} column")
    labelled = table.filter(pc.is_valid(table.column("label")))
    labels = _column(labelled, "label")
    if pred_probs is None:
        probs, classes = out_of_fold_probs(_column(labelled, "text"), labels,
                                           estimator=estimator, folds=folds, seed=seed)
        student = ("the default student (hashed word n-gram TF-IDF, logistic-loss SGD)"
                   if estimator is None
                   else type(estimator).__name__)
        source = f"{folds}-fold out-of-fold probabilities of {student}"
    else:
        probs, classes = np.asarray(pred_probs, dtype=float), sorted(set(labels))
        if probs.shape != (len(labels), len(classes)):
            raise InputError(f"pred_probs must be {len(labels)} × {len(classes)} (labelled rows "
                             f"× sorted labels), got {probs.shape}")
        source = "given probabilities"
    y = np.searchsorted(classes, labels)
    flagged = find_label_issues(y, probs)
    confidence = probs[np.arange(y.size), y]
    ids = _column(labelled, "id")
    origins, generators = _column(labelled, "label_origin"), _column(labelled, "generator")
    order = np.flatnonzero(flagged)[np.argsort(confidence[flagged], kind="stable")]
    issues = [{"id": ids[i], "given": labels[i], "suggested": classes[int(probs[i].argmax())],
               "self_confidence": float(confidence[i]), "label_origin": origins[i],
               "generator": generators[i]} for i in order]
    k = int(flagged.sum())
    return LabelIssuesResult(
        issues=issues, n=len(labels), issue_count=k, issue_rate=k / len(labels) if labels else 0.0,
        issue_rate_ci=wilson(k, len(labels)), by_label_origin=_rates(origins, flagged),
        by_generator=_rates(generators, flagged), classes=list(classes),
        method=(f"confident learning (cleanlab.filter.find_label_issues, prune_by_noise_rate) "
                f"on {source}; issue rates with Wilson intervals"))


def audit_labels(store: Store, dataset: str, *, field: str = "text", turns: str | None = None,
                 **options: Any) -> LabelIssuesResult:
    """Run :func:`label_issues` on ``dataset`` and save the result (kind ``"labels"``).
    ``field`` (``turns`` of a ``messages`` field) is the text the student reads.

    >>> from tether import Store, datasets
    >>> bbc = datasets.split(datasets.load("bbcnews"), {"a": 100}, seed=0)["a"]
    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("news", bbc, origin="real", label_origin="real")
    ...     audit_labels(s, "news").n
    100
    """
    result = replace(label_issues(field_table(store, dataset, field, turns), **options),
                     field=field_name(field, turns))
    store.save_result(result,
                     {"dataset": dataset, **field_params(field, turns),
                      **{k: v for k, v in options.items() if k in ("folds", "seed")}})
    return result
