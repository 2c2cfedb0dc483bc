"""Per-item text scores vs rouge-score: ROUGE-L and unigram (token) F1 on the same pairs.

Pairs: ``TETHER_BENCH_N`` (default 5,000) BBC News prefixes (references) against perturbed
copies (30% of words dropped, some reordered). tether's ``score_many(..., "rouge_l")`` is timed
against ``RougeScorer(["rougeL"])`` and tether's bag-of-tokens F1 (on rouge-score's tokens, so
the numbers are comparable) against ``RougeScorer(["rouge1"])``; scores must agree to 1e-9.
Best of 3 interleaved runs per side (the machine may be shared).

Run: ``python benchmarks/run.py scores``.
"""

from __future__ import annotations

import os
import time

import numpy as np

from tether import datasets
from tether.evaluate import scores as sc

REPEATS = 3


def pairs(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    texts = datasets.load("bbcnews").column("text").to_pylist()
    rng = np.random.default_rng(seed)
    preds, refs = [], []
    for i in range(n):
        words = texts[i % len(texts)].split()[:80]
        refs.append(" ".join(words[: rng.integers(10, 60)]))
        kept = [w for w in words if rng.random() > 0.3]
        rng.shuffle(kept[: len(kept) // 4])
        preds.append(" ".join(kept[: rng.integers(5, 60)]))
    return preds, refs


def ours_f1(preds, refs):
    return np.array([sc._f1_tokens(sc._rouge_tokens(p), sc._rouge_tokens(r))
                     for p, r in zip(preds, refs)])


def best(fn, *args):
    t, out = float("inf"), None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        out = fn(*args)
        t = min(t, time.perf_counter() - t0)
    return t, out


def main() -> None:
    from rouge_score import rouge_scorer

    n = int(os.environ.get("TETHER_BENCH_N", 5000))
    preds, refs = pairs(n)
    for name, key, ours in (("rouge_l", "rougeL", lambda p, r: sc.score_many(p, r, "rouge_l")),
                            ("token_f1", "rouge1", ours_f1)):
        scorer = rouge_scorer.RougeScorer([key])

        def peer(p, r, scorer=scorer, key=key):
            return np.array([scorer.score(b, a)[key].fmeasure for a, b in zip(p, r)])

        t_ours, a = best(ours, preds, refs)
        t_peer, b = best(peer, preds, refs)
        diff = float(np.max(np.abs(a - b)))
        assert diff < 1e-9, f"{name}: max difference {diff}"
        print(f"{name}: tether {n / t_ours:,.0f} pairs/s, rouge-score {n / t_peer:,.0f} pairs/s, "
              f"ratio {t_peer / t_ours:.1f}x, max |diff| {diff:.1e}")


if __name__ == "__main__":
    main()
