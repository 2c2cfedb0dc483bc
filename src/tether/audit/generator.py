"""Generator audit: the same real inputs labelled by humans (gold) and by the generator.

What it measures, each with its interval and method:

- **Accuracy** of the generator's labels against gold (Wilson interval), the confusion matrix,
  per-class precision and recall (Wilson intervals).
- **Label skew**: the generator's label distribution against the real one on the same items:
  total variation distance and the change in balance (normalised entropy) with paired bootstrap
  intervals, and the Stuart–Maxwell test of marginal homogeneity (the paired-data form of a
  chi-square goodness-of-fit test). A generator that is *balanced where reality is skewed* shows
  a higher normalised entropy than gold.
- **Hard mistakes vs systematic bias.** Errors are modelled as a mixture: a uniform-noise part
  (each item of gold class *i* goes wrong at one class-independent rate and lands on each other
  class alike, so it puts ``λ·E·u_ij`` errors in cell (i, j≠i), ``u_ij = n_i / (N (K − 1))``)
  plus a systematic part concentrated in a few cells. A cell is *systematic* when its count is
  improbably high under the uniform part (Poisson upper tail, Bonferroni over the cells); λ is
  fitted on the other cells (``Σ O / Σ E·u`` over them), flags and λ are iterated to a fixed
  point, and ``systematic_share = 1 − λ`` is the share of errors beyond the uniform part
  (``hard_error_rate = λ·E/N``). Pure uniform noise gives 0; errors all in one confusion give
  1. Interval: percentile bootstrap (items resampled multinomially, the whole fit repeated).
  Evidence: the systematic cells and the confusions with the largest excess, each with its
  count and uniform expectation; and a test of the uniform-noise null (chi-square statistic of
  the off-diagonal counts, Monte Carlo p-value).
- **Answers** (user field ``answer`` on both sides): mean length ratio generated/real (verbosity)
  and style differences (sentences, word length, list/markdown formatting), paired bootstrap.

Example:
    >>> gold = ["business"] * 50 + ["politics"] * 50 + ["sport"] * 50
    >>> made = ["politics"] * 20 + ["business"] * 30 + ["politics"] * 50 + ["sport"] * 50
    >>> r = generator_audit(gold, made)
    >>> round(r.accuracy, 3), r.top_confusions[0]["gold"], r.top_confusions[0]["generated"]
    (0.867, 'business', 'politics')
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scipy.stats import chi2, poisson

from tether.audit._stats import percentile_interval, wilson
from tether.errors import InputError
from tether.store import Store

_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")
_LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)]|#+)\s", re.MULTILINE)


@dataclass(frozen=True)
class GeneratorAuditResult:
    """How wrong the generator's labels are, and how (see the module docstring)."""

    n: int
    labels: list[str]
    accuracy: float
    accuracy_ci: list[float]
    confusion: dict[str, Any]
    per_class: dict[str, dict[str, Any]]
    label_skew: dict[str, Any]
    errors: int
    systematic_share: float
    systematic_share_ci: list[float]
    hard_error_rate: float
    hard_error_rate_ci: list[float]
    systematic_cells: list[dict[str, Any]]
    uniformity_test: dict[str, Any]
    top_confusions: list[dict[str, Any]]
    answers: dict[str, Any] | None
    matched_by: dict[str, int]
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _uniform_share(conf: np.ndarray) -> np.ndarray:
    """``u_ij``: where uniform noise at a class-independent rate puts its errors (zero diagonal,
    sums to 1 over the off-diagonal cells of classes present in gold)."""
    k = conf.shape[0]
    per_class = conf.sum(axis=1)
    return (per_class[:, None] / (per_class.sum() * (k - 1))) * (1 - np.eye(k))


def _fit_mixture(counts: np.ndarray, expected: np.ndarray,
                 alpha: float) -> tuple[float, np.ndarray]:
    """``(λ, systematic)`` for off-diagonal ``counts`` with uniform-noise ``expected`` (= E·u):
    λ scales the uniform part, fitted on the cells not flagged as systematic."""
    systematic = np.zeros(counts.size, dtype=bool)
    lam = 1.0
    for _ in range(counts.size + 1):
        quiet = ~systematic
        lam = float(counts[quiet].sum() / expected[quiet].sum()) if quiet.any() else 0.0
        flagged = poisson.sf(counts - 1, lam * expected) < alpha / counts.size
        if (flagged == systematic).all():
            break
        systematic = flagged
    return lam, systematic


