"""``tether demo``: the whole discipline on real data that a package ships.

Example:
    >>> result = run_demo("/tmp/tether-demo-doctest", seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tether import datasets
from tether.store import Store

SPLITS = {"seed": 300, "holdout": 600, "gold": 200, "unlabelled": 600}


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its store and what it holds."""

    out_dir: str
    store: str
    datasets: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_demo(out_dir: str | Path = "tether-demo", *, seed: int = 0) -> DemoResult:
    """Split BBC News into real seed, held-out, gold and unlabelled sets and ingest them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store_file = out / "tether.duckdb"
    store_file.unlink(missing_ok=True)
    parts = datasets.split(datasets.load("bbcnews"), SPLITS, seed=seed)
    source = datasets.source("bbcnews")
    with Store(store_file) as store:
        for name, table in parts.items():
            labelled = name != "unlabelled"
            store.ingest(f"real-{name}", table if labelled else table.drop_columns(["label"]),
                         origin="real", label_origin="real" if labelled else None,
                         generator=source, domain="news", task="topic")
        counts = {d.name: d.count for d in store.datasets()}
    return DemoResult(str(out), str(store_file), counts)
