"""Memorization distances of N synthetic texts to S source texts (default 20,000 × 20,000;
``TETHER_BENCH_N`` sets N, ``TETHER_BENCH_SOURCE`` sets S, default N): :func:`tether.audit.overlap.nearest_distances` (MinHash LSH candidates,
exact Jaccard on candidates, censored at Jaccard 0.5) against the previous all-pairs path
(sparse intersection counts of every query against every source text, kept here as the
baseline) on the same texts, in the same run.

Texts are three random sentences of real BBC News articles (about 400 characters, as in
``bench_minhash``); every 10th synthetic text is a copy of a source text with 0–30% of its
words replaced, so true nearest similarities spread across the threshold. Quality: of the
queries whose all-pairs nearest Jaccard is ≥ the threshold, the share for which the LSH path
reports the same distance (recall; precision is exact by construction), and that every other
query is censored (distance 1).

Above 20,000 × 20,000 the all-pairs peer runs on the first 5,000 queries against every source
text (its full run would take O(N²): about 15 minutes at 100k); the ratio is then of pairs/s,
and quality is checked on those queries.
"""

from __future__ import annotations

import os
import resource
import time
import tracemalloc

import numpy as np
from bench_minhash import batch_texts, sentence_pool

from tether.audit import minhash
from tether.audit.overlap import _binary_rows, nearest_distances

THRESHOLD = 0.5
PEER_QUERIES = 5_000  # queries the all-pairs peer scores above 20,000 texts


def all_pairs(queries: list[str], reference: list[str], chunk_cells: int = 20_000_000
              ) -> tuple[np.ndarray, np.ndarray]:
    """The previous implementation: exact ``1 - max`` Jaccard over every (query, reference)."""
    ref_h, ref_off = minhash.shingle_hashes(reference)
    columns, col_of = np.unique(ref_h, return_inverse=True)
    ref = _binary_rows(np.diff(ref_off), col_of, columns.size)
    ref_size = np.diff(ref.indptr)
    step = max(1, chunk_cells // len(reference))
    dist = np.empty(len(queries))
    nearest = np.empty(len(queries), dtype=np.int64)
    for lo in range(0, len(queries), step):
        chunk = queries[lo:lo + step]
        h, off = minhash.shingle_hashes(chunk)
        local = np.unique(h, return_inverse=True)[1]
        size = np.diff(_binary_rows(np.diff(off), local, h.size).indptr)
        at = np.searchsorted(columns, h).clip(0, columns.size - 1)
        known = columns[at] == h
        rows = np.repeat(np.arange(len(chunk)), np.diff(off))
        query = _binary_rows(np.bincount(rows[known], minlength=len(chunk)), at[known],
                             columns.size)
        inter = (query @ ref.T).toarray()
        sim = inter / (size[:, None] + ref_size[None, :] - inter)
        nearest[lo:lo + len(chunk)] = sim.argmax(axis=1)
        dist[lo:lo + len(chunk)] = 1.0 - sim.max(axis=1)
    return dist, nearest


def make(n: int, n_ref: int) -> tuple[list[str], list[str]]:
    pool = sentence_pool()
    reference = [t for lo in range(0, n_ref, 100_000)
                 for t in batch_texts(pool, lo, min(100_000, n_ref - lo))]
    queries = [t for lo in range(0, n, 100_000)
               for t in batch_texts(pool, 10 * max(n, n_ref) + lo, min(100_000, n - lo))]
    rng = np.random.default_rng(3)
    for j in range(0, n, 10):
        words = reference[(7 * j) % n_ref].split()
        for w in rng.choice(len(words), size=int(rng.uniform(0, 0.3) * len(words)),
                            replace=False):
            words[w] = f"edit{rng.integers(10**6)}"
        queries[j] = " ".join(words)
    return queries, reference


def timed(fn, *args, **kw):
    tracemalloc.start()
    t = time.perf_counter()
    out = fn(*args, **kw)
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, seconds, peak


def main() -> None:
    n = int(os.environ.get("TETHER_BENCH_N", "20000"))
    n_ref = int(os.environ.get("TETHER_BENCH_SOURCE", n))
    queries, reference = make(n, n_ref)
    (d_new, n_new), s_new, m_new = timed(nearest_distances, queries, reference,
                                         threshold=THRESHOLD)
    rss_new = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    m = n if n * n_ref <= 20_000**2 else PEER_QUERIES
    (d_old, _), s_old, m_old = timed(all_pairs, queries[:m], reference)
    d_new, n_new = d_new[:m], n_new[:m]
    sim_old = 1 - d_old
    above = sim_old >= THRESHOLD
    recall = float(np.isclose(d_new[above], d_old[above]).mean()) if above.any() else 1.0
    censored_ok = bool((d_new[~above] == 1.0).all() and (n_new[~above] == -1).all())
    near = above & (sim_old < 0.7)
    near_recall = float(np.isclose(d_new[near], d_old[near]).mean()) if near.any() else 1.0
    for name, q, s, mem in (("LSH (tether)", n, s_new, m_new),
                            ("all pairs (old)", m, s_old, m_old)):
        print(f"{name:16} {q:,} x {n_ref:,}: {s:7.1f} s, {(q + n_ref) / s:>9,.0f} texts/s, "
              f"{q * n_ref / s:>13,.0f} pairs/s, peak traced {mem:,.0f} MB")
    print(f"quality: {above.sum():,} queries with a source record at Jaccard >= {THRESHOLD}; "
          f"LSH path recall {recall:.4f} ({near.sum():,} of them in [0.5, 0.7): "
          f"{near_recall:.4f}); all others censored: {censored_ok}")
    print(f"ratio: LSH is {(n / s_new) / (m / s_old):.1f}x the all-pairs path "
          f"(pairs/s; quality on the first {m:,} queries); peak RSS after the LSH path "
          f"{rss_new:,.0f} MB (inputs included), after both "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
