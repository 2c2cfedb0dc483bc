"""Ratio sweeps: how real held-out performance moves as the synthetic share of training grows.

At each synthetic share a student is trained (``replace``: a fixed total of as many rows as the
real training set, synthetic rows replacing real ones; ``add``: every real row plus as many
synthetic rows as make the share) and scored on a real held-out set, ``repeats`` times with
fresh samplings. Each share reports mean accuracy and macro-F1 with a t-interval over repeats,
the Wilson interval of the accuracy pooled over repeats, and the best share; the trend of
accuracy against the share is an ordinary least-squares slope with a t-interval.

The student is tether's default text classifier, any scikit-learn-compatible estimator, or the
user's own ``train_cmd`` / ``predict_cmd`` shell templates run on JSONL files tether writes:
``{train}`` (rows ``id``, ``text``, ``label``), ``{model}`` (a path the command may create),
``{input}`` (rows ``id``, ``text``), ``{output}`` (rows ``id``, ``prediction`` to write back) and
``{seed}``.

Example:
    >>> # sweep(store, "bbc-train", "bbc-noise", "bbc-holdout", ratios=(0, 0.5, 1)).best_ratio
"""

from __future__ import annotations

import json
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score

from tether.errors import InputError, TetherError
from tether.mix import allocate, round_half_up
from tether.results import Result, decode_fields, source_name
from tether.stats import Interval, wilson
from tether.store import Store
from tether.students import fresh

MODES = ("replace", "add")
DEFAULT_RATIOS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
T_METHOD = "t-interval over repeats, clipped to [0, 1]"
WILSON_METHOD = ("Wilson score interval of the accuracy pooled over repeats (treats rows as "
                 "independent)")
OLS_METHOD = "least-squares slope, t-interval"

Source = str | pa.Table | Sequence[Mapping[str, Any]]
Progress = Callable[[int, int], None]


# ----------------------------------------------------------------------------------- statistics
def t_interval(values: Sequence[float], alpha: float = 0.05) -> Interval | None:
    """Student-t interval for the mean of ``values``; None with fewer than two values.

    >>> [round(v, 3) for v in t_interval([0.8, 0.9, 1.0])]
    [0.652, 1.148]
    """
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return None
    sem = float(stats.sem(x))
    if sem == 0.0:  # every value equal: the interval is the value
        return Interval(float(x.mean()), float(x.mean()), 1 - alpha, "t")
    lo, hi = stats.t.interval(1 - alpha, x.size - 1, loc=x.mean(), scale=sem)
    return Interval(float(lo), float(hi), 1 - alpha, "t")


@dataclass(frozen=True)
class Trend:
    """A least-squares line ``y = intercept + slope · x`` with a t-interval on the slope."""

    slope: float
    slope_ci: Interval | None
    intercept: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"slope": self.slope, "ci": self.slope_ci.to_dict() if self.slope_ci else None,
                "intercept": self.intercept, "n": self.n, "method": OLS_METHOD}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trend:
        return decode_fields(cls, {**data, "slope_ci": data.get("ci")})


def trend(x: Sequence[float], y: Sequence[float], alpha: float = 0.05) -> Trend:
    """Least-squares fit of ``y`` on ``x`` (``scipy.stats.linregress``) with a slope interval.

    >>> t = trend([0, 1, 2, 3], [1.0, 0.9, 0.7, 0.6])
    >>> round(t.slope, 3), t.slope_ci[1] < 0
    (-0.14, True)
    """
    fit = stats.linregress(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    n = len(x)
    ci = None
    if n > 2:
        half = stats.t.ppf(1 - alpha / 2, n - 2) * fit.stderr
        ci = Interval(float(fit.slope - half), float(fit.slope + half), 1 - alpha, "t")
    return Trend(float(fit.slope), ci, float(fit.intercept), n)


# -------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Examples:
    """Labelled texts as parallel arrays; ``take`` selects rows."""

    ids: np.ndarray
    texts: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.size)

    def take(self, index: Sequence[int] | np.ndarray) -> Examples:
        idx = np.asarray(index, dtype=np.int64)
        return Examples(self.ids[idx], self.texts[idx], self.labels[idx])

    def relabel(self, labels: Sequence[str] | np.ndarray) -> Examples:
        return Examples(self.ids, self.texts, np.asarray(labels, dtype=object))

    @staticmethod
    def concat(a: Examples, b: Examples) -> Examples:
        return Examples(*(np.concatenate([x, y]) for x, y in
                          ((a.ids, b.ids), (a.texts, b.texts), (a.labels, b.labels))))


