"""Reading and writing sample files: JSONL, CSV and Parquet, and dataset cards.

The fast path reads files with DuckDB's own readers (streaming, parallel, typed); this module
builds those scans and, when one fails, pins the failure to a line and a field with a careful
streaming pass in Python. Files are never held in memory as Python objects.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tether.errors import InputError

#: Largest single record (one JSON line) accepted, in bytes.
MAX_RECORD_BYTES = 16 * 1024 * 1024
FORMATS = ("jsonl", "csv", "parquet")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
             ".parquet": "parquet", ".pq": "parquet"}


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """The file format from ``fmt`` or the file suffix.

    >>> detect_format("train.jsonl")
    'jsonl'
    """
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", path=path)
        return fmt
    p = Path(path)
    if p.is_dir():
        return "parquet"
    try:
        return _SUFFIXES[p.suffix.lower()]
    except KeyError:
        raise InputError(
            f"cannot tell the format from the suffix {p.suffix!r}; pass --format jsonl|csv|parquet",
            path=path,
        ) from None


def _quote(path: str | Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def scan_sql(path: str | Path, fmt: str, *, exhaustive: bool = False) -> str:
    """SQL table expression that streams the file with DuckDB's reader for ``fmt``.

    Column types are inferred from the first 20,480 records; ``exhaustive=True`` infers them
    from every record (a second pass over the file), for files whose types drift later on.
    """
    p = Path(path)
    sample = -1 if exhaustive else 20480
    if fmt == "jsonl":
        return (f"read_json({_quote(p)}, format='newline_delimited', records=true, "
                f"maximum_object_size={MAX_RECORD_BYTES}, sample_size={sample})")
    if fmt == "csv":
        return f"read_csv({_quote(p)}, header=true, sample_size={sample})"
    target = p / "**/*.parquet" if p.is_dir() else p
    return f"read_parquet({_quote(target)})"


def type_drift(reader_error: Exception) -> bool:
    """Whether a failed scan failed on a value whose type differs from the inferred one."""
    text = str(reader_error)
    return any(k in text for k in ("Failed to cast", "Could not convert", "transform error"))


def check_csv_header(path: str | Path, columns: list[str]) -> None:
    """Raise :class:`InputError` when DuckDB's reading of a CSV file disagrees with its header
    (a ragged row makes the dialect sniffer give up on the delimiter): name the first row whose
    field count differs from the header's."""
    p = Path(path)
    with p.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        if header == columns:
            return
        start = reader.line_num + 1
        for row in reader:
            if row and len(row) != len(header):
                raise InputError(f"{len(row)} fields where the header has {len(header)}",
                                 path=p, line=start)
            start = reader.line_num + 1


