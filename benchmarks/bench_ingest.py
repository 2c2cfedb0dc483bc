"""Ingest N rows (default 1,000,000) from JSONL and from Parquet into the store, against DuckDB's
own ``read_json`` / ``read_parquet`` of the same file into a bare table, in the same run.

For JSONL there are two peers. DuckDB's default ``read_json`` types columns from the first
20,480 records: a key first seen later is dropped and a later number in a string column is
read as text, without a word. Tether types them from every record (as the store must: nothing
is stored different from what was given), so the equal-work peer is
``read_json(..., sample_size=-1)``; the ratio against the default read is printed too.

Each measurement runs ``TETHER_BENCH_REPEAT`` times (default 3), tether and DuckDB
alternating, and the medians are compared. Each runs in a fresh process so its peak memory
(max RSS) is its own; the child prints one ``RESULT <seconds> <MB>`` line, which the parent
reads (anything else it prints, such as a progress bar, is ignored). The bare DuckDB child
runs with its progress bar off, as the store does.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

#: runs of each measurement (``TETHER_BENCH_REPEAT``): the machine is shared, medians are steadier
REPEAT = int(os.environ.get("TETHER_BENCH_REPEAT", 3))
WORDS = ("market rates rise fall club match film album court minister phone chip league "
         "profit shares growth vote election player goal release chart network software").split()


def make_files(n: int, folder: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    jsonl, parquet = folder / "rows.jsonl", folder / "rows.parquet"
    writer = None
    with jsonl.open("w") as fh:
        for start in range(0, n, 100_000):
            k = min(100_000, n - start)
            lengths = rng.integers(8, 40, k)
            words = rng.integers(0, len(WORDS), lengths.sum())
            cuts = np.cumsum(lengths)[:-1]
            texts = [" ".join(WORDS[w] for w in chunk) for chunk in np.split(words, cuts)]
            labels = [WORDS[i] for i in rng.integers(0, 5, k)]
            ids = [f"row-{start + i}" for i in range(k)]
            fh.writelines(json.dumps({"id": i, "text": t, "label": lab}) + "\n"
                          for i, t, lab in zip(ids, texts, labels))
            batch = pa.table({"id": ids, "text": texts, "label": labels})
            writer = writer or pq.ParquetWriter(parquet, batch.schema)
            writer.write_table(batch)
    writer.close()
    return jsonl, parquet


CHILD = r"""
import sys, time, resource, duckdb
kind, path, store = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
if kind.startswith("duckdb"):
    reader = "read_json" if path.endswith(".jsonl") else "read_parquet"
    every = ", sample_size=-1" if kind == "duckdb-every" else ""
    con = duckdb.connect(store)
    con.execute("SET enable_progress_bar = false")
    con.execute(f"CREATE TABLE bare AS SELECT * FROM {reader}('{path}'{every})")
    con.close()
else:
    from tether import Store
    with Store(store) as s:
        s.ingest("bench", path, origin="real", label_origin="real")
elapsed = time.perf_counter() - t
print("RESULT", elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def measure(kind: str, path: Path, folder: Path) -> tuple[float, float]:
    store = folder / f"{kind}-{path.suffix[1:]}.duckdb"
    store.unlink(missing_ok=True)
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(path), str(store)],
                         check=True, capture_output=True, text=True).stdout
    result = [line.split() for line in out.splitlines() if line.startswith("RESULT ")]
    if len(result) != 1:
        raise RuntimeError(f"the {kind} child printed no RESULT line: {out[-500:]!r}")
    return float(result[0][1]), float(result[0][2])


def main() -> None:
    n = int(os.environ.get("TETHER_BENCH_N", 1_000_000))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        files = make_files(n, folder)
        print(f"made {n:,} rows in {time.perf_counter() - t:.1f}s")
        print(f"medians of {REPEAT} runs each, tether and duckdb alternating; ratio = duckdb "
              "seconds / tether seconds (its range over the pairs of runs in brackets)")
        print(f"{'input':8} {'peer':34} {'tether rows/s':>14} {'peer rows/s':>12} "
              f"{'ratio':>18} {'tether peak MB':>15}")
        for path in files:
            peers = {"duckdb": f"{path.suffix[1:]} default read"}
            if path.suffix == ".jsonl":
                peers = {"duckdb-every": "read_json, types from every record",
                         "duckdb": "read_json, types from 20,480"}
            runs = [(measure("tether", path, folder),
                     *(measure(peer, path, folder) for peer in peers)) for _ in range(REPEAT)]
            ours = statistics.median(run[0][0] for run in runs)
            peak = max(run[0][1] for run in runs)
            for i, name in enumerate(peers.values(), start=1):
                peer = statistics.median(run[i][0] for run in runs)
                pairs = [run[i][0] / run[0][0] for run in runs]
                spread = f"{peer / ours:.2f} ({min(pairs):.2f}-{max(pairs):.2f})"
                print(f"{path.suffix[1:]:8} {name:34} {n / ours:14,.0f} {n / peer:12,.0f} "
                      f"{spread:>18} {peak:15,.0f}")


if __name__ == "__main__":
    main()
