"""Human shaping of model output: the synthetic part is the candidate pool; people shape it.

1. :func:`export_candidates` writes the model-made samples of a dataset for rating, one row per
   candidate (CSV or JSONL): ``id``, ``prompt`` (the text of the sample it was made from),
   ``text``, ``answer`` (when the pool has answers), ``label``, ``generator``, ``parents`` and
   empty ``chosen`` and ``rating`` columns for the reviewer.
2. The reviewer fills ``chosen`` (true/false) or ``rating`` (an integer), or both.
3. :func:`import_reviews` writes the chosen candidates to a new dataset: each keeps its
   generator, configuration and parents, and records that a person chose it (user fields
   ``review: chosen``, ``reviewed_by``, and ``rating`` when given). It can also write
   preference pairs ``{"prompt", "chosen", "rejected"}`` (JSONL) for preference training.

A candidate counts as chosen when ``chosen`` is true; when only ``rating`` is given, when its
rating is at least ``min_rating``, or (no ``min_rating``) when it has the top rating among the
candidates for the same prompt. Candidate A is preferred to B (same parents) when A is chosen and
B is not, or both are equally chosen and A is rated higher.

Example:
    >>> from tether import Store
    >>> with Store(":memory:") as s:  # doctest: +SKIP
    ...     export_candidates(s, "paraphrases", "review.csv")
    ...     import_reviews(s, "review.csv", "paraphrases", "paraphrases-chosen",
    ...                    pairs="pairs.jsonl").to_dict()
"""

from __future__ import annotations

import csv
import getpass
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tether import io
from tether.errors import InputError
from tether.store import Store

FORMATS = ("csv", "jsonl")
_TRUE = {"true", "1", "yes", "y", "x"}
_FALSE = {"false", "0", "no", "n"}


@dataclass(frozen=True)
class ReviewExport:
    """Where :func:`export_candidates` wrote the pool."""

    dataset: str
    path: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Review:
    """One reviewed candidate, as read from a ratings file."""

    id: str
    chosen: bool | None
    rating: int | None
    reviewer: str | None
    line: int


@dataclass(frozen=True)
class ReviewResult:
    """What :func:`import_reviews` wrote. ``to_dict()`` is the ``review import --json`` contract."""

    run_id: str
    dataset: str
    source: str
    reviewed: int
    chosen: int
    added: int
    pairs: int
    pairs_path: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _format(path: str | Path, fmt: str | None) -> str:
    fmt = fmt or Path(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError(f"use a .csv or .jsonl file (or --format csv|jsonl), got {fmt!r}",
                         path=path)
    return fmt


def _user_fields(raw: str | None) -> dict[str, Any]:
    return json.loads(raw) if raw else {}


def _model_rows(store: Store, dataset: str) -> list[dict[str, Any]]:
    rows = store.table(dataset, family="model").to_pylist()
    if not rows:
        raise InputError(f"dataset {dataset!r} holds no model-made samples to review")
    return rows


def candidates(store: Store, dataset: str) -> list[dict[str, Any]]:
    """The model-made samples of ``dataset`` as review rows (see the module docstring)."""
    return _review_rows(store, _model_rows(store, dataset))


def _review_rows(store: Store, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    parent_ids = sorted({p for row in rows for p in row["parents"]})
    found = store.samples_by_id(parent_ids, ("text",))
    texts = dict(zip(found.column("id").to_pylist(), found.column("text").to_pylist()))
    has_answer = any("answer" in _user_fields(row["fields"]) for row in rows)
    out = []
    for row in rows:
        item = {"id": row["id"],
                "prompt": "\n\n".join(texts.get(p) or "" for p in row["parents"]),
                "text": row["text"]}
        if has_answer:
            item["answer"] = _user_fields(row["fields"]).get("answer")
        item.update({"label": row["label"], "generator": row["generator"],
                     "parents": row["parents"], "chosen": None, "rating": None})
        out.append(item)
    return out


def export_candidates(store: Store, dataset: str, path: str | Path,
                      fmt: str | None = None) -> ReviewExport:
    """Write the model-made samples of ``dataset`` for review, as CSV or JSONL.

    Example: ``export_candidates(store, "paraphrases", "to-review.csv")``
    """
    fmt = _format(path, fmt)
    rows = candidates(store, dataset)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as fh:
        if fmt == "jsonl":
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "parents": json.dumps(row["parents"]),
                                 "chosen": "", "rating": ""})
    return ReviewExport(dataset, str(out), len(rows))


