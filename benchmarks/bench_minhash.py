"""MinHash signatures + LSH against ``datasketch`` and ``rensa`` at the same N, with recall and
precision on pairs near the threshold.

All three libraries get the same texts, the same shingles (character 5-grams of lowercased,
whitespace-collapsed text), 128 permutations (seed 1) and the same banding: 21 bands × 6 rows,
tether's choice for threshold 0.8 (``datasketch`` ``MinHashLSH(params=(21, 6))``). ``rensa``'s
``RMinHashLSH`` wants ``num_perm`` divisible by the band count, so it gets 126 permutations in
21 bands of 6 rows: the same banding, two fewer values for its estimate. Each builds its index
over all N texts, queries the first text of every planted pair, and keeps the candidates whose
own MinHash estimate of Jaccard is ≥ 0.8, as a user of it would (``MinHash.jaccard``,
``RMinHash.jaccard``, the share of equal signature values for tether). Tether's own audits then
verify candidates by exact Jaccard; that step is timed and printed on its own line.

Texts are three random sentences of real BBC News articles (about 400 characters); every
``EVERY``-th text is followed by a copy with a random share (1-12%) of its words replaced, so
the planted pairs' exact Jaccard spreads over about 0.55-0.97. Printed per bin of exact Jaccard:
the share of planted pairs that become LSH candidates and (in brackets) the share kept after the
estimate, with the theoretical candidate probability of 21 × 6 banding beside them. Precision is
the share of kept pairs (planted or not) whose exact Jaccard is ≥ 0.8.

Each library runs in a fresh process (``--run LIB N``) so that its peak memory (max RSS, the
streamed texts of one batch included) is its own; texts are generated in batches of 20,000 and
generation is not timed. N is ``TETHER_BENCH_PEER_N`` (default 100,000) for the comparison;
tether also runs at ``TETHER_BENCH_N`` (default 1,000,000) for the throughput row.
"""

from __future__ import annotations

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

from tether.audit import minhash
from tether.audit.overlap import pair_jaccard
from tether.datasets import load

BATCH = 20_000
EVERY = 20
THRESHOLD = 0.8
NUM_PERM = 128
SEED = 1
BINS = (0.0, 0.6, 0.7, 0.8, 0.9, 1.0)


def sentence_pool() -> list[str]:
    pool = []
    for text in load("bbcnews").column("text").to_pylist():
        pool += [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.strip()) > 40]
    return pool


def batch_texts(pool: list[str], start: int, size: int) -> list[str]:
    """Texts ``start .. start+size``: deterministic, each ``EVERY``-th followed by a copy with
    1-12% of its words replaced."""
    rng = np.random.default_rng(start)
    picks = rng.integers(0, len(pool), size=(size, 3))
    texts = [" ".join(pool[j] for j in row) for row in picks]
    for i in range(0, size - 1, EVERY):
        words = texts[i].split()
        k = max(1, round(rng.uniform(0.01, 0.12) * len(words)))
        for w in rng.choice(len(words), size=k, replace=False):
            words[w] = f"edit{rng.integers(10**6)}"
        texts[i + 1] = " ".join(words)
    return texts


def batches(pool: list[str], n: int):
    for start in range(0, n, BATCH):
        yield start, batch_texts(pool, start, min(BATCH, n - start))


def shingles(text: str) -> set[str]:
    t = " ".join(text.lower().split())
    return {t[i:i + 5] for i in range(max(1, len(t) - 4))}


def run_tether(pool: list[str], n: int, bands: int, rows: int) -> tuple[float, tuple]:
    minhash.signatures(batch_texts(pool, 0, 100))  # warm-up
    sig = np.empty((n, NUM_PERM), dtype=np.uint32)
    elapsed = 0.0
    for start, texts in batches(pool, n):
        t = time.perf_counter()
        sig[start:start + len(texts)] = minhash.signatures(texts, NUM_PERM, seed=SEED)
        elapsed += time.perf_counter() - t
    t = time.perf_counter()
    keys = minhash.band_keys(sig, bands, rows)
    index = minhash.HashIndex(keys.reshape(-1), np.repeat(np.arange(n, dtype=np.int32), bands))
    query = np.arange(0, n, EVERY)
    q, o, _ = index.match(keys[query].reshape(-1), np.repeat(query, bands))
    q, o = q[q != o], o[q != o]
    estimate = (sig[q] == sig[o]).mean(axis=1)
    elapsed += time.perf_counter() - t
    return elapsed, (q, o, estimate >= THRESHOLD)


