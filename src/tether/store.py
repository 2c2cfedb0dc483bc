"""The provenance store: one DuckDB file with datasets, samples, runs and audit results.

Every write is one transaction: rows are staged, validated in SQL (columnar, so a million rows
validate in well under a second), given their derived fields, deduplicated by content hash and
inserted; any failure rolls back and leaves the file exactly as it was.

Example:
    >>> from tether import Store
    >>> with Store(":memory:") as store:
    ...     r = store.ingest("news", [{"text": "Rates rise", "label": "business"}],
    ...                      origin="real", label_origin="real")
    ...     (r.added, store.summary("news").by_origin)
    (1, {'real': 1, 'synthetic': 0})
"""

from __future__ import annotations

import getpass
import json
import math
import os
import re
import socket
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tether import cards, frames, io
from tether.errors import InputError, NotFoundError, StoreError
from tether.results import Result, decode, kind_of
from tether.results import kind as results_kind
from tether.provenance import (
    FAMILIES,
    LABEL_ORIGINS,
    ORIGINS,
    PROVENANCE_FIELDS,
    canonical_json,
    check_generator,
    config_hash,
)

DEFAULT_STORE = "tether.duckdb"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    name VARCHAR PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    location VARCHAR
);
CREATE TABLE IF NOT EXISTS samples (
    dataset VARCHAR NOT NULL,
    id VARCHAR NOT NULL,
    text VARCHAR,
    label VARCHAR,
    fields JSON,
    origin VARCHAR NOT NULL,
    label_origin VARCHAR,
    family VARCHAR,
    generator VARCHAR,
    generator_config JSON,
    config_hash VARCHAR,
    created_at TIMESTAMP NOT NULL,
    domain VARCHAR,
    task VARCHAR,
    parents VARCHAR[] NOT NULL,
    generation INTEGER NOT NULL,
    content_hash VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    dedup_key VARCHAR
);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    dataset VARCHAR,
    generator VARCHAR,
    generator_config JSON,
    config_hash VARCHAR,
    seed BIGINT,
    source VARCHAR,
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    status VARCHAR NOT NULL,
    added BIGINT DEFAULT 0,
    skipped BIGINT DEFAULT 0,
    failed BIGINT DEFAULT 0,
    created_by VARCHAR,
    params JSON
);
CREATE TABLE IF NOT EXISTS failures (
    run_id VARCHAR NOT NULL,
    parents VARCHAR[] NOT NULL,
    reason VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS audits (
    audit_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    params JSON,
    result JSON NOT NULL
);
"""

# columns added after the first release: stores written before them open and gain them
_MIGRATIONS = """
ALTER TABLE samples ADD COLUMN IF NOT EXISTS dedup_key VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS pid BIGINT;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS host VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS summary JSON;
"""

#: seconds a command waits for a store that another process holds, unless told otherwise
DEFAULT_WAIT = 5.0
#: a long writer lets other processes in (:meth:`Store.released`) at most this often, in seconds
RELEASE_EVERY = 0.5
_LOCK_HOLDER = re.compile(r"\(PID (\d+)\)")

_STORED_COLUMNS = ("dataset", "id", "text", "label", "fields", "origin", "label_origin", "family",
                   "generator", "generator_config", "config_hash", "created_at", "domain", "task",
                   "parents", "generation", "content_hash", "run_id")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def store_path(path: str | Path | None = None) -> str:
    """The store file to use: ``path``, else ``$TETHER_STORE``, else ``./tether.duckdb``."""
    return str(path or os.environ.get("TETHER_STORE") or DEFAULT_STORE)


#: suffixes that make a name a path to data rather than a dataset name
DATA_SUFFIXES = (".parquet", ".pq", ".jsonl", ".json", ".csv")


def is_path(name: str | Path) -> bool:
    """Whether ``name`` says it is a path (or URL) rather than a dataset name: a ``Path``, or
    text starting ``./``, ``../``, ``/`` or ``~``, ending ``/`` or in a data suffix
    (:data:`DATA_SUFFIXES`), or holding ``://``. A bare ``src`` is a dataset name even when a
    folder ``src`` exists.

    >>> is_path("src"), is_path("./src"), is_path("out.parquet"), is_path("s3://b/k")
    (False, True, True, True)
    """
    if isinstance(name, Path):
        return True
    text = str(name)
    return (text.startswith(("./", "../", "/", "~", ".\\", "..\\")) or text in (".", "..")
            or text.endswith(("/", *DATA_SUFFIXES)) or "://" in text)


def lock_wait(wait: float | None = None) -> float:
    """Seconds to wait for a store another process holds: ``wait``, else ``$TETHER_WAIT``, else
    :data:`DEFAULT_WAIT`.

    >>> lock_wait(2)
    2.0
    """
    if wait is not None:
        return float(wait)
    raw = os.environ.get("TETHER_WAIT")
    try:
        return float(raw) if raw else DEFAULT_WAIT
    except ValueError:
        raise StoreError(f"TETHER_WAIT must be a number of seconds, got {raw!r}") from None


def _holder(message: str) -> str:
    """``process PID (its command line)`` from DuckDB's lock message, as far as it can be read."""
    found = _LOCK_HOLDER.search(message)
    if not found:
        return "another process"
    pid = found.group(1)
    try:
        cmdline = " ".join(Path(f"/proc/{pid}/cmdline").read_bytes().decode(
            errors="replace").split())
    except OSError:
        cmdline = ""
    if len(cmdline) > 200:
        cmdline = cmdline[:199] + "…"
    return f"process {pid}" + (f" ({cmdline})" if cmdline else "")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host.

    >>> pid_alive(os.getpid())
    True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def _run_status(status: str, pid: int | None, host: str | None) -> str:
    """``interrupted`` for a run recorded ``running`` whose process is gone from this host."""
    if status == "running" and pid is not None and host == socket.gethostname() \
            and not pid_alive(pid):
        return "interrupted"
    return status


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: Any) -> str:
    if value is None:
        return "NULL"
    return "'" + str(value).replace("'", "''") + "'"


def _signed(shape: Any) -> Any:
    """A ``json_group_structure`` shape with non-negative integers read as BIGINT, the type they
    were most likely given as (JSON has one kind of integer)."""
    if isinstance(shape, dict):
        return {k: _signed(v) for k, v in shape.items()}
    if isinstance(shape, list):
        return [_signed(v) for v in shape]
    return "BIGINT" if shape == "UBIGINT" else shape


def _mapped_sql(types: Mapping[str, str], col: str | None) -> str:
    """A user column as text, empty text as NULL (NULL when the data has no such column).
    A JSON column (how ingest reads JSONL text and labels) gives a string without its quotes."""
    if col is None or col not in types:
        return "NULL::VARCHAR"
    if types[col] == "JSON":
        return f"nullif({_ident(col)} ->> '$', '')"
    return f"nullif(CAST({_ident(col)} AS VARCHAR), '')"


_DEDUP_UDF = "tether_dedup_text"


def _dedup_arrow(values: pa.Array) -> pa.Array:
    """:func:`tether.io.dedup_text` over an Arrow column (for DuckDB): null where it changes
    nothing, which is most text (the check is a fast quick-check, normalising is not)."""
    changed = []
    for value in values.to_pylist():
        normal = value if value is None else io.dedup_text(value)
        changed.append(None if normal is value else normal)
    return pa.array(changed, pa.string())


def dedup_key_sql(text: str, label: str, fields: str) -> str:
    """The SQL expression for what a sample's dedup key adds to its content hash: the md5 of
    what the content hash hashes (``text``, ``label`` and the user's ``fields`` as text),
    normalised by :func:`tether.io.dedup_text` (NFKC, zero-width characters dropped); NULL
    where normalising leaves the content alone (all ASCII, most text), whose key is its content
    hash. So equal content hashes mean equal keys and NFC/NFD twins and invisible variants
    share a key. Stored as ``''`` for NULL (a column of one value costs nothing to write);
    :data:`_DEDUP_KEY` reads the key. Ingest dedups and the contamination check compares by it."""
    ascii_only = " AND ".join(f"coalesce(strlen({c}) = length({c}), true)"
                              for c in (text, label, f"CAST({fields} AS VARCHAR)"))
    packed = (f"CAST(to_json(struct_pack(text := {text}, label := {label}, "
              f"fields := {fields})) AS VARCHAR)")
    return f"CASE WHEN NOT ({ascii_only}) THEN md5({_DEDUP_UDF}({packed})) END"


#: a sample's dedup key, in ``samples`` and in ``_stage`` (see :func:`dedup_key_sql`)
_DEDUP_KEY = "coalesce(nullif(dedup_key, ''), content_hash)"


#: the user's fields as text (how the content hash sees them) from a stored ``fields`` JSON
_STORED_FIELDS_TEXT = ("to_json(map_from_entries(list_transform(json_keys(fields), "
                       "lambda k: struct_pack(k := k, v := fields ->> k))))")


def _without_null_members(value: str) -> str:
    """SQL: the JSON ``value`` without its null members, in an object at every depth and in
    each object of a list (nulls in lists are values and stay)."""
    return (f"CASE json_type({value}) WHEN 'ARRAY' THEN to_json(list_transform("
            f"json_extract({value}, '$[*]'), lambda t: json_merge_patch('{{}}', t))) "
            f"WHEN 'OBJECT' THEN json_merge_patch('{{}}', {value}) ELSE {value} END")


def _fields_sql(types: Mapping[str, str], mapping: Mapping[str, str | None], *,
                as_text: bool) -> str:
    """The user's other fields packed as one JSON object (NULL when there are none)."""
    owned = set(PROVENANCE_FIELDS) | {mapping["id"], mapping["text"], mapping["label"]}
    user_cols = sorted(c for c in types if c not in owned)
    if not user_cols:
        return "NULL::JSON"

    def value(c: str) -> str:
        if types[c].startswith(("STRUCT", "MAP", "JSON")) or types[c].endswith("]"):
            # null members dropped (in objects, and in the objects of a list: the turns of a
            # conversation): a struct built from rows with different keys must be stored and
            # hashed the same whatever its sibling rows were
            packed = _without_null_members(f"to_json({_ident(c)})")
            return f"CAST({packed} AS VARCHAR)" if as_text else packed
        return f"CAST({_ident(c)} AS VARCHAR)" if as_text else _ident(c)

    pairs = ", ".join(f"{_ident(c)} := {value(c)}" for c in user_cols)
    # null-valued keys are dropped (json_merge_patch), so a record hashes the same whatever
    # other columns its file happens to have
    return f"nullif(json_merge_patch('{{}}', to_json(struct_pack({pairs}))), '{{}}'::JSON)"


def content_hash_sql(types: Mapping[str, str],
                     mapping: Mapping[str, str | None] | None = None) -> str:
    """The SQL expression the store hashes a record's content with, over columns of ``types``
    (DuckDB column name → type). Anything that writes data for the store (the engines) runs this
    same expression so that its hashes match the ones ingest derives.

    The hash sees every user value as text (nested ones as JSON), so that a record read back
    from CSV, which carries no types, hashes as it did when it was written.

    Example:
        >>> content_hash_sql({"text": "VARCHAR"})[:4]
        'md5('
    """
    mapping = {"text": "text", "label": "label", "id": "id", **(mapping or {})}
    return (f"md5(to_json(struct_pack(text := {_mapped_sql(types, mapping['text'])}, "
            f"label := {_mapped_sql(types, mapping['label'])}, "
            f"fields := {_fields_sql(types, mapping, as_text=True)})))")


#: a NaN, an Infinity or a number with a 3-digit exponent as a value in compact JSON
_NON_FINITE = r"[\[:,](-?NaN|-?Infinity|-?[0-9.]+[eE]\+?[0-9]{3,})[\],}]"
#: a staged value and its JSON type, as type-drift messages show them
_SHOWN = "_{0}_kind || ' (' || left({0}, 40) || ')'"


