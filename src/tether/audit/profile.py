"""Text profiles: per-text statistics of a real and a synthetic side, compared one by one.

Each statistic is compared with an effect size and a test: Cliff's delta (synthetic over real,
with a DeLong interval, since delta = 2·AUC − 1) and the Mann–Whitney U test for per-text
statistics; Cramér's V (interval by noncentral chi-square inversion) and the chi-square test
for the label distribution. P-values are Benjamini–Hochberg adjusted across the family. A
statistic is flagged
``cleaner`` or ``more regular`` when the synthetic side differs significantly (adjusted p below
``alpha`` and |delta| ≥ 0.147, a "small" effect) in the direction of clean, canonical text.

Typos are measured as the rate of alphabetic words missing from a word list: by default the
English word list the simulation generators use (:func:`tether.generate.simulate.english_words`,
from pyspellchecker), the same fixed list for both sides, so neither side is favoured.

Example:
    >>> cmp = compare_profiles(["Hello  world", "teh cat sat"] * 20, ["Hello world."] * 40)
    >>> cmp.stats["whitespace_anomalies"].flag
    'cleaner'
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import optimize, stats

from tether.audit._stats import Z95, delong, finite, mean_interval
from tether.generate.simulate import english_words, word_list_name

#: statistic -> the direction in which a synthetic side looks cleaner or more regular
STATS: dict[str, tuple[str, str] | None] = {
    "chars": None,
    "words": None,
    "ttr": ("lower", "more regular"),
    "oov_rate": ("lower", "cleaner"),
    "upper_share": None,
    "all_lowercase": ("lower", "cleaner"),
    "punct_rate": None,
    "digit_rate": None,
    "whitespace_anomalies": ("lower", "cleaner"),
    "non_ascii": ("lower", "cleaner"),
    "duplicate": ("higher", "more regular"),
    "distinct_2": ("lower", "more regular"),
}
_METHOD = ("per-sample statistics: Cliff's delta (DeLong interval) and Mann-Whitney U; labels: "
           "Cramer's V (noncentral chi-square interval) and chi-square; Benjamini-Hochberg "
           "adjusted; means with normal intervals")
SMALL_DELTA = 0.147  # Romano et al. (2006): |delta| below this is negligible
_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (``\\w+``)."""
    return _TOKEN.findall(text.lower())


def _count(arr: pa.Array, pattern: str) -> np.ndarray:
    return pc.count_substring_regex(arr, pattern).to_numpy(zero_copy_only=False).astype(float)