def run_rensa(pool: list[str], n: int, bands: int, rows: int) -> tuple[float, tuple]:
    from rensa import RMinHash, RMinHashLSH

    num_perm = bands * rows  # RMinHashLSH needs num_perm divisible by num_bands
    lsh = RMinHashLSH(threshold=THRESHOLD, num_perm=num_perm, num_bands=bands)
    sketches, elapsed = [], 0.0
    for start, texts in batches(pool, n):
        t = time.perf_counter()
        tokens = [list(shingles(x)) for x in texts]
        SHINGLING[0] += time.perf_counter() - t
        part = RMinHash.from_token_sets(tokens, num_perm, SEED)
        lsh.insert_many(part, start_key=start)
        sketches += part
        elapsed += time.perf_counter() - t
    t = time.perf_counter()
    query = list(range(0, n, EVERY))
    found = lsh.query_all([sketches[i] for i in query])
    pairs = [(i, j, sketches[i].jaccard(sketches[j]) >= THRESHOLD)
             for i, js in zip(query, found) for j in js if j != i]
    elapsed += time.perf_counter() - t
    return elapsed, tuple(np.array(c) for c in zip(*pairs))


def run_datasketch(pool: list[str], n: int, bands: int, rows: int) -> tuple[float, tuple]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(num_perm=NUM_PERM, params=(bands, rows))
    sketches, elapsed = [], 0.0
    for start, texts in batches(pool, n):
        t = time.perf_counter()
        tokens = [[s.encode() for s in shingles(x)] for x in texts]
        SHINGLING[0] += time.perf_counter() - t
        for i, grams in enumerate(tokens, start):
            m = MinHash(num_perm=NUM_PERM, seed=SEED)
            m.update_batch(grams)
            lsh.insert(i, m)
            sketches.append(m)
        elapsed += time.perf_counter() - t
    t = time.perf_counter()
    pairs = [(i, j, sketches[i].jaccard(sketches[j]) >= THRESHOLD)
             for i in range(0, n, EVERY) for j in lsh.query(sketches[i]) if j != i]
    elapsed += time.perf_counter() - t
    return elapsed, tuple(np.array(c) for c in zip(*pairs))


#: seconds a peer spent making its shingles in Python (part of its time; tether's are inside
#: ``signatures``)
SHINGLING = [0.0]
RUNS = {"tether": run_tether, "rensa": run_rensa, "datasketch": run_datasketch}


