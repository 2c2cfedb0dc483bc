"""Generator audit: the same real inputs labelled by humans (gold) and by the generator.

What it measures, each with its interval and method:

- **Accuracy** of the generator's labels against gold (Wilson interval), the confusion matrix,
  per-class precision and recall (Wilson intervals).
- **Label skew**: the generator's label distribution against the real one on the same items:
  total variation distance and the change in balance (normalised entropy) with paired bootstrap
  intervals, and the Stuart–Maxwell test of marginal homogeneity (the paired-data form of a
  chi-square goodness-of-fit test). A generator that is *balanced where reality is skewed* shows
  a higher normalised entropy than gold.
- **Bias slices.** A bias lives where errors concentrate in the input space, which a confusion
  matrix cannot locate (a two-class task has two off-diagonal cells). The candidate slices
  (:func:`candidate_slices`) are the gold classes, each value of a categorical user field,
  quantile bins of a numeric field and of text length, and k-means clusters of the inputs at a
  few granularities (TF-IDF → SVD features, or sentence embeddings). Each slice's error count is
  tested against the rest with a one-sided Fisher exact test (hypergeometric tail) and the
  p-values are Holm-corrected over all slices tested (family-wise level ``alpha``, valid under
  any dependence between overlapping slices). A significant slice is reported with its size,
  errors, error rate (Wilson interval), the rate outside it and its excess errors.
- **Systematic share vs hard mistakes.** ``slice_share``: let S be the union of the significant
  slices and r the error rate outside S; the errors in S beyond r·|S| (what a constant rate
  would have put there), over all errors. ``confusion_share`` (the earlier statistic): errors
  are modelled as a uniform-noise part (each item of gold class *i* goes wrong at one
  class-independent rate and lands on each other class alike, ``λ·E·u_ij`` errors in cell
  (i, j≠i), ``u_ij = n_i / (N (K − 1))``) plus a systematic part concentrated in a few cells; a
  cell is systematic when its count is improbably high under the uniform part (Poisson upper
  tail, Bonferroni over the cells), λ is fitted on the other cells and flags and λ are iterated
  to a fixed point; ``confusion_share = 1 − λ``. It sees errors that pile onto one wrong class,
  which slices of the inputs cannot. ``systematic_share`` = the larger of the two (each is a
  share of the errors that a constant, class-independent error rate does not explain) and
  ``hard_error_rate = (1 − systematic_share)·E/N``. Pure uniform noise gives 0; errors all in one
  slice or one confusion give 1. Intervals: percentile bootstrap (items resampled
  multinomially, slice tests and mixture fit repeated on each draw). Evidence: the significant
  slices, the systematic cells and the confusions with the largest excess, and a test of the
  uniform-noise null (chi-square statistic of the off-diagonal counts, Monte Carlo p-value).
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.stats import chi2, hypergeom, poisson
from threadpoolctl import threadpool_limits

from tether.audit._load import from_json, made_by, plain
from tether.audit.features import embed
from tether.errors import InputError
from tether.results import Result
from tether.stats import Interval, percentile, wilson
from tether.store import Store

_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")
_LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)]|#+)\s", re.MULTILINE)


@dataclass(frozen=True)
class GeneratorAuditResult(Result):
    """How wrong the generator's labels are, and how (see the module docstring)."""

    n: int
    labels: list[str]
    accuracy: float
    accuracy_ci: Interval = field(metadata=made_by("wilson"))
    confusion: dict[str, Any]
    per_class: dict[str, dict[str, Any]]
    label_skew: dict[str, Any]
    errors: int
    systematic_share: float
    systematic_share_ci: Interval = field(metadata=made_by("percentile"))
    slice_share: float
    slice_share_ci: Interval = field(metadata=made_by("percentile"))
    confusion_share: float
    confusion_share_ci: Interval = field(metadata=made_by("percentile"))
    hard_error_rate: float
    hard_error_rate_ci: Interval = field(metadata=made_by("percentile"))
    slices: list[dict[str, Any]]
    slices_tested: int
    systematic_cells: list[dict[str, Any]]
    uniformity_test: dict[str, Any]
    top_confusions: list[dict[str, Any]]
    answers: dict[str, Any] | None
    matched_by: dict[str, int]
    method: str

    from_dict = classmethod(from_json)

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


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


_MAX_VALUES = 30  # categorical values tested per field (the most frequent)
_BINS = 5  # quantile bins of a numeric field or of text length


