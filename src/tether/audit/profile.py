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

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import optimize, stats

from tether.audit import minhash
from tether.audit._load import from_json, made_by, plain
from tether.generate.simulate import english_words, word_list_name
from tether.stats import Interval, auc_interval, delong, finite, mean_interval

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


_RE2_SPACE = (9, 10, 12, 13, 32)  # RE2's \s, the class the statistics were defined with
_PARTS = ("letters", "upper", "words", "punct", "digits", "anomalies", "non_ascii", "ttr",
          "oov_rate", "distinct_2")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (``\\w+``)."""
    return _TOKEN.findall(text.lower())


def _rate(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


LETTER, UPPER, PUNCT, DIGIT, WORD, ALPHA, SPACE = 1, 2, 4, 8, 16, 32, 64  # _class_bits


def _bits(c: str) -> int:
    cat = unicodedata.category(c)
    return ((LETTER if cat[0] == "L" else 0) | (UPPER if cat == "Lu" else 0)
            | (PUNCT if cat[0] in "PS" else 0) | (DIGIT if cat == "Nd" else 0)
            | (WORD if c.isalnum() or c == "_" else 0) | (ALPHA if c.isalpha() else 0)
            | (SPACE if ord(c) in _RE2_SPACE else 0))


@functools.lru_cache(maxsize=1)
def _bmp_bits() -> np.ndarray:
    return np.array([_bits(chr(c)) for c in range(0x10000)], dtype=np.uint8)


def _class_bits(cps: np.ndarray) -> np.ndarray:
    """The class bits of each code point: a table for the Basic Multilingual Plane, a lookup
    per distinct code point beyond it."""
    out = np.take(_bmp_bits(), cps, mode="clip")
    if cps.size and cps.max() > 0xFFFF:
        astral = cps > 0xFFFF
        distinct, inverse = np.unique(cps[astral], return_inverse=True)
        out[astral] = np.array([_bits(chr(c)) for c in distinct.tolist()], dtype=np.uint8)[inverse]
    return out


def _distinct_per_group(values: np.ndarray, span: int, groups: np.ndarray,
                        n: int) -> np.ndarray:
    """Number of distinct ``values`` (integers in ``[0, span)``) in each of ``n`` groups: one
    sort of ``group * span + value`` (two keys when that could overflow)."""
    if n * span < 2**62:
        key = np.sort(groups.astype(np.int64) * span + values)
        new = np.ones(key.size, dtype=bool)
        new[1:] = key[1:] != key[:-1]
        return np.bincount(key[new] // span, minlength=n).astype(float)
    order = np.lexsort((values, groups))
    v, g = values[order], groups[order]
    new = np.ones(v.size, dtype=bool)
    new[1:] = (v[1:] != v[:-1]) | (g[1:] != g[:-1])
    return np.bincount(g[new], minlength=n).astype(float)


def _char_stats(texts: list[str], chars: np.ndarray) -> dict[str, np.ndarray]:
    """Counts of character classes per text, from one array of all code points (texts joined
    by a separator whose flags are all zero, so no run crosses from one text to the next)."""
    starts = np.concatenate([[0], np.cumsum(chars + 1, dtype=np.int64)[:-1]])
    ends = starts + chars  # the separator after each text
    cps = _code_points("\x00".join(texts) + "\x00")
    bits = _class_bits(cps)
    space = bits & SPACE > 0
    word_start = ~space
    word_start[1:] &= space[:-1]
    word_start[starts[1:] - 1] = False  # the separators
    word_start[starts] = ~space[starts] & (chars > 0)
    word_start[-1] = False
    blank = cps == 32
    run = np.zeros(cps.size, dtype=bool)  # the second blank of each run of blanks
    run[1:] = blank[1:] & blank[:-1]
    run[2:] &= ~blank[:-2]

    def count(flag: np.ndarray) -> np.ndarray:
        return np.add.reduceat(flag, starts, dtype=np.int64).astype(float)

    # every whitespace character before a text's first other character counts (the statistic
    # was defined by Arrow's count of ``^\s``, which re-anchors after each match)
    other = np.flatnonzero(~space)  # separators included, so every text has one at its end
    leading = other[np.searchsorted(other, starts)] - starts
    trailing = (chars > 0) & space[ends - 1]
    return {"letters": count(bits & LETTER > 0), "upper": count(bits & UPPER > 0),
            "words": count(word_start), "punct": count(bits & PUNCT > 0),
            "digits": count(bits & DIGIT > 0), "non_ascii": count(cps > 127),
            "anomalies": count(run) + count(cps == 9) + leading + trailing}


def _hash_runs(cps: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of the runs of consecutive positions ``pos`` in ``cps`` (equal runs ⇔
    equal hashes, up to 2⁻⁶⁴) and where each run starts in ``pos``."""
    starts = np.ones(pos.size, dtype=bool)
    starts[1:] = np.diff(pos) > 1
    first = np.flatnonzero(starts)
    offset = np.arange(pos.size) - np.repeat(first, np.diff(np.append(first, pos.size)))
    mixed = minhash._mix(cps[pos].astype(np.uint64) | (offset.astype(np.uint64) << np.uint64(24)))
    return (minhash._mix(np.add.reduceat(mixed, first)) if first.size else mixed), first


