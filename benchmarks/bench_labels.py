"""Label issues on N rows (default 20,000; ``TETHER_BENCH_N``) with 5% planted label flips:
the default student of :func:`tether.audit.labels.out_of_fold_probs` (n-gram matrix built once,
a linear classifier per fold) against the previous default (the TF-IDF + saga pipeline of
:func:`tether.students.default_text_classifier`, refitted per fold on texts), on the same rows
in the same run (the previous one only up to ``TETHER_BENCH_OLD_N``, default 20,000: at 100k
rows it did not finish).

Rows are three random sentences of real BBC News articles of one topic (the label); 5% of the
labels are flipped to another topic. Quality: recall and precision of the flips among the
issues cleanlab flags on each student's out-of-fold probabilities.
"""

from __future__ import annotations

import os
import re
import resource
import time
import tracemalloc

import numpy as np
from cleanlab.filter import find_label_issues

from tether.audit.labels import out_of_fold_probs
from tether.datasets import load
from tether.students import default_text_classifier


def make(n: int, seed: int = 0) -> tuple[list[str], list[str], set[int]]:
    bbc = load("bbcnews")
    pools: dict[str, list[str]] = {}
    for text, label in zip(bbc.column("text").to_pylist(), bbc.column("label").to_pylist()):
        pools.setdefault(label, []).extend(
            s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.strip()) > 40)
    classes = sorted(pools)
    rng = np.random.default_rng(seed)
    truth = [classes[c] for c in rng.integers(0, len(classes), n)]
    texts = [" ".join(pools[c][j] for j in rng.integers(0, len(pools[c]), 3)) for c in truth]
    flips = rng.choice(n, n // 20, replace=False)
    noisy = list(truth)
    for i in flips:
        noisy[i] = str(rng.choice([c for c in classes if c != truth[i]]))
    return texts, noisy, set(flips.tolist())


def run(texts, labels, flips, estimator=None):
    tracemalloc.start()
    t = time.perf_counter()
    probs, classes = out_of_fold_probs(texts, labels, estimator=estimator)
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    found = set(np.flatnonzero(find_label_issues(np.searchsorted(classes, labels), probs)).tolist())
    return seconds, peak, len(found & flips) / len(flips), len(found & flips) / max(len(found), 1)


def main() -> None:
    n = int(os.environ.get("TETHER_BENCH_N", "20000"))
    n_old = min(n, int(os.environ.get("TETHER_BENCH_OLD_N", "20000")))
    texts, labels, flips = make(n)
    rows = [("tether default", n, run(texts, labels, flips))]
    sub = {i for i in flips if i < n_old}
    rows.append(("previous (saga)", n_old,
                 run(texts[:n_old], labels[:n_old], sub, default_text_classifier(0))))
    if n_old < n:
        rows.append(("tether default", n_old, run(texts[:n_old], labels[:n_old], sub)))
    for name, size, (s, m, recall, precision) in rows:
        print(f"{name:16} {size:>8,} rows: {s:7.1f} s, {size / s:>8,.0f} rows/s, peak traced "
              f"{m:,.0f} MB; planted flips: recall {recall:.3f}, precision {precision:.3f}")
    old = rows[1][2][0]
    new = rows[-1][2][0] if n_old < n else rows[0][2][0]
    print(f"ratio: tether default is {old / new:.1f}x the previous student on {n_old:,} rows; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
