"""DataFrames and Hugging Face datasets in and out of the store, as Arrow tables.

pandas, polars and ``datasets`` are optional (the ``frames`` extra): each is imported only when
a value of its kind is met, so this module costs nothing to import. Sources are recognised by
the module of their type, never by importing the library to ask.

Example:
    >>> to_arrow([{"text": "hi"}]) == [{"text": "hi"}]  # anything else passes through unchanged
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from tether.errors import InputError, NotFoundError

_HF_FOLDER_MARKERS = ("state.json", "dataset_dict.json")  # what Dataset(Dict).save_to_disk writes


def _kind(value: Any) -> str | None:
    """``"pandas"``, ``"polars"``, ``"datasets"`` or None, from the module of ``value``'s type."""
    module = type(value).__module__.split(".")[0]
    return module if module in ("pandas", "polars", "datasets") else None


def is_hf_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by ``Dataset.save_to_disk`` or
    ``DatasetDict.save_to_disk``.

    >>> is_hf_folder("no/such/folder")
    False
    """
    p = Path(path)
    return p.is_dir() and any((p / marker).is_file() for marker in _HF_FOLDER_MARKERS)


def to_arrow(source: Any, split: str | None = None) -> Any:
    """``source`` as what the store ingests: a pandas or polars DataFrame, a ``datasets.Dataset``
    or a ``save_to_disk`` folder of one become an Arrow table; a ``DatasetDict`` (or its folder)
    becomes ``{split: table}``, or the table of ``split`` when one is named. Anything else is
    returned unchanged.

    A named pandas index becomes a column; an unnamed one (a row number) is dropped. Columns of
    Hugging Face ``ClassLabel`` features are stored by class name, not by integer code.
    """
    if isinstance(source, (str, Path)) and is_hf_folder(source):
        source = _require("datasets").load_from_disk(str(source))
    kind = _kind(source)
    if split is not None and kind != "datasets":
        raise InputError(f"split={split!r} applies to a Hugging Face DatasetDict only",
                         field="split")
    if kind is None:
        return source
    if kind == "pandas" and hasattr(source, "columns"):
        return _from_pandas(source)
    if kind == "polars" and hasattr(source, "collect_schema"):
        return source.lazy().collect().to_arrow()  # a DataFrame or a LazyFrame
    if kind != "datasets":
        raise InputError(f"cannot ingest a {kind} {type(source).__name__}; give a DataFrame "
                         "(a Series: .to_frame() first)")
    import datasets

    if isinstance(source, datasets.DatasetDict):
        if split is None:
            return {name: _from_hf(ds) for name, ds in source.items()}
        if split not in source:
            raise InputError(f"no split {split!r}; the DatasetDict has {', '.join(source)}",
                             field="split")
        return _from_hf(source[split])
    if isinstance(source, datasets.Dataset):
        if split is not None and source.split is not None and str(source.split) != split:
            raise InputError(f"split={split!r} but the Dataset is the {source.split} split",
                             field="split")
        return _from_hf(source)
    raise InputError(f"cannot ingest a {type(source).__name__}; give a Dataset or DatasetDict "
                     "(an IterableDataset: list(it) first)")


def _from_pandas(frame: Any) -> pa.Table:
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    try:
        return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(f"the DataFrame cannot be converted to columns: {exc}") from None


def _from_hf(dataset: Any) -> pa.Table:
    import datasets

    table = dataset.with_format("arrow")[:]  # honours select/shuffle (the indices mapping)
    for name, feature in dataset.features.items():
        if isinstance(feature, datasets.ClassLabel):
            codes = table.column(name).to_pylist()
            names = [None if c is None or c < 0 else feature.int2str(c) for c in codes]
            table = table.set_column(table.schema.get_field_index(name), name,
                                     pa.array(names, pa.string()))
    return table.replace_schema_metadata(None)


def to_pandas(table: pa.Table) -> Any:
    """The table as a pandas DataFrame (``pip install 'tether[frames]'``)."""
    _require("pandas")
    return table.to_pandas()


def to_polars(table: pa.Table) -> Any:
    """The table as a polars DataFrame (``pip install 'tether[frames]'``)."""
    polars = _require("polars")
    return polars.from_arrow(table)


def to_hf(table: pa.Table) -> Any:
    """The table as a ``datasets.Dataset`` (``pip install 'tether[frames]'``)."""
    datasets = _require("datasets")
    return datasets.Dataset(table)


def _require(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise NotFoundError(f"{name} is not installed; pip install 'tether[frames]'") from None