def rows_of(store: Store | None, source: Source, role: str) -> list[dict[str, Any]]:
    """The rows of a dataset name (read from ``store``), an Arrow table or a list of dicts."""
    if isinstance(source, str):
        if store is None:
            raise InputError(f"the {role} is the dataset name {source!r} but no store was given")
        return store.table(source).to_pylist()
    return source.to_pylist() if isinstance(source, pa.Table) else [dict(r) for r in source]


def examples(rows: Sequence[Mapping[str, Any]], role: str) -> Examples:
    """Labelled texts from rows with ``text`` and ``label`` (``id`` if given, else the index)."""
    if not rows:
        raise InputError(f"the {role} holds no rows", field=role)
    for i, row in enumerate(rows):
        for name in ("text", "label"):
            if row.get(name) is None:
                raise InputError(f"the {role} row {i + 1} has no {name}; a student needs "
                                 "labelled text", row=i + 1, field=name)
    ids = [str(row.get("id", i)) for i, row in enumerate(rows)]
    return Examples(np.asarray(ids, dtype=object),
                    np.asarray([str(r["text"]) for r in rows], dtype=object),
                    np.asarray([str(r["label"]) for r in rows], dtype=object))


def check_disjoint(train: Examples, holdout: Examples, role: str) -> None:
    """Refuse a held-out set that shares ids with training data (it would flatter the score)."""
    shared = set(train.ids.tolist()) & set(holdout.ids.tolist())
    if shared:
        raise InputError(f"the holdout shares {len(shared)} ids with the {role} (e.g. "
                         f"{sorted(shared)[0]!r}); hold out rows the student never trains on",
                         field="holdout")


