"""Text profile of N texts (default 100,000; ``TETHER_BENCH_N``):
:func:`tether.audit.profile.text_profile` (one array of code points, classes looked up per
distinct code point, hashed tokens, sorts) against the previous implementation (an Arrow regex
pass per statistic plus ``re.findall`` tokens and Python sets per text, kept here as the
baseline), on the same texts in the same run, with the English word list.

Texts are three random sentences of real BBC News articles (about 400 characters, as in
``bench_minhash``). Quality: every statistic of both paths must be equal (printed).
"""

from __future__ import annotations

import itertools
import os
import re
import resource
import time
import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from bench_minhash import batch_texts, sentence_pool

from tether.audit.profile import text_profile
from tether.generate.simulate import english_words


def previous(texts: list[str], wordlist, window: int = 20) -> dict[str, np.ndarray]:
    """The previous implementation, for the baseline."""
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
        "oov_rate": np.array([oov(t) for t in toks]),
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


def timed(fn, *args):
    tracemalloc.start()
    t = time.perf_counter()
    out = fn(*args)
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, seconds, peak


def main() -> None:
    n = int(os.environ.get("TETHER_BENCH_N", "100000"))
    pool = sentence_pool()
    texts = [t for s in range(0, n, 20_000) for t in batch_texts(pool, s, min(20_000, n - s))]
    wordlist = english_words()
    new, s_new, m_new = timed(text_profile, texts, wordlist)
    old, s_old, m_old = timed(previous, texts, wordlist)
    equal = all(np.array_equal(new[k], old[k], equal_nan=True) for k in old)
    for name, s, m in (("vectorized (tether)", s_new, m_new), ("previous", s_old, m_old)):
        print(f"{name:20} {n:,} texts: {s:6.2f} s, {n / s:>9,.0f} texts/s, "
              f"peak traced {m:,.0f} MB")
    print(f"quality: all {len(old)} statistics equal on every text: {equal}")
    print(f"ratio: vectorized is {s_old / s_new:.1f}x the previous path on equal work; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
