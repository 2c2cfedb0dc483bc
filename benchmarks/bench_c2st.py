"""Mirage audit at scale: profile + classifier two-sample test on N real vs N synthetic texts.

Real texts are sentences of BBC News (drawn with replacement); synthetic ones are other BBC
sentences with typing noise (typos 5%, casing 10%). Size from ``TETHER_BENCH_N`` (default
100,000 per side). Target: under 60 s on 2 cores. No peer library runs a classifier two-sample
test with a profile; the profile's per-text statistics are compared side by side against a
plain-Python (``re`` per text) implementation of the same counts.
"""

from __future__ import annotations

import os
import re
import resource
import time

import numpy as np

from tether.audit.mirage import mirage
from tether.audit.profile import text_profile
from tether.datasets import load
from tether.generate.perturb import Pipeline, perturb_texts


def _plain_python_profile(texts: list[str]) -> dict[str, list[float]]:
    """The character-class counts of :func:`text_profile`, one ``re`` pass per statistic."""
    out: dict[str, list[float]] = {k: [] for k in ("chars", "words", "upper", "punct", "digit",
                                                   "ws", "non_ascii")}
    for t in texts:
        n = max(len(t), 1)
        letters = sum(c.isalpha() for c in t) or 1
        out["chars"].append(len(t))
        out["words"].append(len(t.split()))
        out["upper"].append(sum(c.isupper() for c in t) / letters)
        out["punct"].append(len(re.findall(r"[^\w\s]", t)) / n)
        out["digit"].append(sum(c.isdigit() for c in t) / n)
        out["ws"].append(len(re.findall(r"  +|^\s|\s$|\t", t)) / n)
        out["non_ascii"].append(sum(ord(c) > 127 for c in t) / n)
    return out


def main() -> None:
    n = int(os.environ.get("TETHER_BENCH_N", 100_000))
    sentences = [s for t in load("bbcnews").column("text").to_pylist()
                 for s in re.split(r"(?<=[.!?])\s+", t) if len(s) > 20]
    rng = np.random.default_rng(0)
    half = len(sentences) // 2
    real = [sentences[i] for i in rng.integers(0, half, n)]
    seeds = [sentences[i] for i in rng.integers(half, len(sentences), n)]
    synthetic = perturb_texts(seeds, [str(i) for i in range(n)],
                              Pipeline.parse("typos=0.05,casing=0.1"), seed=0)

    t0 = time.perf_counter()
    text_profile(real)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    _plain_python_profile(real)
    peer = time.perf_counter() - t0
    print(f"profile statistics, {n:,} texts: tether {n / ours:,.0f} texts/s, plain Python "
          f"(7 of the 12 statistics) {n / peer:,.0f} texts/s, ratio {peer / ours:.2f}x")

    t0 = time.perf_counter()
    result = mirage(real, synthetic, permutations=100)
    took = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"mirage (profile + two-sample test, 100 permutations), {n:,} vs {n:,} texts: "
          f"{took:.1f} s, {2 * n / took:,.0f} texts/s, peak memory {peak:,.0f} MB "
          f"(target < 60 s on 2 cores)")
    print(f"  AUC {result.c2st_auc:.3f} {np.round(result.auc_ci, 3).tolist()}, "
          f"p = {result.p_value:.3g}; {result.method}")


if __name__ == "__main__":
    main()