# ----------------------------------------------------------------------------------- students
def _run(template: str, paths: Mapping[str, Path | int], what: str) -> None:
    command = template
    for key, value in paths.items():
        command = command.replace("{" + key + "}", shlex.quote(str(value)))
    done = subprocess.run(command, shell=True, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise TetherError(f"the {what} command exited with {done.returncode}: {command}\n"
                          + "\n".join(tail))


def _predict_with_commands(train: Examples, test: Examples, train_cmd: str, predict_cmd: str,
                           seed: int) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="tether-student-") as tmp:
        d = Path(tmp)
        paths = {"train": d / "train.jsonl", "model": d / "model", "input": d / "input.jsonl",
                 "output": d / "predictions.jsonl", "seed": seed}
        with open(paths["train"], "w", encoding="utf-8") as f:
            for i, t, y in zip(train.ids, train.texts, train.labels):
                f.write(json.dumps({"id": i, "text": t, "label": y}, ensure_ascii=False) + "\n")
        with open(paths["input"], "w", encoding="utf-8") as f:
            for i, t in zip(test.ids, test.texts):
                f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")
        _run(train_cmd, paths, "train")
        _run(predict_cmd, paths, "predict")
        if not paths["output"].exists():
            raise TetherError(f"the predict command wrote no {paths['output'].name}; it must "
                              "write JSONL rows with id and prediction to {output}")
        got: dict[str, str] = {}
        with open(paths["output"], encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        row = json.loads(line)
                        got[str(row["id"])] = str(row["prediction"])
                    except (json.JSONDecodeError, KeyError, TypeError):
                        raise InputError("expected a JSON object with id and prediction",
                                         path="predictions.jsonl", line=n) from None
    missing = [i for i in test.ids if i not in got]
    if missing:
        raise TetherError(f"the predict command gave no prediction for {len(missing)} of "
                          f"{len(test)} rows (e.g. id {missing[0]!r})")
    return np.asarray([got[i] for i in test.ids], dtype=object)


def fit_predict(train: Examples, test: Examples, *, estimator: Any = None,
                train_cmd: str | None = None, predict_cmd: str | None = None,
                seed: int = 0) -> np.ndarray:
    """Train a student on ``train`` and predict the labels of ``test``.

    The student is ``tether.students.fresh(estimator, seed)`` or, with both templates given,
    the user's own commands.
    """
    if (train_cmd is None) != (predict_cmd is None):
        raise InputError("give both --train-cmd and --predict-cmd, or neither")
    if train_cmd is not None:
        return _predict_with_commands(train, test, train_cmd, predict_cmd, seed)
    model = fresh(estimator, seed).fit(train.texts.tolist(), train.labels.tolist())
    return np.asarray(model.predict(test.texts.tolist()), dtype=object)


def describe_student(estimator: Any, train_cmd: str | None) -> str:
    if train_cmd is not None:
        return f"command: {train_cmd}"
    return "tfidf+logistic-regression (tether default)" if estimator is None else repr(estimator)


@dataclass(frozen=True)
class Score:
    """Accuracy and macro-F1 of one trained student on the held-out set."""

    accuracy: float
    macro_f1: float
    correct: int
    n: int


def score(truth: np.ndarray, predicted: np.ndarray) -> Score:
    """Accuracy and macro-F1 (scikit-learn) of ``predicted`` against ``truth``."""
    return Score(float(accuracy_score(truth, predicted)),
                 float(f1_score(truth, predicted, average="macro", zero_division=0)),
                 int((truth == predicted).sum()), int(truth.size))


def _unit_t_interval(values: Sequence[float], alpha: float) -> Interval | None:
    """:func:`t_interval` clipped to [0, 1]: a metric in [0, 1] over few repeats can reach past
    either end."""
    ci = t_interval(values, alpha)
    return None if ci is None else Interval(max(0.0, ci.lo), min(1.0, ci.hi), ci.level, ci.method)


@dataclass(frozen=True)
class Scores:
    """Scores over repeats: mean accuracy and macro-F1 with t-intervals (``accuracy_ci``,
    ``macro_f1_ci``, None with one repeat) and the Wilson interval of the pooled accuracy
    (``wilson_pooled``), all at level ``1 - alpha`` and derived from ``scores``."""

    scores: list[Score]
    alpha: float
    accuracy_ci: Interval | None = field(init=False)
    macro_f1_ci: Interval | None = field(init=False)
    wilson_pooled: Interval = field(init=False)

    def __post_init__(self) -> None:
        correct, n = sum(s.correct for s in self.scores), sum(s.n for s in self.scores)
        derived = {"accuracy_ci": _unit_t_interval([s.accuracy for s in self.scores], self.alpha),
                   "macro_f1_ci": _unit_t_interval([s.macro_f1 for s in self.scores], self.alpha),
                   "wilson_pooled": wilson(correct, n, 1 - self.alpha)}
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    @property
    def accuracy(self) -> float:
        return float(np.mean([s.accuracy for s in self.scores]))

    def to_dict(self) -> dict[str, Any]:
        acc = [s.accuracy for s in self.scores]
        f1 = [s.macro_f1 for s in self.scores]
        return {"accuracy": {"mean": self.accuracy,
                             "ci": self.accuracy_ci.to_dict() if self.accuracy_ci else None,
                             "method": T_METHOD, "wilson_pooled": self.wilson_pooled.to_dict(),
                             "wilson_method": WILSON_METHOD, "repeats": acc,
                             "correct": [s.correct for s in self.scores],
                             "n": [s.n for s in self.scores]},
                "macro_f1": {"mean": float(np.mean(f1)),
                             "ci": self.macro_f1_ci.to_dict() if self.macro_f1_ci else None,
                             "method": T_METHOD, "repeats": f1}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], alpha: float) -> Scores:
        """The inverse of :meth:`to_dict` (which leaves ``alpha`` to the result holding it)."""
        acc = data["accuracy"]
        return cls([Score(a, f, c, n) for a, f, c, n in
                    zip(acc["repeats"], data["macro_f1"]["repeats"], acc["correct"], acc["n"],
                        strict=True)], alpha)


# -------------------------------------------------------------------------------------- sweep
@dataclass(frozen=True)
class SweepPoint:
    """One synthetic share of the sweep: training counts and held-out scores."""

    ratio: float
    n_real: int
    n_synthetic: int
    scores: Scores

    @property
    def share(self) -> float:
        return self.n_synthetic / (self.n_real + self.n_synthetic)

    def to_dict(self) -> dict[str, Any]:
        return {"ratio": self.ratio, "share": self.share, "n_real": self.n_real,
                "n_synthetic": self.n_synthetic, **self.scores.to_dict()}


