"""MinHash signatures + LSH on N texts (default 1,000,000; ``TETHER_BENCH_N``) against
``datasketch`` (``MinHash.update_batch`` + ``MinHashLSH``) on a subsample, same shingles
(character 5-grams of lowercased, whitespace-collapsed text), same 128 permutations and the same
banding (21 bands × 6 rows, tether's choice for threshold 0.8).

Texts are three random sentences of real BBC News articles (about 400 characters); every 100th
text is followed by a near-duplicate (one to three words replaced). Both sides report the
recall of those planted pairs (share that become LSH candidates, among pairs with exact
Jaccard ≥ 0.8), texts/s for signatures + LSH, and peak memory. Tether streams the texts in
batches of 20,000: memory is the band keys (N × 21 × 8 bytes) plus one batch.
"""

from __future__ import annotations

import os
import re
import resource
import time

import numpy as np

from tether.audit import minhash
from tether.datasets import load

BATCH = 20_000
EVERY = 100
THRESHOLD = 0.8


def sentence_pool() -> list[str]:
    pool = []
    for text in load("bbcnews").column("text").to_pylist():
        pool += [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.strip()) > 40]
    return pool


def batch_texts(pool: list[str], start: int, size: int) -> list[str]:
    """Texts ``start .. start+size``: deterministic, with a planted near-duplicate after every
    ``EVERY``-th text."""
    rng = np.random.default_rng(start)
    picks = rng.integers(0, len(pool), size=(size, 3))
    texts = [" ".join(pool[j] for j in row) for row in picks]
    for i in range(0, size - 1, EVERY):
        words = texts[i].split()
        for w in rng.choice(len(words), size=int(rng.integers(1, 4)), replace=False):
            words[w] = f"edit{rng.integers(10**6)}"
        texts[i + 1] = " ".join(words)
    return texts


def planted_pairs(n: int, pool: list[str]) -> list[tuple[int, int]]:
    """Planted pairs whose exact Jaccard is at least the threshold."""
    pairs = []
    for start in range(0, n, BATCH):
        texts = batch_texts(pool, start, min(BATCH, n - start))
        for i in range(0, len(texts) - 1, EVERY):
            a, b = minhash.shingle_sets([texts[i], texts[i + 1]])
            if minhash.jaccard(a, b) >= THRESHOLD:
                pairs.append((start + i, start + i + 1))
    return pairs


def shingles(text: str) -> list[bytes]:
    t = " ".join(text.lower().split())
    return [s.encode() for s in {t[i:i + 5] for i in range(max(1, len(t) - 4))}]


def run_tether(n: int, pool: list[str], bands: int, rows: int) -> tuple[float, np.ndarray]:
    keys = np.empty((n, bands), dtype=np.uint64)
    elapsed = 0.0
    for start in range(0, n, BATCH):
        texts = batch_texts(pool, start, min(BATCH, n - start))  # data generation, not timed
        t = time.perf_counter()
        keys[start:start + len(texts)] = minhash.band_keys(minhash.signatures(texts), bands, rows)
        elapsed += time.perf_counter() - t
    t = time.perf_counter()
    index = minhash.HashIndex(keys.reshape(-1), np.repeat(np.arange(n, dtype=np.int32), bands))
    query = np.arange(0, n, EVERY)
    q, other, _ = index.match(keys[query].reshape(-1), np.repeat(query, bands))
    elapsed += time.perf_counter() - t
    return elapsed, np.stack([q, other], axis=1)


def run_datasketch(n: int, pool: list[str], bands: int, rows: int) -> tuple[float, set]:
    from datasketch import MinHash, MinHashLSH

    texts = [t for start in range(0, n, BATCH)
             for t in batch_texts(pool, start, min(BATCH, n - start))]
    t = time.perf_counter()
    lsh = MinHashLSH(num_perm=128, params=(bands, rows))
    sketches = {}
    for i, text in enumerate(texts):
        m = MinHash(num_perm=128, seed=1)
        m.update_batch(shingles(text))
        lsh.insert(i, m)
        sketches[i] = m
    found = {(i, j) for i in range(0, n, EVERY) for j in lsh.query(sketches[i])}
    return time.perf_counter() - t, found


def recall(pairs: list[tuple[int, int]], found: set) -> float:
    return sum(p in found for p in pairs) / len(pairs) if pairs else float("nan")


def main() -> None:
    n = int(os.environ.get("TETHER_BENCH_N", 1_000_000))
    n_peer = min(n, int(os.environ.get("TETHER_BENCH_PEER_N", 10_000)))
    pool = sentence_pool()
    bands, rows = minhash.lsh_params(THRESHOLD, 128)
    pairs = planted_pairs(n, pool)
    minhash.signatures(batch_texts(pool, 0, 100))  # warm-up

    seconds, candidates = run_tether(n, pool, bands, rows)
    ours = {tuple(p) for p in candidates.tolist()}
    rss_ours = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"tether     {n:>9,} texts  {n / seconds:>10,.0f} texts/s  "
          f"recall {recall(pairs, ours):.4f} ({len(pairs)} planted pairs, "
          f"{bands} bands x {rows} rows)  peak RSS {rss_ours:,.0f} MB")

    peer_seconds, found = run_datasketch(n_peer, pool, bands, rows)
    peer_pairs = [p for p in pairs if p[1] < n_peer]
    ours_sub = recall(peer_pairs, ours)
    print(f"datasketch {n_peer:>9,} texts  {n_peer / peer_seconds:>10,.0f} texts/s  "
          f"recall {recall(peer_pairs, found):.4f} (tether on the same pairs: {ours_sub:.4f}, "
          f"{len(peer_pairs)} pairs)")
    print(f"ratio: tether is {(n / seconds) / (n_peer / peer_seconds):.1f}x datasketch "
          f"(target >= 10x)")


if __name__ == "__main__":
    main()