def _word_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``\\w+`` tokens of the lower-cased texts as hashes (:func:`_hash_runs`), whether
    each is alphabetic, and the number per text."""
    joined = "\x00".join(texts)  # NUL ends a text for lower() as the end of a string does
    if joined.count("\x00") != len(texts) - 1:
        joined = "\x00".join(t.replace("\x00", " ") for t in texts)
    cps = _code_points(joined.lower())
    bits = _class_bits(cps)
    pos = np.flatnonzero(bits & WORD)
    hashes, first = _hash_runs(cps, pos)
    non_alpha = np.add.reduceat(bits[pos] & ALPHA == 0, first, dtype=np.int64) if first.size \
        else np.zeros(0, dtype=np.int64)
    text_of = np.searchsorted(np.flatnonzero(cps == 0), pos[first])
    return hashes, non_alpha == 0, np.bincount(text_of, minlength=len(texts))


@functools.lru_cache(maxsize=4)
def _known_frozen(wordlist: frozenset[str]) -> np.ndarray:
    return _known_hashes(wordlist)


def _known_hashes(wordlist: Collection[str]) -> np.ndarray:
    """Sorted hashes of the word-list entries that can equal a token (a single ``\\w+`` run);
    not lower-cased, so an entry with capitals matches no token, as before."""
    words = [w for w in wordlist if isinstance(w, str) and _TOKEN.fullmatch(w)]
    cps = _code_points("\x00".join(words))
    return np.unique(_hash_runs(cps, np.flatnonzero(cps != 0))[0])


def _token_stats(texts: list[str], known: np.ndarray | None,
                 window: int) -> dict[str, np.ndarray]:
    n = len(texts)
    hashes, alpha, counts = _word_hashes(texts)
    vocab, word = np.unique(hashes, return_inverse=True)  # tokens as small integers
    offsets = np.concatenate([[0], np.cumsum(counts)])
    text_of = np.repeat(np.arange(n), counts)
    position = np.arange(hashes.size) - offsets[text_of]
    # type-token ratio over full windows: distinct tokens per window, summed per text
    full = counts // window
    in_window = position < full[text_of] * window
    window_of = (np.concatenate([[0], np.cumsum(full)])[text_of] + position // window)[in_window]
    distinct = _distinct_per_group(word[in_window], vocab.size, window_of, int(full.sum()))
    per_text = np.bincount(np.repeat(np.arange(n), full), weights=distinct, minlength=n)
    ttr = _rate(per_text, (full * window).astype(float))
    # distinct bigrams per text
    nxt = np.flatnonzero(position[1:] > 0)
    distinct2 = _rate(_distinct_per_group(word[nxt] * vocab.size + word[nxt + 1],
                                          vocab.size ** 2, text_of[nxt + 1], n),
                      np.maximum(counts - 1, 0).astype(float))
    oov = np.full(n, np.nan)
    if known is not None:
        listed = np.isin(vocab, known, assume_unique=True)[word]
        oov = _rate(np.bincount(text_of, weights=alpha & ~listed, minlength=n),
                    np.bincount(text_of, weights=alpha, minlength=n))
    return {"ttr": ttr, "oov_rate": oov, "distinct_2": distinct2}


def text_profile(texts: Sequence[str], wordlist: Collection[str] | None = None, *,
                 window: int = 20) -> dict[str, np.ndarray]:
    """Per-text statistics of ``texts`` (one array per name in :data:`STATS`; nan where a
    statistic is undefined, e.g. ``ttr`` for texts shorter than ``window`` words, ``oov_rate``
    without a word list).

    All statistics come from two arrays of code points per chunk of texts (the texts, and the
    texts lower-cased for ``\\w+`` tokens): character classes come from one lookup table,
    tokens are hashed to 64 bits, distinct counts are sorts; no Python loop runs per text or
    per token. Character classes are Unicode general categories (``\\pL``,
    ``\\p{Lu}``, ``[\\pP\\pS]``, ``\\p{Nd}``), whitespace is RE2's ``\\s`` (``[\\t\\n\\f\\r ]``).

    >>> p = text_profile(["Hi there  ", "hi there", "hi there"])
    >>> p["whitespace_anomalies"].tolist(), p["duplicate"].tolist()
    ([20.0, 0.0, 0.0], [0.0, 0.0, 1.0])
    """
    texts = [t if isinstance(t, str) else "" for t in texts]
    arr = pa.array(texts, type=pa.large_string())
    chars = pc.utf8_length(arr).to_numpy(zero_copy_only=False)
    duplicate = np.ones(len(texts))
    firsts = np.unique(arr.dictionary_encode().indices.to_numpy(zero_copy_only=False),
                       return_index=True)[1] if texts else np.zeros(0, dtype=np.int64)
    duplicate[firsts] = 0.0
    known = (None if wordlist is None else _known_frozen(wordlist)
             if isinstance(wordlist, frozenset) else _known_hashes(wordlist))
    parts = [_char_stats(texts[lo:hi], chars[lo:hi]) | _token_stats(texts[lo:hi], known, window)
             for lo, hi in minhash._chunks(texts)]  # chunks of ~256k characters stay in cache
    c = {k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0) for k in _PARTS}
    chars = chars.astype(float)
    out = {
        "chars": chars,
        "words": c["words"],
        "ttr": c["ttr"], "oov_rate": c["oov_rate"], "distinct_2": c["distinct_2"],
        "upper_share": _rate(c["upper"], c["letters"]),
        "all_lowercase": np.where(c["letters"] > 0, (c["upper"] == 0).astype(float), np.nan),
        "punct_rate": _rate(c["punct"], chars),
        "digit_rate": _rate(c["digits"], chars),
        "whitespace_anomalies": _rate(c["anomalies"], chars) * 100,  # per 100 characters
        "non_ascii": _rate(c["non_ascii"], chars),
        "duplicate": duplicate,
    }
    return {name: out[name] for name in STATS}


CRAMERS_V_METHOD = "noncentral chi-square inversion"


@dataclass(frozen=True)
class StatComparison:
    """One statistic on both sides: means with normal intervals, Cliff's delta (synthetic over
    real) with its DeLong interval, the Mann–Whitney p-value, its BH-adjusted value and a flag."""

    real_mean: float | None
    real_ci: Interval = field(metadata=made_by("normal"))
    synthetic_mean: float | None
    synthetic_ci: Interval = field(metadata=made_by("normal"))
    cliffs_delta: float | None
    delta_ci: Interval = field(metadata=made_by("delong"))
    p_value: float | None
    p_adjusted: float | None
    flag: str | None

    from_dict = classmethod(from_json)


@dataclass(frozen=True)
class LabelComparison:
    """Label shares on both sides, Cramér's V with its interval, the chi-square test."""

    real: dict[str, float]
    synthetic: dict[str, float]
    cramers_v: float
    v_ci: Interval = field(metadata=made_by(CRAMERS_V_METHOD))
    chi2: float
    p_value: float
    p_adjusted: float
    flag: str | None

    from_dict = classmethod(from_json)


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
        return {"stats": plain(self.stats), "labels": plain(self.labels),
                "flags": self.flags, "wordlist": self.wordlist, "method": self.method}


