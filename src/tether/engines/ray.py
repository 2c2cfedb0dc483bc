"""The ``ray`` engine: the same batch functions on Ray Data, from Parquet to Parquet.

``ray.data.read_parquet(...).map_batches(fn, batch_format="pyarrow", batch_size=...)`` then
``write_parquet``: Ray schedules the batches over the cluster's workers and streams them, so
the data may be far larger than one machine's memory. Paths and object-store URLs are handed
to Ray with their ``pyarrow`` filesystem. Without a running cluster (``ray.init(address=...)``
beforehand, or ``RAY_ADDRESS``), Ray starts a local one.

Needs the ``ray`` extra: ``pip install 'tether[ray]'``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from tether.engines.base import Aggregate, Progress, Transform
from tether.errors import TetherError

_PREFLIGHT_ROWS = 8


def _ray() -> Any:
    """``ray`` (with Ray Data), or a :class:`TetherError` saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (the extra installs both; check the data part too)
    except ImportError:
        raise TetherError("the ray engine needs Ray Data: pip install 'tether[ray]'") from None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not ray.is_initialized():
        ray.init(include_dashboard=False, ignore_reinit_error=True)
    return ray


def _read(ray: Any, dataset: ds.Dataset) -> Any:
    return ray.data.read_parquet(list(dataset.files), filesystem=dataset.filesystem,
                                 partitioning=None)


def _preflight(fn: Callable[[pa.Table], Any], dataset: ds.Dataset) -> None:
    """Run ``fn`` on the first rows here: input errors (a missing column, say) then surface as
    themselves, not wrapped in the ``RayTaskError`` of a worker."""
    fn(dataset.head(_PREFLIGHT_ROWS))


def transform(fn: Transform, dataset: ds.Dataset, fs: pafs.FileSystem, folder: str, *,
              batch_size: int, progress: Progress | None = None) -> None:
    """Write ``fn`` of every batch of ``dataset`` as Parquet files into ``folder``."""
    ray = _ray()
    _preflight(fn, dataset)
    total = dataset.count_rows()
    mapped = _read(ray, dataset).map_batches(fn, batch_format="pyarrow", batch_size=batch_size)
    mapped.write_parquet(folder, filesystem=fs)
    if progress is not None:
        progress(total, total)


def aggregate(agg: Aggregate, dataset: ds.Dataset, *, batch_size: int,
              progress: Progress | None = None) -> pa.Table:
    """Every batch's partial statistics, computed on the cluster and gathered here."""
    ray = _ray()
    _preflight(agg.partial, dataset)
    total = dataset.count_rows()
    refs = _read(ray, dataset).map_batches(agg.partial, batch_format="pyarrow",
                                      batch_size=batch_size).to_arrow_refs()
    partials = pa.concat_tables(ray.get(refs))
    if progress is not None:
        progress(total, total)
    return partials
