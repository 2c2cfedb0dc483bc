"""Reading and writing sample files: JSONL, CSV and Parquet (dataset cards: :mod:`tether.cards`).

The fast path reads files with DuckDB's own readers (streaming, parallel, typed); this module
builds those scans and, when one fails, pins the failure to a line and a field with a careful
streaming pass in Python. Files are never held in memory as Python objects.
"""

from __future__ import annotations

import csv
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tether.errors import InputError

#: Largest single record (one JSON line) accepted, in bytes.
MAX_RECORD_BYTES = 16 * 1024 * 1024
#: Deepest nesting of a JSON value DuckDB's reader accepts (arrays and objects inside each other).
MAX_JSON_DEPTH = 128
FORMATS = ("jsonl", "csv", "parquet")
#: Characters that render as nothing and are dropped from dedup keys (:func:`dedup_text`).
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_ZERO_WIDTH_RE = re.compile(f"[{ZERO_WIDTH}]")


def dedup_text(text: str) -> str:
    """The form of ``text`` that dedup and contamination keys compare: Unicode NFKC with the
    zero-width characters (U+200B, U+200C, U+200D, U+2060, U+FEFF) removed, so that NFC/NFD
    twins and invisible variants of one text are one key. The store's content hash stays exact.
    Returns ``text`` itself (the same object) when it is already in that form.

    >>> dedup_text("cafe\u0301") == dedup_text("caf\u00e9\u200b")
    True
    """
    if text.isascii() or (unicodedata.is_normalized("NFKC", text)
                          and not _ZERO_WIDTH_RE.search(text)):
        return text
    return _ZERO_WIDTH_RE.sub("", unicodedata.normalize("NFKC", text))
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


def scan_sql(path: str | Path, fmt: str, *, exhaustive: bool = False,
             columns: Mapping[str, str] | None = None) -> str:
    """SQL table expression that streams the file with DuckDB's reader for ``fmt``.

    Column types are inferred from the first 20,480 records; ``exhaustive=True`` infers them
    from every record (a second pass over the file), for files whose types drift later on.
    ``columns`` (name → DuckDB type) fixes types instead: for JSONL it is every column to read,
    for CSV it overrides the inferred type of the columns it names.
    """
    p = Path(path)
    sample = -1 if exhaustive else 20480
    spec = ("{" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in columns.items()) + "}"
            if columns else None)
    if fmt == "jsonl":
        typed = f"columns={spec}" if spec else f"sample_size={sample}"
        return (f"read_json({_quote(p)}, format='newline_delimited', records=true, "
                f"maximum_object_size={MAX_RECORD_BYTES}, {typed})")
    if fmt == "csv":
        # quote fixed to '"': when the sniffer may choose, an unterminated quote makes it pick
        # no quoting at all and the quote is kept as literal text
        typed = f", types={spec}" if spec else ""
        return f"read_csv({_quote(p)}, header=true, quote='\"', sample_size={sample}{typed})"
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
    found = first_bad_line(p, fmt)
    if found is not None:
        return found
    message = str(reader_error).split("\n")[0]
    line = re.search(r"\b[Ll]ine:? (\d+)", str(reader_error))
    return InputError(f"could not be read as {fmt}: {message}", path=p,
                      line=int(line.group(1)) if line else None)


def first_bad_line(path: str | Path, fmt: str) -> InputError | None:
    """The error for the first line of a JSONL or CSV file that cannot be read as it was
    written (see :func:`parse_json_line`), or None when every line reads."""
    p = Path(path)
    if fmt == "jsonl":
        return _first_bad_json_line(p)
    if fmt == "csv":
        return _first_bad_text_line(p) or _first_bad_csv_record(p)
    return None


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


