"""13-gram contamination lists of N train texts against N eval texts (default 20,000;
``TETHER_BENCH_N``) with :func:`tether.audit.overlap.find_overlap`: the bounded result (every
pair counted, the default 1,000 strongest listed) against the previous behaviour (every pair
listed as a dict, reproduced with an unbounded ``max_pairs``) on the same texts in the same run.

Texts are three random sentences of real BBC News articles (as in ``bench_minhash``), so many
pairs share a sentence and with it a 13-gram: the case where the full list blew up. Quality:
both runs must give the same counts, flagged eval items and top of the list.
"""

from __future__ import annotations

import json
import os
import resource
import time
import tracemalloc

import pyarrow as pa
from bench_minhash import batch_texts, sentence_pool

from tether.audit.overlap import find_overlap


def timed(train, evals, max_pairs):
    tracemalloc.start()
    t = time.perf_counter()
    result = find_overlap(train, evals, max_pairs=max_pairs)
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, peak


def main() -> None:
    n = int(os.environ.get("TETHER_BENCH_N", "20000"))
    pool = sentence_pool()
    table = lambda texts, p: pa.table({"id": [f"{p}{k}" for k in range(len(texts))],
                                       "text": texts})
    train = table([t for s in range(0, n, 20_000) for t in batch_texts(pool, s, min(20_000, n - s))], "t")
    evals = table([t for s in range(0, n, 20_000)
                   for t in batch_texts(pool, 10 * n + s, min(20_000, n - s))], "e")
    rows = []
    for name, cap in (("bounded (tether)", 1000), ("every pair (old)", 10**12)):
        result, s, m = timed(train, evals, cap)
        size = len(json.dumps(result.to_dict())) / 2**20
        rows.append(result)
        print(f"{name:17} {n:,} x {n:,}: {s:6.1f} s, {2 * n / s:>8,.0f} texts/s, peak traced "
              f"{m:,.0f} MB, JSON {size:,.1f} MB; {result.ngram_pair_count:,} 13-gram pairs, "
              f"{len(result.ngram_overlap):,} listed, {result.contaminated_eval:,} eval flagged")
    a, b = rows
    same = (a.ngram_pair_count == b.ngram_pair_count and a.eval_matches == b.eval_matches
            and a.ngram_overlap == b.ngram_overlap[:len(a.ngram_overlap)] and a.pairs == b.pairs[:1000])
    print(f"quality: same counts, flagged items and list top: {same}; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
