"""The Ray engine against the local engine on the same N-text perturbation job (default
1,000,000 texts, ``typos=0.05,casing=0.1``), Parquet folder in, Parquet folder with provenance out.

Each engine runs in a fresh process, so its peak memory (max RSS) is its own; the local
engine's must stay under 2 GB at 1M rows (it streams). For Ray the figure is the driver's
alone: its workers are separate processes. Ray runs a local cluster on this machine's CPUs;
its figure includes the cluster start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WORDS = ("market rates rise fall club match film album court minister phone chip league "
         "profit shares growth vote election player goal release chart network software").split()
FILES = 8
LIMIT_MB = 2048


def make_folder(n: int, folder: Path) -> Path:
    """``n`` short texts with ids and labels, in ``FILES`` Parquet files."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    per_file = -(-n // FILES)
    for k, start in enumerate(range(0, n, per_file)):
        m = min(per_file, n - start)
        lengths = rng.integers(8, 40, m)
        words = rng.integers(0, len(WORDS), lengths.sum())
        texts = [" ".join(WORDS[w] for w in chunk)
                 for chunk in np.split(words, np.cumsum(lengths)[:-1])]
        pq.write_table(pa.table({"id": [f"row-{start + i}" for i in range(m)], "text": texts,
                                 "label": [WORDS[i] for i in rng.integers(0, 5, m)]}),
                       folder / f"part-{k}.parquet", row_group_size=50_000)
    return folder


CHILD = r"""
import json, os, resource, sys, time
engine, src, out = sys.argv[1:4]
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
from tether.engines import run_transform
from tether.engines.transforms import perturb_transform
t = time.perf_counter()
if engine == "ray":
    import ray
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
result = run_transform(perturb_transform("typos=0.05,casing=0.1", seed=1), src, out,
                       engine=engine, batch_size=10_000)
elapsed = time.perf_counter() - t
print(json.dumps({"seconds": elapsed, "rows": result.rows_out,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(engine: str, src: Path, out: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, engine, str(src), str(out)],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    n = int(os.environ.get("TETHER_BENCH_N", 1_000_000))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        src = make_folder(n, folder / "in")
        print(f"made {n:,} texts in {FILES} Parquet files in {time.perf_counter() - t:.1f}s")
        local = measure("local", src, folder / "local")
        try:
            on_ray = measure("ray", src, folder / "ray")
        except subprocess.CalledProcessError as exc:
            print(f"ray engine not measured (is the ray extra installed?): "
                  f"{exc.stderr.strip().splitlines()[-1]}")
            on_ray = None
        print(f"{'engine':8} {'texts/s':>10} {'seconds':>8} {'peak MB':>8}")
        for name, m in (("local", local), ("ray", on_ray)):
            if m is not None:
                assert m["rows"] == n, m
                print(f"{name:8} {n / m['seconds']:10,.0f} {m['seconds']:8.1f} "
                      f"{m['peak_mb']:8,.0f}")
        if on_ray is not None:
            print(f"ratio ray/local (throughput): {local['seconds'] / on_ray['seconds']:.2f} "
                  f"on {os.cpu_count()} CPUs")
        verdict = "OK" if local["peak_mb"] < LIMIT_MB else "OVER"
        print(f"local engine peak memory {local['peak_mb']:,.0f} MB "
              f"(limit {LIMIT_MB:,} MB): {verdict}")


if __name__ == "__main__":
    main()
