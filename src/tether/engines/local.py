"""The ``local`` engine: stream record batches through a transform with bounded memory.

A ``pyarrow.dataset`` scanner reads ``batch_size`` rows at a time (with a short read-ahead),
the transform maps each batch and a ``ParquetWriter`` appends its output; the whole input is
never in memory, so the peak stays flat whatever the data size.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from tether.engines.base import Aggregate, Progress, Transform

#: batches read ahead of the one being transformed: enough to overlap I/O, little memory
_READAHEAD = 2


def _batches(dataset: ds.Dataset, batch_size: int, progress: Progress | None):
    total = dataset.count_rows() if progress is not None else 0
    done = 0
    scanner = dataset.scanner(batch_size=batch_size, batch_readahead=_READAHEAD,
                              fragment_readahead=1, use_threads=True)
    for batch in scanner.to_batches():
        if batch.num_rows:
            yield batch
            done += batch.num_rows
            if progress is not None:
                progress(done, total)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in the writer's schema (the transforms fix their column types; this
    reconciles the rest, e.g. ``string`` against ``large_string``)."""
    return table if table.schema.equals(schema) else table.select(schema.names).cast(schema)


def transform(fn: Transform, dataset: ds.Dataset, fs: pafs.FileSystem, folder: str, *,
              batch_size: int, progress: Progress | None = None) -> None:
    """Write ``fn`` of every batch of ``dataset`` to ``folder/part-00000.parquet``."""
    writer = None
    try:
        for batch in _batches(dataset, batch_size, progress):
            out = fn(batch)
            if isinstance(out, pa.RecordBatch):
                out = pa.Table.from_batches([out])
            if not out.num_rows:
                continue
            if writer is None:
                writer = pq.ParquetWriter(f"{folder}/part-00000.parquet", out.schema,
                                          filesystem=fs)
            writer.write_table(_conform(out, writer.schema))
    finally:
        if writer is not None:
            writer.close()


def aggregate(agg: Aggregate, dataset: ds.Dataset, *, batch_size: int,
              progress: Progress | None = None) -> pa.Table:
    """Every batch's partial statistics, concatenated."""
    return pa.concat_tables([agg.partial(b) for b in _batches(dataset, batch_size, progress)])