def _stuart_maxwell(conf: np.ndarray) -> tuple[float, int, float]:
    """Stuart–Maxwell test that the row (gold) and column (generated) marginals are equal."""
    rows, cols = conf.sum(axis=1), conf.sum(axis=0)
    d = (rows - cols)[:-1].astype(float)
    s = -(conf + conf.T).astype(float)
    np.fill_diagonal(s, rows + cols - 2 * np.diag(conf))
    s = s[:-1, :-1]
    df = int(np.linalg.matrix_rank(s))
    if df == 0:
        return 0.0, 0, 1.0
    stat = float(d @ np.linalg.pinv(s) @ d)
    return stat, df, float(chi2.sf(stat, df))


def _entropy(p: np.ndarray) -> np.ndarray:
    k = p.shape[-1]
    logs = np.log(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis=-1) / np.log(k)


def _label_skew(conf: np.ndarray, draws: np.ndarray, labels: list[str]) -> dict[str, Any]:
    def stats_of(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = c.sum(axis=(-2, -1))[..., None]
        real, made = c.sum(axis=-1) / n, c.sum(axis=-2) / n
        return 0.5 * np.abs(real - made).sum(axis=-1), _entropy(made) - _entropy(real)

    tvd, balance = stats_of(conf)
    tvd_b, balance_b = stats_of(draws)
    stat, df, p = _stuart_maxwell(conf)
    n = conf.sum()
    return {
        "labels": labels,
        "real": (conf.sum(axis=1) / n).tolist(),
        "generated": (conf.sum(axis=0) / n).tolist(),
        "tvd": float(tvd), "tvd_ci": percentile_interval(tvd_b),
        "balance_real": float(_entropy(conf.sum(axis=1) / n)),
        "balance_generated": float(_entropy(conf.sum(axis=0) / n)),
        "balance_difference": float(balance), "balance_difference_ci": percentile_interval(balance_b),
        "statistic": stat, "df": df, "p_value": p,
        "method": ("total variation distance and normalised-entropy difference (generated − real) "
                   "with paired percentile bootstrap intervals; Stuart–Maxwell test of marginal "
                   "homogeneity"),
    }


def _per_class(conf: np.ndarray, labels: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for i, label in enumerate(labels):
        tp, support, predicted = int(conf[i, i]), int(conf[i].sum()), int(conf[:, i].sum())
        out[label] = {"support": support, "predicted": predicted,
                      "precision": tp / predicted if predicted else None,
                      "precision_ci": wilson(tp, predicted) if predicted else None,
                      "recall": tp / support if support else None,
                      "recall_ci": wilson(tp, support) if support else None}
    return out


def _style(answers: Sequence[str]) -> dict[str, np.ndarray]:
    words = [a.split() for a in answers]
    return {
        "words": np.array([len(w) for w in words], dtype=float),
        "sentences": np.array([max(1, len(_SENTENCE_END.findall(a.strip()))) if a.strip() else 0
                               for a in answers], dtype=float),
        "word_length": np.array([np.mean([len(x) for x in w]) if w else 0.0 for w in words]),
        "formatted": np.array([bool(_LIST_LINE.search(a)) or "**" in a for a in answers],
                              dtype=float),
    }


def _answers(real: Sequence[str | None], made: Sequence[str | None], n_boot: int,
             rng: np.random.Generator) -> dict[str, Any] | None:
    pairs = [(a, b) for a, b in zip(real, made) if a is not None and b is not None]
    if not pairs:
        return None
    real, made = [a for a, _ in pairs], [b for _, b in pairs]
    real_style, made_style = _style(real), _style(made)
    idx = rng.integers(0, len(real), size=(n_boot, len(real)))
    out: dict[str, Any] = {"n": len(real)}
    for name in real_style:
        a, b = real_style[name], made_style[name]
        entry = {"real": float(a.mean()), "generated": float(b.mean()),
                 "difference": float(b.mean() - a.mean()),
                 "difference_ci": percentile_interval(b[idx].mean(axis=1) - a[idx].mean(axis=1))}
        if name == "words":
            ratio_b = b[idx].mean(axis=1) / np.maximum(a[idx].mean(axis=1), 1e-12)
            entry["ratio"] = float(b.mean() / a.mean()) if a.mean() else None
            entry["ratio_ci"] = percentile_interval(ratio_b)
        out[name] = entry
    out["length_ratio"] = out["words"]["ratio"]
    out["length_ratio_ci"] = out["words"]["ratio_ci"]
    out["method"] = ("mean words per answer, generated/real, and mean style differences "
                     f"(sentences, word length, list/markdown share); paired percentile "
                     f"bootstrap over matched items ({n_boot} resamples)")
    return out


def generator_audit(
    gold: Sequence[str],
    generated: Sequence[str],
    *,
    gold_answers: Sequence[str | None] | None = None,
    generated_answers: Sequence[str | None] | None = None,
    matched_by: dict[str, int] | None = None,
    alpha: float = 0.05,
    n_boot: int = 1000,
    n_sim: int = 2000,
    top: int = 5,
    seed: int = 0,
) -> GeneratorAuditResult:
    """Audit generator labels ``generated`` against human labels ``gold`` of the same items.

    ``gold_answers``/``generated_answers`` (aligned, same items; None where an item has no
    answer) add the verbosity and style comparison. ``alpha`` is the family-wise level at which
    a confusion cell counts as systematic; ``n_sim`` draws give the Monte Carlo p-value of the
    uniform-noise test; ``n_boot`` resamples give the bootstrap intervals.
    """
    if len(gold) != len(generated):
        raise InputError(f"{len(gold)} gold labels but {len(generated)} generated ones")
    if not gold:
        raise InputError("no items labelled by both the humans and the generator")
    gold_s = [str(x) for x in gold]
    made_s = [str(x) for x in generated]
    labels = sorted(set(gold_s) | set(made_s))
    if len(labels) < 2:
        raise InputError("the generator audit needs at least two distinct labels", field="label")
    k, n = len(labels), len(gold_s)
    g = np.searchsorted(labels, gold_s)
    m = np.searchsorted(labels, made_s)
    conf = np.bincount(g * k + m, minlength=k * k).reshape(k, k)
    correct = int(np.trace(conf))
    errors = n - correct
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, (conf / n).reshape(-1), size=n_boot).reshape(n_boot, k, k)

    off = ~np.eye(k, dtype=bool)

    def fit(c: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(systematic share, systematic flags, fitted uniform expectation) of one matrix."""
        e = int(c[off].sum())
        expected = e * _uniform_share(c)[off]
        if e == 0:
            return 0.0, np.zeros(expected.size, dtype=bool), expected
        lam, flags = _fit_mixture(c[off], expected, alpha)
        if not flags.any():  # λ is 1 up to rounding
            return 0.0, flags, expected
        return min(1.0, max(0.0, 1.0 - lam)), flags, lam * expected

    share, flags, fitted = fit(conf)
    boot_share = np.array([fit(d)[0] for d in draws])
    boot_hard = (1 - boot_share) * draws[:, off].sum(axis=1) / n
    null_expected = errors * _uniform_share(conf)[off]
    test_cells = null_expected > 0
    if errors:
        null = rng.multinomial(errors, null_expected[test_cells] / errors, size=n_sim)
        chi_obs = float(((conf[off][test_cells] - null_expected[test_cells]) ** 2
                         / null_expected[test_cells]).sum())
        chi_null = ((null - null_expected[test_cells]) ** 2 / null_expected[test_cells]).sum(1)
        p_value = float((1 + (chi_null >= chi_obs).sum()) / (1 + n_sim))
    else:
        chi_obs, p_value = 0.0, 1.0
    cell_pairs = np.argwhere(off)

    def cell(at: int) -> dict[str, Any]:
        i, j = cell_pairs[at]
        return {"gold": labels[i], "generated": labels[j], "count": int(conf[i, j]),
                "expected_uniform": float(fitted[at]),
                "excess": float(conf[i, j] - fitted[at])}

    excess = conf[off] - fitted
    top_confusions = [cell(a) for a in np.argsort(-excess, kind="stable")[:top]
                      if conf[off][a] > 0]
    answers = None
    if gold_answers is not None and generated_answers is not None:
        answers = _answers(gold_answers, generated_answers, n_boot, rng)
    return GeneratorAuditResult(
        n=n, labels=labels, accuracy=correct / n, accuracy_ci=wilson(correct, n),
        confusion={"labels": labels, "matrix": conf.tolist(), "rows": "gold",
                   "columns": "generated"},
        per_class=_per_class(conf, labels),
        label_skew=_label_skew(conf, draws, labels),
        errors=errors, systematic_share=share, systematic_share_ci=percentile_interval(boot_share),
        hard_error_rate=(1 - share) * errors / n,
        hard_error_rate_ci=percentile_interval(boot_hard),
        systematic_cells=[cell(a) for a in np.flatnonzero(flags)],
        uniformity_test={"statistic": chi_obs, "p_value": p_value,
                         "method": f"chi-square statistic of off-diagonal counts against uniform "
                                   f"noise, Monte Carlo p-value ({n_sim} draws)"},
        top_confusions=top_confusions, answers=answers, matched_by=dict(matched_by or {}),
        method=("accuracy and per-class precision/recall with Wilson intervals; systematic share "
                "= 1 − λ, λ the weight of a uniform-noise component fitted on the confusion "
                "cells without significant excess (Poisson tail, Bonferroni, iterated); "
                f"percentile bootstrap intervals ({n_boot} multinomial resamples of the items)"))


def _answer(fields: str | None) -> str | None:
    if not fields:
        return None
    value = json.loads(fields).get("answer")
    return None if value is None else str(value)


def match_items(gold: Any, generated: Any) -> tuple[list[int], list[int], dict[str, int]]:
    """Pair rows of two Arrow tables: a generated row matches the gold row with its ``id``, else
    the one gold row among its ``parents`` (lineage). Returns gold indices, generated indices and
    how many pairs each rule made. Rows with an ambiguous or no match are left out.
    """
    gold_at = {i: n for n, i in enumerate(gold.column("id").to_pylist())}
    parents = (generated.column("parents").to_pylist() if "parents" in generated.schema.names
               else [[]] * generated.num_rows)
    gi, mi, by = [], [], {"id": 0, "lineage": 0}
    for n, (row_id, row_parents) in enumerate(zip(generated.column("id").to_pylist(), parents)):
        if row_id in gold_at:
            gi.append(gold_at[row_id])
            by["id"] += 1
        else:
            found = {gold_at[p] for p in row_parents or [] if p in gold_at}
            if len(found) != 1:
                continue
            gi.append(found.pop())
            by["lineage"] += 1
        mi.append(n)
    return gi, mi, by


def audit_generator(store: Store, gold: str, generated: str, **options: Any) -> GeneratorAuditResult:
    """Match ``generated`` to ``gold`` rows (:func:`match_items`), run :func:`generator_audit`
    on the pairs where both carry a label, and save the result (kind ``"generator"``).

    >>> from tether import Store
    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("gold", [{"id": str(i), "text": f"t{i}", "label": "ab"[i % 2]}
    ...                           for i in range(10)], origin="real", label_origin="real")
    ...     _ = s.ingest("made", [{"id": str(i), "text": f"t{i}", "label": "a"}
    ...                           for i in range(10)], origin="real", label_origin="synthetic",
    ...              family="model", generator="teacher@1")
    ...     audit_generator(s, "gold", "made").accuracy
    0.5
    """
    gold_t, made_t = store.table(gold), store.table(generated)
    gi, mi, by = match_items(gold_t, made_t)
    gold_labels = [gold_t.column("label")[i].as_py() for i in gi]
    made_labels = [made_t.column("label")[i].as_py() for i in mi]
    both = [j for j, (a, b) in enumerate(zip(gold_labels, made_labels))
            if a is not None and b is not None]
    if not both:
        raise InputError(f"no row of {generated!r} matches a labelled row of {gold!r} by id or "
                         "by lineage (parents)")
    gold_answers = [_answer(gold_t.column("fields")[gi[j]].as_py()) for j in both]
    made_answers = [_answer(made_t.column("fields")[mi[j]].as_py()) for j in both]
    result = generator_audit([gold_labels[j] for j in both], [made_labels[j] for j in both],
                             gold_answers=gold_answers, generated_answers=made_answers,
                             matched_by=by, **options)
    store.save_audit("generator", result.to_dict(),
                     {"gold": gold, "generated": generated, **options})
    return result