def _rate(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def _mattr(toks: list[str], window: int) -> float:
    """Mean segmental type-token ratio over full windows of ``window`` tokens (nan if none)."""
    full = len(toks) // window
    if full == 0:
        return float("nan")
    return sum(len(set(toks[i * window:(i + 1) * window])) for i in range(full)) / (full * window)


def _distinct2(toks: list[str]) -> float:
    return len(set(zip(toks, toks[1:]))) / (len(toks) - 1) if len(toks) > 1 else float("nan")


def _oov(toks: list[str], wordlist: Collection[str]) -> float:
    alpha = [t for t in toks if t.isalpha()]
    return sum(t not in wordlist for t in alpha) / len(alpha) if alpha else float("nan")


def text_profile(texts: Sequence[str], wordlist: Collection[str] | None = None, *,
                 window: int = 20) -> dict[str, np.ndarray]:
    """Per-text statistics of ``texts`` (one array per name in :data:`STATS`; nan where a
    statistic is undefined, e.g. ``ttr`` for texts shorter than ``window`` words, ``oov_rate``
    without a word list).

    >>> p = text_profile(["Hi there  ", "hi there", "hi there"])
    >>> p["whitespace_anomalies"].tolist(), p["duplicate"].tolist()
    ([20.0, 0.0, 0.0], [0.0, 0.0, 1.0])
    """
    texts = [t if isinstance(t, str) else "" for t in texts]
    arr = pa.array(texts, type=pa.large_string())
    chars = pc.utf8_length(arr).to_numpy(zero_copy_only=False).astype(float)
    letters = _count(arr, r"\pL")
    upper = _count(arr, r"\p{Lu}")
    toks = [tokens(t) for t in texts]
    seen: set[str] = set()
    duplicate = np.empty(len(texts))
    for i, t in enumerate(texts):
        duplicate[i] = t in seen
        seen.add(t)
    anomalies = _count(arr, r"  +") + _count(arr, r"^\s") + _count(arr, r"\s$") + _count(arr, r"\t")
    return {
        "chars": chars,
        "words": _count(arr, r"\S+"),
        "ttr": np.array([_mattr(t, window) for t in toks]),
        "oov_rate": (np.array([_oov(t, wordlist) for t in toks]) if wordlist is not None
                     else np.full(len(texts), np.nan)),
        "upper_share": _rate(upper, letters),
        "all_lowercase": np.where(letters > 0, (upper == 0).astype(float), np.nan),
        "punct_rate": _rate(_count(arr, r"[\pP\pS]"), chars),
        "digit_rate": _rate(_count(arr, r"\p{Nd}"), chars),
        "whitespace_anomalies": _rate(anomalies, chars) * 100,  # per 100 characters
        "non_ascii": _rate(_count(arr, r"[^\x00-\x7f]"), chars),
        "duplicate": duplicate,
        "distinct_2": np.array([_distinct2(t) for t in toks]),
    }


@dataclass(frozen=True)
class StatComparison:
    """One statistic on both sides: means with normal intervals, Cliff's delta (synthetic over
    real) with its DeLong interval, the Mann–Whitney p-value, its BH-adjusted value and a flag."""

    real_mean: float | None
    real_ci: list[float | None]
    synthetic_mean: float | None
    synthetic_ci: list[float | None]
    cliffs_delta: float | None
    delta_ci: list[float | None]
    p_value: float | None
    p_adjusted: float | None
    flag: str | None


@dataclass(frozen=True)
class LabelComparison:
    """Label shares on both sides, Cramér's V with its interval, the chi-square test."""

    real: dict[str, float]
    synthetic: dict[str, float]
    cramers_v: float
    v_ci: list[float]
    chi2: float
    p_value: float
    p_adjusted: float
    flag: str | None


@dataclass(frozen=True)
class ProfileComparison:
    """Every statistic of :data:`STATS` compared, plus the label distribution when given."""

    stats: dict[str, StatComparison]
    labels: LabelComparison | None
    wordlist: str
    method: str

    @property
    def flags(self) -> dict[str, str]:
        out = {k: v.flag for k, v in self.stats.items() if v.flag}
        if self.labels is not None and self.labels.flag:
            out["labels"] = self.labels.flag
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"stats": {k: asdict(v) for k, v in self.stats.items()},
                "labels": asdict(self.labels) if self.labels is not None else None,
                "flags": self.flags, "wordlist": self.wordlist, "method": self.method}


def _compare(real: np.ndarray, synthetic: np.ndarray) -> tuple[dict[str, Any], float | None]:
    r, s = real[np.isfinite(real)], synthetic[np.isfinite(synthetic)]
    rm, rci = mean_interval(r)
    sm, sci = mean_interval(s)
    out = {"real_mean": finite(rm), "real_ci": [finite(x) for x in rci],
           "synthetic_mean": finite(sm), "synthetic_ci": [finite(x) for x in sci],
           "cliffs_delta": None, "delta_ci": [None, None]}
    if r.size < 2 or s.size < 2:
        return out, None
    auc, se = delong(s, r)
    out["cliffs_delta"] = 2 * auc - 1
    out["delta_ci"] = [max(-1.0, 2 * (auc - Z95 * se) - 1), min(1.0, 2 * (auc + Z95 * se) - 1)]
    if np.ptp(np.concatenate([r, s])) == 0:
        return out, 1.0
    return out, float(stats.mannwhitneyu(s, r, alternative="two-sided", method="asymptotic").pvalue)


def _noncentrality_bound(chi2: float, df: int, prob: float) -> float:
    """The noncentrality at which ``chi2`` is the ``prob`` quantile (0 when even 0 is too big)."""
    def f(lam: float) -> float:
        cdf = stats.ncx2.cdf(chi2, df, lam) if lam > 0 else stats.chi2.cdf(chi2, df)
        return cdf - prob

    if f(0.0) <= 0:
        return 0.0
    hi = max(1.0, chi2)
    while f(hi) > 0:
        hi *= 2
    return float(optimize.brentq(f, 0.0, hi))


def cramers_v(table: np.ndarray) -> tuple[float, list[float], float, float]:
    """Cramér's V of a contingency table with its interval by inverting the noncentral
    chi-square distribution, the chi-square statistic and its p-value.

    >>> v, ci, chi2, p = cramers_v(np.array([[30, 10], [10, 30]]))
    >>> round(v, 3), ci[0] < v < ci[1]
    (0.5, True)
    """
    chi2, p, df, _ = stats.chi2_contingency(table, correction=False)
    scale = table.sum() * (min(table.shape) - 1)
    ci = [float(np.sqrt(_noncentrality_bound(chi2, df, q) / scale)) for q in (0.975, 0.025)]
    return float(np.sqrt(chi2 / scale)), [min(ci[0], 1.0), min(ci[1], 1.0)], float(chi2), float(p)


