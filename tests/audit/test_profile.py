"""Text profiles: per-text statistics, effect sizes against reference implementations, and
flags on real BBC News (none on two halves; ``cleaner`` when the real side is noisier)."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from scipy import stats
from scipy.stats.contingency import association

from tether.audit.profile import (
    STATS,
    compare_arrays,
    compare_labels,
    compare_profiles,
    cramers_v,
    text_profile,
)
from tether.generate.perturb import Pipeline, perturb_texts
from tether.generate.simulate import english_words


def test_text_profile_values():
    p = text_profile(["Hello  World 42 ", "all lower words here", "café", "all lower words here"],
                     wordlist={"hello", "world", "all", "lower", "words"}, window=2)
    assert p["chars"].tolist() == [16, 20, 4, 20]
    assert p["words"].tolist() == [3, 4, 1, 4]
    assert p["upper_share"][0] == pytest.approx(2 / 10)
    assert p["all_lowercase"].tolist() == [0, 1, 1, 1]
    assert p["digit_rate"][0] == pytest.approx(2 / 16)
    assert p["whitespace_anomalies"][0] == pytest.approx(2 / 16 * 100)  # double space, trailing
    assert p["non_ascii"][2] == pytest.approx(1 / 4)
    assert p["duplicate"].tolist() == [0, 0, 0, 1]
    assert p["oov_rate"][1] == pytest.approx(1 / 4)  # "here" is not in the list
    assert p["ttr"][1] == 1.0 and np.isnan(p["ttr"][2])  # one word: no full 2-word window
    assert p["distinct_2"][1] == 1.0


def reference_profile(texts, wordlist=None, window=20):
    """The previous implementation (a regex pass per statistic, Python tokens per text), kept
    as the reference the vectorized one must equal."""
    texts = [t if isinstance(t, str) else "" for t in texts]
    arr = pa.array(texts, type=pa.large_string())

    def count(pattern):
        return pc.count_substring_regex(arr, pattern).to_numpy(zero_copy_only=False).astype(float)

    def rate(num, den):
        return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)

    def mattr(toks):
        full = len(toks) // window
        if full == 0:
            return float("nan")
        return sum(len(set(toks[i * window:(i + 1) * window])) for i in range(full)) / (full * window)

    def oov(toks):
        alpha = [t for t in toks if t.isalpha()]
        return sum(t not in wordlist for t in alpha) / len(alpha) if alpha else float("nan")

    chars = pc.utf8_length(arr).to_numpy(zero_copy_only=False).astype(float)
    letters, upper = count(r"\pL"), count(r"\p{Lu}")
    toks = [re.findall(r"\w+", t.lower()) for t in texts]
    seen, duplicate = set(), np.empty(len(texts))
    for i, t in enumerate(texts):
        duplicate[i] = t in seen
        seen.add(t)
    anomalies = count(r"  +") + count(r"^\s") + count(r"\s$") + count(r"\t")
    return {
        "chars": chars, "words": count(r"\S+"),
        "ttr": np.array([mattr(t) for t in toks]),
        "oov_rate": (np.array([oov(t) for t in toks]) if wordlist is not None
                     else np.full(len(texts), np.nan)),
        "upper_share": rate(upper, letters),
        "all_lowercase": np.where(letters > 0, (upper == 0).astype(float), np.nan),
        "punct_rate": rate(count(r"[\pP\pS]"), chars),
        "digit_rate": rate(count(r"\p{Nd}"), chars),
        "whitespace_anomalies": rate(anomalies, chars) * 100,
        "non_ascii": rate(count(r"[^\x00-\x7f]"), chars),
        "duplicate": duplicate,
        "distinct_2": np.array([len(set(itertools.pairwise(t))) / (len(t) - 1) if len(t) > 1
                                else float("nan") for t in toks]),
    }


ODD = ["", None, "   ", "\t\tTabs\tand  spaces  ", "ΟΔΟΣ ΟΔΟΣ", "İstanbul İSTANBUL", "a\x00b c",
       "naïve café — “quotes” ½ ٣ digits ２", "snake_case words_here 42_x", "\u00a0nbsp\u00a0",
       "\x0bvtab\x0c", "line\nbreaks\r\n", "x" * 50, "Hello  World 42 ", "Hello  World 42 ",
       "emoji 😀 text 😀", "ÉCOLE école Ecole"]


@pytest.mark.parametrize("window", [20, 3])
def test_text_profile_equals_the_previous_implementation(bbc, window):
    texts = bbc.column("text").to_pylist() + ODD
    wordlist = english_words()
    new, old = text_profile(texts, wordlist, window=window), reference_profile(texts, wordlist,
                                                                               window)
    assert list(new) == list(STATS) and set(old) == set(new)
    for name in old:
        np.testing.assert_array_equal(new[name], old[name], err_msg=name)


def test_cliffs_delta_and_test_match_reference_computations():
    rng = np.random.default_rng(0)
    r, s = rng.normal(0, 1, 60), rng.normal(0.5, 1, 50)
    cmp = compare_arrays({"x": r}, {"x": s})
    brute = np.mean(np.sign(s[:, None] - r[None, :]))
    assert cmp.stats["x"].cliffs_delta == pytest.approx(brute)
    assert cmp.stats["x"].p_value == pytest.approx(
        stats.mannwhitneyu(s, r, alternative="two-sided", method="asymptotic").pvalue)
    lo, hi = cmp.stats["x"].delta_ci
    assert lo < brute < hi


def test_cramers_v_matches_scipy_and_its_interval_covers_the_truth():
    table = np.array([[40, 30, 30], [20, 50, 30]])
    v, ci, _, p = cramers_v(table)
    assert v == pytest.approx(association(table, method="cramer"))
    assert ci[0] < v < ci[1] and p < 0.05
    rng = np.random.default_rng(1)
    probs = np.array([[0.2, 0.15, 0.15], [0.1, 0.25, 0.15]])
    truth = association((probs * 1e6).round().astype(int), method="cramer")
    hits = 0
    for _ in range(200):
        sample = rng.multinomial(600, probs.ravel()).reshape(2, 3)
        lo, hi = cramers_v(sample)[1]
        hits += lo <= truth <= hi
    assert 0.9 <= hits / 200 <= 0.99


def test_two_halves_of_real_data_raise_no_flag(bbc):
    texts, labels = bbc.column("text").to_pylist(), bbc.column("label").to_pylist()
    cmp = compare_profiles(texts[::2], texts[1::2], real_labels=labels[::2],
                           synthetic_labels=labels[1::2])
    assert cmp.flags == {}
    assert all(v.p_adjusted is None or v.p_adjusted > 0.05 for v in cmp.stats.values())


def test_noisy_real_text_against_clean_synthetic_text_is_flagged(bbc):
    texts = [t[:400] for t in bbc.column("text").to_pylist()]
    real = perturb_texts(texts[:300], [str(i) for i in range(300)],
                         Pipeline.parse("typos=0.03,casing=0.05,whitespace=0.05"), seed=0)
    synthetic = [" ".join(t.split()) for t in texts[300:600]]
    cmp = compare_profiles(real, synthetic, real_labels=["a"] * 300,
                           synthetic_labels=["a"] * 200 + ["b"] * 100)
    assert cmp.flags["oov_rate"] == "cleaner"
    assert cmp.flags["whitespace_anomalies"] == "cleaner"
    assert cmp.flags["labels"] == "differs"
    assert cmp.stats["oov_rate"].cliffs_delta < -0.3
    assert "pyspellchecker" in cmp.wordlist


def test_labels_need_two_values():
    assert compare_labels(["a"] * 5, ["a"] * 5) is None
