"""Generation speed vs store size: the same run into a small store and into a large one.

``tether generate perturb`` writes each batch of ``BATCH`` children with ``store.ingest``
(dedup, parents, generations). This runs the same ``TETHER_BENCH_N`` seeds (default 20,000)
through the same generator twice, side by side on equal work: into a store holding only the
seeds, and into a store that also holds ``TETHER_BENCH_FILL`` rows (default 1,000,000) of
another dataset. Both stores are files, so the lock released between batches (readers get in)
is paid on both sides. Prints items/s of each and the ratio large/small (target >= 0.8: the
cost of a batch must not grow with the rest of the store).

Run: ``python benchmarks/run.py store_scale``.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from tether import Store
from tether.generate.base import run
from tether.generate.perturb import PerturbGenerator, Pipeline

BATCH = 1000
REPEATS = 2


def seeds(n: int) -> pa.Table:
    return pa.table({"id": [f"s{i}" for i in range(n)],
                     "text": [f"seed sentence {i} about interest rates and the weather" for i in range(n)],
                     "label": ["business" if i % 2 else "sport" for i in range(n)]})


def filler(n: int) -> pa.Table:
    return pa.table({"id": [f"f{i}" for i in range(n)],
                     "text": [f"unrelated row {i} of an old corpus" for i in range(n)],
                     "label": ["x"] * n})


def make_store(path: Path, n: int, fill: int) -> None:
    with Store(path) as s:
        if fill:
            s.ingest("archive", filler(fill), origin="real", label_origin="real")
        s.ingest("seeds", seeds(n), origin="real", label_origin="real")


def timed_run(template: Path, work: Path, into: str) -> tuple[float, int]:
    shutil.copy(template, work)
    with Store(work) as s:
        start = time.perf_counter()
        result = run(s, PerturbGenerator(Pipeline.parse("typos=0.05,casing=0.1")), "seeds", into,
                     seed=1, batch_size=BATCH)
        return time.perf_counter() - start, result.added


def main() -> None:
    n = int(os.environ.get("TETHER_BENCH_N", 20_000))
    fill = int(os.environ.get("TETHER_BENCH_FILL", 1_000_000))
    tmp = Path(tempfile.mkdtemp(prefix="tether-bench-"))
    try:
        start = time.perf_counter()
        make_store(tmp / "small.duckdb", n, 0)
        make_store(tmp / "large.duckdb", n, fill)
        print(f"{n:,} seeds in batches of {BATCH:,}; large store: +{fill:,} rows in another "
              f"dataset (built in {time.perf_counter() - start:.1f}s, "
              f"{(tmp / 'large.duckdb').stat().st_size / 2**20:,.0f} MB)")
        best = {"small": float("inf"), "large": float("inf")}
        for _ in range(REPEATS):  # interleaved, best of REPEATS: the machine may be shared
            for side in best:
                seconds, added = timed_run(tmp / f"{side}.duckdb", tmp / "work.duckdb", "syn")
                assert added == n, (side, added)
                best[side] = min(best[side], seconds)
        for side, seconds in best.items():
            print(f"{side:5}: {n / seconds:>9,.0f} items/s ({seconds:.2f}s, best of {REPEATS})")
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
        print(f"ratio large/small: {best['small'] / best['large']:.2f}  (target >= 0.8)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
