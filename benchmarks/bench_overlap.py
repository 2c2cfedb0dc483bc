"""Overlap of N training texts (default 1,000,000; ``TETHER_BENCH_N``) against N/10 eval texts
with :func:`tether.audit.overlap.find_overlap` (MinHash + LSH, exact Jaccard of every candidate),
against ``datasketch`` (eval texts inserted into ``MinHashLSH``, train texts queried, candidates
verified by exact Jaccard too) on a subsample, scaled per text. The 13-gram check has no peer
and is left out (``long_ngram=0``; ``bench_contamination`` measures it): the texts here are
made of shared real sentences, so nearly every eval text shares a 13-gram with some training
text.

Every 100th eval text is a near-duplicate of a train text (one to three words replaced): both
sides report how many of those planted contaminations they find.
"""

from __future__ import annotations

import os
import resource
import time

import numpy as np
import pyarrow as pa

from bench_minhash import BATCH, THRESHOLD, batch_texts, sentence_pool, shingles
from tether.audit import minhash
from tether.audit.overlap import find_overlap


def make(n_train: int, pool: list[str]) -> tuple[pa.Table, pa.Table, set[tuple[int, int]]]:
    """Train texts, eval texts (fresh, and every 100th a near-copy of a train text) and the
    planted (train, eval) pairs whose exact Jaccard reaches the threshold."""
    train = [t for s in range(0, n_train, BATCH) for t in batch_texts(pool, s, min(BATCH, n_train - s))]
    n_eval = n_train // 10
    rng = np.random.default_rng(7)
    evals = batch_texts(pool, 10 * n_train, n_eval)
    planted = set()
    for j in range(0, n_eval, 100):
        i = (97 * (j // 100)) % n_train  # spread over train, the first ones in the subsample
        words = train[i].split()
        for w in rng.choice(len(words), size=int(rng.integers(1, 4)), replace=False):
            words[w] = f"edit{rng.integers(10**6)}"
        evals[j] = " ".join(words)
        a, b = minhash.shingle_sets([train[i], evals[j]])
        if minhash.jaccard(a, b) >= THRESHOLD:
            planted.add((i, j))
    table = lambda texts, p: pa.table({"id": [f"{p}{k}" for k in range(len(texts))], "text": texts})
    return table(train, "t"), table(evals, "e"), planted


def found_pairs(pairs: list[dict]) -> set[tuple[int, int]]:
    return {(int(p["train_id"][1:]), int(p["eval_id"][1:])) for p in pairs}


def run_datasketch(train: list[str], evals: list[str]) -> tuple[float, set[tuple[int, int]]]:
    from datasketch import MinHash, MinHashLSH

    bands, rows = minhash.lsh_params(THRESHOLD, 128)
    t = time.perf_counter()

    def sketch(text):
        m = MinHash(num_perm=128, seed=1)
        m.update_batch(shingles(text))
        return m

    lsh = MinHashLSH(num_perm=128, params=(bands, rows))
    for j, text in enumerate(evals):
        lsh.insert(j, sketch(text))
    found = set()
    for i, text in enumerate(train):
        for j in lsh.query(sketch(text)):
            a, b = set(shingles(text)), set(shingles(evals[j]))
            if len(a & b) / len(a | b) >= THRESHOLD:
                found.add((i, j))
    return time.perf_counter() - t, found


def main() -> None:
    n = int(os.environ.get("TETHER_BENCH_N", 1_000_000))
    n_peer = min(n, int(os.environ.get("TETHER_BENCH_PEER_N", 10_000)))
    pool = sentence_pool()
    train, evals, planted = make(n, pool)
    t = time.perf_counter()
    result = find_overlap(train, evals, threshold=THRESHOLD, long_ngram=0)
    seconds = time.perf_counter() - t
    ours = found_pairs(result.pairs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = train.num_rows + evals.num_rows
    print(f"tether     {train.num_rows:>9,} train x {evals.num_rows:>7,} eval: {seconds:6.1f} s, "
          f"{total / seconds:>9,.0f} texts/s, planted found {len(ours & planted)}/{len(planted)}, "
          f"{result.contaminated_eval} eval flagged; peak RSS {peak:,.0f} MB")
    # the peer on the first n_peer train texts and the eval texts their planted pairs point to
    sub_train = train.column("text").to_pylist()[:n_peer]
    sub_eval = evals.column("text").to_pylist()[:n_peer // 10]
    sub_planted = {(i, j) for i, j in planted if i < n_peer and j < n_peer // 10}
    peer_seconds, found = run_datasketch(sub_train, sub_eval)
    ours_sub = find_overlap(train.slice(0, n_peer), evals.slice(0, n_peer // 10),
                            threshold=THRESHOLD, long_ngram=0)
    print(f"datasketch {n_peer:>9,} train x {n_peer // 10:>7,} eval: {peer_seconds:6.1f} s, "
          f"{(n_peer + n_peer // 10) / peer_seconds:>9,.0f} texts/s, planted found "
          f"{len(found & sub_planted)}/{len(sub_planted)} (tether on the same: "
          f"{len(found_pairs(ours_sub.pairs) & sub_planted)}/{len(sub_planted)})")
    print(f"ratio: tether is {(total / seconds) / ((n_peer + n_peer // 10) / peer_seconds):.1f}x "
          f"datasketch per text")


if __name__ == "__main__":
    main()
