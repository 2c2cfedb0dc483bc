"""Domain mirage: how far synthetic text is from real text, and what gives it away.

Two views. A profile compares per-text statistics of both sides (:mod:`tether.audit.profile`).
A classifier two-sample test (Lopez-Paz & Oquab, 2017) trains a classifier to tell real from
synthetic: its out-of-fold AUC is 0.5 when the sides are indistinguishable.

The features are hashed word 1-2-gram and character 3-5-gram TF-IDF. Up to ``exact_max`` samples
the classifier is a ridge (least-squares) linear classifier solved exactly in dual form:
one Cholesky factorisation per fold serves the observed labels and every permutation at once, so
a 100-permutation test costs little more than the observed fit (written here rather than calling
scikit-learn per permutation, which is ~100x slower). The permutation p-value permutes the
real/synthetic labels within each fold of a fixed stratified partition — a valid permutation
group, since under the null every row is exchangeable — and recomputes the out-of-fold AUC:
p = (1 + #{permuted AUC ≥ observed}) / (1 + permutations). Above ``exact_max`` samples the
observed AUC comes from an L2 logistic regression fitted by averaged SGD (a fixed budget of
row visits: 20 epochs at 16,000 rows, never fewer than 12), its penalty chosen by a 4-fold inner
cross-validation on at most 16,000 of the first fold's training rows and rescaled to the size of
the outer fits (``benchmarks/bench_c2st_power.py`` compares it with a tuned bare classifier
and a plain word-n-gram one on three kinds of shift); the permutation test, which would need
a hundred such fits, runs the exact ridge on a stratified subsample of ``exact_max`` rows
(still a valid p-value; the method string says so). The AUC interval is DeLong's.

Synthetic samples derived from real samples of the comparison (a perturbation next to its own
seed) share their parent's fold: otherwise the classifier meets each child's near-copy in
training, labelled real, and the AUC falls below 0.5 however visible the perturbation is.

Exact copies shared by the two sides (the same text, or the same numeric row) do the same: the
classifier learns each copy under both labels and the AUC drops well below 0.5 (two identical
sides read ~0.02). The result counts them (``shared_exact``, distinct texts or rows found on
both sides) and says so in ``warnings``: such an AUC reflects copies, not a difference.

The two-sample test reads at most ``max_rows`` texts of each side (default 100,000, a
seeded random sample of a larger side; the profile reads all): its n-gram matrix grows with
the rows, and 1M texts a side (17.7 GB and rising) did not fit in this 23 GB machine, while
at 100k a side the AUC's standard error is already about 0.001.

Example:
    >>> real = [f"the market rose {i} points today" for i in range(60)]
    >>> synthetic = [f"As an AI, the market rose {i} points today!" for i in range(60)]
    >>> r = mirage(real, synthetic, permutations=20)
    >>> r.c2st_auc > 0.9, r.p_value < 0.05
    (True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from scipy import linalg, stats
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from tether.audit._load import field_params, from_json, load_pair, made_by
from tether.audit.features import embed, ngram_matrix, ngram_names, small_blas
from tether.audit.profile import ProfileComparison, compare_arrays, compare_profiles
from tether.errors import InputError
from tether.results import Result
from tether.stats import Interval, auc_interval, delong
from tether.store import Store

Progress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class C2ST:
    """A classifier two-sample test: out-of-fold AUC (synthetic scored above real), its DeLong
    interval, a permutation p-value and the one-sided DeLong p-value, the out-of-fold scores
    and the classifier's mean weights per feature."""

    auc: float
    auc_ci: Interval
    p_value: float
    p_delong: float
    permutations: int
    scores: np.ndarray = field(repr=False)
    coef: np.ndarray = field(repr=False)
    method: str


def _within_fold_permutations(y: np.ndarray, fold: np.ndarray, permutations: int,
                              rng: np.random.Generator) -> np.ndarray:
    """Columns: ``y`` then ``permutations`` copies of ``y`` shuffled within each fold."""
    Y = np.empty((y.size, permutations + 1))
    Y[:, 0] = y
    for f in np.unique(fold):
        idx = np.flatnonzero(fold == f)
        order = np.argsort(rng.random((idx.size, permutations)), axis=0)
        Y[idx, 1:] = y[idx][order]
    return Y