def _first_bad_csv_record(path: Path) -> InputError | None:
    """The first record Python's strict CSV reader refuses (an unterminated quote)."""
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh, strict=True)
        start = 1
        try:
            for _ in reader:
                start = reader.line_num + 1
        except csv.Error as exc:
            hint = ("; a quoted field must end with a closing quote (write a quote inside one "
                    "as \"\")" if "end of data" in str(exc) or "expected" in str(exc) else "")
            return InputError(f"malformed CSV: {exc}{hint}", path=path, line=start)
    return None


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (0 for a scalar), without recursion.

    >>> json_depth({"a": [1, [2]]})
    3
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


#: The roles of a turn of a conversation in the OpenAI chat format.
CHAT_ROLES = ("system", "user", "assistant", "tool")


def chat_problem(value: Any) -> str | None:
    """What keeps ``value`` from being a conversation in the OpenAI chat format (a list of
    ``{role, content}`` objects, role one of :data:`CHAT_ROLES`, content a string; other keys
    allowed), or None when it is one.

    >>> chat_problem([{"role": "user", "content": "hi"}]) is None
    True
    >>> chat_problem([{"role": "user", "content": "hi"}, {"role": "bot", "content": "yo"}])
    "turn 1 has unknown role 'bot'; roles are system, user, assistant, tool"
    """
    if not isinstance(value, list):
        kinds = [(str, "a string"), (bool, "a boolean"), ((int, float), "a number"),
                 (dict, "an object (one turn: put it in a list)")]
        shown = next((name for kind, name in kinds if isinstance(value, kind)), "null")
        return f"expected a list of {{role, content}} (the OpenAI chat format), got {shown}"
    if not value:
        return "the conversation is empty; it needs at least one {role, content} turn"
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or "role" not in turn or "content" not in turn:
            return f"turn {i} is not a {{role, content}} object: {json.dumps(turn)[:60]}"
        if turn["role"] not in CHAT_ROLES:
            return (f"turn {i} has unknown role {turn['role']!r}; roles are "
                    f"{', '.join(CHAT_ROLES)}")
        if not isinstance(turn["content"], str):
            return f"turn {i} content is {json.dumps(turn['content'])[:40]}, expected a string"
    return None


NON_FINITE_MESSAGE = ("NaN, Infinity and numbers beyond a double (1e999) have no JSON form; "
                      "write null for a missing value, or quote it as text")


def parse_json_line(text: str, *, path: str | Path | None = None, line: int | None = None,
                    row: int | None = None, finite: bool = True) -> dict[str, Any]:
    """One JSONL record as a dict, or :class:`InputError` naming the line: malformed JSON, not
    an object, nested deeper than :data:`MAX_JSON_DEPTH`, or (unless ``finite=False``)
    NaN/Infinity/a number too large for a double (JSON has none of these).

    >>> parse_json_line('{"a": 1}')
    {'a': 1}
    """
    where = {"path": path, "line": line, "row": row}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc.msg} at column {exc.colno}", **where) from None
    except RecursionError:
        value = None
    if value is None or json_depth(value) > MAX_JSON_DEPTH:
        raise InputError(f"the record nests arrays or objects more than {MAX_JSON_DEPTH} deep; "
                         "flatten it or store the nested part as a string", **where)
    if not isinstance(value, dict):
        raise InputError(f"each line must be a JSON object, got {type(value).__name__}", **where)
    for key, item in value.items() if finite else ():
        if has_non_finite(item):
            raise InputError(NON_FINITE_MESSAGE, field=key, **where)
    return value


def has_non_finite(value: Any) -> bool:
    """Whether a parsed JSON value holds NaN or an infinity anywhere.

    >>> has_non_finite([1, {"a": float("inf")}])
    True
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _first_bad_json_line(path: Path) -> InputError | None:
    bad = _first_bad_text_line(path)
    if bad is not None:
        return bad
    for number, raw, _ in _lines(path):
        text = raw.decode("utf-8").strip()
        if not text:
            continue
        try:
            parse_json_line(text, path=path, line=number)
        except InputError as exc:
            return exc
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
        yield {"path": str(path), "line": number}, parse_json_line(text, path=path, line=number,
                                                                   finite=False)