#: an SQL literal as :func:`_lit` writes it, cast to a type: the same value for every row
_LITERAL = re.compile(r"(NULL|'([^']|'')*')::[A-Z]+|CAST\(\[\] AS VARCHAR\[\]\)")
#: DuckDB column types of numbers (a label column of one is checked to be finite)
_NUMBER_TYPE = re.compile(r"U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DOUBLE|FLOAT|REAL|DECIMAL.*")


class _TypeDrift(Exception):
    """A scan met a value of another type than the one inferred from the first records."""


def _kind(value: Any) -> str:
    """How an error message names the JSON type of a Python value."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "an object" if isinstance(value, Mapping) else f"a {type(value).__name__}"


def _mixed_types(rows: list, exc: Exception) -> InputError:
    """The error for records Arrow cannot hold in one table: the first row whose field has
    another type than the same field in the rows before it."""
    kinds: dict[str, str] = {}
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            return InputError(f"each record must be a mapping, got {type(row).__name__}",
                              row=number)
        for key, value in row.items():
            if value is None:
                continue
            kind = _kind(value)
            first = kinds.setdefault(key, kind)
            if kind != first:
                return InputError(f"expected {first} like the other rows, got {kind} "
                                  f"({str(value)[:40]}); convert it or fix the record",
                                  row=number, field=str(key))
    return InputError(f"the records cannot be read as one table: {str(exc).splitlines()[0]}")


def _kind_sql(col: str) -> str:
    """SQL naming the JSON type of a JSON value the way error messages do (NULL for null)."""
    return (f"CASE json_type({col}) WHEN 'VARCHAR' THEN 'a string' WHEN 'BOOLEAN' THEN "
            f"'a boolean' WHEN 'ARRAY' THEN 'a list' WHEN 'OBJECT' THEN 'an object' "
            f"WHEN 'NULL' THEN NULL ELSE 'a number' END")


def _declaration(fields: Iterable[str] | None, label_range: tuple[float, float] | None,
                 mapping: Mapping[str, str | None]) -> dict[str, Any]:
    """The ``text_fields`` and ``label_range`` an ingest declares (as the store records them),
    or :class:`InputError` for a declaration that cannot hold."""
    out: dict[str, Any] = {}
    if fields is not None:
        names = [fields] if isinstance(fields, str) else list(fields)
        for name in names:
            if not isinstance(name, str) or not name:
                raise InputError(f"a text field is a name, got {name!r}", field="fields")
            if name in PROVENANCE_FIELDS or name in (mapping["id"], "fields"):
                raise InputError(f"{name!r} is not a text field of the records (it is the id or "
                                 "a provenance field); leave it out of --fields", field="fields")
        if len(set(names)) < len(names):
            raise InputError(f"a text field is named twice in {','.join(names)}", field="fields")
        if names:
            out["text_fields"] = names
    if label_range is not None:
        bounds = list(label_range) if isinstance(label_range, (list, tuple)) else [label_range]
        if len(bounds) != 2 or not all(isinstance(b, (int, float)) and not isinstance(b, bool)
                                       and math.isfinite(b) for b in bounds) \
                or bounds[0] > bounds[1]:
            raise InputError(f"label_range must be two finite numbers lo <= hi, got "
                             f"{label_range!r}", field="label_range")
        out["label_range"] = [float(b) for b in bounds]
    return out


def _turns_ok_sql(value: str) -> str:
    """SQL: whether the JSON list ``value`` is a conversation in the OpenAI chat format (one
    turn or more)."""
    roles = ", ".join(map(_lit, io.CHAT_ROLES))
    return (f"(json_array_length({value}) > 0 AND "
            f"coalesce(list_bool_and(list_transform(json_extract({value}, '$[*]'), "
            f"lambda t: json_type(t) = 'OBJECT' AND coalesce(t ->> 'role' IN ({roles}), false) "
            f"AND coalesce(json_type(t, '$.content') = 'VARCHAR', false))), true))")


def _chat_message(raw: str) -> str:
    return f"{io.chat_problem(json.loads(raw))}; fix the conversation"


def _declared_rules(mapping: Mapping[str, str | None], declared: Mapping[str, Any]) -> list:
    """``_check_rows`` rules for the declared text fields and label range: (field, condition
    over ``_staged``, message, SQL of the value the message shows)."""
    rules: list = []
    label_col = mapping["label"]
    for name in declared.get("text_fields", ()):
        missing = (f"the declared text field {name!r} is missing; every record needs it (or "
                   "leave it out of --fields)")
        if name == mapping["text"]:
            continue  # the text rules hold for it
        if name == label_col:
            rules += [(name, "label IS NULL", missing, "NULL"),
                      (name, "_label_kind <> 'a string'", "expected a string, got {raw}",
                       _SHOWN.format("label"))]
            continue
        value = f"json_extract(fields, {_lit('$.' + json.dumps(name))})"
        shown = f"{_kind_sql(value)} || ' (' || left(CAST({value} AS VARCHAR), 40) || ')'"
        rules.append((name, f"{value} IS NULL", missing, "NULL"))
        if name == "messages":
            rules.append((name, f"json_type({value}) <> 'ARRAY' OR NOT {_turns_ok_sql(value)}",
                          _chat_message, f"CAST({value} AS VARCHAR)"))
            continue
        rules += [(name, f"json_type({value}) NOT IN ('VARCHAR', 'ARRAY')",
                   "expected a string (or a conversation in the OpenAI chat format), got {raw}",
                   shown),
                  (name, f"json_type({value}) = 'ARRAY' AND NOT {_turns_ok_sql(value)}",
                   _chat_message, f"CAST({value} AS VARCHAR)")]
    if "label_range" in declared:
        lo, hi = declared["label_range"]
        span = f"[{lo:g}, {hi:g}]"
        number = "TRY_CAST(label AS DOUBLE)"
        rules += [(label_col, f"label IS NOT NULL AND {number} IS NULL",
                   f"expected a number in {span} (the label range), got {{value}}", "label"),
                  (label_col, f"NOT isfinite({number})",
                   f"expected a finite number in {span} (the label range), got {{value}}",
                   "label"),
                  (label_col, f"{number} NOT BETWEEN {lo!r} AND {hi!r}",
                   f"{{raw}} is outside the label range {span}; fix the score or the range",
                   "label")]
    return rules


@contextmanager
def _in_split(name: str | None, dataset: str, folder: str | Path | None) -> Iterator[None]:
    """Re-raise an :class:`InputError` about one split of a ``DatasetDict`` (dataset ``name``,
    ``dataset-SPLIT``) naming the split: its folder of a ``save_to_disk`` folder, else
    ``split SPLIT``."""
    try:
        yield
    except InputError as exc:
        if name is None or exc.path is not None:
            raise
        split = name.removeprefix(f"{dataset}-")
        where = Path(folder) / split if folder is not None else f"split {split}"
        raise InputError(exc.message, path=where, line=exc.line, row=exc.row,
                         field=exc.field) from None


def derived_id_sql(content_hash: str = "content_hash", parents: str = "parents") -> str:
    """The SQL expression for the id of a sample that has none: its content hash, and for a
    derived sample its parents too, so that a child identical to its parent (a perturbation that
    changed nothing) is still a sample of its own with its own lineage."""
    return (f"CASE WHEN len({parents}) = 0 THEN substr({content_hash}, 1, 16) "
            f"ELSE substr(md5({content_hash} || CAST(to_json({parents}) AS VARCHAR)), 1, 16) END")


#: a type DuckDB's CSV sniffer or JSON reader infers from strings, which it writes back in its
#: own format (``10:00`` as ``10:00:00``, a UUID in lower case), where a type string names it
#: (a quoted struct member name is skipped)
_STRING_TYPE = re.compile(r'"(?:[^"]|"")*"|\b(?:TIMESTAMP WITH TIME ZONE|TIME WITH TIME ZONE|'
                          r'TIMESTAMP_(?:NS|MS|S)|TIMESTAMP|DATE|TIME|INTERVAL|UUID)(?=[,)\[]|$)')


def _strings_as_text(duck_type: str) -> str:
    """``duck_type`` with every type DuckDB's readers infer from strings read as VARCHAR.

    >>> _strings_as_text('STRUCT(w TIMESTAMP, "DATE" DATE[])')
    'STRUCT(w VARCHAR, "DATE" VARCHAR[])'
    """
    return _STRING_TYPE.sub(lambda m: m[0] if m[0].startswith('"') else "VARCHAR", duck_type)


@cache
def _scratch() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process for batches outside a store (each call takes its own
    cursor; none draws DuckDB's progress bar)."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


def content_hashes(table: pa.Table) -> pa.Array:
    """The ``content_hash`` ingest derives for every row of ``table`` (user fields only count),
    by the same SQL (:func:`content_hash_sql`) over the Arrow table: how the engines hash the
    samples they write outside a store.

    >>> t = pa.table({"text": ["hi"], "label": ["x"], "n": [1]})
    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("d", t, origin="real", label_origin="real")
    ...     s.table("d").column("content_hash")[0] == content_hashes(t)[0]
    True
    """
    with _scratch().cursor() as cur:
        cur.register("_batch", table)
        types = {r[0]: r[1] for r in cur.execute("DESCRIBE _batch").fetchall()}
        hashes = cur.sql(f"SELECT {content_hash_sql(types)} AS h FROM _batch").to_arrow_table()
    return hashes.column("h").combine_chunks()


def derived_ids(hashes: pa.Array, parents: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The ids ingest derives for samples given without one (:func:`derived_id_sql`), from
    their content hashes and parents.

    >>> no_parents = pa.array([[]], pa.list_(pa.string()))
    >>> derived_ids(pa.array(["0123456789abcdef0123"]), no_parents).to_pylist()
    ['0123456789abcdef']
    """
    table = pa.table({"content_hash": hashes, "parents": parents})
    with _scratch().cursor() as cur:
        cur.register("_ids", table)
        ids = cur.sql(f"SELECT {derived_id_sql()} AS id FROM _ids").to_arrow_table()
    return ids.column("id").combine_chunks().cast(pa.string())


@dataclass(frozen=True)
class IngestResult:
    """What one write added. ``to_dict()`` is the ``ingest --json`` contract."""

    dataset: str
    added: int
    skipped_duplicates: int
    run_id: str = field(compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "added": self.added,
                "skipped_duplicates": self.skipped_duplicates}


@dataclass(frozen=True)
class Summary:
    """The provenance breakdown of one dataset (``tether show``)."""

    name: str
    count: int
    by_origin: dict[str, int]
    by_family: dict[str, int]
    by_generator: dict[str, int]
    by_label_origin: dict[str, int]
    by_generation: dict[str, int]
    by_domain: dict[str, int]
    by_task: dict[str, int]

    @property
    def synthetic_share(self) -> float:
        return self.by_origin["synthetic"] / self.count if self.count else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "synthetic_share": self.synthetic_share}


@dataclass(frozen=True)
class Lineage:
    """Ancestors (nearest first), descendants and the real seeds of one sample."""

    id: str
    ancestors: list[str]
    descendants: list[str]
    real_seeds: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DatasetInfo:
    """One row of ``tether datasets``."""

    name: str
    count: int
    real: int
    synthetic: int
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ExportResult:
    """Where ``export`` wrote the data and its dataset card."""

    dataset: str
    path: str
    card: str
    count: int
    croissant: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DatasetChange:
    """What ``tether rm`` or ``tether mv`` did: the dataset, its new name (``mv``), how many
    samples it held and the datasets descending from it (non-empty only with ``force``)."""

    action: str
    dataset: str
    new_name: str | None
    samples: int
    dependents: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SavedResult:
    """A result as the store keeps it: its id, kind, parameters, JSON form (``data``, what
    ``to_dict()`` gave) and time; ``result`` decodes it into the kind's result type."""

    id: str
    kind: str
    params: dict[str, Any]
    data: dict[str, Any]
    created_at: datetime

    @property
    def result(self) -> Result:
        """The typed result (``from_dict`` of the kind's result type)."""
        return decode(results_kind(self.kind).result_type, self.data)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "params": self.params, "result": self.data,
                "created_at": self.created_at.isoformat()}