def _bins(values: np.ndarray, name: str) -> list[tuple[str, np.ndarray]]:
    """Quantile bins of a numeric array (nan = missing) as ``(definition, members)``."""
    known = np.isfinite(values)
    edges = np.unique(np.quantile(values[known], np.linspace(0, 1, _BINS + 1))) if known.any() \
        else np.array([])
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        last = hi == edges[-1]
        members = known & (values >= lo) & ((values <= hi) if last else (values < hi))
        out.append((f"{name} in [{lo:g}, {hi:g}{']' if last else ')'}", members))
    if (~known).any():
        out.append((f"{name} missing", ~known))
    return out


def _field_slices(name: str, values: Sequence[Any]) -> list[tuple[str, np.ndarray]]:
    """One slice per frequent value of a categorical field, quantile bins of a numeric one."""
    scalar = [v for v in values if v is not None]
    if scalar and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scalar) \
            and len(set(scalar)) > _BINS:
        return _bins(np.array([np.nan if v is None else v for v in values], dtype=float), name)
    keys = np.array(["\0missing" if v is None else
                     json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else str(v)
                     for v in values])
    distinct, counts = np.unique(keys, return_counts=True)
    return [(f"{name} missing" if v == "\0missing" else f"{name} = {v}", keys == v)
            for v in distinct[np.argsort(-counts, kind="stable")][:_MAX_VALUES]]


def _cluster_slices(texts: list[str], embedding: str | np.ndarray, n: int, min_size: int,
                    seed: int) -> list[tuple[str, np.ndarray]]:
    """k-means clusters of the inputs at a few granularities (k = 4, 8, 16, 32, 64, as many
    as leave clusters of about ``2·min_size`` items), each named by its most over-represented
    words."""
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import CountVectorizer

    ks = [k for k in (4, 8, 16, 32, 64) if k * 2 * min_size <= n]
    if not ks:
        return []
    Z = (np.asarray(embedding, dtype=np.float32) if not isinstance(embedding, str)
         else embed(texts, method=embedding, seed=seed))
    if Z.shape[0] != n:
        raise InputError(f"the embedding has {Z.shape[0]} rows for {n} items", field="embedding")
    try:
        words = CountVectorizer(stop_words="english", binary=True, min_df=2,
                                max_features=20_000)
        present, vocab = words.fit_transform(texts), words.get_feature_names_out()
        share_all = np.asarray(present.mean(axis=0)).ravel()
    except ValueError:  # no word occurs twice
        present = None
    out = []
    with threadpool_limits(1 if n < 20_000 else None):  # threads only slow small fits down
        for k in ks:
            assign = KMeans(k, n_init=3, random_state=seed).fit_predict(Z)
            for c in range(k):
                members = assign == c
                terms = ""
                if present is not None:
                    lift = np.asarray(present[members].mean(axis=0)).ravel() - share_all
                    terms = ": " + ", ".join(vocab[np.argsort(-lift)[:4]])
                out.append((f"cluster {c + 1} of {k}{terms}", members))
    return out