def compare_labels(real: Sequence[Any], synthetic: Sequence[Any]) -> LabelComparison | None:
    """Label distribution of both sides (None when fewer than two labels are present)."""
    rc = Counter(str(x) for x in real if x is not None)
    sc = Counter(str(x) for x in synthetic if x is not None)
    names = sorted(set(rc) | set(sc))
    if len(names) < 2 or not rc or not sc:
        return None
    table = np.array([[rc[k] for k in names], [sc[k] for k in names]], dtype=float)
    v, v_ci, chi2, p = cramers_v(table[:, table.sum(axis=0) > 0])
    return LabelComparison(real={k: rc[k] / sum(rc.values()) for k in names},
                           synthetic={k: sc[k] / sum(sc.values()) for k in names},
                           cramers_v=v, v_ci=v_ci, chi2=chi2, p_value=p, p_adjusted=p, flag=None)


def compare_profiles(real: Sequence[str], synthetic: Sequence[str], *,
                     real_labels: Sequence[Any] | None = None,
                     synthetic_labels: Sequence[Any] | None = None,
                     wordlist: Collection[str] | None = None, window: int = 20,
                     alpha: float = 0.05) -> ProfileComparison:
    """Profile both sides and compare every statistic (see the module docstring).

    Example:
        >>> cmp = compare_profiles(["a b c"] * 5 + ["x y"] * 5, ["a b c"] * 10)
        >>> cmp.stats["words"].cliffs_delta
        0.5
    """
    if wordlist is None:
        wordlist, source = english_words(), word_list_name()
    else:
        source = f"given ({len(wordlist)} words)"
    rprof = text_profile(real, wordlist, window=window)
    sprof = text_profile(synthetic, wordlist, window=window)
    labels = None
    if real_labels is not None and synthetic_labels is not None:
        labels = compare_labels(real_labels, synthetic_labels)
    return compare_arrays(rprof, sprof, directions=STATS, labels=labels, alpha=alpha,
                          wordlist=source,
                          method=f"type-token ratio over {window}-word windows; " + _METHOD)


def compare_arrays(real: dict[str, np.ndarray], synthetic: dict[str, np.ndarray], *,
                   directions: dict[str, tuple[str, str] | None] | None = None,
                   labels: LabelComparison | None = None, alpha: float = 0.05,
                   wordlist: str = "", method: str = "") -> ProfileComparison:
    """Compare per-sample statistics (or numeric columns) named alike on both sides, with the
    label comparison in the same Benjamini–Hochberg family; ``directions`` says which way a
    statistic looks ``cleaner``/``more regular`` (others are flagged ``differs``).

    >>> cmp = compare_arrays({"x": np.arange(50.0)}, {"x": np.arange(50.0) + 100})
    >>> cmp.stats["x"].cliffs_delta, cmp.stats["x"].flag
    (1.0, 'differs')
    """
    directions = directions or {}
    rows, pvals = {}, {}
    for name in real:
        rows[name], pvals[name] = _compare(np.asarray(real[name], dtype=float),
                                           np.asarray(synthetic[name], dtype=float))
    if labels is not None:
        pvals["labels"] = labels.p_value
    tested = [k for k, p in pvals.items() if p is not None]
    adjusted = dict(zip(tested, stats.false_discovery_control([pvals[k] for k in tested])
                        if tested else []))
    out = {}
    for name, row in rows.items():
        p_adj = adjusted.get(name)
        flag = None
        if p_adj is not None and p_adj < alpha and abs(row["cliffs_delta"]) >= SMALL_DELTA:
            flag = "differs"
            if directions.get(name) is not None:
                direction, word = directions[name]
                if (row["cliffs_delta"] < 0) == (direction == "lower"):
                    flag = word
        p = pvals[name]
        out[name] = StatComparison(**row, p_value=None if p is None else finite(p),
                                   p_adjusted=None if p_adj is None else finite(p_adj), flag=flag)
    if labels is not None:
        p_adj = float(adjusted["labels"])
        labels = LabelComparison(**{**asdict(labels), "p_adjusted": p_adj,
                                    "flag": "differs" if p_adj < alpha and labels.cramers_v >= 0.1
                                    else None})
    return ProfileComparison(stats=out, labels=labels, wordlist=wordlist,
                             method=method or _METHOD)
