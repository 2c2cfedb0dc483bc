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
import os
import uuid
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tether import io
from tether.errors import InputError, NotFoundError, StoreError
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
    run_id VARCHAR NOT NULL
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

_STORED_COLUMNS = ("dataset", "id", "text", "label", "fields", "origin", "label_origin", "family",
                   "generator", "generator_config", "config_hash", "created_at", "domain", "task",
                   "parents", "generation", "content_hash", "run_id")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def store_path(path: str | Path | None = None) -> str:
    """The store file to use: ``path``, else ``$TETHER_STORE``, else ``./tether.duckdb``."""
    return str(path or os.environ.get("TETHER_STORE") or DEFAULT_STORE)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: Any) -> str:
    if value is None:
        return "NULL"
    return "'" + str(value).replace("'", "''") + "'"


def _mapped_sql(types: Mapping[str, str], col: str | None) -> str:
    """A user column as text, empty text as NULL (NULL when the data has no such column)."""
    if col is None or col not in types:
        return "NULL::VARCHAR"
    return f"nullif(CAST({_ident(col)} AS VARCHAR), '')"


def _fields_sql(types: Mapping[str, str], mapping: Mapping[str, str | None], *,
                as_text: bool) -> str:
    """The user's other fields packed as one JSON object (NULL when there are none)."""
    owned = set(PROVENANCE_FIELDS) | {mapping["id"], mapping["text"], mapping["label"]}
    user_cols = sorted(c for c in types if c not in owned)
    if not user_cols:
        return "NULL::JSON"

    def value(c: str) -> str:
        if not as_text:
            return _ident(c)
        if types[c].startswith(("STRUCT", "MAP", "JSON")):
            # null members dropped at every depth: a struct built from rows with different keys
            # must hash the same whatever its sibling rows were
            return f"CAST(json_merge_patch('{{}}', to_json({_ident(c)})) AS VARCHAR)"
        if types[c].endswith("]"):
            return f"CAST(to_json({_ident(c)}) AS VARCHAR)"
        return f"CAST({_ident(c)} AS VARCHAR)"

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


class _TypeDrift(Exception):
    """A scan met a value of another type than the one inferred from the first records."""


