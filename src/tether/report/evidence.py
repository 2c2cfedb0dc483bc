"""The evidence the report shows beside its numbers, read from the store: the texts of the
samples a view names (so pairs can be read side by side) and one record per sample the audits
name (fields, provenance, lineage), for the records appendix and the sample browser.

A view says which samples its result names with ``SAMPLE_REFS``: a path into the result
(``.``-separated keys, ``*`` for every item of a list) mapped to the parameter that names the
dataset holding them (``"train"``, ``"eval"`` …; None: whichever dataset holds the id). Its
``SAMPLE_IDS`` keys count too, with no parameter.

Example:
    >>> list(values({"pairs": [{"a": "x"}, {"a": "y"}, {"a": None}]}, "pairs.*.a"))
    ['x', 'y']
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tether.report.views import sample_id_keys, sample_refs
from tether.report.views._blocks import PAIR_ROWS, snippet
from tether.report.views.records import RECORD_TEXT, anchor
from tether.store import Store

#: Most samples one path of one result adds to the records (the closest, worst … first).
MAX_NAMED = 50
#: Most records in one report (the file stays small).
MAX_RECORDS = 2000


def values(data: Any, path: str) -> Iterator[str]:
    """The sample ids at ``path`` in ``data`` (in order; missing keys and None skipped)."""
    head, _, rest = path.partition(".")
    if head == "*":
        items = data if isinstance(data, list) else []
    else:
        items = [data.get(head)] if isinstance(data, Mapping) else []
    for item in items:
        if rest:
            yield from values(item, rest)
        elif isinstance(item, list):
            yield from (str(i) for i in item if i is not None)
        elif item is not None:
            yield str(item)


def _refs(name: str) -> dict[str, str | None]:
    return {**{k: None for k in sample_id_keys(name)}, **sample_refs(name),
            "verdicts.*.evidence": None}


def named(name: str, data: Mapping[str, Any], params: Mapping[str, Any],
          limit: int = MAX_NAMED) -> list[tuple[tuple[str, ...], str]]:
    """``(datasets, id)`` of the samples the result ``data`` of kind ``name`` names (and its
    verdicts' evidence), at most ``limit`` per path. ``datasets`` are where to look, in order:
    the parameter the view's ``SAMPLE_REFS`` names, else every dataset among ``params``."""
    every = tuple(v for v in params.values() if isinstance(v, str))
    out: dict[tuple[tuple[str, ...], str], None] = {}
    for path, role in _refs(name).items():
        dataset = params.get(role) if role else None
        where = (dataset,) if isinstance(dataset, str) else every
        for i, sid in enumerate(values(data, path)):
            if i >= limit:
                break
            out[(where, sid)] = None
    return list(out)


def texts(store: Store, name: str, data: Mapping[str, Any],
          params: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """``{role: {id: text}}`` for the first :data:`PAIR_ROWS` samples of each of the view's
    ``SAMPLE_REFS`` paths (what a view shows in full, e.g. both sides of a pair)."""
    out: dict[str, dict[str, str]] = {}
    for role, ids in _by_role(name, data, PAIR_ROWS).items():
        dataset = params.get(role)
        if isinstance(dataset, str) and store.has_dataset(dataset):
            found = store.sample_texts([dataset], ids)
            out[role] = {i: str(found[i]["text"] or "") for i in ids if i in found}
    return out


def _by_role(name: str, data: Mapping[str, Any], limit: int) -> dict[str, list[str]]:
    by: dict[str, list[str]] = {}
    for path, role in sample_refs(name).items():
        if role:
            ids = by.setdefault(role, [])
            ids += [i for n, i in enumerate(values(data, path)) if n < limit and i not in ids]
    return by


def records(store: Store, sections: Sequence[Any]) -> tuple[list[dict[str, Any]], int]:
    """One record per sample the ``sections`` (their key, data, params and verdicts) name, in
    the order they are named, at most :data:`MAX_RECORDS`; and how many were left out.

    A sample is looked up in the datasets :func:`named` gives it, then in the whole store.
    """
    flags: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for s in sections:
        if s.status != "ok" or not s.data or s.key in ("summary", "baseline"):
            continue  # the summary repeats the sections' verdicts
        data = {**s.data, "verdicts": [v.to_dict() for v in s.verdicts]}
        try:
            found = named(s.key, data, s.params)
        except ModuleNotFoundError:  # a section without a view module of its own
            continue
        for ref in found:
            by = flags.setdefault(ref, [])
            if s.key not in by:
                by.append(s.key)
    wanted: dict[str, set[str]] = {}
    for datasets, sid in flags:
        for dataset in datasets:
            wanted.setdefault(dataset, set()).add(sid)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for dataset, ids in wanted.items():
        if store.has_dataset(dataset):
            rows |= {(dataset, r["id"]): r for r in store.samples_in(dataset, ids)}
    loose = [sid for datasets, sid in flags if not any((d, sid) in rows for d in datasets)]
    anywhere = {r["id"]: r["dataset"] for r in store.samples_by_id(loose, ("dataset",)).to_pylist()}
    for dataset, ids in _group((anywhere[i], i) for i in loose if i in anywhere).items():
        rows |= {(dataset, r["id"]): r for r in store.samples_in(dataset, ids)}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    left_out: set[tuple[str, str]] = set()
    for (datasets, sid), by in flags.items():
        key = next(((d, sid) for d in (*datasets, anywhere.get(sid)) if (d, sid) in rows), None)
        if key is None:
            continue
        if key in out:
            out[key]["named_by"] += [k for k in by if k not in out[key]["named_by"]]
        elif len(out) < MAX_RECORDS:
            out[key] = _record(store, key[0], rows[key], by)
        else:
            left_out.add(key)
    return list(out.values()), len(left_out)


def _group(pairs: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for dataset, sid in pairs:
        out.setdefault(dataset, []).append(sid)
    return out


def _record(store: Store, dataset: str, row: Mapping[str, Any], by: list[str]) -> dict[str, Any]:
    fields = row.get("fields")
    record = {"anchor": anchor(dataset, row["id"]), "dataset": dataset, "id": row["id"],
              "named_by": list(by),
              "text": snippet(row.get("text"), RECORD_TEXT),
              **{k: row.get(k) for k in ("label", "origin", "label_origin", "generator",
                                          "family", "run_id", "generation", "domain", "task")},
              "created_at": row["created_at"].isoformat(timespec="seconds")
              if row.get("created_at") else None,
              "fields": json.loads(fields) if isinstance(fields, str) else (fields or {}),
              "parents": list(row.get("parents") or [])}
    if record["parents"]:
        lineage = store.lineage(row["id"], dataset)
        record |= {"ancestors": lineage.ancestors, "real_seeds": lineage.real_seeds,
                   "descendants": len(lineage.descendants)}
    return record