def _compare(real: np.ndarray, synthetic: np.ndarray) -> tuple[dict[str, Any], float | None]:
    r, s = real[np.isfinite(real)], synthetic[np.isfinite(synthetic)]
    rm, rci = mean_interval(r)
    sm, sci = mean_interval(s)
    out = {"real_mean": finite(rm), "real_ci": rci, "synthetic_mean": finite(sm),
           "synthetic_ci": sci, "cliffs_delta": None,
           "delta_ci": Interval(np.nan, np.nan, 0.95, "delong")}
    if r.size < 2 or s.size < 2:
        return out, None
    auc, se = delong(s, r)
    out["cliffs_delta"] = 2 * auc - 1
    lo, hi = auc_interval(auc, se)
    out["delta_ci"] = Interval(2 * lo - 1, 2 * hi - 1, 0.95, "delong")
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


def cramers_v(table: np.ndarray) -> tuple[float, Interval, float, float]:
    """Cramér's V of a contingency table with its interval by inverting the noncentral
    chi-square distribution, the chi-square statistic and its p-value.

    >>> v, ci, chi2, p = cramers_v(np.array([[30, 10], [10, 30]]))
    >>> round(v, 3), ci[0] < v < ci[1]
    (0.5, True)
    """
    chi2, p, df, _ = stats.chi2_contingency(table, correction=False)
    scale = table.sum() * (min(table.shape) - 1)
    ci = [float(np.sqrt(_noncentrality_bound(chi2, df, q) / scale)) for q in (0.975, 0.025)]
    return (float(np.sqrt(chi2 / scale)),
            Interval(min(ci[0], 1.0), min(ci[1], 1.0), 0.95, CRAMERS_V_METHOD),
            float(chi2), float(p))


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
        labels = replace(labels, p_adjusted=p_adj,
                         flag="differs" if p_adj < alpha and labels.cramers_v >= 0.1 else None)
    return ProfileComparison(stats=out, labels=labels, wordlist=wordlist,
                             method=method or _METHOD)