def derived_id_sql(content_hash: str = "content_hash", parents: str = "parents") -> str:
    """The SQL expression for the id of a sample that has none: its content hash, and for a
    derived sample its parents too, so that a child identical to its parent (a perturbation that
    changed nothing) is still a sample of its own with its own lineage."""
    return (f"CASE WHEN len({parents}) = 0 THEN substr({content_hash}, 1, 16) "
            f"ELSE substr(md5({content_hash} || CAST(to_json({parents}) AS VARCHAR)), 1, 16) END")


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Store:
    """A provenance store in one DuckDB file.

    Args:
        path: the DuckDB file (``":memory:"`` for a throwaway store). Defaults to
            ``$TETHER_STORE`` or ``./tether.duckdb``; the file is created if missing.
        read_only: open without taking the write lock.
    """

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False) -> None:
        self.path = store_path(path)
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from exc
        if not read_only:
            self.con.execute(_SCHEMA)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

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
    ) -> IngestResult:
        """Add samples to ``dataset`` in one transaction.

        ``source`` is a JSONL/CSV/Parquet path, an Arrow table or an iterable of dicts. The
        provenance keywords apply to every row that does not carry the field itself. Samples whose
        content is already in the dataset are skipped; anything invalid raises
        :class:`~tether.errors.InputError` naming the file, line and field, and nothing is written.
        ``text_field=None`` allows rows without text (tabular data).

        Example:
            >>> with Store(":memory:") as s:
            ...     s.ingest("d", [{"text": "hi"}], origin="real").to_dict()
            {'dataset': 'd', 'added': 1, 'skipped_duplicates': 0}
        """
        defaults = {"origin": origin, "label_origin": label_origin, "family": family,
                    "generator": generator, "domain": domain, "task": task}
        self._check_defaults(defaults)
        config_json = canonical_json(dict(generator_config)) if generator_config is not None else None
        mapping = {"text": text_field, "label": label_field, "id": id_field}
        path = None
        if isinstance(source, (str, Path)):
            path = io.check_readable(source)
            fmt = io.detect_format(path, fmt)
        own_run = run_id is None
        run_id = run_id or uuid.uuid4().hex[:12]
        # types are inferred from the first records; when a later value has another type, the
        # write is rolled back and done again with types inferred from every record
        for exhaustive in (False, True):
            self.con.begin()
            try:
                scan, types = self._open_source(source, path, fmt, exhaustive)
                self._stage(scan, types, defaults, config_json, mapping, run_id,
                            where=(path, fmt))
                added, skipped = self._commit_stage(dataset, where=(path, fmt))
                if own_run:
                    self._insert_run(run_id, "ingest", dataset, generator=generator,
                                     config_json=config_json, source=str(path) if path else None,
                                     status="complete", added=added, skipped=skipped)
                else:
                    self.con.execute("UPDATE runs SET added = added + ?, skipped = skipped + ? "
                                     "WHERE run_id = ?", [added, skipped, run_id])
                self.con.commit()
                break
            except _TypeDrift:
                self.con.rollback()
            except BaseException:
                self.con.rollback()
                raise
            finally:
                self.con.execute("DROP VIEW IF EXISTS _staged")
                self.con.execute("DROP TABLE IF EXISTS _stage")
                self.con.unregister("_in_view")  # a no-op when the source was a file
        return IngestResult(dataset, added, skipped, run_id)

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
                     exhaustive: bool = False) -> tuple[str, dict[str, str]]:
        """The table expression to read from and its column types (read from a sample)."""
        if path is not None:
            scan = io.scan_sql(path, fmt, exhaustive=exhaustive)
            try:
                types = {r[0]: r[1] for r in self.con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
            except duckdb.Error as exc:
                raise io.diagnose(path, fmt, exc) from None
            if fmt == "csv":
                io.check_csv_header(path, list(types))
            return scan, types
        if isinstance(source, pa.Table):
            table = source
        else:  # columns from every row's keys (Table.from_pylist reads only the first row's)
            rows = list(source)
            table = pa.Table.from_struct_array(pa.array(rows)) if rows else pa.table({})
        if table.num_rows == 0:
            raise InputError("no records to ingest")
        self.con.register("_in_view", table)
        return "_in_view", {r[0]: r[1] for r in self.con.execute("DESCRIBE _in_view").fetchall()}

    def _stage(self, scan: str, types: Mapping[str, str], defaults: Mapping[str, str | None],
               config_json: str | None, mapping: Mapping[str, str | None], run_id: str,
               where: tuple) -> None:
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
        try:
            self.con.execute(f"""
                CREATE OR REPLACE TEMP TABLE _stage AS
                WITH base AS (
                    SELECT {mapped('id')} AS given_id, {mapped('text') if text_col else 'NULL::VARCHAR'} AS text,
                           {mapped('label')} AS label, {fields_sql} AS fields,
                           {content_hash_sql(types, mapping)} AS content_hash,
                           {col_or('origin', defaults['origin'])} AS origin,
                           CASE WHEN {mapped('label')} IS NOT NULL
                                THEN {col_or('label_origin', defaults['label_origin'])}
                                ELSE {col_or('label_origin', None)} END AS label_origin,
                           {col_or('family', defaults['family'])} AS family,
                           {col_or('generator', defaults['generator'])} AS generator,
                           {config_sql} AS generator_config,
                           {created_sql} AS created_at,
                           {col_or('domain', defaults['domain'])} AS domain,
                           {col_or('task', defaults['task'])} AS task,
                           {parents_sql} AS parents,
                           {given['generation']} AS given_generation,
                           {given['content_hash']} AS given_content_hash
                    FROM {scan}
                )
                SELECT *, coalesce(given_id, {derived_id_sql()}) AS id,
                       {config_hash_sql} AS config_hash,
                       CAST(CASE WHEN origin = 'real' THEN 0 WHEN len(parents) = 0 THEN 1 END
                            AS INTEGER) AS generation,
                       {_lit(run_id)} AS run_id
                FROM base
            """)
        except duckdb.Error as exc:
            if path is not None and io.type_drift(exc) and "sample_size=-1" not in scan:
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
        count, first = self.con.execute("SELECT count(*), min(rowid) FROM _stage").fetchone()
        if count == 0:
            raise InputError("the file holds no records", path=path)
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW _staged AS "
                         f"SELECT rowid - {first - 1} AS _row, * FROM _stage")
        self._check_rows(mapping, where)
        label_col = mapping["label"]
        if defaults["label_origin"] and (label_col is None or label_col not in types):
            fail(label_col or "label",
                 f"label_origin={defaults['label_origin']} was given but no record has a "
                 f"'{label_col or 'label'}' field; name the label field with --label-field, or "
                 "drop --label-origin for unlabelled data")
        self._derive_generations(where)

    def _check_rows(self, mapping: Mapping[str, str | None], where: tuple) -> None:
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
        ]
        rules = [r for r in rules if r is not None]
        select = ", ".join(f"min(_row) FILTER (WHERE {cond})" for _, cond, _, _ in rules)
        firsts = self.con.execute(f"SELECT {select} FROM _staged").fetchone()
        broken = [(row, rule) for row, rule in zip(firsts, rules) if row is not None]
        if broken:
            row, (field_name, _, message, value_sql) = min(broken, key=lambda b: b[0])
            value = self.con.execute(f"SELECT {value_sql} FROM _staged WHERE _row = ?",
                                     [row]).fetchone()[0]
            self._raise_at(where, row, field_name, message.format(value=repr(value)))

    def _raise_at(self, where: tuple, row: int, field_name: str | None, message: str) -> None:
        path, fmt = where
        place = io.locate(path, fmt, row) if path is not None else {"row": row}
        raise InputError(message, path=path, field=field_name, **place)

    def _derive_generations(self, where: tuple) -> None:
        """generation = 0 for real, 1 + max(parent generation) otherwise; parents must exist."""
        while True:
            pending = self.con.execute("SELECT count(*) FROM _staged WHERE generation IS NULL"
                                       ).fetchone()[0]
            if not pending:
                break
            self.con.execute("""
                UPDATE _stage SET generation = resolved.g FROM (
                    SELECT p.r, 1 + max(k.generation) AS g,
                           count(*) FILTER (WHERE k.generation IS NULL) AS missing
                    FROM (SELECT rowid AS r, unnest(parents) AS parent FROM _stage
                          WHERE generation IS NULL) p
                    LEFT JOIN (SELECT id, max(generation) AS generation FROM (
                                   SELECT id, generation FROM samples
                                   UNION ALL
                                   SELECT id, generation FROM _staged WHERE generation IS NOT NULL)
                               GROUP BY id) k
                      ON k.id = p.parent
                    GROUP BY p.r
                ) resolved
                WHERE _stage.rowid = resolved.r AND resolved.missing = 0
            """)
            left = self.con.execute("SELECT count(*) FROM _staged WHERE generation IS NULL"
                                    ).fetchone()[0]
            if left == pending:
                row, parent = self.con.execute("""
                    SELECT p._row, p.parent FROM
                      (SELECT _row, unnest(parents) AS parent FROM _staged
                       WHERE generation IS NULL) p
                    WHERE p.parent NOT IN (SELECT id FROM samples)
                      AND p.parent NOT IN (SELECT id FROM _staged WHERE generation IS NOT NULL)
                    ORDER BY p._row LIMIT 1""").fetchone()
                self._raise_at(where, row, "parents",
                               f"parent {parent!r} is not in the store (nor earlier in this "
                               "input); ingest the samples it was derived from first")
        bad = self.con.execute("""SELECT _row, given_generation, generation FROM _staged
                                  WHERE given_generation IS NOT NULL
                                    AND CAST(given_generation AS INTEGER) <> generation
                                  ORDER BY _row LIMIT 1""").fetchone()
        if bad:
            self._raise_at(where, bad[0], "generation",
                           f"generation is derived from the parents (here {bad[2]}), the data "
                           f"says {bad[1]}; remove the field or fix the parents")

    def _commit_stage(self, dataset: str, where: tuple) -> tuple[int, int]:
        total, hashes = self.con.execute("SELECT count(*), count(DISTINCT content_hash) "
                                         "FROM _staged").fetchone()
        if hashes < total:  # keep the first row of each content
            self.con.execute("""
                DELETE FROM _stage WHERE rowid IN (
                    SELECT r FROM (SELECT rowid AS r, row_number() OVER (PARTITION BY content_hash
                                                                         ORDER BY rowid) AS k
                                   FROM _stage) WHERE k > 1)""")
        existing = self.con.execute("SELECT count(*) FROM samples WHERE dataset = ?",
                                    [dataset]).fetchone()[0]
        if existing:  # drop content the dataset already holds
            self.con.execute("DELETE FROM _stage WHERE content_hash IN "
                             "(SELECT content_hash FROM samples WHERE dataset = ?)", [dataset])
        kept, ids = self.con.execute("SELECT count(*), count(DISTINCT id) FROM _staged").fetchone()
        dup = kept > ids and self.con.execute("""
            SELECT b._row, b.id, a._row FROM _staged a JOIN _staged b
              ON a.id = b.id AND a._row < b._row ORDER BY b._row LIMIT 1""").fetchone()
        if dup:
            first = io.locate(where[0], where[1], dup[2]) if where[0] is not None else {"row": dup[2]}
            at = ", ".join(f"{k} {v}" for k, v in first.items())
            self._raise_at(where, dup[0], "id",
                           f"duplicate id {dup[1]!r} (first seen at {at}) with different content")
        clash = existing and self.con.execute("""
            SELECT s._row, s.id FROM _staged s JOIN samples t
              ON t.dataset = ? AND t.id = s.id ORDER BY s._row LIMIT 1""", [dataset]).fetchone()
        if clash:
            self._raise_at(where, clash[0], "id",
                           f"id {clash[1]!r} is already in dataset {dataset!r} with different content")
        columns = ", ".join(_STORED_COLUMNS[1:])
        # _stage was written in file order and a plain scan keeps it, so no ORDER BY is needed
        self.con.execute(f"INSERT INTO samples SELECT ? AS dataset, {columns} FROM _stage",
                         [dataset])
        added = kept
        now = _now()
        self.con.execute("""INSERT INTO datasets VALUES (?, ?, ?, NULL)
                            ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at""",
                         [dataset, now, now])
        return added, total - added

    # -------------------------------------------------------------------- runs
    def _insert_run(self, run_id: str, kind: str, dataset: str | None, *, generator: str | None = None,
                    config_json: str | None = None, seed: int | None = None,
                    source: str | None = None, status: str = "running", added: int = 0,
                    skipped: int = 0, params: Mapping[str, Any] | None = None) -> None:
        now = _now()
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            [run_id, kind, dataset, generator, config_json,
             config_hash(json.loads(config_json)) if config_json else None, seed, source, now,
             now if status != "running" else None, status, added, skipped, getpass.getuser(),
             canonical_json(dict(params)) if params else None])

    def start_run(self, kind: str, dataset: str | None, *, generator: str | None = None,
                  config: Mapping[str, Any] | None = None, seed: int | None = None,
                  run_id: str | None = None, params: Mapping[str, Any] | None = None) -> str:
        """Record a run as ``running`` and return its id.

        Starting again with the id of an unfinished run resumes it (same generator and
        configuration required); so does a run that completed with failures, to retry them.
        A run that completed without failures is refused.
        """
        config_json = canonical_json(dict(config)) if config is not None else None
        if run_id is not None:
            existing = self.con.execute("SELECT status, generator, config_hash, failed FROM runs "
                                        "WHERE run_id = ?", [run_id]).fetchone()
            if existing is not None:
                status, gen, chash, failed = existing
                if status == "complete" and not failed:
                    raise StoreError(f"run {run_id} is already complete; start a new run id")
                if gen != generator or chash != config_hash(config if config is None else dict(config)):
                    raise StoreError(f"run {run_id} was started with {gen} and another "
                                     "configuration; resume it with the same generator and "
                                     "configuration, or start a new run id")
                self.con.execute("UPDATE runs SET status = 'running', ended_at = NULL "
                                 "WHERE run_id = ?", [run_id])
                self.con.execute("DELETE FROM failures WHERE run_id = ?", [run_id])
                return run_id
        run_id = run_id or uuid.uuid4().hex[:12]
        self._insert_run(run_id, kind, dataset, generator=generator, config_json=config_json,
                         seed=seed, params=params)
        return run_id

    def record_failures(self, run_id: str, failures: Iterable[tuple[list[str], str]]) -> int:
        """Record items a run could not make (``(parent ids, reason)``); returns how many."""
        rows = [(run_id, list(parents), reason, _now()) for parents, reason in failures]
        if rows:
            self.con.executemany("INSERT INTO failures VALUES (?, ?, ?, ?)", rows)
        return len(rows)

    def failures(self, run_id: str) -> list[dict[str, Any]]:
        """The failures recorded for a run."""
        return self._dicts("SELECT parents, reason, created_at FROM failures WHERE run_id = ? "
                           "ORDER BY created_at", [run_id])

    def finish_run(self, run_id: str, *, status: str = "complete", failed: int = 0) -> None:
        """Mark a run ``complete`` (or ``failed``) and record its failure count."""
        self.con.execute("UPDATE runs SET status = ?, ended_at = ?, failed = ? WHERE run_id = ?",
                         [status, _now(), failed, run_id])

    def run(self, run_id: str) -> dict[str, Any]:
        """One run as a dict."""
        rows = self._dicts("SELECT * FROM runs WHERE run_id = ?", [run_id])
        if not rows:
            raise NotFoundError(f"no run {run_id!r} in {self.path}")
        return rows[0]

    def runs(self) -> list[dict[str, Any]]:
        """All runs, oldest first."""
        return self._dicts("SELECT * FROM runs ORDER BY started_at, run_id")

    # ------------------------------------------------------------------ audits
    def save_audit(self, kind: str, result: Mapping[str, Any],
                   params: Mapping[str, Any] | None = None) -> str:
        """Save an audit or evaluation result (a ``to_dict()``) for the report; returns its id."""
        audit_id = uuid.uuid4().hex[:12]
        self.con.execute("INSERT INTO audits VALUES (?, ?, ?, ?, ?)",
                         [audit_id, kind, _now(), json.dumps(params or {}, default=str),
                          json.dumps(result, default=str)])
        return audit_id

    def latest_audit(self, kind: str) -> dict[str, Any] | None:
        """The newest saved result of ``kind`` (``{"params", "result", "created_at"}``) or None."""
        row = self.con.execute("SELECT params, result, created_at FROM audits WHERE kind = ? "
                               "ORDER BY created_at DESC, rowid DESC LIMIT 1", [kind]).fetchone()
        if row is None:
            return None
        return {"params": json.loads(row[0]), "result": json.loads(row[1]),
                "created_at": row[2].isoformat()}

    # ------------------------------------------------------------------- reads
    def _dicts(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def has_dataset(self, name: str) -> bool:
        return self.con.execute("SELECT count(*) FROM datasets WHERE name = ?",
                                [name]).fetchone()[0] > 0

    def _require(self, name: str) -> None:
        if not self.has_dataset(name):
            known = [r[0] for r in self.con.execute("SELECT name FROM datasets ORDER BY name").fetchall()]
            hint = f"; datasets here: {', '.join(known)}" if known else "; the store is empty"
            raise NotFoundError(f"no dataset {name!r} in {self.path}{hint}")

    def datasets(self) -> list[DatasetInfo]:
        """Every dataset with its size and origin counts."""
        rows = self.con.execute("""
            SELECT d.name, count(s.id), count(s.id) FILTER (WHERE s.origin = 'real'),
                   count(s.id) FILTER (WHERE s.origin = 'synthetic'), d.updated_at
            FROM datasets d LEFT JOIN samples s ON s.dataset = d.name
            GROUP BY d.name, d.updated_at ORDER BY d.name""").fetchall()
        return [DatasetInfo(r[0], r[1], r[2], r[3], r[4].isoformat(timespec="seconds")) for r in rows]

    def summary(self, name: str) -> Summary:
        """The provenance breakdown of dataset ``name``."""
        self._require(name)

        def counts(column: str) -> dict[str, int]:
            rows = self.con.execute(f"SELECT {column}, count(*) FROM samples WHERE dataset = ? "
                                    f"GROUP BY 1 ORDER BY 2 DESC, 1", [name]).fetchall()
            return {("" if k is None else str(k)): n for k, n in rows}

        by_origin = {"real": 0, "synthetic": 0} | counts("origin")
        gens = self.con.execute("SELECT generation, count(*) FROM samples WHERE dataset = ? "
                                "GROUP BY 1 ORDER BY 1", [name]).fetchall()
        return Summary(name=name, count=sum(by_origin.values()), by_origin=by_origin,
                       by_family=counts("family"), by_generator=counts("generator"),
                       by_label_origin=counts("label_origin"),
                       by_generation={str(g): n for g, n in gens},
                       by_domain=counts("domain"), by_task=counts("task"))

    def table(self, name: str, where: str | None = None, params: list | None = None) -> pa.Table:
        """Dataset ``name`` as an Arrow table: user fields (``text``, ``label``, ``fields`` as JSON
        text) and every provenance field, in insertion order. ``where`` filters with SQL.

        ``name`` may also be a Parquet file or folder (what ``tether run`` writes: data too large
        for the store keeps its provenance in columns); it is read in the same shape, so every
        audit and evaluation that takes a dataset name takes such a path too. An existing path
        wins over a dataset of the same name.
        """
        cond = f" AND ({where})" if where else ""
        path = Path(name)
        # as everywhere in tether (engines.open_input): an existing path wins over a dataset name
        if path.is_dir() or (path.suffix in (".parquet", ".pq")
                             and (path.exists() or not self.has_dataset(name))):
            return self._parquet_table(path, cond, params)
        self._require(name)
        return self.arrow(f"SELECT {', '.join(_STORED_COLUMNS[1:])} FROM samples "
                          f"WHERE dataset = ?{cond} ORDER BY rowid", [name, *(params or [])])

    def _parquet_table(self, path: Path, cond: str, params: list | None) -> pa.Table:
        if not path.exists():
            raise NotFoundError(f"no such Parquet file or folder: {path}")
        scan = io.scan_sql(path, "parquet")
        types = {r[0]: r[1] for r in self.con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
        schema = {r[0]: r[1] for r in self.con.execute("DESCRIBE samples").fetchall()}
        mapping = {"text": "text", "label": "label", "id": "id"}
        columns = []
        for col in _STORED_COLUMNS[1:]:
            if col == "fields":
                columns.append(f"{_fields_sql(types, mapping, as_text=False)} AS fields")
            elif col in types:
                columns.append(f"CAST({_ident(col)} AS {schema[col]}) AS {col}")
            else:
                columns.append(f"{'[]' if col == 'parents' else 'NULL'}::{schema[col]} AS {col}")
        return self.arrow(f"SELECT * FROM (SELECT {', '.join(columns)} FROM {scan}) "
                          f"WHERE true{cond}", params)

    def records(self, name: str, where: str | None = None,
                params: list | None = None) -> list[dict[str, Any]]:
        """Dataset ``name`` as dicts the way a user wrote them: user fields at the top level
        beside the provenance fields (without ``run_id`` and ``config_hash``, which the next
        write derives anew). Ingesting records elsewhere copies them with provenance intact.

        Example:
            >>> with Store(":memory:") as s:
            ...     _ = s.ingest("d", [{"text": "hi", "lang": "en"}], origin="real")
            ...     r = s.records("d")[0]
            ...     r["lang"], r["origin"], "fields" in r
            ('en', 'real', False)
        """
        rows = self.table(name, where, params).drop_columns(["config_hash", "run_id"]).to_pylist()
        for row in rows:
            extra = json.loads(row.pop("fields") or "{}")
            row.update({k: v for k, v in extra.items() if k not in row})
        return rows

    def arrow(self, sql: str, params: list | None = None) -> pa.Table:
        """Run a read-only query on the store and return an Arrow table."""
        with warnings.catch_warnings():
            # DuckDB 2 warns that a prepared (parameterised) result is copied once into Arrow;
            # the copy is what we want here (results outlive the connection's next statement)
            warnings.simplefilter("ignore", UserWarning)
            return self.con.execute(sql, params or []).to_arrow_table()

    def lineage(self, sample_id: str, dataset: str | None = None) -> Lineage:
        """Ancestors, descendants and real seeds of the sample with id ``sample_id``."""
        found = self.con.execute(
            "SELECT DISTINCT dataset FROM samples WHERE id = ?" + (" AND dataset = ?" if dataset else ""),
            [sample_id, dataset] if dataset else [sample_id]).fetchall()
        if not found:
            raise NotFoundError(f"no sample with id {sample_id!r} in {self.path}")
        ancestors = [r[0] for r in self.con.execute("""
            WITH RECURSIVE anc(id, depth) AS (
                SELECT unnest(parents), 1 FROM samples WHERE id = $1
                UNION
                SELECT unnest(s.parents), a.depth + 1 FROM samples s JOIN anc a ON s.id = a.id
                WHERE a.depth < 1000
            ) SELECT id FROM anc GROUP BY id ORDER BY min(depth), id""", [sample_id]).fetchall()]
        descendants = [r[0] for r in self.con.execute("""
            WITH RECURSIVE des(id, depth) AS (
                SELECT id, 1 FROM samples WHERE list_contains(parents, $1)
                UNION
                SELECT s.id, d.depth + 1 FROM samples s JOIN des d ON list_contains(s.parents, d.id)
                WHERE d.depth < 1000
            ) SELECT id FROM des GROUP BY id ORDER BY min(depth), id""", [sample_id]).fetchall()]
        candidates = ancestors or [sample_id]
        seeds = [r[0] for r in self.con.execute(
            "SELECT DISTINCT id FROM samples WHERE origin = 'real' AND len(parents) = 0 "
            "AND list_contains(?, id) ORDER BY id", [candidates]).fetchall()]
        return Lineage(sample_id, ancestors, descendants, seeds)

    def export(self, name: str, path: str | Path, fmt: str | None = None) -> ExportResult:
        """Write dataset ``name`` to JSONL, CSV or Parquet with every provenance field, and a
        dataset card (``<stem>.card.md``) beside it. User fields come back as columns."""
        self._require(name)
        out = Path(path)
        fmt = io.detect_format(out, fmt)
        out.parent.mkdir(parents=True, exist_ok=True)
        structure = self.con.execute("SELECT json_group_structure(fields) FROM samples "
                                     "WHERE dataset = ? AND fields IS NOT NULL", [name]).fetchone()[0]
        if structure and structure != "null":
            if fmt == "csv":  # CSV has no nested values: write them as JSON text
                shape = json.loads(structure)
                structure = json.dumps({k: v if isinstance(v, str) else "JSON" for k, v in shape.items()})
            expand = f", unnest(json_transform(fields, {_lit(structure)}))"
        else:
            expand = ""
        columns = ["id", "text", "label", *(c for c in PROVENANCE_FIELDS if c != "id")]
        cols = [c for c in columns if c != "text" or self._any_text(name)]
        if fmt == "csv":
            cols = [f"CAST(to_json({c}) AS VARCHAR) AS {c}" if c in ("parents", "generator_config")
                    else c for c in cols]
        select = f"SELECT {', '.join(cols)}{expand} FROM samples WHERE dataset = {_lit(name)} ORDER BY rowid"
        options = {"jsonl": "FORMAT json", "csv": "FORMAT csv, HEADER true",
                   "parquet": "FORMAT parquet"}[fmt]
        self.con.execute(f"COPY ({select}) TO {_lit(out)} ({options})")
        summary = self.summary(name)
        card = io.write_card(out.with_name(out.stem + ".card.md"), summary.to_dict())
        return ExportResult(name, str(out), str(card), summary.count)

    def _any_text(self, name: str) -> bool:
        return self.con.execute("SELECT count(text) FROM samples WHERE dataset = ?",
                                [name]).fetchone()[0] > 0
