"""Perturbation pipeline vs nlpaug's character augmenters: same operations, texts and run.

Operations: keyboard typos, adjacent character swaps and character deletes, each at 5% of the
characters. tether runs ``perturb_texts`` over ``TETHER_BENCH_N`` BBC News sentences (default
20,000; it streams in chunks, so 1,000,000 runs in bounded memory); nlpaug runs on the first
``TETHER_BENCH_PEER_N`` of the same texts (default 2,000: it is the slow side) and tether is
timed again on exactly that subsample for the ratio (best of 3 interleaved runs per side, as the
machine may be shared).

nlpaug picks words and then characters within a word (at least one per picked word), so its
word share is set to ``rate × characters per word``: both sides then edit about the same share
of characters, which the benchmark measures and prints (difflib similarity on 300 texts).

Run: ``python benchmarks/run.py perturb``, or at a million texts:
``TETHER_BENCH_N=1000000 python benchmarks/bench_perturb.py``.
"""

from __future__ import annotations

import difflib
import os
import re
import resource
import time
import warnings
from collections.abc import Iterator

import numpy as np

from tether import datasets
from tether.generate.perturb import Drops, Pipeline, Swaps, Typos, perturb_texts

RATE = 0.05
CHUNK = 10_000
REPEATS = 3
SEED = 0


def bbc_sentences() -> list[str]:
    texts = datasets.load("bbcnews").column("text").to_pylist()
    return [s for t in texts for s in re.split(r"(?<=[.!?])\s+", t.replace("\n", " "))
            if len(s.split()) >= 4]


def chunks(sentences: list[str], n: int) -> Iterator[tuple[list[str], list[str]]]:
    """``n`` texts (the sentences, cycled) with unique ids, ``CHUNK`` at a time."""
    for start in range(0, n, CHUNK):
        idx = range(start, min(start + CHUNK, n))
        yield [sentences[i % len(sentences)] for i in idx], [f"s{i}" for i in idx]


def nlpaug_pipeline(texts: list[str]):
    import nlpaug.augmenter.char as nac

    chars_per_word = sum(map(len, texts)) / sum(len(t.split()) for t in texts)
    word_p = min(1.0, RATE * chars_per_word)
    common = dict(aug_char_p=RATE, aug_word_p=word_p, aug_word_max=None, min_char=2)
    augs = [nac.KeyboardAug(include_special_char=False, include_numeric=False,
                            include_upper_case=False, **common),
            nac.RandomCharAug(action="swap", **common),
            nac.RandomCharAug(action="delete", **common)]

    def run(text: str) -> str:
        for aug in augs:
            text = aug.augment(text)[0]
        return text

    return run, word_p


def edit_share(before: list[str], after: list[str]) -> float:
    return float(np.mean([1 - difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
                          for a, b in zip(before, after)]))


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    n = int(os.environ.get("TETHER_BENCH_N", 20_000))
    n_peer = min(n, int(os.environ.get("TETHER_BENCH_PEER_N", 2_000)))
    sentences = bbc_sentences()
    pipe = Pipeline([Typos(RATE), Swaps(RATE), Drops(RATE)])
    print(f"texts: {n:,} BBC News sentences ({len(sentences):,} distinct, "
          f"{np.mean([len(s) for s in sentences]):.0f} characters on average); ops "
          f"{pipe.spec}; nlpaug on the first {n_peer:,}")

    rss_before = maxrss_mb()
    start = time.perf_counter()
    total_chars = 0
    for texts, ids in chunks(sentences, n):
        total_chars += sum(map(len, perturb_texts(texts, ids, pipe, SEED)))
    tether_all = time.perf_counter() - start
    rss_tether = maxrss_mb()

    # the machine may be shared: time each side REPEATS times, interleaved, and keep the best
    sub, sub_ids = next(chunks(sentences, n_peer))
    peer, word_p = nlpaug_pipeline(sub)
    tether_sub = peer_time = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        tether_out = perturb_texts(sub, sub_ids, pipe, SEED)
        tether_sub = min(tether_sub, time.perf_counter() - start)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            peer_out = [peer(t) for t in sub]
            peer_time = min(peer_time, time.perf_counter() - start)

    check = slice(0, min(300, n_peer))
    print(f"character edit share: tether {edit_share(sub[check], tether_out[check]):.3f}, "
          f"nlpaug {edit_share(sub[check], peer_out[check]):.3f} (nlpaug word share {word_p:.2f})")
    print(f"tether  {n:>9,} texts (streamed): {n / tether_all:>10,.0f} texts/s; "
          f"peak RSS {rss_tether:,.0f} MB (+{rss_tether - rss_before:,.0f} MB while streaming)")
    print(f"tether  {n_peer:>9,} texts (subsample, best of {REPEATS}): "
          f"{n_peer / tether_sub:>8,.0f} texts/s")
    print(f"nlpaug  {n_peer:>9,} texts (subsample, best of {REPEATS}): "
          f"{n_peer / peer_time:>8,.0f} texts/s; "
          f"peak RSS {maxrss_mb():,.0f} MB")
    print(f"ratio tether/nlpaug (same texts): {peer_time / tether_sub:.1f}x  (target >= 10x)")


if __name__ == "__main__":
    main()