def candidate_slices(gold: Sequence[str], *, texts: Sequence[str | None] | None = None,
                     fields: Mapping[str, Sequence[Any]] | None = None,
                     embedding: str | np.ndarray | None = "svd", min_size: int = 10,
                     seed: int = 0) -> list[tuple[str, str, np.ndarray]]:
    """The regions of the input space the generator audit tests: ``(kind, definition,
    members)`` with ``members`` a boolean mask over the items, for the gold label, each user
    field, text length (words, quantile bins) and k-means clusters of the texts (``embedding``:
    ``"svd"`` for :func:`tether.audit.features.svd_embedding`, ``"minilm"`` for sentence
    embeddings, an array of one row per item, or None for no clusters). Slices with fewer than
    ``min_size`` items, or fewer than ``min_size`` outside, are left out.

    >>> [d for _, d, _ in candidate_slices(["a"] * 12 + ["b"] * 12, embedding=None)]
    ['gold label = a', 'gold label = b']
    """
    n = len(gold)
    out = [("gold label", d, m) for d, m in _field_slices("gold label", list(gold))]
    for name, values in (fields or {}).items():
        if len(values) != n:
            raise InputError(f"field {name!r} has {len(values)} values for {n} items", field=name)
        out += [("field", d, m) for d, m in _field_slices(name, values)]
    if texts is not None and any(texts):
        texts = [t or "" for t in texts]
        lengths = np.array([len(t.split()) for t in texts], dtype=float)
        out += [("length", d, m) for d, m in _bins(lengths, "length (words)")]
        if embedding is not None:
            out += [("cluster", d, m)
                    for d, m in _cluster_slices(texts, embedding, n, min_size, seed)]
    return [(kind, d, m) for kind, d, m in out if min_size <= m.sum() <= n - min_size]


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values along the last axis (family-wise error control under
    any dependence between the tests).

    >>> holm(np.array([0.01, 0.04, 0.03])).tolist()
    [0.03, 0.06, 0.06]
    """
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * (m - np.arange(m))
    adjusted = np.minimum(1.0, np.maximum.accumulate(ranked, axis=-1))
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return out


def _slice_fit(M: sp.csr_matrix, err: np.ndarray, w: np.ndarray,
               alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For slice memberships ``M`` (slices × items) and item weights ``w`` (rows: one weighting
    each; 1 = the data, multinomial counts = a bootstrap draw): the one-sided Fisher p-value of
    each slice against the rest, its Holm adjustment, and the share of errors the union of the
    significant slices holds beyond the error rate outside it."""
    w = np.atleast_2d(w).astype(float)
    we = w * err
    n_s, e_s = (M @ w.T).T, (M @ we.T).T
    N, E = w.sum(axis=1, keepdims=True), we.sum(axis=1, keepdims=True)
    p = hypergeom.sf(e_s - 1, N, E, n_s) if M.shape[0] else np.ones((w.shape[0], 0))
    adjusted = holm(p)
    union = (M.T @ (adjusted < alpha).T.astype(float)).T > 0
    n_u, e_u = (w * union).sum(axis=1), (we * union).sum(axis=1)
    rest = N[:, 0] - n_u
    rest_rate = np.where(rest > 0, (E[:, 0] - e_u) / np.maximum(rest, 1), 0.0)
    share = np.where(E[:, 0] > 0, (e_u - n_u * rest_rate) / np.maximum(E[:, 0], 1), 0.0)
    return p, adjusted, np.clip(share, 0.0, 1.0)


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
        "tvd": float(tvd), "tvd_ci": percentile(tvd_b),
        "balance_real": float(_entropy(conf.sum(axis=1) / n)),
        "balance_generated": float(_entropy(conf.sum(axis=0) / n)),
        "balance_difference": float(balance), "balance_difference_ci": percentile(balance_b),
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
                 "difference_ci": percentile(b[idx].mean(axis=1) - a[idx].mean(axis=1))}
        if name == "words":
            ratio_b = b[idx].mean(axis=1) / np.maximum(a[idx].mean(axis=1), 1e-12)
            entry["ratio"] = float(b.mean() / a.mean()) if a.mean() else None
            entry["ratio_ci"] = percentile(ratio_b)
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
    texts: Sequence[str | None] | None = None,
    fields: Mapping[str, Sequence[Any]] | None = None,
    embedding: str | np.ndarray | None = "svd",
    min_slice: int = 10,
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

    ``texts`` (the inputs) and ``fields`` (user fields: name → one value per item) define the
    bias slices (:func:`candidate_slices`; ``embedding`` and ``min_slice`` are passed on).
    ``gold_answers``/``generated_answers`` (aligned, same items; None where an item has no
    answer) add the verbosity and style comparison. ``alpha`` is the family-wise level at which
    a slice or a confusion cell counts as systematic; ``n_sim`` draws give the Monte Carlo
    p-value of the uniform-noise test; ``n_boot`` resamples give the bootstrap intervals.
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
    if texts is not None and len(texts) != len(gold_s):
        raise InputError(f"{len(texts)} texts for {len(gold_s)} items", field="text")
    k, n = len(labels), len(gold_s)
    g = np.searchsorted(labels, gold_s)
    m = np.searchsorted(labels, made_s)
    cell_of = g * k + m
    conf = np.bincount(cell_of, minlength=k * k).reshape(k, k)
    correct = int(np.trace(conf))
    errors = n - correct
    err = (g != m).astype(float)
    rng = np.random.default_rng(seed)
    found = candidate_slices(gold_s, texts=texts, fields=fields, embedding=embedding,
                             min_size=min_slice, seed=seed)
    rows = [np.flatnonzero(members) for _, _, members in found]
    M = sp.csr_matrix((np.ones(sum(r.size for r in rows)),
                       np.concatenate(rows) if rows else np.zeros(0, dtype=int),
                       np.cumsum([0] + [r.size for r in rows])), shape=(len(found), n))
    p_slice, p_adjusted, slice_share = (a[0] for a in _slice_fit(M, err, np.ones(n), alpha))
    slice_share = float(slice_share)
    # item-level bootstrap: every draw reweights the items, so confusion and slices move together
    onehot = sp.csr_matrix((np.ones(n), (np.arange(n), cell_of)), shape=(n, k * k))
    draws, boot_slice = np.empty((n_boot, k, k)), np.empty(n_boot)
    step = max(1, 2_000_000 // n)
    for start in range(0, n_boot, step):
        w = rng.multinomial(n, np.full(n, 1 / n), size=min(step, n_boot - start)).astype(float)
        draws[start:start + w.shape[0]] = (onehot.T @ w.T).T.reshape(-1, k, k)
        boot_slice[start:start + w.shape[0]] = _slice_fit(M, err, w, alpha)[2]

    off = ~np.eye(k, dtype=bool)

    def fit(c: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(confusion share, systematic flags, fitted uniform expectation) of one matrix."""
        e = int(c[off].sum())
        expected = e * _uniform_share(c)[off]
        if e == 0:
            return 0.0, np.zeros(expected.size, dtype=bool), expected
        lam, flags = _fit_mixture(c[off], expected, alpha)
        if not flags.any():  # λ is 1 up to rounding
            return 0.0, flags, expected
        return min(1.0, max(0.0, 1.0 - lam)), flags, lam * expected

    confusion_share, flags, fitted = fit(conf)
    boot_confusion = np.array([fit(d)[0] for d in draws])
    share = max(slice_share, confusion_share)
    boot_share = np.maximum(boot_slice, boot_confusion)
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

    def bias_slice(at: int) -> dict[str, Any]:
        kind, definition, members = found[at]
        size, wrong = int(members.sum()), int(err[members].sum())
        rest = (errors - wrong) / (n - size)
        return {"kind": kind, "definition": definition, "size": size, "errors": wrong,
                "error_rate": wrong / size, "error_rate_ci": wilson(wrong, size),
                "rest_error_rate": rest, "excess_errors": wrong - size * rest,
                "p_value": float(p_slice[at]), "p_adjusted": float(p_adjusted[at])}

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
        errors=errors, systematic_share=share, systematic_share_ci=percentile(boot_share),
        slice_share=slice_share, slice_share_ci=percentile(boot_slice),
        confusion_share=confusion_share, confusion_share_ci=percentile(boot_confusion),
        hard_error_rate=(1 - share) * errors / n,
        hard_error_rate_ci=percentile(boot_hard),
        slices=[bias_slice(a) for a in np.argsort(p_slice, kind="stable")
                if p_adjusted[a] < alpha],
        slices_tested=len(found),
        systematic_cells=[cell(a) for a in np.flatnonzero(flags)],
        uniformity_test={"statistic": chi_obs, "p_value": p_value,
                         "method": f"chi-square statistic of off-diagonal counts against uniform "
                                   f"noise, Monte Carlo p-value ({n_sim} draws)"},
        top_confusions=top_confusions, answers=answers, matched_by=dict(matched_by or {}),
        method=("accuracy and per-class precision/recall with Wilson intervals; bias slices "
                f"({len(found)} tested: gold label, user fields, length bins, k-means clusters "
                f"of the inputs; at least {min_slice} items) with a one-sided Fisher exact test "
                f"against the rest, Holm-corrected at {alpha}; slice share = errors in the "
                "union of significant slices beyond the error rate outside it, over all "
                "errors; confusion share = 1 − λ, λ the weight of a uniform-noise component "
                "fitted on the confusion cells without significant excess (Poisson tail, "
                "Bonferroni, iterated); systematic share = the larger of the two; percentile "
                f"bootstrap intervals ({n_boot} multinomial resamples of the items, the whole "
                "fit repeated)"))


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


def _inputs(gold: Any, rows: list[int]) -> tuple[list[str | None], dict[str, list[Any]]]:
    """The texts and the user fields (except ``answer``) of the gold rows ``rows``."""
    texts = gold.column("text").take(rows).to_pylist()
    records = [json.loads(f) if f else {} for f in gold.column("fields").take(rows).to_pylist()]
    names = sorted({k for r in records for k in r} - {"answer"})
    return texts, {k: [r.get(k) for r in records] for k in names}


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
    texts, fields = _inputs(gold_t, [gi[j] for j in both])
    result = generator_audit([gold_labels[j] for j in both], [made_labels[j] for j in both],
                             texts=texts, fields=fields,
                             gold_answers=gold_answers, generated_answers=made_answers,
                             matched_by=by, **options)
    store.save_result(result,
                     {"gold": gold, "generated": generated, **options})
    return result