def child(lib: str, n: int, out: str) -> None:
    """One library at ``n`` texts in this process: candidates to ``out`` (.npz), then a
    ``RESULT`` line with seconds and peak memory."""
    pool = sentence_pool()
    bands, rows = minhash.lsh_params(THRESHOLD, NUM_PERM)
    seconds, (q, o, kept) = RUNS[lib](pool, n, bands, rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    np.savez(out, q=np.asarray(q, dtype=np.int64), o=np.asarray(o, dtype=np.int64),
             kept=np.asarray(kept, dtype=bool))
    print("RESULT", json.dumps({"seconds": seconds, "peak_mb": peak,
                                "shingling": SHINGLING[0]}))


def measure(lib: str, n: int, folder: Path) -> dict:
    out = folder / f"{lib}-{n}.npz"
    text = subprocess.run([sys.executable, __file__, "--run", lib, str(n), str(out)],
                          check=True, capture_output=True, text=True).stdout
    result = json.loads([x for x in text.splitlines() if x.startswith("RESULT ")][-1][7:])
    with np.load(out) as found:
        result.update(q=found["q"], o=found["o"], kept=found["kept"])
    return result


class Truth:
    """Exact Jaccard of pairs of the N texts (tether's exact shingle-set Jaccard)."""

    def __init__(self, pool: list[str], n: int) -> None:
        self.texts = [t for _, texts in batches(pool, n) for t in texts]
        first = np.arange(0, n - 1, EVERY)
        self.planted = (first, first + 1, self.jaccard(first, first + 1))

    def jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return pair_jaccard(self.texts, self.texts, a, b)


def per_bin(truth: Truth, run: dict) -> list[tuple[float, float]]:
    """Per exact-Jaccard bin of the planted pairs: (share that are candidates, share kept)."""
    a, b, sim = truth.planted
    span = max(int(a.max(initial=0)), int(run["o"].max(initial=0))) + 2
    cand = dict(zip((run["q"] * span + run["o"]).tolist(), run["kept"].tolist()))
    codes = (a * span + b).tolist()
    is_cand = np.array([c in cand for c in codes])
    is_kept = np.array([cand.get(c, False) for c in codes])
    where = np.digitize(sim, BINS[1:-1])
    return [(is_cand[where == k].mean(), is_kept[where == k].mean()) if (where == k).any()
            else (float("nan"), float("nan")) for k in range(len(BINS) - 1)]


def precision(truth: Truth, run: dict) -> tuple[float, int]:
    q, o = run["q"][run["kept"]], run["o"][run["kept"]]
    sims = truth.jaccard(q, o)
    return (float((sims >= THRESHOLD).mean()) if sims.size else float("nan")), int(sims.size)


def main() -> None:
    if sys.argv[1:2] == ["--run"]:
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    n_big = int(os.environ.get("TETHER_BENCH_N", 1_000_000))
    n = min(n_big, int(os.environ.get("TETHER_BENCH_PEER_N", 100_000)))
    bands, rows = minhash.lsh_params(THRESHOLD, NUM_PERM)
    pool = sentence_pool()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {lib: measure(lib, n, Path(tmp)) for lib in RUNS}
        truth = Truth(pool, n)
        t = time.perf_counter()
        verified = truth.jaccard(runs["tether"]["q"], runs["tether"]["o"]) >= THRESHOLD
        verify_seconds = time.perf_counter() - t
        big = measure("tether", n_big, Path(tmp)) if n_big > n else None
    print(f"{n:,} texts, {len(truth.planted[0]):,} planted pairs, {bands} bands x {rows} rows, "
          f"{NUM_PERM} permutations (rensa {bands * rows}); each library keeps candidates whose "
          f"own estimate >= {THRESHOLD}")
    print(f"{'library':11} {'texts/s':>9} {'peak MB':>8} {'candidates':>10} {'kept':>7} "
          f"{'precision':>9} {'ratio':>6}  (ratio: tether texts/s / this)")
    ours = n / runs["tether"]["seconds"]
    for lib, run in runs.items():
        speed = n / run["seconds"]
        prec, kept = precision(truth, run)
        shingled = (f"  (Python shingling {run['shingling'] / run['seconds']:.0%} of its time)"
                    if run["shingling"] else "")
        print(f"{lib:11} {speed:9,.0f} {run['peak_mb']:8,.0f} {run['q'].size:10,} {kept:7,} "
              f"{prec:9.4f} {ours / speed:5.1f}x{shingled}")
    q, o = runs["tether"]["q"][verified], runs["tether"]["o"][verified]
    print(f"tether + exact Jaccard of every candidate (as its audits do): {verify_seconds:.2f} s "
          f"more, {q.size:,} kept, precision 1 by construction")
    heads = [f"[{lo:.1f},{hi:.1f})" if hi < 1 else f">={lo:.1f}" for lo, hi in zip(BINS, BINS[1:])]
    counts = np.bincount(np.digitize(truth.planted[2], BINS[1:-1]), minlength=len(heads))
    theory = [float(np.mean(minhash.candidate_probability(truth.planted[2][
        np.digitize(truth.planted[2], BINS[1:-1]) == k], bands, rows))) if counts[k] else np.nan
        for k in range(len(heads))]
    print("planted pairs per exact-Jaccard bin: share that are LSH candidates (share kept "
          "after the estimate)")
    print(f"{'bin':10} {'pairs':>6} {'theory':>7} " + " ".join(f"{lib:>16}" for lib in runs))
    cells = {lib: per_bin(truth, run) for lib, run in runs.items()}
    for k, head in enumerate(heads):
        print(f"{head:10} {counts[k]:6,} {theory[k]:7.3f} " + " ".join(
            f"{cells[lib][k][0]:8.3f} ({cells[lib][k][1]:.3f})" for lib in runs))
    if big is not None:
        print(f"tether at {n_big:,} texts: {n_big / big['seconds']:,.0f} texts/s "
              f"(signatures + LSH + queries + estimates), peak RSS {big['peak_mb']:,.0f} MB, "
              f"{big['q'].size:,} candidates of {n_big // EVERY:,} queries")


if __name__ == "__main__":
    main()
