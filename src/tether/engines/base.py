"""The batch-function contract shared by every engine, and the entry points that run it.

A *transform* is a picklable callable ``fn(batch) -> pa.Table`` over Arrow record batches (or
tables) with a ``name``: written once, it runs unchanged on the ``local`` engine (streaming,
bounded memory) and on the ``ray`` engine (Ray Data ``map_batches``). An *aggregate* is the
map-reduce form: ``partial(batch)`` returns a small table of partial statistics, ``combine``
merges all of them into one result on the driver.

Inputs are Parquet files, folders of Parquet files or object-store URLs (``s3://...``,
through ``pyarrow.fs``), or, with a store, dataset names (:func:`open_input`). Outputs are
folders of Parquet files carrying the provenance columns, so they ingest into a store as they
are, or stay where they are as data too large for one DuckDB file.

Example:
    >>> import pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq, tempfile, pathlib
    >>> class Upper(Transform):
    ...     name = "upper"
    ...     def __call__(self, batch):
    ...         return pa.table({"text": pc.utf8_upper(batch.column("text"))})
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> pq.write_table(pa.table({"text": ["a", "b"]}), tmp / "in.parquet")
    >>> run_transform(Upper(), tmp / "in.parquet", tmp / "out").rows_out
    2
"""

from __future__ import annotations

import atexit
import importlib
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from tether.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from tether.store import Store

ENGINES = ("local", "ray")
DEFAULT_BATCH_SIZE = 10_000

Batch = pa.RecordBatch | pa.Table
#: ``progress(done_rows, total_rows)``, as the CLI's rich progress bar takes it
Progress = Callable[[int, int], None]


class Transform(ABC):
    """A named batch function: ``fn(batch) -> pa.Table`` with one output row set per batch.

    It must be picklable (Ray ships it to workers) and its output for a row must not depend
    on which other rows share the batch (then every engine and batch size gives one result).
    """

    name: str

    @abstractmethod
    def __call__(self, batch: Batch) -> pa.Table:
        """The output rows for one input batch."""

    def record(self) -> dict[str, Any]:
        """What a store run records: ``generator``, ``config``, ``seed``, ``run_id`` (any)."""
        return {}


class Aggregate(ABC):
    """A map-reduce statistic: ``partial(batch)`` per batch, ``combine(partials)`` at the end."""

    name: str

    @abstractmethod
    def partial(self, batch: Batch) -> pa.Table:
        """Partial statistics of one batch (a few rows)."""

    @abstractmethod
    def combine(self, partials: pa.Table) -> Any:
        """The result (with ``to_dict()``) from every batch's partial statistics."""


@dataclass(frozen=True)
class TransformResult:
    """What one transform run read and wrote. ``to_dict()`` is the ``tether run --json`` contract."""

    transform: str
    engine: str
    input: str
    out: str
    rows_in: int
    rows_out: int
    files: list[str]
    seconds: float
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"transform": self.transform, "engine": self.engine, "input": self.input,
                "out": self.out, "rows_in": self.rows_in, "rows_out": self.rows_out,
                "files": list(self.files), "seconds": round(self.seconds, 3),
                "run_id": self.run_id}


@dataclass(frozen=True)
class AggregateResult:
    """An aggregate's combined result and how it was computed."""

    aggregate: str
    engine: str
    input: str
    rows_in: int
    seconds: float
    result: Any
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"aggregate": self.aggregate, "engine": self.engine, "input": self.input,
                "rows_in": self.rows_in, "seconds": round(self.seconds, 3),
                "run_id": self.run_id, "result": self.result.to_dict()}