def _records(path: Path, fmt: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    if fmt == "jsonl":
        yield from io.iter_records(path)
        return
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        for record in reader:
            yield {"path": str(path), "line": reader.line_num}, record


def _chosen(value: Any, where: dict[str, Any]) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise InputError(f"chosen must be true or false, got {value!r}", field="chosen", **where)


def _rating(value: Any, where: dict[str, Any]) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InputError(f"rating must be an integer, got {value!r}", field="rating", **where)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number.is_integer():
        raise InputError(f"rating must be an integer, got {value!r}", field="rating", **where)
    return int(number)


def read_reviews(path: str | Path, fmt: str | None = None) -> list[Review]:
    """Parse and check a ratings file; any bad row raises :class:`InputError` naming the file,
    the line and the field.

    Example: ``read_reviews("to-review.csv")``
    """
    fmt = _format(path, fmt)
    source = io.check_readable(path)
    reviews: list[Review] = []
    seen: dict[str, int] = {}
    for where, record in _records(source, fmt):
        rid = record.get("id")
        if rid is None or str(rid).strip() == "":
            raise InputError("the candidate id is missing", field="id", **where)
        rid = str(rid).strip()
        if rid in seen:
            raise InputError(f"candidate {rid!r} is reviewed twice (first at line {seen[rid]})",
                             field="id", **where)
        seen[rid] = where["line"]
        chosen, rating = _chosen(record.get("chosen"), where), _rating(record.get("rating"), where)
        if chosen is None and rating is None:
            continue  # not reviewed (yet)
        reviewer = record.get("reviewer")
        reviews.append(Review(rid, chosen, rating, str(reviewer) if reviewer else None,
                              where["line"]))
    if not reviews:
        raise InputError("no candidate has a chosen or rating value", path=source)
    return reviews


def _decide(reviews: list[Review], groups: dict[str, tuple[str, ...]],
            min_rating: int | None) -> dict[str, bool]:
    best: dict[tuple[str, ...], int] = {}
    for r in reviews:
        if r.rating is not None:
            key = groups[r.id]
            best[key] = max(best.get(key, r.rating), r.rating)
    decided = {}
    for r in reviews:
        if r.chosen is not None:
            decided[r.id] = r.chosen
        elif min_rating is not None:
            decided[r.id] = r.rating >= min_rating
        else:
            decided[r.id] = r.rating == best[groups[r.id]]
    return decided


def preference_pairs(reviews: list[Review], pool: dict[str, dict[str, Any]],
                     chosen: dict[str, bool]) -> list[dict[str, Any]]:
    """``{"prompt", "chosen", "rejected", ...}`` pairs among candidates of the same parents."""
    by_prompt: dict[tuple[str, ...], list[Review]] = defaultdict(list)
    for r in reviews:
        by_prompt[tuple(pool[r.id]["parents"])].append(r)

    def response(item: dict[str, Any]) -> str:
        return item["answer"] if item.get("answer") is not None else item["text"]

    pairs = []
    for group in by_prompt.values():
        for a in group:
            for b in group:
                better = (chosen[a.id] and not chosen[b.id]) or (
                    chosen[a.id] == chosen[b.id] and a.rating is not None
                    and b.rating is not None and a.rating > b.rating)
                if better:
                    pa, pb = pool[a.id], pool[b.id]
                    pairs.append({"prompt": pa["prompt"], "chosen": response(pa),
                                  "rejected": response(pb), "chosen_id": a.id,
                                  "rejected_id": b.id, "parents": pa["parents"]})
    return pairs


def import_reviews(store: Store, path: str | Path, source: str, into: str, *,
                   reviewer: str | None = None, min_rating: int | None = None,
                   fmt: str | None = None, pairs: str | Path | None = None) -> ReviewResult:
    """Write the candidates of ``source`` chosen in the ratings file ``path`` to ``into``.

    Each chosen sample keeps its provenance (generator, configuration, parents, origins) and
    gains the user fields ``review: chosen``, ``reviewed_by`` (the file's ``reviewer`` column,
    else ``reviewer``, else the login name) and ``rating`` (when rated). With ``pairs``, writes
    the preference pairs as JSONL there. The file is checked before anything is written.

    Example: ``import_reviews(store, "rated.csv", "paraphrases", "paraphrases-chosen")``
    """
    reviews = read_reviews(path, fmt)
    rows = _model_rows(store, source)
    pool = {item["id"]: item for item in _review_rows(store, rows)}
    for r in reviews:
        if r.id not in pool:
            raise InputError(f"no model-made candidate {r.id!r} in dataset {source!r}",
                             path=path, line=r.line, field="id")
    chosen = _decide(reviews, {r.id: tuple(pool[r.id]["parents"]) for r in reviews}, min_rating)
    pair_rows = preference_pairs(reviews, pool, chosen) if pairs is not None else []
    who = reviewer or getpass.getuser()
    stored = {row["id"]: row for row in rows}
    samples = []
    for r in reviews:
        if not chosen[r.id]:
            continue
        row = stored[r.id]
        fields = _user_fields(row.pop("fields"))
        for derived in ("config_hash", "generation", "content_hash", "run_id"):
            row.pop(derived)
        marks = {"review": "chosen", "reviewed_by": r.reviewer or who}
        if r.rating is not None:
            marks["rating"] = r.rating
        samples.append({**fields, **row, **marks})
    run_id = store.start_run("review", into, params={"source": source, "file": str(path),
                                                     "reviewer": who, "min_rating": min_rating})
    added = 0
    if samples:
        added = store.ingest(into, samples, run_id=run_id).added
    store.finish_run(run_id)
    if pairs is not None:
        out = Path(pairs)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as fh:
            for pair in pair_rows:
                fh.write(json.dumps(pair, ensure_ascii=False) + "\n")
    return ReviewResult(run_id, into, source, len(reviews), sum(chosen.values()), added,
                        len(pair_rows), str(pairs) if pairs is not None else None)