@dataclass(frozen=True)
class SweepResult(Result):
    """The sweep curve, the best share and the trend of accuracy against the share."""

    mode: str
    points: list[SweepPoint]
    trend: Trend
    repeats: int
    n_holdout: int
    student: str
    seed: int
    alpha: float
    audit_id: str | None = None

    @property
    def best_ratio(self) -> float:
        return max(self.points, key=lambda p: (p.scores.accuracy, -p.ratio)).ratio

    def to_dict(self) -> dict[str, Any]:
        best = next(p for p in self.points if p.ratio == self.best_ratio)
        return {"mode": self.mode, "repeats": self.repeats, "n_holdout": self.n_holdout,
                "student": self.student, "seed": self.seed, "alpha": self.alpha,
                "points": [p.to_dict() for p in self.points],
                "best": {"ratio": best.ratio, "accuracy": best.scores.accuracy},
                "trend": self.trend.to_dict(), "audit_id": self.audit_id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepResult:
        points = [SweepPoint(p["ratio"], p["n_real"], p["n_synthetic"],
                             Scores.from_json(p, data["alpha"])) for p in data["points"]]
        return decode_fields(cls, {**data, "points": points})


def _counts(mode: str, ratio: float, n_real: int, n_synthetic: int) -> tuple[int, int]:
    if mode == "replace":
        return allocate(ratio, n_real, n_synthetic, size=n_real)
    if ratio >= 1:
        raise InputError("in add mode every real row stays in, so a synthetic share of 1 is "
                         "impossible; use ratios below 1 or --mode replace", field="ratios")
    need = round_half_up(ratio / (1 - ratio) * n_real)
    if need > n_synthetic:
        raise InputError(f"not enough synthetic data for share {ratio:g} on top of {n_real} real "
                         f"rows: needs {need}, have {n_synthetic}", field="ratios")
    return n_real, need


def sweep(store: Store | None, real: Source, synthetic: Source, holdout: Source, *,
          ratios: Sequence[float] | None = None, repeats: int = 5, mode: str = "replace",
          estimator: Any = None, train_cmd: str | None = None, predict_cmd: str | None = None,
          seed: int = 0, alpha: float = 0.05, progress: Progress | None = None) -> SweepResult:
    """Train a student at each synthetic share and score it on the real held-out set.

    ``real``, ``synthetic`` and ``holdout`` are dataset names in ``store`` or tables (Arrow or
    lists of dicts with ``text`` and ``label``). ``ratios`` defaults to 0, 0.1, 0.25, 0.5, 0.75
    and 1 (without 1 in ``add`` mode). Within a repeat the samples are nested across shares
    (common random numbers), so differences between shares are not drowned by sampling noise.
    With a store the result is saved as an audit of kind ``sweep``.

    Example:
        >>> # r = sweep(store, "train", "typos", "holdout", ratios=(0, 0.5, 1), repeats=3)
        >>> # r.best_ratio, r.trend.slope
    """
    if mode not in MODES:
        raise InputError(f"mode {mode!r}? expected replace or add", field="mode")
    if repeats < 1:
        raise InputError(f"repeats must be at least 1, got {repeats}", field="repeats")
    ratios = [float(r) for r in (ratios if ratios is not None else
                                 DEFAULT_RATIOS if mode == "replace" else DEFAULT_RATIOS[:-1])]
    real_ex = examples(rows_of(store, real, "real data"), "real data")
    syn_ex = examples(rows_of(store, synthetic, "synthetic data"), "synthetic data")
    hold_ex = examples(rows_of(store, holdout, "holdout"), "holdout")
    check_disjoint(real_ex, hold_ex, "real training data")
    counts = [_counts(mode, r, len(real_ex), len(syn_ex)) for r in ratios]
    total = len(ratios) * repeats
    scores: list[list[Score]] = [[] for _ in ratios]
    for rep in range(repeats):
        rng = np.random.default_rng([seed, rep])
        real_order, syn_order = rng.permutation(len(real_ex)), rng.permutation(len(syn_ex))
        for k, (n_r, n_s) in enumerate(counts):
            train = Examples.concat(real_ex.take(real_order[:n_r]), syn_ex.take(syn_order[:n_s]))
            predicted = fit_predict(train, hold_ex, estimator=estimator, train_cmd=train_cmd,
                                    predict_cmd=predict_cmd, seed=seed + rep)
            scores[k].append(score(hold_ex.labels, predicted))
            if progress is not None:
                progress(rep * len(ratios) + k + 1, total)
    points = [SweepPoint(r, n_r, n_s, Scores(s, alpha))
              for r, (n_r, n_s), s in zip(ratios, counts, scores)]
    xs = [p.share for p in points for _ in p.scores.scores]
    ys = [s.accuracy for p in points for s in p.scores.scores]
    result = SweepResult(mode, points, trend(xs, ys, alpha), repeats, len(hold_ex),
                         describe_student(estimator, train_cmd), seed, alpha)
    if store is not None:
        params = {"real": source_name(real), "synthetic": source_name(synthetic),
                  "holdout": source_name(holdout), "ratios": ratios, "repeats": repeats,
                  "mode": mode, "seed": seed}
        result = replace(result, audit_id=store.save_result(result, params))
    return result