def check_readable(path: str | Path) -> Path:
    """Raise :class:`InputError` unless ``path`` is an existing, non-empty file or folder."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or directory", path=p)
    if p.is_file() and p.stat().st_size == 0:
        raise InputError("the file is empty: no records to read", path=p)
    return p


def diagnose(path: str | Path, fmt: str, reader_error: Exception) -> InputError:
    """Turn a failed DuckDB scan into an :class:`InputError` that names the line.

    Streams the file once; falls back to the reader's own message when no line is at fault.
    """
    p = Path(path)
    if fmt == "jsonl":
        found = _first_bad_json_line(p)
        if found is not None:
            return found
    elif fmt == "csv":
        found = _first_bad_text_line(p)
        if found is not None:
            return found
    message = str(reader_error).split("\n")[0]
    line = re.search(r"\b[Ll]ine:? (\d+)", str(reader_error))
    return InputError(f"could not be read as {fmt}: {message}", path=p,
                      line=int(line.group(1)) if line else None)


def _lines(path: Path):
    """Yield (line number, raw bytes) without ever buffering more than one line past the limit."""
    with path.open("rb") as fh:
        number = 0
        while True:
            raw = fh.readline(MAX_RECORD_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
                size = len(raw)
                while raw and not raw.endswith(b"\n"):  # skip the rest of the long line
                    raw = fh.readline(MAX_RECORD_BYTES)
                    size += len(raw)
                yield number, None, size
                continue
            yield number, raw, len(raw)


def _first_bad_text_line(path: Path) -> InputError | None:
    for number, raw, size in _lines(path):
        if raw is None:
            return InputError(f"line is {size / 1e6:.1f} MB, over the {MAX_RECORD_BYTES // 2**20} MB "
                              "limit for one record", path=path, line=number)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return InputError(f"invalid UTF-8 at byte {exc.start} of the line", path=path, line=number)
    return None


def _first_bad_json_line(path: Path) -> InputError | None:
    bad = _first_bad_text_line(path)
    if bad is not None:
        return bad
    for number, raw, _ in _lines(path):
        text = raw.decode("utf-8").strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return InputError(f"malformed JSON: {exc.msg} at column {exc.colno}", path=path, line=number)
        if not isinstance(value, dict):
            return InputError(f"each line must be a JSON object, got {type(value).__name__}",
                              path=path, line=number)
    return None


def locate(path: str | Path, fmt: str, row: int) -> dict[str, int]:
    """Where record number ``row`` (1-based, in file order) lies: ``{"line": n}`` or ``{"row": n}``.

    JSONL records are non-blank lines; CSV records may span lines inside quotes.
    """
    p = Path(path)
    if fmt == "jsonl" and p.is_file():
        seen = 0
        for number, raw, _ in _lines(p):
            if raw is not None and raw.strip():
                seen += 1
                if seen == row:
                    return {"line": number}
    if fmt == "csv" and p.is_file():
        with p.open(newline="", encoding="utf-8", errors="replace") as fh:
            reader = csv.reader(fh)
            next(reader, None)  # header
            start = reader.line_num + 1
            for seen, _ in enumerate(reader, start=1):
                if seen == row:
                    return {"line": start}
                start = reader.line_num + 1
    return {"row": row}


def write_card(path: str | Path, summary: Mapping[str, Any]) -> Path:
    """Write a Markdown dataset card for a dataset summary (``Store.summary(...).to_dict()``)."""
    p = Path(path)
    lines = [f"# Dataset card: {summary['name']}", "",
             f"{summary['count']} samples; synthetic share {summary['synthetic_share']:.1%}.", "",
             "Written by tether. Every sample carries its provenance: where its input and its label "
             "came from, the generator that made it, and the samples it was derived from.", ""]
    sections = [("Origin of the input", "by_origin"), ("Family", "by_family"),
                ("Generator", "by_generator"), ("Origin of the label", "by_label_origin"),
                ("Generation", "by_generation"), ("Domain", "by_domain"), ("Task", "by_task")]
    for title, key in sections:
        counts = summary.get(key) or {}
        lines += [f"## {title}", "", "| value | samples |", "| --- | ---: |"]
        lines += [f"| {value or '(none)'} | {n} |" for value, n in counts.items()]
        lines.append("")
    p.write_text("\n".join(lines), encoding="utf-8")
    return p


def iter_records(source: str | Path | Iterable[Mapping[str, Any]]
                 ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield ``(where, record)`` from a JSONL file or from an iterable of mappings.

    ``where`` is ``{"path": ..., "line": n}`` for a file and ``{"row": n}`` (1-based) otherwise,
    ready to pass to :class:`InputError` as keyword arguments. Blank lines are skipped.

    >>> [r for _, r in iter_records([{"id": "a"}])]
    [{'id': 'a'}]
    """
    if not isinstance(source, (str, Path)):
        for number, record in enumerate(source, start=1):
            if not isinstance(record, Mapping):
                raise InputError(f"each record must be a mapping, got {type(record).__name__}",
                                 row=number)
            yield {"row": number}, dict(record)
        return
    path = check_readable(source)
    for number, raw, size in _lines(path):
        if raw is None:
            raise InputError(f"line is {size / 1e6:.1f} MB, over the {MAX_RECORD_BYTES // 2**20} "
                             "MB limit for one record", path=path, line=number)
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise InputError(f"invalid UTF-8 at byte {exc.start} of the line",
                             path=path, line=number) from None
        if not text:
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON: {exc.msg} at column {exc.colno}",
                             path=path, line=number) from None
        if not isinstance(value, dict):
            raise InputError(f"each line must be a JSON object, got {type(value).__name__}",
                             path=path, line=number)
        yield {"path": str(path), "line": number}, value