def _aucs(S: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """AUC of each column of scores ``S`` for the positive rows of the same column of ``Y``."""
    pos = Y > 0
    m = pos[:, 0].sum()
    n = S.shape[0] - m
    ranks = stats.rankdata(S, axis=0)
    return ((ranks * pos).sum(axis=0) - m * (m + 1) / 2) / (m * n)


def gram(X: Any) -> np.ndarray:
    """The linear kernel ``X @ X.T`` as a dense float array."""
    K = X @ X.T
    return (K.toarray() if sp.issparse(K) else np.asarray(K)).astype(float)


def _dual_ridge(X: Any, K: np.ndarray, Y: np.ndarray, fold: np.ndarray, ridge: float,
                progress: Progress | None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold scores of kernel ridge (linear kernel ``K`` + a constant feature) for every
    column of ``Y``, and the mean primal weights of column 0."""
    K = K + 1.0
    S = np.empty_like(Y)
    coef = np.zeros(X.shape[1])
    folds = np.unique(fold)
    with small_blas(K.shape[0]):
        for i, f in enumerate(folds):
            tr, te = fold != f, fold == f
            K_tr = K[np.ix_(tr, tr)]
            K_tr[np.diag_indices_from(K_tr)] += ridge
            factor = linalg.cho_factor(K_tr, overwrite_a=True)
            A = linalg.cho_solve(factor, Y[tr])
            S[te] = K[np.ix_(te, tr)] @ A
            coef += np.asarray(X[tr].T @ A[:, 0]).ravel() / folds.size
            if progress is not None:
                progress(i + 1, folds.size)
    return S, coef


#: L2 penalties (per sample) the large-sample logistic regression chooses from, on the tuning
#: subsample; the one chosen is rescaled to the size of the outer fits (see _tuned_logistic)
ALPHAS = (3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6)
_TUNE_MAX = 16_000  # training rows of a fold the penalty is chosen on (inner 4-fold CV)
_VISITS = 320_000  # rows one SGD fit visits: 20 epochs of 16,000 rows ...
#: ... and never fewer epochs than this: at 100k per side 4 epochs read 0.9280 ± 0.0013 on 1%
#: typos against a tuned bare LR's 0.9354 (−5.6 SE); 12 read 0.9363 (benchmarks/README.md)
_MIN_EPOCHS = 12


def _fit_scores(X: Any, y: np.ndarray, fit_at: np.ndarray, score_at: np.ndarray, alpha: float,
                seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores of ``score_at`` rows and weights of an L2 logistic regression fitted by averaged
    SGD on ``fit_at`` rows: ``_VISITS`` row visits (12 to 20 epochs), the average taken from the
    second epoch on (the first epoch's large steps would otherwise weigh on it)."""
    n = int(np.count_nonzero(fit_at)) if fit_at.dtype == bool else fit_at.size
    model = SGDClassifier(loss="log_loss", alpha=alpha, max_iter=int(np.clip(-(-_VISITS // n),
                          _MIN_EPOCHS, 20)), tol=None, average=n, random_state=seed)
    model.fit(X[fit_at], y[fit_at])
    return model.decision_function(X[score_at]), model.coef_.ravel()


def _tuned_logistic(X: Any, y: np.ndarray, fold: np.ndarray, seed: int,
                    progress: Progress | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Out-of-fold scores of an L2 logistic regression fitted by averaged SGD
    (:func:`_fit_scores`), its mean weights, and how its penalty was chosen.

    The penalty is the one of :data:`ALPHAS` with the best mean AUC over a stratified 4-fold
    split of (at most ``_TUNE_MAX`` of) the first fold's training rows, rescaled by the ratio of
    the tuning fits' rows to the outer fits' rows: the total penalty (per-sample penalty × rows)
    is what carries over between sizes, as for ridge regression: at 100k per side the tuned
    3e-6 becomes 2.25e-7 on the typos shift, where 3e-6 itself scores 0.034 AUC below 3e-7
    (``benchmarks/bench_c2st_power.py``). The grid reaches 3e-4 for shifts of topic, which the
    character n-grams dilute: at 10k per side 3e-4 scores 0.561 where 3e-5 scores 0.536. One
    penalty serves every fold, so the pooled out-of-fold scores share a scale (a penalty per
    fold would mix scales and lower the pooled AUC). From 20,000 rows on, the fits run on
    threads (SGD releases the GIL), one per core."""
    folds = np.unique(fold)
    tr = np.flatnonzero(fold != folds[0])
    sub = np.random.default_rng(seed).permutation(tr)[:_TUNE_MAX]
    inner = [(sub[a], sub[b]) for a, b in StratifiedKFold(4, shuffle=True, random_state=seed)
             .split(np.zeros(sub.size), y[sub])]
    with Parallel(n_jobs=-1 if y.size >= 20_000 else 1, prefer="threads") as run:
        val = run(delayed(_fit_scores)(X, y, a, b, alpha, seed)
                  for a, b in inner for alpha in ALPHAS)
        val_auc = np.mean([[_aucs(val[i * len(ALPHAS) + j][0][:, None], y[b, None])[0]
                            for j in range(len(ALPHAS))] for i, (_, b) in enumerate(inner)], 0)
        chosen = ALPHAS[int(np.argmax(val_auc))]
        alpha = chosen * inner[0][0].size / tr.size
        scores = np.empty(y.size)
        coef = np.zeros(X.shape[1])
        fits = run(delayed(_fit_scores)(X, y, fold != f, fold == f, alpha, seed) for f in folds)
        for i, (f, (s, c)) in enumerate(zip(folds, fits)):
            scores[fold == f] = s
            coef += c / folds.size
            if progress is not None:
                progress(i + 1, folds.size)
    grid = ", ".join(f"{a:g}" for a in ALPHAS)
    return scores, coef, (f"penalty {alpha:.3g}: {chosen:g} chosen from {grid} by 4-fold inner "
                          f"cross-validation on {sub.size:,} of the first fold's training rows, "
                          f"x {inner[0][0].size:,}/{tr.size:,} rows")


def c2st(X: Any, is_synthetic: Sequence[bool], *, folds: int = 5, permutations: int = 100,
         ridge: float = 1.0, exact_max: int = 4000, seed: int = 0,
         kernel: np.ndarray | None = None, groups: Sequence[Any] | None = None,
         progress: Progress | None = None) -> C2ST:
    """Classifier two-sample test on a feature matrix (sparse or dense, one row per sample).

    Samples with the same ``groups`` value are kept in one fold (a child with its parent).

    ``kernel`` may give ``gram(X)`` precomputed (e.g. sliced from the kernel of a larger pool in
    a simulation); it is used only on the exact path.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(0, 1, (100, 3)), rng.normal(0.8, 1, (100, 3))]
        >>> t = c2st(X, [False] * 100 + [True] * 100, permutations=50)
        >>> t.auc > 0.8, t.p_value == 1 / 51
        (True, True)
    """
    y = np.where(np.asarray(is_synthetic, dtype=bool), 1.0, -1.0)
    n_syn, n_real = int((y > 0).sum()), int((y < 0).sum())
    if min(n_syn, n_real) < folds:
        raise InputError(f"the two-sample test needs at least {folds} samples per side "
                         f"(got {n_real} real, {n_syn} synthetic)")
    rng = np.random.default_rng(seed)
    fold = np.empty(y.size, dtype=int)
    splitter = (StratifiedKFold(folds, shuffle=True, random_state=seed) if groups is None else
                StratifiedGroupKFold(folds, shuffle=True, random_state=seed))
    for f, (_, te) in enumerate(splitter.split(np.zeros(y.size), y, groups)):
        fold[te] = f
    model = (f"ridge linear classifier (alpha={ridge}), {folds}-fold stratified "
             f"{'group ' if groups is not None else ''}out-of-fold AUC")
    if y.size <= exact_max:
        Y = _within_fold_permutations(y, fold, permutations, rng)
        S, coef = _dual_ridge(X, gram(X) if kernel is None else kernel, Y, fold, ridge, progress)
        scores, aucs = S[:, 0], _aucs(S, Y)
        model += ", solved exactly in dual form"
        p_method = f"permutation p-value ({permutations} label permutations within folds)"
    else:
        scores, coef, penalty = _tuned_logistic(X, y, fold, seed, progress)
        take = np.sort(np.concatenate([
            rng.choice(np.flatnonzero(y == side), round(exact_max * np.mean(y == side)),
                       replace=False) for side in (-1.0, 1.0)]))
        Y = _within_fold_permutations(y[take], fold[take], permutations, rng)
        S, _ = _dual_ridge(X[take], gram(X[take]), Y, fold[take], ridge, None)
        aucs = _aucs(S, Y)
        model = (f"L2 logistic regression fitted by averaged SGD ({penalty}), {folds}-fold "
                 f"stratified {'group ' if groups is not None else ''}out-of-fold AUC")
        p_method = (f"permutation p-value ({permutations} label permutations within folds) of "
                    f"the ridge linear classifier (alpha={ridge}, exact dual form) on a "
                    f"stratified subsample of {take.size} (its AUC {aucs[0]:.3f})")
    auc, se = delong(scores[y > 0], scores[y < 0])
    p_delong = float(stats.norm.sf((auc - 0.5) / se)) if se > 0 else float(auc <= 0.5)
    if permutations > 0:
        p_value = float((1 + np.sum(aucs[1:] >= aucs[0])) / (1 + permutations))
    else:
        p_value, p_method = p_delong, "one-sided DeLong p-value (no permutations)"
    return C2ST(auc=auc, auc_ci=auc_interval(auc, se), p_value=p_value, p_delong=p_delong,
                permutations=permutations, scores=scores, coef=coef,
                method=f"classifier two-sample test (Lopez-Paz & Oquab): {model}, DeLong "
                       f"interval; {p_method}")


@dataclass(frozen=True)
class MirageResult(Result):
    """The mirage audit. ``to_dict()`` is the ``tether audit mirage --json`` contract."""

    c2st_auc: float
    auc_ci: Interval = field(metadata=made_by("delong"))
    p_value: float
    p_value_delong: float
    n_real: int
    n_synthetic: int
    top_features: list[dict[str, Any]]
    most_synthetic: list[str]
    least_covered_real: list[str]
    profile: ProfileComparison | None
    features: str
    method: str
    shared_exact: int = 0
    warnings: tuple[str, ...] = ()
    field: str = "text"

    from_dict = classmethod(from_json)

    def to_dict(self) -> dict[str, Any]:
        return {"c2st_auc": self.c2st_auc, "auc_ci": self.auc_ci.to_dict(), "p_value": self.p_value,
                "p_value_delong": self.p_value_delong, "n_real": self.n_real,
                "n_synthetic": self.n_synthetic, "top_features": self.top_features,
                "most_synthetic": self.most_synthetic,
                "least_covered_real": self.least_covered_real,
                "profile": self.profile.to_dict() if self.profile is not None else None,
                "features": self.features, "method": self.method,
                "shared_exact": self.shared_exact, "warnings": list(self.warnings),
                "field": self.field}


def _ids(ids: Sequence[str] | None, n: int, prefix: str) -> list[str]:
    if ids is None:
        return [f"{prefix}{i}" for i in range(n)]
    if len(ids) != n:
        raise InputError(f"{len(ids)} ids for {n} samples")
    return [str(i) for i in ids]


def _result(test: C2ST, n_real: int, rid: list[str], sid: list[str],
            top_features: list[dict[str, Any]], profile: ProfileComparison | None,
            features: str, top: int, shared: int = 0) -> MirageResult:
    warnings = (f"{shared:,} texts appear on both sides; AUC below 0.5 reflects copies, not a "
                f"difference",) if shared else ()
    if shared and features == "numeric columns":
        warnings = (warnings[0].replace("texts", "rows"),)
    real_scores, syn_scores = test.scores[:n_real], test.scores[n_real:]
    return MirageResult(
        c2st_auc=test.auc, auc_ci=test.auc_ci, p_value=test.p_value, p_value_delong=test.p_delong,
        n_real=n_real, n_synthetic=len(sid), top_features=top_features,
        most_synthetic=[sid[i] for i in np.argsort(-syn_scores, kind="stable")[:top]],
        least_covered_real=[rid[i] for i in np.argsort(real_scores, kind="stable")[:top]],
        profile=profile, features=features,
        method=test.method + "; most_synthetic: synthetic samples with the highest out-of-fold "
               "score; least_covered_real: real samples with the lowest",
        shared_exact=shared, warnings=warnings)


#: texts of each side the two-sample test reads at most (``max_rows``; see the module docstring)
MAX_ROWS = 100_000


def mirage(real: Sequence[str], synthetic: Sequence[str], *,
           real_ids: Sequence[str] | None = None, synthetic_ids: Sequence[str] | None = None,
           real_labels: Sequence[Any] | None = None,
           synthetic_labels: Sequence[Any] | None = None,
           synthetic_parents: Sequence[str | None] | None = None, features: str = "ngrams",
           permutations: int = 100, folds: int = 5, top: int = 20, seed: int = 0,
           max_rows: int | None = MAX_ROWS, progress: Progress | None = None) -> MirageResult:
    """Profile comparison and classifier two-sample test of real against synthetic texts.

    ``synthetic_parents`` (a real id per synthetic sample, or None) keeps each child in its
    parent's fold. The test reads at most ``max_rows`` texts of each side (a seeded random
    sample of a larger side; None: all), the profile all of them.

    ``features``: ``"ngrams"`` (hashed word and character n-gram TF-IDF) or ``"minilm"``
    (sentence embeddings, the ``embed`` extra). See the module docstring for the method.
    """
    if max_rows is not None and max_rows < folds:
        raise InputError(f"max_rows must be at least folds ({folds}), or None for all (0 on "
                         f"the command line), got {max_rows}", field="max_rows")
    real, synthetic = [t or "" for t in real], [t or "" for t in synthetic]
    rid, sid = _ids(real_ids, len(real), "real-"), _ids(synthetic_ids, len(synthetic), "synthetic-")
    profile = compare_profiles(real, synthetic, real_labels=real_labels,
                               synthetic_labels=synthetic_labels)
    shared = len({t for t in real if t} & {t for t in synthetic if t})
    counts = (len(real), len(synthetic))
    rng = np.random.default_rng([seed, 7])
    keep_real, keep_syn = (np.sort(rng.choice(n, max_rows, replace=False))
                           if max_rows is not None and n > max_rows else None for n in counts)
    if keep_real is not None:
        real, rid = [real[i] for i in keep_real], [rid[i] for i in keep_real]
    if keep_syn is not None:
        synthetic, sid = [synthetic[i] for i in keep_syn], [sid[i] for i in keep_syn]
        if synthetic_parents is not None:
            synthetic_parents = [synthetic_parents[i] for i in keep_syn]
    texts = real + synthetic
    if features == "ngrams":
        X = ngram_matrix(texts)
    elif features == "minilm":
        X = embed(texts, method="minilm")
    else:
        raise InputError(f"unknown features {features!r}; expected ngrams or minilm",
                         field="features")
    groups = None
    if synthetic_parents is not None:
        known = set(rid)
        groups = rid + [p if p in known else f"synthetic:{i}"
                        for i, p in zip(sid, synthetic_parents)]
    test = c2st(X, np.arange(len(texts)) >= len(real), folds=folds, permutations=permutations,
                seed=seed, groups=groups, progress=progress)
    order = np.argsort(-test.coef, kind="stable")[:top]
    if features == "ngrams":
        giveaway = np.argsort(-test.scores[len(real):])[:2000]
        names = ngram_names(order, (synthetic[i] for i in giveaway))
        top_features = [{"feature": " | ".join(names[c]) or f"hash:{c}",
                         "weight": float(test.coef[c])} for c in order if test.coef[c] > 0]
    else:
        top_features = [{"feature": f"dim:{c}", "weight": float(test.coef[c])}
                        for c in order if test.coef[c] > 0]
    result = _result(test, len(real), rid, sid, top_features, profile, features, top, shared)
    if (len(real), len(synthetic)) == counts:
        return result
    return replace(result, n_real=counts[0], n_synthetic=counts[1],
                   method=f"{result.method}; the two-sample test read a random {len(real):,} of "
                          f"{counts[0]:,} real and {len(synthetic):,} of {counts[1]:,} synthetic "
                          f"texts (max_rows {max_rows:,}), the profile all")


def mirage_table(real: np.ndarray, synthetic: np.ndarray, *,
                 columns: Sequence[str] | None = None, real_ids: Sequence[str] | None = None,
                 synthetic_ids: Sequence[str] | None = None, permutations: int = 100,
                 folds: int = 5, top: int = 20, seed: int = 0,
                 progress: Progress | None = None) -> MirageResult:
    """The mirage audit for numeric columns (rows = samples): each column is compared as a
    profile statistic, and the two-sample test uses the standardised columns and their squares
    (so shifts in spread are found as well as shifts in location).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> r = mirage_table(rng.normal(0, 1, (150, 2)), rng.normal(0, 0.3, (150, 2)),
        ...                  columns=["a", "b"], permutations=20)
        >>> r.c2st_auc > 0.8, r.top_features[0]["feature"] in ("a^2", "b^2")
        (True, True)
    """
    real, synthetic = np.asarray(real, dtype=float), np.asarray(synthetic, dtype=float)
    if real.ndim != 2 or synthetic.ndim != 2 or real.shape[1] != synthetic.shape[1]:
        raise InputError("real and synthetic need the same numeric columns (2-d arrays)")
    shared = len({r.tobytes() for r in real} & {r.tobytes() for r in synthetic})
    cols = list(columns) if columns is not None else [f"col{j}" for j in range(real.shape[1])]
    Z = np.vstack([real, synthetic])
    Z = np.where(np.isfinite(Z), Z, np.nanmean(Z, axis=0))
    sd = Z.std(axis=0)
    Z = (Z - Z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    X = np.hstack([Z, Z**2 - 1.0]) / np.sqrt(2 * Z.shape[1])
    names = cols + [f"{c}^2" for c in cols]
    test = c2st(X, np.arange(len(Z)) >= len(real), folds=folds, permutations=permutations,
                seed=seed, progress=progress)
    profile = compare_arrays({c: real[:, j] for j, c in enumerate(cols)},
                             {c: synthetic[:, j] for j, c in enumerate(cols)})
    top_features = [{"feature": names[c], "weight": float(test.coef[c])}
                    for c in np.argsort(-np.abs(test.coef), kind="stable")[:top]]
    return _result(test, len(real), _ids(real_ids, len(real), "real-"),
                   _ids(synthetic_ids, len(synthetic), "synthetic-"), top_features, profile,
                   "numeric columns", top, shared)


def audit_mirage(store: Store, real: str, synthetic: str, *, permutations: int = 100,
                 folds: int = 5, features: str = "ngrams", top: int = 20, seed: int = 0,
                 progress: Progress | None = None, field: str = "text",
                 turns: str | None = None, max_rows: int | None = MAX_ROWS) -> MirageResult:
    """Run :func:`mirage` (or :func:`mirage_table` for datasets without text) on two datasets
    of the store and save the result (kind ``mirage``). When ``real == synthetic`` the dataset
    is split by ``origin``. ``field`` (``turns`` of a ``messages`` field) is the text measured
    (see :mod:`tether.audit._load`)."""
    r, s = load_pair(store, real, synthetic, field=field, turns=turns)
    params = {"real": real, "synthetic": synthetic, "permutations": permutations,
              "folds": folds, "features": features, "seed": seed, "max_rows": max_rows,
              **field_params(field, turns)}
    if r.has_text and s.has_text:
        result = mirage(r.texts, s.texts, real_ids=r.ids, synthetic_ids=s.ids,
                        real_labels=r.labels, synthetic_labels=s.labels,
                        synthetic_parents=[p[0] if p else None for p in s.parents],
                        features=features,
                        permutations=permutations, folds=folds, top=top, seed=seed,
                        max_rows=max_rows, progress=progress)
    else:
        cols = sorted(set(r.numeric) & set(s.numeric))
        if not cols:
            raise InputError(f"{real} and {synthetic} share neither text nor numeric fields")
        result = mirage_table(np.column_stack([r.numeric[c] for c in cols]),
                              np.column_stack([s.numeric[c] for c in cols]), columns=cols,
                              real_ids=r.ids, synthetic_ids=s.ids, permutations=permutations,
                              folds=folds, top=top, seed=seed, progress=progress)
    result = replace(result, field=r.field)
    store.save_result(result, params)
    return result
