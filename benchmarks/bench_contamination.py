"""13-gram contamination of N train texts (default 1,000,000; ``TETHER_BENCH_N``) against N/10
eval texts with :func:`tether.audit.overlap.find_overlap`: the bounded audit (13-grams in more
than 50 training texts dropped as boilerplate, every pair counted, the 1,000 strongest of each
kind listed, every pair streamed to Parquet) against the previous behaviour (no cap, every pair
held and listed as a dict: ``max_train_df=None``, an unbounded ``max_pairs``) side by side at
a size it can run (``TETHER_BENCH_PEER_N`` train texts, default 300,000). Each run is a process
of its own, so its peak RSS (``ru_maxrss``, inputs included) is its own.

Texts are three random sentences of real BBC News articles (as in ``bench_minhash``); every
sentence recurs in about 3N / 37,000 training texts (~80 at 1M), so nearly every eval text
shares 13-grams with many training texts: that is what the cap drops, and each run prints how
many distinct 13-grams it dropped and in how many eval texts. Planted in the eval set: every
100th eval text is a near-copy of a train text (one to three words replaced; counted when its
exact Jaccard reaches 0.8), and every 100th, 50 further on, ends with a 26-word span of one
train text across that text's first sentence boundary (so the span's 13-grams that cross it
are in that one train text). Equal work and quality: both runs produce every pair (the old one
in memory, tether in the Parquet file) and report how many planted pairs are among them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import bench_minhash
from bench_minhash import BATCH, THRESHOLD, batch_texts, sentence_pool

from tether.audit import minhash
from tether.audit.overlap import MAX_TRAIN_DF, find_overlap

EVERY = 100
SPAN = 13  # words either side of the sentence boundary a planted span crosses
_SENTENCE_END = re.compile(r"[.!?]$")


def source(k: int, n_train: int) -> int:
    """The train text the ``k``-th planted near-copy comes from (its span plant takes the next
    one): spread over the set, neither of them one of ``batch_texts``' own near-duplicate pairs
    (texts 0 and 1 of every ``bench_minhash.EVERY``), so each plant has one train source."""
    every = bench_minhash.EVERY
    return every * ((97 * k) % (n_train // every)) + 2 + k % (every - 3)


def make(n_train: int, pool: list[str]) -> tuple[pa.Table, pa.Table, set, set]:
    """Train and eval tables, the planted near-duplicate pairs and the planted span pairs (as
    ``(train row, eval row)``)."""
    train = pa.Table.from_batches([
        pa.record_batch({"id": [f"t{s + k}" for k in range(size)],
                         "text": batch_texts(pool, s, size)})
        for s in range(0, n_train, BATCH) for size in [min(BATCH, n_train - s)]])
    n_eval = n_train // 10
    evals = [t for s in range(0, n_eval, BATCH)
             for t in batch_texts(pool, 10 * n_train + s, min(BATCH, n_eval - s))]
    texts = train.column("text")
    rng = np.random.default_rng(7)
    near, spans = set(), set()
    for k, j in enumerate(range(0, n_eval - EVERY // 2, EVERY)):
        i = source(k, n_train)
        words = texts[i].as_py().split()
        for w in rng.choice(len(words), size=int(rng.integers(1, 4)), replace=False):
            words[w] = f"edit{rng.integers(10**6)}"
        evals[j] = " ".join(words)
        a, b = minhash.shingle_sets([texts[i].as_py(), evals[j]])
        if minhash.jaccard(a, b) >= THRESHOLD:
            near.add((i, j))
        words = texts[i + 1].as_py().split()
        end = next((w for w, word in enumerate(words) if _SENTENCE_END.search(word)),
                   len(words) // 2)
        span = words[max(0, end + 1 - SPAN):end + 1 + SPAN]
        evals[j + EVERY // 2] += " " + " ".join(span)
        spans.add((i + 1, j + EVERY // 2))
    eval_table = pa.table({"id": [f"e{k}" for k in range(n_eval)], "text": evals})
    return train, eval_table, near, spans


def run(mode: str, n_train: int) -> dict:
    """One measured run in this process: ``tether`` (defaults, pairs to Parquet) or ``old``."""
    train, evals, near, spans = make(n_train, sentence_pool())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pairs.parquet"
        options = ({"pairs_path": path} if mode == "tether"
                   else {"max_train_df": None, "max_pairs": 10**12})
        t = time.perf_counter()
        r = find_overlap(train, evals, threshold=THRESHOLD, **options)
        seconds = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if mode == "tether":
            cols = pq.read_table(path).to_pydict()
            listed = zip(cols["kind"], cols["train_id"], cols["eval_id"])
        else:
            listed = ([("near_duplicate", p["train_id"], p["eval_id"]) for p in r.pairs]
                      + [("ngram", p["train_id"], p["eval_id"]) for p in r.ngram_overlap])
        found = {"near_duplicate": set(), "ngram": set()}
        for kind, tid, eid in listed:
            found[kind].add((int(tid[1:]), int(eid[1:])))
    top = [r.eval_matches, r.pair_count, r.ngram_pair_count, r.pairs[:1000],
           r.ngram_overlap[:1000]]
    return {"mode": mode, "train": train.num_rows, "eval": evals.num_rows, "seconds": seconds,
            "peak_mb": peak, "pairs": r.pair_count, "ngram_pairs": r.ngram_pair_count,
            "listed": len(r.pairs) + len(r.ngram_overlap),
            "json_mb": len(json.dumps(r.to_dict())) / 2**20, "flagged": r.contaminated_eval,
            "dropped": r.dropped_ngrams, "dropped_eval": r.dropped_ngram_eval,
            "near_found": len(found["near_duplicate"] & near), "near_planted": len(near),
            "span_found": len(found["ngram"] & spans), "span_planted": len(spans),
            "digest": hashlib.sha1(json.dumps(top, sort_keys=True).encode()).hexdigest()}


def measured(mode: str, n_train: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--run", mode, str(n_train)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def show(label: str, m: dict) -> None:
    print(f"{label:38} {m['train']:>9,} x {m['eval']:>7,}: {m['seconds']:6.1f} s, "
          f"{(m['train'] + m['eval']) / m['seconds']:>7,.0f} texts/s, peak RSS "
          f"{m['peak_mb']:,.0f} MB; pairs counted: {m['ngram_pairs']:,} 13-gram + "
          f"{m['pairs']:,} near-duplicate, {m['listed']:,} listed (JSON {m['json_mb']:,.1f} MB); "
          f"{m['flagged']:,} eval flagged; dropped {m['dropped']:,} 13-grams in "
          f"{m['dropped_eval']:,} eval texts; planted found: spans {m['span_found']}/"
          f"{m['span_planted']}, near-duplicates {m['near_found']}/{m['near_planted']}",
          flush=True)


def main() -> None:
    if sys.argv[1:2] == ["--run"]:
        print(json.dumps(run(sys.argv[2], int(sys.argv[3]))))
        return
    n = int(os.environ.get("TETHER_BENCH_N", 1_000_000))
    n_peer = min(n, int(os.environ.get("TETHER_BENCH_PEER_N", 300_000)))
    ours, old = measured("tether", n_peer), measured("old", n_peer)
    show(f"tether (cap {MAX_TRAIN_DF}, every pair to Parquet)", ours)
    show("old (no cap, every pair listed)", old)
    print(f"ratio at {n_peer:,} x {n_peer // 10:,}: peak RSS old/tether "
          f"{old['peak_mb'] / ours['peak_mb']:.2f}x, time old/tether "
          f"{old['seconds'] / ours['seconds']:.2f}x; same counts, flagged items and list top: "
          f"{ours['digest'] == old['digest']} (the cap dropped {ours['dropped']:,} 13-grams "
          "here)")
    if n > n_peer:
        big = measured("tether", n)
        show(f"tether (cap {MAX_TRAIN_DF}, every pair to Parquet)", big)
        every = (big["span_found"] == big["span_planted"]
                 and big["near_found"] == big["near_planted"])
        print(f"target at {n:,} x {n // 10:,}: peak RSS {big['peak_mb']:,.0f} MB (< 2,048 MB: "
              f"{big['peak_mb'] < 2048}), every planted contamination found: {every}")


if __name__ == "__main__":
    main()