# --------------------------------------------------------------------------------- inputs
def _is_url(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def filesystem_of(location: str | Path) -> tuple[pafs.FileSystem, str]:
    """The ``pyarrow`` filesystem and the path within it for a local path or a URL
    (``s3://bucket/key``, ``gs://...``, ``file:///...``)."""
    location = str(location)
    if "://" in location:
        try:
            return pafs.FileSystem.from_uri(location)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            raise InputError(f"cannot open {location}: {exc}", path=location) from None
    return pafs.LocalFileSystem(), str(Path(location).resolve())


def _parquet_dataset(location: str | Path) -> ds.Dataset:
    fs, path = filesystem_of(location)
    try:
        info = fs.get_file_info(path)
    except OSError as exc:  # an object store that cannot be reached or refuses the credentials
        raise InputError(f"cannot read {location}: {exc}", path=str(location)) from None
    if info.type == pafs.FileType.NotFound:
        raise NotFoundError(f"no Parquet file or folder at {location}")
    try:
        dataset = ds.dataset(path, format="parquet", filesystem=fs,
                             exclude_invalid_files=info.type == pafs.FileType.Directory)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not readable as Parquet: {exc}", path=location) from None
    if not dataset.files:
        raise InputError("the folder holds no Parquet files", path=location)
    return dataset


_EXPORTS: list[str] = []


@atexit.register
def _remove_exports() -> None:
    for folder in _EXPORTS:
        shutil.rmtree(folder, ignore_errors=True)


def open_input(store: Store | None, name_or_path: str | Path) -> ds.Dataset:
    """A Parquet dataset from a file, a folder of Parquet files, an object-store URL, or (with a
    ``store``) a dataset name.

    A path must say it is one (:func:`tether.store.is_path`: ``./src``, ``/abs``, a ``.parquet``
    suffix, a URL, or a ``Path``); any other text is a dataset name, even when a folder of that
    name exists. Without a store everything is a path. A store dataset is exported once to a
    temporary Parquet file (user fields as columns, every provenance field; removed at exit),
    so that every engine, Ray included, reads it like any other Parquet input.

    Example:
        >>> from tether import Store
        >>> with Store(":memory:") as s:
        ...     _ = s.ingest("news", [{"text": "Rates rise"}], origin="real")
        ...     open_input(s, "news").count_rows()
        1
    """
    from tether.store import is_path

    location = str(name_or_path)
    if store is None or is_path(name_or_path):
        try:
            return _parquet_dataset(location)
        except NotFoundError:
            if store is None or not store.has_dataset(location):
                hint = "" if store is not None else "; to read a dataset from a store, pass --store"
                raise NotFoundError(f"no Parquet file or folder at {location}{hint}") from None
    if not store.has_dataset(location):
        store.summary(location)  # raises NotFoundError naming the datasets the store holds
    folder = tempfile.mkdtemp(prefix="tether-export-")
    _EXPORTS.append(folder)
    exported = store.export(location, Path(folder) / "data.parquet", user_names=False)
    return _parquet_dataset(exported.path)


def describe_input(dataset: ds.Dataset) -> str:
    """A short name of where a dataset lies (its file, or the folder of its first file)."""
    files = dataset.files
    return files[0] if len(files) == 1 else str(Path(files[0]).parent) + f" ({len(files)} files)"


def prepare_output(out: str | Path) -> tuple[pafs.FileSystem, str]:
    """Create the output folder; refuse one that already holds Parquet files (no silent mixing
    of two runs' rows)."""
    fs, path = filesystem_of(out)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.File:
        raise InputError("the output must be a folder, not a file", path=str(out))
    if info.type == pafs.FileType.Directory:
        held = fs.get_file_info(pafs.FileSelector(path, recursive=False))
        if any(f.path.endswith(".parquet") for f in held):
            raise InputError("the output folder already holds Parquet files; choose a new "
                             "folder or empty this one", path=str(out))
    fs.create_dir(path, recursive=True)
    return fs, path


def _engine(name: str) -> Any:
    if name not in ENGINES:
        raise InputError(f"unknown engine {name!r}; expected one of {', '.join(ENGINES)}",
                         field="engine")
    return importlib.import_module(f"tether.engines.{name}")


def _input_name(source: str | Path | ds.Dataset, dataset: ds.Dataset) -> str:
    return describe_input(dataset) if isinstance(source, ds.Dataset) else str(source)


def _as_dataset(source: str | Path | ds.Dataset, store: Store | None) -> ds.Dataset:
    return source if isinstance(source, ds.Dataset) else open_input(store, source)


# ---------------------------------------------------------------------------- entry points
def run_transform(
    fn: Transform,
    source: str | Path | ds.Dataset,
    out: str | Path,
    *,
    engine: str = "local",
    batch_size: int = DEFAULT_BATCH_SIZE,
    store: Store | None = None,
    progress: Progress | None = None,
) -> TransformResult:
    """Run ``fn`` over every row of ``source`` and write its output as Parquet into folder ``out``.

    ``engine="local"`` streams batches of ``batch_size`` rows with bounded memory;
    ``engine="ray"`` runs the same function with Ray Data (extra ``ray``). With a ``store``, the
    run is recorded (kind ``engine``, the output location in its params) and ``source`` may be a
    dataset name.
    """
    runner = _engine(engine)
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}", field="batch_size")
    dataset = _as_dataset(source, store)
    fs, path = prepare_output(out)
    record = fn.record()
    run_id = None
    if store is not None:
        run_id = store.start_run(
            "engine", None, generator=record.get("generator"), config=record.get("config"),
            seed=record.get("seed"), run_id=record.get("run_id"),
            params={"transform": fn.name, "engine": engine, "input": str(source),
                    "out": str(out), "batch_size": batch_size})
    start = time.perf_counter()
    try:
        runner.transform(fn, dataset, fs, path, batch_size=batch_size, progress=progress)
    except BaseException:
        if store is not None:
            store.finish_run(run_id, status="failed")
        raise
    written = ds.dataset(path, format="parquet", filesystem=fs)
    result = TransformResult(fn.name, engine, _input_name(source, dataset), str(out),
                             dataset.count_rows(), written.count_rows(), sorted(written.files),
                             time.perf_counter() - start, run_id or record.get("run_id"))
    if store is not None:
        store.finish_run(run_id)
    return result


