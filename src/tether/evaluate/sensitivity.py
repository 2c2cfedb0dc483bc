"""Sensitivity to the generator: how much real held-out accuracy a better labeller is worth.

The same real inputs carry two labels: a human's (gold) and the generator's (a teacher model, a
rule). A student is trained on the gold labels, on the generator's labels, and on gold labels
with noise injected at several rates, two ways: uniformly (a flipped label becomes any other
class) and in the generator's own confusion pattern (rows are flipped in proportion to the
generator's per-class error rate and become what the generator confuses that class with, drawn
from the row-normalised off-diagonal of its confusion matrix on gold). Accuracy against the
realised label error rate gives a least-squares slope with a t-interval for each kind of noise:
the accuracy a point less of generator error would buy. Confusion-pattern noise is also injected
at exactly the generator's error rate: the student trained on the generator's own labels should
score about as well as that point; scoring clearly worse means its errors are more harmful than
their class-level pattern (they fall on hard or systematic cases).

Example:
    >>> # r = sensitivity(store, "gold", "teacher-labels", "holdout")
    >>> # r.trends["confusion"].slope   → e.g. -0.4: each point of error costs 0.4 points
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix

from tether.errors import InputError
from tether.evaluate.sweep import (
    Examples,
    Progress,
    Score,
    Scores,
    Source,
    Trend,
    check_disjoint,
    describe_student,
    examples,
    fit_predict,
    rows_of,
    score,
    trend,
)
from tether.mix import round_half_up
from tether.results import Result, decode_fields, source_name
from tether.stats import Interval, wilson
from tether.store import Store

NOISE_KINDS = ("uniform", "confusion")
DEFAULT_RATES = (0.05, 0.1, 0.2, 0.3)


def _parents(row: Mapping[str, Any]) -> list[str]:
    value = row.get("parents") or []
    return [str(p) for p in (json.loads(value) if isinstance(value, str) else value)]


def match(gold: Sequence[Mapping[str, Any]],
          generated: Sequence[Mapping[str, Any]]) -> tuple[Examples, np.ndarray]:
    """Pair gold rows with the generator's labels for the same inputs.

    A generated row matches the gold row with its ``id``, else the first gold row among its
    ``parents``. Returns the matched gold examples and the generator's labels, in gold order.

    >>> g, y = match([{"id": "1", "text": "a", "label": "x"}],
    ...              [{"id": "9", "parents": ["1"], "label": "z"}])
    >>> (g.ids.tolist(), y.tolist())
    (['1'], ['z'])
    """
    gold_ex = examples(gold, "gold data")
    position = {gid: i for i, gid in enumerate(gold_ex.ids.tolist())}
    label_of: dict[int, str] = {}
    for row in generated:
        if row.get("label") is None:
            continue
        ids = [str(row["id"])] if "id" in row and str(row["id"]) in position else _parents(row)
        hit = next((position[p] for p in ids if p in position), None)
        if hit is not None:
            label_of.setdefault(hit, str(row["label"]))
    if not label_of:
        raise InputError("no generated row matches a gold row by id or by parents; label the "
                         "same real inputs with the generator", field="generated")
    order = sorted(label_of)
    return gold_ex.take(order), np.asarray([label_of[i] for i in order], dtype=object)


def inject_noise(labels: Sequence[str] | np.ndarray, classes: Sequence[str], rate: float,
                 rng: np.random.Generator, confusion: np.ndarray | None = None) -> np.ndarray:
    """Flip ``round(rate · n)`` labels: uniformly to another class, or in a confusion pattern.

    With ``confusion`` (``[true, predicted]`` counts over ``classes``) rows are chosen with
    probability proportional to their class's error rate there and relabelled from the
    row-normalised off-diagonal; classes the generator never gets wrong are never flipped, so
    the realised rate can fall short of ``rate`` when few classes err.

    >>> y = np.array(["a", "b"] * 50)
    >>> float(np.mean(inject_noise(y, ["a", "b"], 0.2, np.random.default_rng(0)) != y))
    0.2
    """
    classes = np.asarray(sorted(classes), dtype=object)
    code = {c: i for i, c in enumerate(classes)}
    y = np.asarray([code[v] for v in labels], dtype=np.int64)
    n, k = y.size, classes.size
    flips = min(round_half_up(rate * n), n)
    if k < 2 or flips == 0:
        return classes[y]
    out = y.copy()
    if confusion is None:
        chosen = rng.choice(n, flips, replace=False)
        out[chosen] = (y[chosen] + rng.integers(1, k, size=flips)) % k
        return classes[out]
    off = np.asarray(confusion, dtype=float).copy()
    np.fill_diagonal(off, 0.0)
    errors = off.sum(axis=1)
    class_rate = np.divide(errors, np.asarray(confusion).sum(axis=1),
                           out=np.zeros(k), where=errors > 0)
    weight = class_rate[y]
    flips = min(flips, int((weight > 0).sum()))
    if flips == 0:
        return classes[y]
    chosen = rng.choice(n, flips, replace=False, p=weight / weight.sum())
    target = off / np.where(errors > 0, errors, 1.0)[:, None]
    out[chosen] = [rng.choice(k, p=target[c]) for c in y[chosen]]
    return classes[out]


@dataclass(frozen=True)
class NoisePoint:
    """Students trained on gold labels with injected noise of one kind at one rate."""

    kind: str
    rate: float
    realised: list[float]
    scores: Scores
    at_generator: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rate": self.rate, "at_generator": self.at_generator,
                "realised_rate": float(np.mean(self.realised)), "realised": list(self.realised),
                **self.scores.to_dict()}


@dataclass(frozen=True)
class SensitivityResult(Result):
    """Gold, generator and noisy-gold students on the real holdout, and the error slopes;
    ``generator_error_ci`` is the Wilson interval (level ``1 - alpha``) of the generator's error
    rate on the matched rows."""

    n_matched: int
    n_holdout: int
    classes: list[str]
    confusion: list[list[int]]
    generator_errors: int
    gold: Scores
    generated: Scores
    points: list[NoisePoint]
    trends: dict[str, Trend]
    student: str
    seed: int
    alpha: float
    warnings: list[str]
    audit_id: str | None = None
    generator_error_ci: Interval = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "generator_error_ci",
                           wilson(self.generator_errors, self.n_matched, 1 - self.alpha))

    @property
    def generator_error_rate(self) -> float:
        return self.generator_errors / self.n_matched

    @property
    def at_generator(self) -> NoisePoint | None:
        """Confusion-pattern noise at the generator's own error rate (None without errors)."""
        return next((p for p in self.points if p.at_generator), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_matched": self.n_matched, "n_holdout": self.n_holdout, "classes": self.classes,
            "confusion": self.confusion,
            "generator_error": {
                "rate": self.generator_error_rate,
                "ci": self.generator_error_ci.to_dict(),
                "method": "Wilson score interval"},
            "gold": self.gold.to_dict(), "generated": self.generated.to_dict(),
            "noise": [p.to_dict() for p in self.points],
            "trends": {k: t.to_dict() for k, t in self.trends.items()},
            "student": self.student, "seed": self.seed, "alpha": self.alpha,
            "warnings": self.warnings, "audit_id": self.audit_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SensitivityResult:
        alpha = data["alpha"]
        points = [NoisePoint(p["kind"], p["rate"], p["realised"], Scores.from_json(p, alpha),
                             p["at_generator"]) for p in data["noise"]]
        errors = round(data["generator_error"]["rate"] * data["n_matched"])
        return decode_fields(cls, {**data, "points": points, "generator_errors": errors,
                                   "gold": Scores.from_json(data["gold"], alpha),
                                   "generated": Scores.from_json(data["generated"], alpha)})


def sensitivity(store: Store | None, gold: Source, generated: Source, holdout: Source, *,
                rates: Sequence[float] = DEFAULT_RATES, repeats: int = 3, seed: int = 0,
                estimator: Any = None, train_cmd: str | None = None,
                predict_cmd: str | None = None, alpha: float = 0.05,
                progress: Progress | None = None) -> SensitivityResult:
    """Measure how real held-out accuracy falls with label error, uniform and generator-shaped.

    ``gold`` holds real inputs with human labels, ``generated`` the generator's labels for the
    same inputs (matched by id or by ``parents``), ``holdout`` real labelled rows never trained
    on. Dataset names are read from ``store``, which also saves the result (kind
    ``sensitivity``). The student is as in :func:`tether.evaluate.sweep.sweep`.

    Example:
        >>> # r = sensitivity(store, "gold", "teacher", "holdout", rates=(0.1, 0.2, 0.3))
        >>> # r.trends["uniform"].slope, r.generated.accuracy, r.at_generator.scores.accuracy
    """
    if repeats < 1:
        raise InputError(f"repeats must be at least 1, got {repeats}", field="repeats")
    for rate in rates:
        if not 0 <= rate <= 1:
            raise InputError(f"noise rates lie in [0, 1], got {rate}", field="rates")
    gold_ex, gen_labels = match(rows_of(store, gold, "gold data"),
                                rows_of(store, generated, "generated data"))
    hold_ex = examples(rows_of(store, holdout, "holdout"), "holdout")
    check_disjoint(gold_ex, hold_ex, "gold data")
    classes = sorted(set(gold_ex.labels.tolist()) | set(gen_labels.tolist()))
    confusion = confusion_matrix(gold_ex.labels, gen_labels, labels=classes)
    errors = int((gold_ex.labels != gen_labels).sum())
    student = {"estimator": estimator, "train_cmd": train_cmd, "predict_cmd": predict_cmd}
    kinds = NOISE_KINDS if errors else NOISE_KINDS[:1]
    # noise of each kind at each rate, and the generator's own pattern at its own error rate
    plan = [(kind, float(rate), False) for kind in kinds for rate in rates]
    if errors:
        plan.append(("confusion", errors / len(gold_ex), True))
    total, done = 2 + len(plan) * repeats, 0

    def run(train: Examples, run_seed: int) -> Score:
        nonlocal done
        result = score(hold_ex.labels, fit_predict(train, hold_ex, seed=run_seed, **student))
        done += 1
        if progress is not None:
            progress(done, total)
        return result

    gold_score = run(gold_ex, seed)
    gen_score = run(gold_ex.relabel(gen_labels), seed)
    points = []
    for pi, (kind, rate, at_generator) in enumerate(plan):
        realised, scores = [], []
        for rep in range(repeats):
            rng = np.random.default_rng([seed, pi, rep])
            noisy = inject_noise(gold_ex.labels, classes, rate, rng,
                                 confusion if kind == "confusion" else None)
            realised.append(float(np.mean(noisy != gold_ex.labels)))
            scores.append(run(gold_ex.relabel(noisy), seed + rep))
        points.append(NoisePoint(kind, rate, realised, Scores(scores, alpha), at_generator))
    trends = {}
    for kind in kinds:
        mine = [p for p in points if p.kind == kind]
        xs = [0.0] + [x for p in mine for x in p.realised]
        ys = [gold_score.accuracy] + [s.accuracy for p in mine for s in p.scores.scores]
        trends[kind] = trend(xs, ys, alpha)
    warnings = [] if errors else ["the generator agrees with gold on every matched row, so "
                                  "there is no confusion pattern to inject"]
    result = SensitivityResult(
        len(gold_ex), len(hold_ex), classes, confusion.tolist(), errors,
        Scores([gold_score], alpha), Scores([gen_score], alpha), points, trends,
        describe_student(estimator, train_cmd), seed, alpha, warnings)
    if store is not None:
        params = {"gold": source_name(gold), "generated": source_name(generated),
                  "holdout": source_name(holdout), "rates": list(rates), "repeats": repeats,
                  "seed": seed}
        result = replace(result, audit_id=store.save_result(result, params))
    return result