def _json_key(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"not a parameter name: {name!r}")
    return name


class Store:
    """A provenance store in one DuckDB file.

    Args:
        path: the DuckDB file (``":memory:"`` for a throwaway store). Defaults to
            ``$TETHER_STORE`` or ``./tether.duckdb``; the file is created if missing.
        read_only: open without taking the write lock (several readers may share the file;
            the file must exist).
        wait: seconds to wait, retrying, while another process holds the file (default
            ``$TETHER_WAIT`` or 5); then :class:`~tether.errors.StoreError` names that process.

    One process at a time may write; readers cannot open while a writer holds the file. A long
    writer lets others in between its transactions with :meth:`released`.
    """

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False,
                 wait: float | None = None) -> None:
        self.path = store_path(path)
        self.read_only = read_only
        self.wait = lock_wait(wait)
        if read_only and self.path != ":memory:" and not Path(self.path).exists():
            raise NotFoundError(f"no store at {self.path}; create one with `tether init` or "
                                "`tether ingest`, or pass --store")
        self._con = self._connect()
        if not read_only:
            self._con.execute(_SCHEMA)
            self._con.execute(_MIGRATIONS)
            self._backfill_dedup_keys()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """Open the file, retrying with backoff while another process holds its lock."""
        deadline = time.monotonic() + self.wait
        delay = 0.01
        read_only = self.read_only
        while True:
            try:
                con = duckdb.connect(self.path, read_only=read_only)
                # a statement over 2 s would draw DuckDB's progress bar on the user's stdout
                con.execute("SET enable_progress_bar = false")
                self._opened_at = time.monotonic()
                return con
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise StoreError(f"cannot open the store {self.path}: {exc}") from None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreError(
                        f"the store {self.path} is in use by {_holder(str(exc))}; wait for it "
                        f"to finish or pass --wait N (seconds; now {self.wait:g})") from None
                time.sleep(min(delay, left))
                delay = min(delay * 2, 0.1)
            except duckdb.ConnectionException as exc:
                # this process already has the file open read-write: share that instance
                if read_only and "different configuration" in str(exc):
                    read_only = False
                    continue
                raise StoreError(f"cannot open the store {self.path}: {exc}") from None
            except duckdb.Error as exc:
                raise StoreError(f"cannot open the store {self.path}: {exc}") from None

    @contextmanager
    def released(self) -> Iterator[None]:
        """Close the file for the block so that other processes get in, then open it again
        (waiting as on open). Reopening costs tens of milliseconds, so the file is let go at most
        every :data:`RELEASE_EVERY` seconds (a block sooner than that keeps it). A no-op for
        ``":memory:"``.

        Example:
            >>> with Store(":memory:") as s, s.released():
            ...     pass
        """
        if self.path == ":memory:" or time.monotonic() - self._opened_at < RELEASE_EVERY:
            yield
            return
        self._con.close()
        try:
            yield
        finally:
            self._con = self._connect()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    # ------------------------------------------------------------------ writes
    def ingest(
        self,
        dataset: str,
        source: str | Path | pa.Table | Iterable[Mapping[str, Any]],
        *,
        origin: str | None = None,
        label_origin: str | None = None,
        family: str | None = None,
        generator: str | None = None,
        generator_config: Mapping[str, Any] | None = None,
        domain: str | None = None,
        task: str | None = None,
        text_field: str | None = "text",
        label_field: str = "label",
        id_field: str = "id",
        fmt: str | None = None,
        run_id: str | None = None,
        split: str | None = None,
        fields: Iterable[str] | None = None,
        label_range: tuple[float, float] | None = None,
    ) -> IngestResult | list[IngestResult]:
        """Add samples to ``dataset`` in one transaction.

        ``source`` is a JSONL/CSV/Parquet path, an Arrow table, an iterable of dicts, a pandas or
        polars DataFrame, a Hugging Face ``Dataset`` or ``DatasetDict``, or a folder written by
        their ``save_to_disk`` (see :mod:`tether.frames`). A ``DatasetDict`` is ingested as one
        dataset per split, ``NAME-SPLIT`` (a list of results, all splits one transaction), or
        only the split named by ``split``. The
        provenance keywords apply to every row that does not carry the field itself. Samples whose
        content is already in the dataset are skipped; anything invalid raises
        :class:`~tether.errors.InputError` naming the file, line and field, and nothing is written.
        ``text_field=None`` allows rows without text (tabular data, or records whose text is in
        declared ``fields``).

        ``fields`` declares the user's text fields (``("question", "context", "answer")``):
        every record must hold each as a string, or as a conversation in the OpenAI chat format
        (a list of one or more ``{role, content}``, roles system, user, assistant, tool,
        content a string; a field named ``messages`` must be one, in CSV as its JSON text).
        ``label_range=(lo, hi)`` declares labels to be scores: each must be a finite number
        within it. Both are recorded with the dataset (:meth:`declarations`) and hold for its
        later ingests; another declaration is refused. An error in one split of a
        ``DatasetDict`` names the split (``split test``, or its folder) and its row.

        Values are stored exactly as given, or refused: a text that is not a string, a label of
        another type than the labels before it (``7`` among strings; one type throughout, such
        as integers, is kept as its text), a nested label, NaN/Infinity/``1e999``, a JSON record
        nested over 128 deep, or an open CSV quote is an ``InputError`` at its line. Content is
        "already in the dataset" by dedup key: NFKC, zero-width characters dropped
        (:func:`tether.io.dedup_text`), so Unicode twins are duplicates while ``content_hash``
        stays exact. A parent id held by different samples in several datasets must be
        written ``dataset:id``.

        Example:
            >>> with Store(":memory:") as s:
            ...     s.ingest("d", [{"text": "hi"}], origin="real").to_dict()
            {'dataset': 'd', 'added': 1, 'skipped_duplicates': 0}
        """
        origin_path = source if isinstance(source, (str, Path)) else None
        source = frames.to_arrow(source, split)
        defaults = {"origin": origin, "label_origin": label_origin, "family": family,
                    "generator": generator, "domain": domain, "task": task}
        self._check_defaults(defaults)
        config_json = canonical_json(dict(generator_config)) if generator_config is not None else None
        mapping = {"text": text_field, "label": label_field, "id": id_field}
        given = _declaration(fields, label_range, mapping)
        # a DatasetDict is one dataset per split, all written in this one transaction
        parts = ([(f"{dataset}-{name}", table) for name, table in source.items()]
                 if isinstance(source, dict) else [(dataset, source)])
        path = None
        if isinstance(source, (str, Path)):
            path = io.check_readable(source)
            fmt = io.detect_format(path, fmt)
        # CSV types are inferred from the first records; when a later value has another type,
        # the write is rolled back and done again with types inferred from every record
        self._register_dedup()
        for exhaustive in (False, True):
            self._con.begin()
            try:
                results = []
                for name, part in parts:
                    split_of = name if isinstance(source, dict) else None
                    with _in_split(split_of, dataset, origin_path):
                        declared = self._declared(name, given, path)
                        results.append(self._write(
                            name, part, path, fmt, exhaustive, defaults, config_json, mapping,
                            declared, run_id, generator))
                self._con.commit()
                break
            except _TypeDrift as drift:
                self._con.rollback()
                if exhaustive:
                    raise io.diagnose(path, fmt, drift.__cause__) from None
            except BaseException:
                self._con.rollback()
                raise
            finally:
                self._con.execute("DROP VIEW IF EXISTS _staged")
                self._con.execute("DROP TABLE IF EXISTS _stage")
                self._con.execute("DROP TABLE IF EXISTS _parents")
                self._con.unregister("_in_view")  # a no-op when the source was a file
        return results if isinstance(source, dict) else results[0]

    def _write(self, dataset: str, source: Any, path: Path | None, fmt: str | None,
               exhaustive: bool, defaults: Mapping[str, str | None], config_json: str | None,
               mapping: Mapping[str, str | None], declared: Mapping[str, Any],
               run_id: str | None, generator: str | None) -> IngestResult:
        """Stage, check and insert one input into ``dataset``, inside the caller's transaction."""
        own_run = run_id is None
        run_id = run_id or uuid.uuid4().hex[:12]
        scan, types = self._open_source(source, path, fmt, exhaustive, mapping,
                                        declared.get("text_fields", ()))
        if declared.get("text_fields") and mapping["text"] == "text" and "text" not in types:
            mapping = {**mapping, "text": None}  # the declared fields hold the text
        self._stage(scan, types, defaults, config_json, mapping, run_id, declared,
                    where=(path, fmt))
        self._derive_generations(dataset, where=(path, fmt))
        added, skipped = self._commit_stage(dataset, where=(path, fmt))
        if own_run:
            self._insert_run(run_id, "ingest", dataset, generator=generator,
                             config_json=config_json, source=str(path) if path else None,
                             status="complete", added=added, skipped=skipped,
                             params={"fields": mapping, **declared})
        else:
            self._con.execute("UPDATE runs SET added = added + ?, skipped = skipped + ? "
                             "WHERE run_id = ?", [added, skipped, run_id])
        return IngestResult(dataset, added, skipped, run_id)

    def _declared(self, dataset: str, given: Mapping[str, Any],
                  path: Path | None = None) -> dict[str, Any]:
        """What this ingest checks: the declaration it was given, else the one the dataset was
        first given (``text_fields``, ``label_range``); a different one is refused."""
        kept = self.declarations(dataset)
        for key, value in given.items():
            if key in kept and kept[key] != value:
                option = "fields" if key == "text_fields" else key
                shown = (",".join(kept[key]) if key == "text_fields"
                         else "{:g},{:g}".format(*kept[key]))
                raise InputError(f"dataset {dataset!r} was ingested with {option} {shown}; give "
                                 f"the same (or leave it out) or ingest into another dataset",
                                 path=path, field=option)
        return {**kept, **given}

    def _register_dedup(self) -> None:
        """Make :func:`dedup_key_sql`'s function known to this connection. Outside a
        transaction: one rolled back would take the function with it."""
        if not self._con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = ?",
                                [_DEDUP_UDF]).fetchall()[0][0]:
            self._con.create_function(_DEDUP_UDF, _dedup_arrow, ["VARCHAR"], "VARCHAR",
                                     type="arrow", null_handling="special")

    def _backfill_dedup_keys(self) -> None:
        """Give samples stored before dedup keys existed their key (a no-op afterwards)."""
        if self._con.execute("SELECT count(*) FROM samples WHERE dedup_key IS NULL").fetchone()[0]:
            self._register_dedup()
            key = dedup_key_sql("text", "label", _STORED_FIELDS_TEXT)
            self._con.execute(f"UPDATE samples SET dedup_key = coalesce({key}, '') "
                              "WHERE dedup_key IS NULL")

    @staticmethod
    def _check_defaults(defaults: Mapping[str, str | None]) -> None:
        allowed = {"origin": ORIGINS, "label_origin": LABEL_ORIGINS, "family": FAMILIES}
        for name, values in allowed.items():
            value = defaults[name]
            if value is not None and value not in values:
                raise InputError(f"unknown {name} {value!r}; expected one of {', '.join(values)}",
                                 field=name)
        if defaults["generator"] is not None:
            try:
                check_generator(defaults["generator"])
            except ValueError as exc:
                raise InputError(str(exc), field="generator") from None

    def _open_source(self, source: Any, path: Path | None, fmt: str | None,
                     exhaustive: bool, mapping: Mapping[str, str | None],
                     text_fields: Iterable[str] = ()) -> tuple[str, dict[str, str]]:
        """The table expression to read from and its column types (read from a sample).

        Text, label and id are read as they were written: from JSONL as JSON values (so that
        a value of another type anywhere in the file is seen, see ``_check_rows``), unless
        DuckDB typed the column VARCHAR from every record, which it does only when every value
        is a string (or null): then as text, sparing a JSON parse per value. From CSV as text
        (``007`` stays ``007``), and so are declared text fields from CSV."""
        if path is not None:
            # JSONL types come from every record: a key first seen after a sample would be
            # dropped without a word (a CSV header names every column)
            every = exhaustive or fmt == "jsonl"
            try:
                types = {r[0]: r[1] for r in self._con.execute(
                    f"DESCRIBE SELECT * FROM {io.scan_sql(path, fmt, exhaustive=every)}"
                ).fetchall()}
            except duckdb.Error as exc:
                raise io.diagnose(path, fmt, exc) from None
            if fmt == "csv":
                io.check_csv_header(path, list(types))
            own = [c for c in (mapping["text"], mapping["label"], mapping["id"]) if c in types]
            if fmt == "jsonl":
                types = {c: _strings_as_text(t) for c, t in types.items()}
                types |= {c: "JSON" for c in own if c != mapping["id"] and types[c] != "VARCHAR"}
                return io.scan_sql(path, fmt, columns=types), types
            own += [c for c in text_fields if c in types and c not in own]
            # and what DuckDB would read as a date or time, which it writes back in its own
            # format (2024-01-01T10:00:00 would be stored as 2024-01-01 10:00:00)
            own += [c for c, t in types.items()
                    if _strings_as_text(t) != t and c not in own]
            if fmt == "csv" and own:
                types |= {c: "VARCHAR" for c in own}
                scan = io.scan_sql(path, fmt, exhaustive=exhaustive,
                                   columns={c: "VARCHAR" for c in own})
                if "messages" in own:  # a conversation as its JSON text (as export writes it);
                    # text that is no JSON stays a string, which the chat-format rule refuses
                    types["messages"] = "JSON"
                    scan = (f"(SELECT * REPLACE (CASE WHEN json_valid(messages) THEN "
                            f"json(messages) ELSE to_json(messages) END AS messages) FROM {scan})")
                return scan, types
            return io.scan_sql(path, fmt), types
        if isinstance(source, pa.Table):
            table = source
        else:  # columns from every row's keys (Table.from_pylist reads only the first row's)
            rows = list(source)
            try:
                table = pa.Table.from_struct_array(pa.array(rows)) if rows else pa.table({})
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
                raise _mixed_types(rows, exc) from None
        if table.num_rows == 0:
            raise InputError("no records to ingest")
        self._con.register("_in_view", table)
        return "_in_view", {r[0]: r[1] for r in self._con.execute("DESCRIBE _in_view").fetchall()}

    def _stage(self, scan: str, types: Mapping[str, str], defaults: Mapping[str, str | None],
               config_json: str | None, mapping: Mapping[str, str | None], run_id: str,
               declared: Mapping[str, Any], where: tuple) -> None:
        """One streaming pass from the source into ``_stage``: provenance filled in, user fields
        packed, content hashed, ids derived; then every rule checked."""
        path, fmt = where

        def fail(field_name: str, message: str) -> None:
            raise InputError(message, path=path, field=field_name)

        text_col = mapping["text"]
        if text_col is not None and text_col not in types:
            fail(text_col, f"no '{text_col}' field in the data; name the text field with "
                           "--text-field")
        for name in ("origin", "label_origin", "family", "generator", "domain", "task", "id",
                     "content_hash", "config_hash"):
            col = mapping.get(name, name) if name == "id" else name
            if col in types and types[col] != "VARCHAR" and not types[col].startswith("INT") \
                    and types[col] != '"NULL"':
                fail(col, f"column type {types[col]}, expected text")
        if text_col is not None and types[text_col] not in ("VARCHAR", "JSON"):
            fail(text_col, f"column type {types[text_col]}, expected text")
        label_type = types.get(mapping["label"] or "", "VARCHAR")
        if label_type != "JSON" and (label_type.endswith("]") or label_type.startswith(
                ("STRUCT", "MAP", "UNION", "JSON"))):
            fail(mapping["label"], f"column type {label_type}, expected text or a number "
                                   "(a label is one value; keep nested data in another field)")

        def kind(name: str) -> str:
            col = mapping[name]
            if types.get(col or "") == "JSON":
                return _kind_sql(_ident(col))
            if name == "label" and _NUMBER_TYPE.fullmatch(types.get(col or "", "")):
                return f"CASE WHEN {_ident(col)} IS NOT NULL THEN 'a number' END"
            return "NULL::VARCHAR"

        fields_sql = _fields_sql(types, mapping, as_text=False)

        def col_or(name: str, default: str | None) -> str:
            if name in types:
                return f"coalesce(nullif(CAST({_ident(name)} AS VARCHAR), ''), {_lit(default)})"
            return _lit(default) + "::VARCHAR"

        def mapped(name: str) -> str:
            return _mapped_sql(types, mapping[name])

        if "generator_config" in types:
            gtype = types["generator_config"]
            raw = (f"json(nullif({_ident('generator_config')}, ''))" if gtype == "VARCHAR"
                   else f"to_json({_ident('generator_config')})")
            config_sql = f"coalesce({raw}, {_lit(config_json)}::JSON)"
        else:
            config_sql = f"{_lit(config_json)}::JSON"
        # one configuration for the whole input is hashed once here, not once per row
        if "generator_config" in types:
            config_hash_sql = "substr(sha256(CAST(generator_config AS VARCHAR)), 1, 16)"
        else:
            fixed = config_hash(json.loads(config_json)) if config_json else None
            config_hash_sql = f"{_lit(fixed)}::VARCHAR"
        if "parents" in types:
            ptype = types["parents"]
            if ptype in ("VARCHAR", "JSON"):
                parents_sql = ("coalesce(from_json(nullif(CAST(parents AS VARCHAR), ''), "
                               "'[\"VARCHAR\"]'), [])")
            elif ptype.endswith("[]"):
                parents_sql = "coalesce(CAST(parents AS VARCHAR[]), [])"
            elif ptype == '"NULL"':
                parents_sql = "CAST([] AS VARCHAR[])"
            else:
                fail("parents", f"column type {ptype}, expected a list of ids")
        else:
            parents_sql = "CAST([] AS VARCHAR[])"
        created_sql = (f"coalesce(CAST(created_at AS TIMESTAMP), {_lit(_now().isoformat())}::TIMESTAMP)"
                       if "created_at" in types else f"{_lit(_now().isoformat())}::TIMESTAMP")
        given = {name: (f"CAST({_ident(name)} AS VARCHAR)" if name in types else "NULL::VARCHAR")
                 for name in ("generation", "content_hash")}

        def label_origin(label: str) -> str:
            return (f"CASE WHEN {label} IS NOT NULL "
                    f"THEN {col_or('label_origin', defaults['label_origin'])} "
                    f"ELSE {col_or('label_origin', None)} END")

        base = {
            "given_id": mapped("id"), "text": mapped("text") if text_col else "NULL::VARCHAR",
            "label": mapped("label"), "fields": fields_sql,
            "content_hash": content_hash_sql(types, mapping),
            "_fields_text": _fields_sql(types, mapping, as_text=True),
            "origin": col_or("origin", defaults["origin"]),
            "label_origin": label_origin(mapped("label")),
            **{name: col_or(name, defaults[name])
               for name in ("family", "generator", "domain", "task")},
            "generator_config": config_sql, "created_at": created_sql, "parents": parents_sql,
            "given_generation": given["generation"],
            "given_content_hash": given["content_hash"],
            "_text_kind": kind("text") if text_col else "NULL::VARCHAR",
            "_label_kind": kind("label"),
        }
        derived = {
            "id": f"coalesce(given_id, {derived_id_sql()})", "config_hash": config_hash_sql,
            "generation": "CAST(CASE WHEN origin = 'real' THEN 0 WHEN len(parents) = 0 THEN 1 END "
                          "AS INTEGER)",
            "run_id": f"{_lit(run_id)}::VARCHAR",
            "dedup_key": dedup_key_sql("text", "label", "_fields_text"),
        }
        # a column of one value for every row (a default, or NULL for a field the input lacks)
        # is not written out a million times: the view _staged adds it (a third of the stage)
        fixed = {name: sql for name, sql in {**base, **derived}.items() if _LITERAL.fullmatch(sql)}
        if "label_origin" not in types:  # then a function of the label
            fixed["label_origin"] = label_origin("label")
        # given_id and _fields_text only make id and dedup_key
        stored = [name for name in base if name not in fixed
                  and name not in ("given_id", "_fields_text")]
        stored += [f"{sql} AS {name}" for name, sql in derived.items() if name not in fixed]
        try:
            self._con.execute(f"""
                CREATE OR REPLACE TEMP TABLE _stage AS
                WITH base AS (SELECT {", ".join(f"{sql} AS {name}" for name, sql in base.items())}
                              FROM {scan})
                SELECT {", ".join(stored)} FROM base
            """)
        except duckdb.Error as exc:
            if path is not None and io.type_drift(exc):
                raise _TypeDrift() from exc
            if isinstance(exc, duckdb.ConversionException):
                raise InputError(f"a value could not be converted: {str(exc).splitlines()[0]}",
                                 path=path) from None
            if path is None:
                raise
            raise io.diagnose(path, fmt, exc) from None
        # rows are numbered by their place in the input: _stage keeps insertion order, so its
        # rowid, counted from the first, is that place (a window function here would cost a
        # third of the whole ingest). Rows written inside a transaction do not start at rowid 0.
        count, first = self._con.execute("SELECT count(*), min(rowid) FROM _stage").fetchone()
        if count == 0:
            raise InputError("the file holds no records", path=path)
        constants = "".join(f", {sql} AS {name}" for name, sql in fixed.items())
        self._con.execute(f"CREATE OR REPLACE TEMP VIEW _staged AS "
                         f"SELECT rowid - {first - 1} AS _row, *{constants} FROM _stage")
        self._check_rows(mapping, declared, where)
        label_col = mapping["label"]
        if defaults["label_origin"] and (label_col is None or label_col not in types):
            fail(label_col or "label",
                 f"label_origin={defaults['label_origin']} was given but no record has a "
                 f"'{label_col or 'label'}' field; name the label field with --label-field, or "
                 "drop --label-origin for unlabelled data")

    def _check_rows(self, mapping: Mapping[str, str | None], declared: Mapping[str, Any],
                    where: tuple) -> None:
        """Find the first row breaking each rule in one columnar scan; raise for the earliest."""
        text_col = mapping["text"]
        label_col = mapping["label"]
        rules = [
            (text_col, "text IS NULL", "the text is missing", "NULL")
            if text_col else None,
            ("origin", "origin IS NULL",
             "origin is not set; give an origin field or pass --origin real|synthetic", "NULL"),
            ("origin", f"origin NOT IN ({', '.join(map(_lit, ORIGINS))})",
             "unknown origin {value}; expected real or synthetic", "origin"),
            ("label_origin", f"label_origin NOT IN ({', '.join(map(_lit, LABEL_ORIGINS))})",
             "unknown label_origin {value}; expected real or synthetic", "label_origin"),
            ("family", f"family NOT IN ({', '.join(map(_lit, FAMILIES))})",
             "unknown family {value}; expected model, rule or simulation", "family"),
            ("family", "origin = 'synthetic' AND family IS NULL",
             "a synthetic sample must name its family (model, rule or simulation)", "NULL"),
            ("generator", "origin = 'synthetic' AND generator IS NULL",
             "a synthetic sample must name its generator as name@version", "NULL"),
            ("family", "label_origin = 'synthetic' AND family IS NULL",
             "a synthetic label must name the family of its generator (model, rule or "
             "simulation)", "NULL"),
            ("generator", "label_origin = 'synthetic' AND generator IS NULL",
             "a synthetic label must name its generator as name@version", "NULL"),
            ("family", "origin = 'real' AND coalesce(label_origin, 'real') = 'real' "
                       "AND family IS NOT NULL",
             "a real sample with a real label (or none) has no generator family, got {value}",
             "family"),
            ("generator", "NOT regexp_full_match(generator, '[^@\\s]+@[^@\\s]+')",
             "generator must read name@version, got {value}", "generator"),
            ("label_origin", "label IS NOT NULL AND label_origin IS NULL",
             "the sample has a label but no label_origin; give one or pass "
             "--label-origin real|synthetic", "NULL"),
            ("label_origin", "label IS NULL AND label_origin IS NOT NULL",
             f"label_origin is {{value}} but the sample has no '{label_col}'", "label_origin"),
            ("content_hash", "given_content_hash IS NOT NULL AND given_content_hash <> content_hash",
             "content_hash {value} does not match the content; the record was changed after it "
             "was hashed", "given_content_hash"),
            ("id", "id = ''", "the id is empty", "NULL"),
            ("parents", "list_contains(parents, id)", "the sample {value} names itself as a parent",
             "id"),
            # JSONL text and labels are read as JSON values: one of another type is refused,
            # never stored with its quotes or as JSON text
            (text_col, "_text_kind <> 'a string'",
             "expected a string, got {raw}; quote it or fix the line", _SHOWN.format("text")),
            (label_col, "_label_kind IN ('a list', 'an object')",
             "expected a string or a number, got {raw}; a label is one value", _SHOWN.format("label")),
        ]
        first = self._con.execute("SELECT arg_min(_label_kind, _row) FILTER "
                                 "(WHERE _label_kind IS NOT NULL) FROM _staged").fetchone()[0]
        if first is not None:
            rules.append((label_col, f"_label_kind <> {_lit(first)}",
                          f"expected {first} like the other rows, got {{raw}}; quote it or fix "
                          "the line", _SHOWN.format("label")))
        rules += _declared_rules(mapping, declared)
        rules = [r for r in rules if r is not None and r[0] is not None]
        select = ", ".join(f"min(_row) FILTER (WHERE {cond})" for _, cond, _, _ in rules)
        firsts = self._con.execute(f"SELECT {select} FROM _staged").fetchone()
        broken = [(row, rule) for row, rule in zip(firsts, rules) if row is not None]
        if broken:
            row, (field_name, _, message, value_sql) = min(broken, key=lambda b: b[0])
            value = self._con.execute(f"SELECT {value_sql} FROM _staged WHERE _row = ?",
                                     [row]).fetchone()[0]
            self._raise_at(where, row, field_name, message(value) if callable(message)
                           else message.format(value=repr(value), raw=value))
        self._check_numbers(label_col, where)

    def _check_numbers(self, label_col: str | None, where: tuple) -> None:
        """NaN, Infinity and numbers beyond a double (``1e999``, read as Infinity) have no JSON
        form: refuse them rather than store invalid JSON or a changed value. A regular
        expression over the packed fields finds candidates in SQL; Python confirms them (a
        string may hold the same characters)."""
        path, fmt = where
        suspects = self._con.execute(f"""
            SELECT * FROM (
                SELECT _row, CAST(fields AS VARCHAR) AS f, CAST(generator_config AS VARCHAR) AS g,
                       -- a CASE, so that only numbers are cast (an AND casts every label)
                       CASE WHEN _label_kind = 'a number'
                            THEN coalesce(NOT isfinite(TRY_CAST(label AS DOUBLE)), false)
                            ELSE false END AS bad_label
                FROM _staged)
            WHERE regexp_matches(f, {_lit(_NON_FINITE)}) OR regexp_matches(g, {_lit(_NON_FINITE)})
               OR bad_label
            ORDER BY _row LIMIT 1000""").fetchall()
        if not suspects:
            return
        if fmt == "jsonl":  # the file says best which line and field
            found = io.first_bad_line(path, fmt)
            if found is not None:
                raise found
            return
        for row, fields, config, bad_label in suspects:
            if bad_label:
                self._raise_at(where, row, label_col, io.NON_FINITE_MESSAGE)
            bad = [key for key, value in json.loads(fields or "{}", parse_constant=float).items()
                   if io.has_non_finite(value)]
            if io.has_non_finite(json.loads(config or "{}", parse_constant=float)):
                bad.append("generator_config")
            if bad:
                self._raise_at(where, row, bad[0], io.NON_FINITE_MESSAGE)

    def _raise_at(self, where: tuple, row: int, field_name: str | None, message: str) -> None:
        path, fmt = where
        place = io.locate(path, fmt, row) if path is not None else {"row": row}
        raise InputError(message, path=path, field=field_name, **place)

    def _derive_generations(self, dataset: str, where: tuple) -> None:
        """generation = 0 for real, 1 + max(parent generation) otherwise; parents must exist.

        A parent is an id, or ``dataset:id`` for the sample of that id in that dataset (rows
        earlier in this input count as in ``dataset``). A bare id held by samples of different
        content in several datasets is ambiguous and refused; copies of one sample (same
        content hash, as a mix makes) are one parent."""
        if not self._con.execute("SELECT count(*) FROM _staged WHERE generation IS NULL"
                                ).fetchone()[0]:
            return
        self._con.execute("""
            CREATE OR REPLACE TEMP TABLE _parents AS
            WITH p AS (SELECT DISTINCT rowid AS r, unnest(parents) AS parent FROM _stage
                       WHERE generation IS NULL),
                 -- the prefix is matched against dataset names (few), so that samples join
                 -- on equality (a hash join) instead of a comparison of every pair, and only
                 -- the samples whose id a parent may name are read: a batch costs the same
                 -- whatever else the store holds
                 names AS (SELECT name FROM datasets UNION SELECT $1),
                 wanted AS (SELECT parent AS id FROM p UNION
                            SELECT p.parent[length(n.name) + 2:] FROM p
                            JOIN names n ON starts_with(p.parent, n.name || ':')),
                 known AS (SELECT dataset, id, content_hash FROM samples
                           WHERE id IN (SELECT id FROM wanted)
                           UNION ALL SELECT $1, id, content_hash FROM _stage),
                 qualified AS (SELECT p.r, p.parent, k.* FROM p
                               JOIN names n ON starts_with(p.parent, n.name || ':')
                               JOIN known k ON k.dataset = n.name
                                           AND k.id = p.parent[length(n.name) + 2:]),
                 bare AS (SELECT p.r, p.parent, k.* FROM p JOIN known k ON k.id = p.parent
                          ANTI JOIN qualified q ON q.r = p.r AND q.parent = p.parent)
            SELECT p.r, p.parent, k.dataset, k.id, k.content_hash FROM p
            LEFT JOIN (SELECT * FROM qualified UNION ALL SELECT * FROM bare) k
              ON k.r = p.r AND k.parent = p.parent
        """, [dataset])
        offset = self._con.execute("SELECT min(rowid) - 1 FROM _stage").fetchone()[0]
        ambiguous = self._con.execute("""
            SELECT r, parent, list_sort(list_distinct(list(dataset))) FROM _parents
            GROUP BY r, parent HAVING count(DISTINCT content_hash) > 1
            ORDER BY r LIMIT 1""").fetchone()
        if ambiguous:
            r, parent, names = ambiguous
            self._raise_at(where, r - offset, "parents",
                           f"parent {parent!r} names different samples in datasets "
                           f"{', '.join(names)}; qualify it as dataset:id (e.g. "
                           f"{names[0]}:{parent})")
        while True:
            pending = self._con.execute("SELECT count(*) FROM _staged WHERE generation IS NULL"
                                       ).fetchone()[0]
            if not pending:
                break
            self._con.execute("""
                UPDATE _stage SET generation = resolved.g FROM (
                    SELECT p.r, 1 + max(k.generation) AS g,
                           count(*) FILTER (WHERE k.generation IS NULL) AS missing
                    FROM _parents p
                    LEFT JOIN (SELECT dataset, id, generation FROM samples
                               UNION ALL
                               SELECT $1, id, generation FROM _stage WHERE generation IS NOT NULL) k
                      ON k.dataset = p.dataset AND k.id = p.id
                    GROUP BY p.r
                ) resolved
                WHERE _stage.rowid = resolved.r AND resolved.missing = 0
            """, [dataset])
            left = self._con.execute("SELECT count(*) FROM _staged WHERE generation IS NULL"
                                    ).fetchone()[0]
            if left == pending:
                missing = self._con.execute("SELECT r, parent FROM _parents WHERE id IS NULL "
                                           "ORDER BY r LIMIT 1").fetchone()
                if missing is None:
                    row = self._con.execute("SELECT min(_row) FROM _staged WHERE generation IS NULL"
                                           ).fetchone()[0]
                    self._raise_at(where, row, "parents", "the parents form a cycle (a sample "
                                   "descends from itself); fix the parents")
                self._raise_at(where, missing[0] - offset, "parents",
                               f"parent {missing[1]!r} is not in the store (nor in this input); "
                               "ingest the samples it was derived from first")
        bad = self._con.execute("""SELECT _row, given_generation, generation FROM _staged
                                  WHERE given_generation IS NOT NULL
                                    AND CAST(given_generation AS INTEGER) <> generation
                                  ORDER BY _row LIMIT 1""").fetchone()
        if bad:
            self._raise_at(where, bad[0], "generation",
                           f"generation is derived from the parents (here {bad[2]}), the data "
                           f"says {bad[1]}; remove the field or fix the parents")

    def _commit_stage(self, dataset: str, where: tuple) -> tuple[int, int]:
        # by dedup key: equal content hashes have equal keys, and so do Unicode twins. Counted
        # by 64-bit hash (a quarter faster): distinct hashes are distinct values, and a rare
        # collision only sends the count down the exact paths below
        total, keys, ids = self._con.execute(
            f"SELECT count(*), count(DISTINCT hash({_DEDUP_KEY})), count(DISTINCT hash(id)) "
            "FROM _staged").fetchone()
        kept = total
        if keys < total:  # keep the first row of each content
            self._con.execute(f"""
                DELETE FROM _stage WHERE rowid IN (
                    SELECT r FROM (SELECT rowid AS r, row_number() OVER (
                                       PARTITION BY {_DEDUP_KEY} ORDER BY rowid) AS k
                                   FROM _stage) WHERE k > 1)""")
        existing = self._con.execute("SELECT count(*) FROM samples WHERE dataset = ?",
                                    [dataset]).fetchone()[0]
        if existing:  # drop content the dataset already holds
            self._con.execute(f"DELETE FROM _stage WHERE {_DEDUP_KEY} IN "
                             f"(SELECT {_DEDUP_KEY} FROM samples WHERE dataset = ?)", [dataset])
        if keys < total or existing:  # rows were dropped: count what is left
            kept, ids = self._con.execute("SELECT count(*), count(DISTINCT id) FROM _staged"
                                         ).fetchone()
        dup = kept > ids and self._con.execute("""
            SELECT b._row, b.id, a._row FROM _staged a JOIN _staged b
              ON a.id = b.id AND a._row < b._row ORDER BY b._row LIMIT 1""").fetchone()
        if dup:
            first = io.locate(where[0], where[1], dup[2]) if where[0] is not None else {"row": dup[2]}
            at = ", ".join(f"{k} {v}" for k, v in first.items())
            self._raise_at(where, dup[0], "id",
                           f"duplicate id {dup[1]!r} (first seen at {at}) with different content")
        clash = existing and self._con.execute("""
            SELECT s._row, s.id FROM _staged s JOIN samples t
              ON t.dataset = ? AND t.id = s.id ORDER BY s._row LIMIT 1""", [dataset]).fetchone()
        if clash:
            self._raise_at(where, clash[0], "id",
                           f"id {clash[1]!r} is already in dataset {dataset!r} with different content")
        columns = ", ".join(_STORED_COLUMNS[1:])
        # _stage was written in file order and a plain scan keeps it, so no ORDER BY is needed
        self._con.execute(f"INSERT INTO samples (dataset, {columns}, dedup_key) "
                         f"SELECT ? AS dataset, {columns}, coalesce(dedup_key, '') FROM _staged",
                         [dataset])
        added = kept
        now = _now()
        self._con.execute("""INSERT INTO datasets VALUES (?, ?, ?, NULL)
                            ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at""",
                         [dataset, now, now])
        return added, total - added

    # -------------------------------------------------------------------- runs
    def _insert_run(self, run_id: str, kind: str, dataset: str | None, *, generator: str | None = None,
                    config_json: str | None = None, seed: int | None = None,
                    source: str | None = None, status: str = "running", added: int = 0,
                    skipped: int = 0, params: Mapping[str, Any] | None = None) -> None:
        now = _now()
        self._con.execute(
            "INSERT INTO runs (run_id, kind, dataset, generator, generator_config, config_hash, "
            "seed, source, started_at, ended_at, status, added, skipped, failed, created_by, "
            "params, pid, host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
            [run_id, kind, dataset, generator, config_json,
             config_hash(json.loads(config_json)) if config_json else None, seed, source, now,
             now if status != "running" else None, status, added, skipped, getpass.getuser(),
             canonical_json(dict(params)) if params else None, os.getpid(),
             socket.gethostname()])

    def start_run(self, kind: str, dataset: str | None, *, generator: str | None = None,
                  config: Mapping[str, Any] | None = None, seed: int | None = None,
                  run_id: str | None = None, params: Mapping[str, Any] | None = None) -> str:
        """Record a run as ``running`` and return its id.

        Starting again with the id of an unfinished run resumes it (same generator and
        configuration required); so does a run that completed with failures, to retry them.
        A run that completed without failures is refused. The run records this process (pid and
        host) so that :meth:`runs` can tell a run whose process died (``interrupted``).
        """
        config_json = canonical_json(dict(config)) if config is not None else None
        if run_id is not None:
            existing = self._con.execute("SELECT status, generator, config_hash, failed FROM runs "
                                        "WHERE run_id = ?", [run_id]).fetchone()
            if existing is not None:
                status, gen, chash, failed = existing
                if status == "complete" and not failed:
                    raise StoreError(f"run {run_id} is already complete; start a new run id")
                if gen != generator or chash != config_hash(config if config is None else dict(config)):
                    raise StoreError(f"run {run_id} was started with {gen} and another "
                                     "configuration; resume it with the same generator and "
                                     "configuration, or start a new run id")
                self._con.execute("UPDATE runs SET status = 'running', ended_at = NULL, pid = ?, "
                                 "host = ? WHERE run_id = ?",
                                 [os.getpid(), socket.gethostname(), run_id])
                self._con.execute("DELETE FROM failures WHERE run_id = ?", [run_id])
                return run_id
        run_id = run_id or uuid.uuid4().hex[:12]
        self._insert_run(run_id, kind, dataset, generator=generator, config_json=config_json,
                         seed=seed, params=params)
        return run_id

    def record_failures(self, run_id: str, failures: Iterable[tuple[list[str], str]]) -> int:
        """Record items a run could not make (``(parent ids, reason)``); returns how many."""
        rows = [(run_id, list(parents), reason, _now()) for parents, reason in failures]
        if rows:
            self._con.executemany("INSERT INTO failures VALUES (?, ?, ?, ?)", rows)
        return len(rows)

    def failures(self, run_id: str) -> list[dict[str, Any]]:
        """The failures recorded for a run."""
        return self._dicts("SELECT parents, reason, created_at FROM failures WHERE run_id = ? "
                           "ORDER BY created_at", [run_id])

    def finish_run(self, run_id: str, *, status: str = "complete", failed: int = 0,
                   summary: Mapping[str, Any] | None = None) -> None:
        """Mark a run ``complete`` (or ``failed``) and record its failure count and the
        generator's ``summary`` (JSON; kept when ``None``)."""
        self._con.execute("UPDATE runs SET status = ?, ended_at = ?, failed = ?, "
                         "summary = coalesce(?, summary) WHERE run_id = ?",
                         [status, _now(), failed,
                          canonical_json(dict(summary)) if summary is not None else None, run_id])

    def run(self, run_id: str) -> dict[str, Any]:
        """One run as a dict (``status`` as :meth:`runs` reports it)."""
        rows = self._run_rows("WHERE run_id = ?", [run_id])
        if not rows:
            raise NotFoundError(f"no run {run_id!r} in {self.path}")
        return rows[0]

    def runs(self, dataset: str | None = None) -> list[dict[str, Any]]:
        """All runs (of ``dataset`` when given), oldest first, as dicts of the ``runs`` table.

        ``status`` is ``running``, ``complete``, ``failed`` or ``interrupted``: a run left
        ``running`` by a process that no longer lives on this host. Resume one by passing its
        ``run_id`` to the command (or :meth:`start_run`) again.

        Example:
            >>> with Store(":memory:") as s:
            ...     _ = s.ingest("d", [{"text": "hi"}], origin="real")
            ...     [(r["kind"], r["dataset"], r["status"], r["added"]) for r in s.runs("d")]
            [('ingest', 'd', 'complete', 1)]
        """
        if dataset is None:
            return self._run_rows("", [])
        rows = self._run_rows("WHERE dataset = ?", [dataset])
        if not rows:
            self._require(dataset)  # a name that is no dataset: say which ones there are
        return rows

    def _run_rows(self, where: str, params: list) -> list[dict[str, Any]]:
        have = {r[0] for r in self._con.execute("DESCRIBE runs").fetchall()}
        # a store opened read-only may predate the pid and host columns
        extra = ", ".join(f"NULL AS {c}" for c in ("pid", "host") if c not in have)
        rows = self._dicts(f"SELECT *{', ' + extra if extra else ''} FROM runs {where} "
                           "ORDER BY started_at, run_id", params)
        for row in rows:
            row["status"] = _run_status(row["status"], row["pid"], row["host"])
        return rows

    def dependents(self, name: str) -> dict[str, int]:
        """Other datasets holding samples derived from ``name`` (their ``parents`` name its ids,
        bare or as ``name:id``), with how many such samples each."""
        rows = self._con.execute("""
            WITH ids AS (SELECT id FROM samples WHERE dataset = $1),
                 refs AS (SELECT dataset, rowid AS r, unnest(parents) AS parent FROM samples
                          WHERE dataset <> $1 AND len(parents) > 0)
            SELECT dataset, count(DISTINCT r) FROM refs
            WHERE parent IN (SELECT id FROM ids) OR parent IN (SELECT $1 || ':' || id FROM ids)
            GROUP BY dataset ORDER BY dataset""", [name]).fetchall()
        return dict(rows)

    def _refuse_with_dependents(self, name: str, action: str, force: bool) -> list[str]:
        found = self.dependents(name)
        if found and not force:
            listed = ", ".join(f"{d} ({n} samples)" for d, n in found.items())
            raise StoreError(f"cannot {action} dataset {name!r}: samples in {listed} descend "
                             f"from it; pass --force to {action} it anyway")
        return sorted(found)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction: committed when the block ends, rolled back on any error."""
        self._con.begin()
        try:
            yield
        except BaseException:
            self._con.rollback()
            raise
        self._con.commit()

    def remove(self, name: str, *, force: bool = False) -> DatasetChange:
        """Delete dataset ``name``: its samples, and the runs that wrote to it with their
        failures, in one transaction. Refused (:class:`~tether.errors.StoreError` naming them)
        when samples in other datasets descend from it, unless ``force``.

        Example:
            >>> with Store(":memory:") as s:
            ...     _ = s.ingest("d", [{"text": "hi"}], origin="real")
            ...     s.remove("d").to_dict(), s.has_dataset("d")
            ({'action': 'removed', 'dataset': 'd', 'new_name': None, 'samples': 1, 'dependents': []}, False)
        """
        self._require(name)
        with self._transaction():
            dependents = self._refuse_with_dependents(name, "remove", force)
            count = self._con.execute("SELECT count(*) FROM samples WHERE dataset = ?",
                                     [name]).fetchone()[0]
            self._con.execute("DELETE FROM samples WHERE dataset = ?", [name])
            self._con.execute("DELETE FROM failures WHERE run_id IN "
                             "(SELECT run_id FROM runs WHERE dataset = ?)", [name])
            self._con.execute("DELETE FROM runs WHERE dataset = ?", [name])
            self._con.execute("DELETE FROM datasets WHERE name = ?", [name])
        return DatasetChange("removed", name, None, count, dependents)

    def rename(self, old: str, new: str, *, force: bool = False) -> DatasetChange:
        """Rename dataset ``old`` to ``new`` (its samples, runs, and ``old:id`` parents
        elsewhere) in one transaction. Refused when ``new`` exists, and when samples in other
        datasets descend from ``old`` unless ``force``.

        Example:
            >>> with Store(":memory:") as s:
            ...     _ = s.ingest("d", [{"text": "hi"}], origin="real")
            ...     s.rename("d", "e").samples, s.has_dataset("e")
            (1, True)
        """
        self._require(old)
        if not new or not new.strip():
            raise InputError("the new dataset name is empty", field="new")
        if self.has_dataset(new):
            raise StoreError(f"dataset {new!r} already exists in {self.path}; remove it first "
                             "(tether rm) or choose another name")
        with self._transaction():
            dependents = self._refuse_with_dependents(old, "rename", force)
            count = self._con.execute("SELECT count(*) FROM samples WHERE dataset = ?",
                                     [old]).fetchone()[0]
            self._con.execute("UPDATE samples SET dataset = $2 WHERE dataset = $1", [old, new])
            self._con.execute("""
                UPDATE samples SET parents = list_transform(parents, lambda p: CASE
                    WHEN starts_with(p, $1 || ':') THEN $2 || ':' || p[length($1) + 2:]
                    ELSE p END)
                WHERE list_bool_or(list_transform(parents, lambda p: starts_with(p, $1 || ':')))""",
                             [old, new])
            self._con.execute("UPDATE runs SET dataset = $2 WHERE dataset = $1", [old, new])
            self._con.execute("INSERT INTO datasets SELECT $2, created_at, $3, location "
                             "FROM datasets WHERE name = $1", [old, new, _now()])
            self._con.execute("DELETE FROM datasets WHERE name = ?", [old])
        return DatasetChange("renamed", old, new, count, dependents)

    # ------------------------------------------------------------------ audits
    def save_result(self, result: Result, params: Mapping[str, Any] | None = None) -> str:
        """Save a registered result (:data:`tether.results.KINDS`) with the parameters that made
        it, for the report and the policy; returns its id.

        Example:
            >>> from tether.evaluate.ppi import estimate
            >>> with Store(":memory:") as s:
            ...     r = estimate([{"label": 1.0, "prediction": 1.0}] * 3, [{"prediction": 1.0}] * 9)
            ...     rid = s.save_result(r, {"gold": "g.jsonl"})
            ...     s.latest_result("estimate").result.n_gold
            3
        """
        result_id = uuid.uuid4().hex[:12]
        self._con.execute("INSERT INTO audits VALUES (?, ?, ?, ?, ?)",
                         [result_id, kind_of(result).name, _now(),
                          json.dumps(params or {}, default=str),
                          json.dumps(result.to_dict(), default=str)])
        return result_id

    def saved_results(self, kind: str | type[Result], **params: str) -> list[SavedResult]:
        """Saved results of ``kind`` (a name or a result type), newest first, optionally only
        those whose saved parameters equal ``params`` (e.g. ``real="A", synthetic="B"``)."""
        k = kind_of(kind) if isinstance(kind, type) else results_kind(kind)
        where = "".join(f" AND json_extract_string(params, '$.{_json_key(p)}') = ?" for p in params)
        rows = self._con.execute(
            f"SELECT audit_id, params, result, created_at FROM audits WHERE kind = ?{where} "
            "ORDER BY created_at DESC, rowid DESC", [k.name, *map(str, params.values())]).fetchall()
        return [SavedResult(rid, k.name, json.loads(p), json.loads(r), created)
                for rid, p, r, created in rows]

    def latest_result(self, kind: str | type[Result], **params: str) -> SavedResult | None:
        """The newest of :meth:`saved_results`, or None."""
        found = self.saved_results(kind, **params)
        return found[0] if found else None

    def latest_results_by_subject(self, kind: str | type[Result]) -> list[SavedResult]:
        """The newest saved result of ``kind`` for each distinct set of saved parameters (its
        subject: two diversity audits of two datasets are two subjects; a rerun with the same
        parameters replaces the older), newest first.

        Example:
            >>> from tether.evaluate.ppi import estimate
            >>> with Store(":memory:") as s:
            ...     r = estimate([{"label": 1.0, "prediction": 1.0}] * 3, [{"prediction": 1.0}] * 9)
            ...     _ = [s.save_result(r, {"gold": g}) for g in ("a", "b", "a")]
            ...     [x.params["gold"] for x in s.latest_results_by_subject("estimate")]
            ['a', 'b']
        """
        k = kind_of(kind) if isinstance(kind, type) else results_kind(kind)
        rows = self._con.execute(
            "SELECT audit_id, params, result, created_at FROM (SELECT *, rowid AS r, row_number() "
            "OVER (PARTITION BY params ORDER BY created_at DESC, rowid DESC) AS n FROM audits "
            "WHERE kind = ?) WHERE n = 1 ORDER BY created_at DESC, r DESC", [k.name]).fetchall()
        return [SavedResult(rid, k.name, json.loads(p), json.loads(r), created)
                for rid, p, r, created in rows]

    def set_suite_threshold(self, suite: str, threshold: float) -> str:
        """Record a synthetic suite's pass threshold for later evaluations; returns its id."""
        record_id = uuid.uuid4().hex[:12]
        self._con.execute("INSERT INTO audits VALUES (?, 'suite_threshold', ?, '{}', ?)",
                         [record_id, _now(), json.dumps({"suite": suite,
                                                         "threshold": float(threshold)})])
        return record_id

    def suite_thresholds(self) -> dict[str, float]:
        """The newest recorded threshold of each suite."""
        rows = self._con.execute("SELECT result FROM audits WHERE kind = 'suite_threshold' "
                                "ORDER BY created_at, rowid").fetchall()
        return {item["suite"]: float(item["threshold"]) for item in map(json.loads,
                                                                        (r[0] for r in rows))}

    # ----------------------------------------------------------- named queries (policy, report)
    def realness(self, name: str) -> dict[str, int]:
        """How real ``name`` is: ``total`` rows, ``synthetic_inputs`` (origin not real),
        ``synthetic_labels`` (label origin not real, or none) and ``real`` (both real)."""
        self._require(name)
        total, inputs, labels, real = self._con.execute(
            "SELECT count(*), count(*) FILTER (WHERE origin <> 'real'), "
            "count(*) FILTER (WHERE label_origin IS DISTINCT FROM 'real'), "
            "count(*) FILTER (WHERE origin = 'real' AND label_origin = 'real') "
            "FROM samples WHERE dataset = ?", [name]).fetchone()
        return {"total": total, "synthetic_inputs": inputs, "synthetic_labels": labels,
                "real": real}

    def missing_provenance(self, field_name: str) -> list[tuple[str, int, int]]:
        """``(dataset, synthetic rows without field_name, synthetic rows)`` per dataset that has
        synthetic rows; ``field_name`` is a provenance column (``parents``: an empty list)."""
        if field_name not in PROVENANCE_FIELDS:
            raise ValueError(f"not a provenance field: {field_name!r}")
        empty = ("len(parents) = 0" if field_name == "parents" else
                 f"{field_name} IS NULL OR CAST({field_name} AS VARCHAR) = ''")
        return [tuple(r) for r in self._con.execute(
            f"SELECT dataset, count(*) FILTER (WHERE {empty}), count(*) FROM samples "
            "WHERE origin = 'synthetic' GROUP BY dataset ORDER BY dataset").fetchall()]

    def last_write(self, *names: str) -> datetime | None:
        """When any of the datasets ``names`` was last written to (None if none exists)."""
        return self._con.execute("SELECT max(updated_at) FROM datasets WHERE list_contains(?, name)",
                                [list(names)]).fetchone()[0]

    def exact_copies(self, dataset: str, of: str) -> set[str]:
        """Ids of samples of ``dataset`` whose content is also in ``of``, compared by dedup key
        (Unicode NFKC, zero-width characters dropped): exact copies, up to such variants."""
        return {r[0] for r in self._con.execute(
            f"SELECT id FROM samples WHERE dataset = ? AND {_DEDUP_KEY} IN "
            f"(SELECT {_DEDUP_KEY} FROM samples WHERE dataset = ?)", [dataset, of]).fetchall()}

    def samples_by_id(self, ids: Iterable[str],
                      columns: tuple[str, ...] = ("text", "label", "fields")) -> pa.Table:
        """One row per distinct id among ``ids``, from any dataset: ``id`` and ``columns`` (how
        parents are looked up: a parent may live in another dataset)."""
        allowed = {"text", "label", "fields", "generator", "origin", "label_origin", "dataset"}
        bad = sorted(set(columns) - allowed)
        if bad:
            raise ValueError(f"unknown sample columns {bad}; use {sorted(allowed)}")
        cols = "".join(f", any_value({c}) AS {c}" for c in columns)
        return self._arrow(f"SELECT id{cols} FROM samples WHERE list_contains(?, id) GROUP BY id",
                          [sorted(set(ids))])

    def real_labelled(self, *, excluding: Iterable[str] = ()) -> pa.Table:
        """``text``, ``label``, ``fields`` of every real, human-labelled sample of the store whose
        id is not in ``excluding`` (the default student's training data)."""
        return self._arrow("SELECT text, label, fields FROM samples WHERE origin = 'real' AND "
                          "label_origin = 'real' AND label IS NOT NULL AND "
                          "NOT list_contains(?, id)", [sorted(set(excluding))])

    def sample_texts(self, datasets: list[str], ids: list[str]) -> dict[str, dict[str, Any]]:
        """``{id: {"text", "generator"}}`` for the samples of ``datasets`` with those ids."""
        rows = self._arrow("SELECT id, text, generator FROM samples WHERE list_contains(?, "
                          "dataset) AND list_contains(?, id)", [datasets, ids]).to_pylist()
        return {r["id"]: r for r in rows}

    def samples_in(self, dataset: str, ids: Iterable[str]) -> list[dict[str, Any]]:
        """Every stored column of the samples of ``dataset`` with those ids (the report's
        records of the samples the audits name)."""
        return self.table(dataset, ids=ids).to_pylist()

    # ------------------------------------------------------------------- reads
    def _dicts(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        cur = self._con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def has_dataset(self, name: str) -> bool:
        return self._con.execute("SELECT count(*) FROM datasets WHERE name = ?",
                                [name]).fetchone()[0] > 0

    def _require(self, name: str) -> None:
        if not self.has_dataset(name):
            known = [r[0] for r in self._con.execute("SELECT name FROM datasets ORDER BY name").fetchall()]
            hint = f"; datasets here: {', '.join(known)}" if known else "; the store is empty"
            raise NotFoundError(f"no dataset {name!r} in {self.path}{hint}")

    def datasets(self) -> list[DatasetInfo]:
        """Every dataset with its size and origin counts."""
        rows = self._con.execute("""
            SELECT d.name, count(s.id), count(s.id) FILTER (WHERE s.origin = 'real'),
                   count(s.id) FILTER (WHERE s.origin = 'synthetic'), d.updated_at
            FROM datasets d LEFT JOIN samples s ON s.dataset = d.name
            GROUP BY d.name, d.updated_at ORDER BY d.name""").fetchall()
        return [DatasetInfo(r[0], r[1], r[2], r[3], r[4].isoformat(timespec="seconds")) for r in rows]

    def summary(self, name: str) -> Summary:
        """The provenance breakdown of dataset ``name``."""
        self._require(name)

        def counts(column: str) -> dict[str, int]:
            rows = self._con.execute(f"SELECT {column}, count(*) FROM samples WHERE dataset = ? "
                                    f"GROUP BY 1 ORDER BY 2 DESC, 1", [name]).fetchall()
            return {("" if k is None else str(k)): n for k, n in rows}

        by_origin = {"real": 0, "synthetic": 0} | counts("origin")
        gens = self._con.execute("SELECT generation, count(*) FROM samples WHERE dataset = ? "
                                "GROUP BY 1 ORDER BY 1", [name]).fetchall()
        return Summary(name=name, count=sum(by_origin.values()), by_origin=by_origin,
                       by_family=counts("family"), by_generator=counts("generator"),
                       by_label_origin=counts("label_origin"),
                       by_generation={str(g): n for g, n in gens},
                       by_domain=counts("domain"), by_task=counts("task"))

    def table(self, name: str, *, origin: str | None = None, family: str | None = None,
              labelled: bool = False, derived: bool = False, with_text: bool = False,
              ids: Iterable[str] | None = None) -> pa.Table:
        """Dataset ``name`` as an Arrow table: user fields (``text``, ``label``, ``fields`` as JSON
        text) and every provenance field, in insertion order. The filters keep only samples of
        ``origin``, of ``family``, with a label (``labelled``), with parents (``derived``), with
        a non-empty text (``with_text``), or with one of ``ids``.

        ``name`` may also be a Parquet file or folder (what ``tether run`` writes: data too large
        for the store keeps its provenance in columns); it is read in the same shape, so every
        audit and evaluation that takes a dataset name takes such a path too. A path must say it
        is one (:func:`is_path`: ``./out``, ``/abs``, ``x.parquet``); any other name is a
        dataset, even when a folder of that name exists.
        """
        filters = [("origin = ?", origin), ("family = ?", family),
                   ("label IS NOT NULL", labelled or None), ("len(parents) > 0", derived or None),
                   ("text IS NOT NULL AND text <> ''", with_text or None),
                   ("list_contains(?, id)", None if ids is None else sorted(set(ids)))]
        kept = [(sql, value) for sql, value in filters if value is not None]
        cond = "".join(f" AND {sql}" for sql, _ in kept)
        params = [value for sql, value in kept if "?" in sql]
        path = Path(name)
        # as everywhere in tether (engines.open_input): a name that says it is a path is one
        if is_path(name) and (path.exists() or not self.has_dataset(name)):
            return self._parquet_table(path, cond, params)
        self._require(name)
        return self._arrow(f"SELECT {', '.join(_STORED_COLUMNS[1:])} FROM samples "
                          f"WHERE dataset = ?{cond} ORDER BY rowid", [name, *(params or [])])

    def _parquet_table(self, path: Path, cond: str, params: list | None) -> pa.Table:
        if not path.exists():
            raise NotFoundError(f"no such Parquet file or folder: {path}")
        scan = io.scan_sql(path, "parquet")
        types = {r[0]: r[1] for r in self._con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
        schema = {r[0]: r[1] for r in self._con.execute("DESCRIBE samples").fetchall()}
        mapping = {"text": "text", "label": "label", "id": "id"}
        columns = []
        for col in _STORED_COLUMNS[1:]:
            if col == "fields":
                columns.append(f"{_fields_sql(types, mapping, as_text=False)} AS fields")
            elif col in types:
                columns.append(f"CAST({_ident(col)} AS {schema[col]}) AS {col}")
            else:
                columns.append(f"{'[]' if col == 'parents' else 'NULL'}::{schema[col]} AS {col}")
        return self._arrow(f"SELECT * FROM (SELECT {', '.join(columns)} FROM {scan}) "
                          f"WHERE true{cond}", params)

    def records(self, name: str, **filters: Any) -> list[dict[str, Any]]:
        """Dataset ``name`` as dicts the way a user wrote them: user fields at the top level
        beside the provenance fields (without ``run_id`` and ``config_hash``, which the next
        write derives anew). Ingesting records elsewhere copies them with provenance intact.
        ``filters`` are those of :meth:`table`.

        Example:
            >>> with Store(":memory:") as s:
            ...     _ = s.ingest("d", [{"text": "hi", "lang": "en"}], origin="real")
            ...     r = s.records("d")[0]
            ...     r["lang"], r["origin"], "fields" in r
            ('en', 'real', False)
        """
        rows = self.table(name, **filters).drop_columns(["config_hash", "run_id"]).to_pylist()
        for row in rows:
            extra = json.loads(row.pop("fields") or "{}")
            row.update({k: v for k, v in extra.items() if k not in row})
        return rows

    def _arrow(self, sql: str, params: list | None = None) -> pa.Table:
        """Run a read-only query on the store and return an Arrow table."""
        with warnings.catch_warnings():
            # DuckDB 2 warns that a prepared (parameterised) result is copied once into Arrow;
            # the copy is what we want here (results outlive the connection's next statement)
            warnings.simplefilter("ignore", UserWarning)
            return self._con.execute(sql, params or []).to_arrow_table()

    def lineage(self, sample_id: str, dataset: str | None = None) -> Lineage:
        """Ancestors, descendants and real seeds of the sample with id ``sample_id``."""
        found = self._con.execute(
            "SELECT DISTINCT dataset FROM samples WHERE id = ?" + (" AND dataset = ?" if dataset else ""),
            [sample_id, dataset] if dataset else [sample_id]).fetchall()
        if not found:
            raise NotFoundError(f"no sample with id {sample_id!r} in {self.path}")
        # parents qualified as dataset:id are followed by their id
        edges = """edges AS (
                SELECT e.child, CASE WHEN d.name IS NULL THEN e.p
                                     ELSE e.p[length(d.name) + 2:] END AS parent
                FROM (SELECT id AS child, unnest(parents) AS p FROM samples) e
                LEFT JOIN datasets d ON starts_with(e.p, d.name || ':'))"""
        ancestors = [r[0] for r in self._con.execute(f"""
            WITH RECURSIVE {edges}, anc(id, depth) AS (
                SELECT parent, 1 FROM edges WHERE child = $1
                UNION
                SELECT e.parent, a.depth + 1 FROM edges e JOIN anc a ON e.child = a.id
                WHERE a.depth < 1000
            ) SELECT id FROM anc GROUP BY id ORDER BY min(depth), id""", [sample_id]).fetchall()]
        descendants = [r[0] for r in self._con.execute(f"""
            WITH RECURSIVE {edges}, des(id, depth) AS (
                SELECT child, 1 FROM edges WHERE parent = $1
                UNION
                SELECT e.child, d.depth + 1 FROM edges e JOIN des d ON e.parent = d.id
                WHERE d.depth < 1000
            ) SELECT id FROM des GROUP BY id ORDER BY min(depth), id""", [sample_id]).fetchall()]
        candidates = ancestors or [sample_id]
        seeds = [r[0] for r in self._con.execute(
            "SELECT DISTINCT id FROM samples WHERE origin = 'real' AND len(parents) = 0 "
            "AND list_contains(?, id) ORDER BY id", [candidates]).fetchall()]
        return Lineage(sample_id, ancestors, descendants, seeds)

    def export(self, name: str, path: str | Path, fmt: str | None = None, *,
               user_names: bool = True, names: Mapping[str, str] | None = None) -> ExportResult:
        """Write dataset ``name`` to JSONL, CSV or Parquet with every provenance field, and beside
        it a Hugging Face dataset card (``<stem>.card.md``) and Croissant JSON-LD
        (``<stem>.croissant.json``, see :mod:`tether.cards`). User fields come back as columns,
        under the user's own names (:meth:`field_names`, ``names`` for those no ingest
        recorded) unless ``user_names=False``; a ``messages`` field as a JSON list (in CSV, its
        JSON text), score labels (a declared ``label_range``) as numbers.

        Example:
            >>> import tempfile
            >>> out = Path(tempfile.mkdtemp()) / "qa.jsonl"
            >>> with Store(":memory:") as s:
            ...     _ = s.ingest("qa", [{"q": "Why?", "score": 4}], origin="real",
            ...                  label_origin="real", text_field="q", label_field="score",
            ...                  label_range=(1, 5))
            ...     _ = s.export("qa", out)
            >>> row = json.loads(out.read_text().splitlines()[0])
            >>> row["q"], row["score"], row["origin"]
            ('Why?', 4, 'real')
        """
        self._require(name)
        out = Path(path)
        fmt = io.detect_format(out, fmt)
        out.parent.mkdir(parents=True, exist_ok=True)
        select = self._user_select(name, fmt=fmt, user_names=user_names, names=names)
        options = {"jsonl": "FORMAT json", "csv": "FORMAT csv, HEADER true",
                   "parquet": "FORMAT parquet"}[fmt]
        self._con.execute(f"COPY ({select}) TO {_lit(out)} ({options})")
        summary = self.summary(name)
        columns = {r[0]: r[1] for r in self._con.execute(f"DESCRIBE {select}").fetchall()}
        derived_from = [r[0] for r in self._con.execute("""
            WITH p AS (SELECT DISTINCT unnest(parents) AS p FROM samples WHERE dataset = $1)
            SELECT DISTINCT dataset FROM (
                SELECT t.dataset FROM p JOIN samples t ON t.id = p.p
                UNION ALL
                SELECT t.dataset FROM p JOIN samples t ON t.dataset || ':' || t.id = p.p)
            WHERE dataset <> $1 ORDER BY 1""", [name]).fetchall()]
        generated_by = self._dicts(
            "SELECT generator, family, config_hash, count(*) AS samples FROM samples "
            "WHERE dataset = ? AND generator IS NOT NULL GROUP BY ALL ORDER BY 4 DESC, 1, 2, 3",
            [name])
        card, croissant = cards.write_cards(out, fmt, summary.to_dict(), columns, derived_from,
                                            generated_by)
        return ExportResult(name, str(out), str(card), summary.count, str(croissant))

    def field_names(self, name: str, fallback: Mapping[str, str] | None = None) -> dict[str, str]:
        """The user's own names of the fields the store keeps as ``id``, ``text`` and ``label``:
        what the dataset's first ingest was given as ``id_field``, ``text_field`` and
        ``label_field``; for data no ingest wrote (an engine's), ``fallback``'s names, else the
        store's.

        Example:
            >>> with Store(":memory:") as s:
            ...     _ = s.ingest("d", [{"body": "hi"}], origin="real", text_field="body")
            ...     s.field_names("d")
            {'id': 'id', 'text': 'body', 'label': 'label'}
        """
        given = self._first_ingest_param(name, "fields") or dict(fallback or {})
        return {k: given.get(k) or k for k in ("id", "text", "label")}

    def declarations(self, name: str) -> dict[str, Any]:
        """What the dataset's ingests declared: ``text_fields`` (the user's text fields, in
        order) and ``label_range`` (``[lo, hi]`` of score labels), each when one was given.

        Example:
            >>> with Store(":memory:") as s:
            ...     _ = s.ingest("qa", [{"question": "Why?", "answer": "So."}], origin="real",
            ...                  text_field=None, fields=("question", "answer"))
            ...     s.declarations("qa")
            {'text_fields': ['question', 'answer']}
        """
        found = {key: self._first_ingest_param(name, key) for key in ("text_fields", "label_range")}
        return {k: v for k, v in found.items() if v is not None}

    def _first_ingest_param(self, name: str, key: str) -> Any:
        """``params[key]`` of the first ingest into dataset ``name`` that had one, or None."""
        path = f"$.{_json_key(key)}"
        row = self._con.execute(
            "SELECT json_extract(params, ?) FROM runs WHERE dataset = ? AND kind = 'ingest' "
            "AND json_extract(params, ?) IS NOT NULL ORDER BY started_at, run_id LIMIT 1",
            [path, name, path]).fetchone()
        return json.loads(row[0]) if row else None

    def _user_select(self, name: str, *, fmt: str | None = None, user_names: bool = True,
                     names: Mapping[str, str] | None = None) -> str:
        """SQL reading dataset ``name`` the way the user wrote it: the user's fields as columns
        (id, text, label under the user's names, then the others), provenance fields beside
        them. For ``fmt`` ``jsonl`` and ``csv`` nested values are JSON (CSV writes it as
        text), for Parquet and DataFrames (``fmt=None``) structs and lists."""
        structure = self._con.execute("SELECT json_group_structure(fields) FROM samples "
                                     "WHERE dataset = ? AND fields IS NOT NULL", [name]).fetchone()[0]
        expand = []
        if structure and structure != "null":
            shape = _signed(json.loads(structure))
            if fmt in ("csv", "jsonl"):  # nested values as stored (CSV: as JSON text), not
                # as structs of every key any row has (a turn without a name would get one)
                shape = {k: v if isinstance(v, str) else "JSON" for k, v in shape.items()}
            expand = [f"unnest(json_transform(fields, {_lit(json.dumps(shape))}))"]
        names = self.field_names(name, names) if user_names else {}
        own = [f"{self._label_sql(name) if c == 'label' else c} AS {_ident(names.get(c, c))}"
               for c in ("id", "text", "label") if c != "text" or self._any_text(name)]
        provenance = [f"CAST(to_json({c}) AS VARCHAR) AS {c}"
                      if fmt == "csv" and c in ("parents", "generator_config") else c
                      for c in PROVENANCE_FIELDS if c != "id"]
        return (f"SELECT {', '.join([*own, *expand, *provenance])} FROM samples "
                f"WHERE dataset = {_lit(name)} ORDER BY rowid")

    def _label_sql(self, name: str) -> str:
        """The stored label of dataset ``name`` as written: score labels (a declared
        ``label_range``) as numbers, integers when every one was written as one."""
        if "label_range" not in self.declarations(name):
            return "label"
        whole = self._con.execute("SELECT coalesce(bool_and(regexp_full_match(label, '-?[0-9]+')), "
                                 "true) FROM samples WHERE dataset = ?", [name]).fetchone()[0]
        return f"CAST(label AS {'BIGINT' if whole else 'DOUBLE'})"

    def _any_text(self, name: str) -> bool:
        return self._con.execute("SELECT count(text) FROM samples WHERE dataset = ?",
                                [name]).fetchone()[0] > 0

    # ------------------------------------------------------------------ frames
    def to_pandas(self, name: str) -> Any:
        """Dataset ``name`` as a pandas DataFrame: the user's fields as columns under their own
        names, provenance columns beside them (what :meth:`export` writes).

        Example:
            >>> with Store(":memory:") as s:
            ...     _ = s.ingest("d", [{"body": "hi", "n": 1}], origin="real", text_field="body")
            ...     list(s.to_pandas("d").columns)[:3]
            ['id', 'body', 'label']
        """
        self._require(name)
        return frames.to_pandas(self._arrow(self._user_select(name)))

    def to_polars(self, name: str) -> Any:
        """Dataset ``name`` as a polars DataFrame, with the columns of :meth:`to_pandas`."""
        self._require(name)
        return frames.to_polars(self._arrow(self._user_select(name)))

    def to_hf(self, name: str) -> Any:
        """Dataset ``name`` as a Hugging Face ``datasets.Dataset``, with the columns of
        :meth:`to_pandas`."""
        self._require(name)
        return frames.to_hf(self._arrow(self._user_select(name)))
