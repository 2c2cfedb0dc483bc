"""The scaling table: time and peak memory of every audit at 10k and 100k texts (and 1M where
asked: ``TETHER_BENCH_SCALES=10000,100000,1000000``; ``TETHER_BENCH_N`` sets one size).

Each (audit, size) runs in a fresh process under a timeout (``TETHER_BENCH_CELL_TIMEOUT``
seconds, default 900) that kills it and reports ``timeout``. Texts are three random sentences
of real BBC News articles of one topic (the label, 5% flipped), as in ``bench_labels``; the
synthetic side is drawn the same way with another seed. ``N`` is texts per side:

- ``profile``: :func:`~tether.audit.profile.compare_profiles`, N real vs N synthetic;
- ``mirage``: :func:`~tether.audit.mirage.mirage` (profile + two-sample test, 100
  permutations), N vs N;
- ``overlap``: :func:`~tether.audit.overlap.find_overlap` (near-duplicates and 13-grams), N
  training texts against N/10 eval texts;
- ``memorization``: :func:`~tether.audit.overlap.memorization`, N synthetic, N source, N
  holdout;
- ``diversity``: :func:`~tether.audit.diversity.diversity` over 4 generations of N/4;
- ``coverage``: :func:`~tether.audit.coverage.coverage`, N vs N (5,000 a side used: its cap);
- ``style``: :func:`~tether.audit.style.style_features` + ``compare_style``, N vs N;
- ``labels``: :func:`~tether.audit.labels.label_issues` on N labelled rows;
- ``generator``: :func:`~tether.audit.generator.generator_audit`, N items, 10% of the labels
  changed, bias slices over the texts (SVD clusters).

Printed per cell: the audit's wall time, items/s (texts per side × sides / s), the process's
peak RSS and, for comparison, its RSS after the inputs were built (the imports and the data):
the audit's own memory is about the difference. The peer of this benchmark is the audit
itself at the smaller size: the ratio printed is time(N) / time(smallest N) against the
N ratio (linear scaling reads the same number twice).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa

AUDITS = ("profile", "mirage", "overlap", "memorization", "diversity", "coverage", "style",
          "labels", "generator")


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _table(texts: list[str], prefix: str, labels: list[str] | None = None) -> pa.Table:
    cols = {"id": [f"{prefix}{i}" for i in range(len(texts))], "text": texts}
    if labels is not None:
        cols["label"] = labels
    return pa.table(cols)


def _job(audit: str, n: int):  # noqa: C901 - one branch per audit, each a few lines
    """The inputs of ``audit`` at size ``n`` and a function that runs it on them."""
    from bench_labels import make

    real, real_labels, _ = make(n, seed=0)
    if audit == "profile":
        from tether.audit.profile import compare_profiles
        syn = make(n, seed=1)[0]
        return lambda: compare_profiles(real, syn)
    if audit == "mirage":
        from tether.audit.mirage import mirage
        syn = make(n, seed=1)[0]
        return lambda: mirage(real, syn, permutations=100)
    if audit == "overlap":
        from tether.audit.overlap import find_overlap
        ev = make(max(n // 10, 1), seed=1)[0]
        return lambda: find_overlap(_table(real, "t"), _table(ev, "e"))
    if audit == "memorization":
        from tether.audit.overlap import memorization
        syn, hold = make(n, seed=1)[0], make(n, seed=2)[0]
        return lambda: memorization(_table(syn, "s"), _table(real, "r"), _table(hold, "h"))
    if audit == "diversity":
        from tether.audit.diversity import diversity
        return lambda: diversity(real, generations=np.arange(n) * 4 // n)
    if audit == "coverage":
        from tether.audit.coverage import coverage
        syn = make(n, seed=1)[0]
        return lambda: coverage(real, syn)
    if audit == "style":
        from tether.audit.style import compare_style, style_features
        syn = make(n, seed=1)[0]
        return lambda: compare_style(style_features(real), style_features(syn))
    if audit == "labels":
        from tether.audit.labels import label_issues
        return lambda: label_issues(_table(real, "r", real_labels))
    if audit == "generator":
        from tether.audit.generator import generator_audit
        rng = np.random.default_rng(0)
        names = sorted(set(real_labels))
        made = [names[rng.integers(len(names))] if rng.random() < 0.1 else g
                for g in real_labels]
        return lambda: generator_audit(real_labels, made, texts=real)
    raise SystemExit(f"unknown audit {audit!r}; expected one of {', '.join(AUDITS)}")


def one(audit: str, n: int) -> None:
    """Run one cell in this process and print its figures as one JSON line."""
    run = _job(audit, n)
    setup = _rss()
    t = time.perf_counter()
    run()
    seconds = time.perf_counter() - t
    print(json.dumps({"seconds": seconds, "peak_mb": _rss(), "setup_mb": setup}))


def main() -> None:
    if "--one" in sys.argv:
        at = sys.argv.index("--one")
        one(sys.argv[at + 1], int(sys.argv[at + 2]))
        return
    scales = os.environ.get("TETHER_BENCH_N") or os.environ.get("TETHER_BENCH_SCALES",
                                                                "10000,100000")
    sizes = [int(s) for s in scales.split(",")]
    audits = os.environ.get("TETHER_BENCH_AUDITS", ",".join(AUDITS)).split(",")
    limit = float(os.environ.get("TETHER_BENCH_CELL_TIMEOUT", "900"))
    sides = {"overlap": 1.1, "memorization": 3, "diversity": 1, "labels": 1, "generator": 1}
    print("| audit | N | time | items/s | peak RSS | RSS with inputs | time ratio vs smallest N |")
    print("| --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for audit in audits:
        first = None
        for n in sizes:
            cmd = [sys.executable, __file__, "--one", audit, str(n)]
            child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                     start_new_session=True)
            try:
                out, _ = child.communicate(timeout=limit)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, 9)
                child.communicate()
                print(f"| {audit} | {n:,} | timeout (> {limit:.0f} s) | | | | |", flush=True)
                continue
            if child.returncode != 0 or not out.strip():
                print(f"| {audit} | {n:,} | failed (exit {child.returncode}) | | | | |",
                      flush=True)
                continue
            r = json.loads(out.strip().splitlines()[-1])
            first = first or (n, r["seconds"])
            ratio = (f"{r['seconds'] / first[1]:.1f}x for {n / first[0]:.0f}x N"
                     if n != first[0] else "")
            items = sides.get(audit, 2) * n / r["seconds"]
            print(f"| {audit} | {n:,} | {r['seconds']:.1f} s | {items:,.0f} | "
                  f"{r['peak_mb']:,.0f} MB | {r['setup_mb']:,.0f} MB | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