def run_aggregate(
    agg: Aggregate,
    source: str | Path | ds.Dataset,
    *,
    engine: str = "local",
    batch_size: int = DEFAULT_BATCH_SIZE,
    store: Store | None = None,
    progress: Progress | None = None,
) -> AggregateResult:
    """Compute ``agg`` over every row of ``source``: partials per batch on the engine, combined
    here. With a ``store`` the run is recorded (kind ``engine``)."""
    runner = _engine(engine)
    dataset = _as_dataset(source, store)
    run_id = None
    if store is not None:
        run_id = store.start_run("engine", None, params={"aggregate": agg.name, "engine": engine,
                                                         "input": str(source),
                                                         "batch_size": batch_size})
    start = time.perf_counter()
    try:
        partials = runner.aggregate(agg, dataset, batch_size=batch_size, progress=progress)
        result = agg.combine(partials)
    except BaseException:
        if store is not None:
            store.finish_run(run_id, status="failed")
        raise
    if store is not None:
        store.finish_run(run_id)
    return AggregateResult(agg.name, engine, _input_name(source, dataset), dataset.count_rows(),
                           time.perf_counter() - start, result, run_id)


def require_columns(batch: Batch, *names: str) -> None:
    """Raise :class:`InputError` naming the first of ``names`` the data lacks."""
    for name in names:
        if name not in batch.schema.names:
            raise InputError(f"the data has no '{name}' column (columns: "
                             f"{', '.join(batch.schema.names)})", field=name)


__all__ = ["Transform", "Aggregate", "TransformResult", "AggregateResult", "run_transform",
           "run_aggregate", "open_input", "filesystem_of", "prepare_output", "require_columns",
           "ENGINES", "DEFAULT_BATCH_SIZE"]
