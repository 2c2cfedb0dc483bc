"""Dataset cards that tools and standards read: a Hugging Face dataset card and Croissant JSON-LD.

``Store.export`` writes both beside the data:

- ``<stem>.card.md``: a Hugging Face dataset card. Its YAML header (read by the Hub and by
  ``huggingface_hub.DatasetCard``) tags synthetic content (``synthetic``, ``synthetic-labels``,
  ``synthetic-<family>``) and holds the provenance breakdown under ``provenance``; the body is the
  same breakdown as tables.
- ``<stem>.croissant.json``: MLCommons Croissant 1.0 metadata with the Responsible-AI fields
  ``rai:dataCollectionType`` and ``rai:hasSyntheticData``, lineage as ``prov:wasDerivedFrom``
  (the datasets the samples were derived from) and ``prov:wasGeneratedBy`` (each generator with
  its family and configuration), and one record set whose fields are the exported columns, so
  each record's ``origin`` and ``label_origin`` are fields too.

The YAML header is written as JSON values (JSON is YAML), so no YAML library is needed.

Example:
    >>> size_category(999), size_category(1000), size_category(2_500_000)
    ('n<1K', '1K<n<10K', '1M<n<10M')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

CROISSANT = "http://mlcommons.org/croissant/1.0"

_ENCODING = {"jsonl": "application/jsonlines", "csv": "text/csv",
             "parquet": "application/x-parquet"}

# the standard Croissant 1.0 @context (as mlcroissant writes it), with PROV-O for lineage
_CONTEXT = {
    "@language": "en", "@vocab": "https://schema.org/", "citeAs": "cr:citeAs",
    "column": "cr:column", "conformsTo": "dct:conformsTo", "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/", "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"}, "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"}, "extract": "cr:extract",
    "field": "cr:field", "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet", "format": "cr:format", "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset", "jsonPath": "cr:jsonPath", "key": "cr:key",
    "md5": "cr:md5", "parentField": "cr:parentField", "path": "cr:path",
    "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex",
    "repeated": "cr:repeated", "replace": "cr:replace", "sc": "https://schema.org/",
    "separator": "cr:separator", "source": "cr:source", "subField": "cr:subField",
    "transform": "cr:transform", "equivalentProperty": "cr:equivalentProperty",
    "samplingRate": "cr:samplingRate", "prov": "http://www.w3.org/ns/prov#",
}

_SIZES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
          (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"),
          (1_000_000_000, "100M<n<1B")]

_SECTIONS = [("Origin of the input", "by_origin"), ("Family", "by_family"),
             ("Generator", "by_generator"), ("Origin of the label", "by_label_origin"),
             ("Generation", "by_generation"), ("Domain", "by_domain"), ("Task", "by_task")]


def size_category(count: int) -> str:
    """The Hugging Face Hub ``size_categories`` value for ``count`` samples."""
    return next((label for bound, label in _SIZES if count < bound), "n>1B")


def tags(summary: Mapping[str, Any]) -> list[str]:
    """Hub tags for a dataset summary: ``tether``, and ``synthetic`` (with
    ``synthetic-<family>``) when any input is synthetic, ``synthetic-labels`` when any label is.

    >>> tags({"by_origin": {"real": 1, "synthetic": 2}, "by_label_origin": {"real": 3},
    ...       "by_family": {"rule": 2, "": 1}})
    ['tether', 'synthetic', 'synthetic-rule']
    """
    out = ["tether"]
    if summary["by_origin"].get("synthetic"):
        out.append("synthetic")
    if summary["by_label_origin"].get("synthetic"):
        out.append("synthetic-labels")
    if len(out) > 1:
        out += [f"synthetic-{family}" for family in summary["by_family"] if family]
    return out


def _provenance(summary: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("by_origin", "by_label_origin", "by_family", "by_generator", "by_generation",
            "by_domain", "by_task")
    return {"count": summary["count"], "synthetic_share": round(summary["synthetic_share"], 6),
            **{k: dict(summary[k]) for k in keys if any(summary.get(k) or {})}}


def write_hf_card(path: str | Path, summary: Mapping[str, Any], data_file: str) -> Path:
    """Write a Hugging Face dataset card for a dataset summary (``Store.summary(...).to_dict()``)
    whose data lies in ``data_file`` (a name beside the card)."""
    header = {
        "pretty_name": summary["name"],
        "tags": tags(summary),
        "size_categories": [size_category(summary["count"])],
        "configs": [{"config_name": "default", "data_files": data_file}],
        "provenance": _provenance(summary),
    }
    lines = ["---", *(f"{key}: {json.dumps(value, ensure_ascii=False)}"
                      for key, value in header.items()), "---", "",
             f"# Dataset card: {summary['name']}", "",
             f"{summary['count']} samples; synthetic share {summary['synthetic_share']:.1%}.", "",
             ("Written by tether. Every sample carries its provenance: where its input and its "
              "label came from, the generator that made it, and the samples it was derived from "
              "(columns `origin`, `label_origin`, `family`, `generator`, `parents`)."), ""]
    for title, key in _SECTIONS:
        counts = summary.get(key) or {}
        lines += [f"## {title}", "", "| value | samples |", "| --- | ---: |"]
        lines += [f"| {value or '(none)'} | {n} |" for value, n in counts.items()]
        lines.append("")
    p = Path(path)
    p.write_text("\n".join(lines), encoding="utf-8")
    return p


def _data_type(duckdb_type: str) -> str:
    t = duckdb_type.upper()
    if t.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                     "USMALLINT", "UINTEGER", "UBIGINT")):
        return "sc:Integer"
    if t.startswith(("DOUBLE", "FLOAT", "REAL", "DECIMAL")):
        return "sc:Float"
    if t == "BOOLEAN":
        return "sc:Boolean"
    if t.startswith("TIMESTAMP") or t == "DATE":
        return "sc:Date"
    return "sc:Text"


def croissant(summary: Mapping[str, Any], data_path: str | Path, fmt: str,
              columns: Mapping[str, str], derived_from: list[str],
              generated_by: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Croissant 1.0 JSON-LD for an exported dataset.

    ``columns`` maps each exported column to its DuckDB type; a list column is a repeated field.
    Nested values (objects, such as ``generator_config``) have no Croissant type without their
    structure: they are left out of the record set, except in CSV, where they are JSON text. ``derived_from`` names the datasets the samples were
    derived from; ``generated_by`` holds one ``{"generator", "family", "config_hash",
    "samples"}`` per generator.
    """
    data = Path(data_path)
    name = summary["name"]
    by_origin, by_label = summary["by_origin"], summary["by_label_origin"]
    synthetic = bool(by_origin.get("synthetic") or by_label.get("synthetic"))
    collection = []
    if by_origin.get("real"):
        collection.append("Real data (how it was collected is not recorded by tether)")
    collection += [f"Synthetic data generation ({family})" for family in summary["by_family"]
                   if family]
    fields = []
    for col, dtype in columns.items():
        nested = dtype.removesuffix("[]").upper().startswith(("STRUCT", "MAP", "JSON", "UNION"))
        if nested and fmt != "csv":
            continue
        field: dict[str, Any] = {
            "@type": "cr:Field", "@id": f"samples/{col}", "name": col,
            "dataType": _data_type(dtype.removesuffix("[]")),
            "source": {"fileObject": {"@id": "data"}, "extract": {"column": col}}}
        if dtype.endswith("[]") and fmt != "csv":
            field["repeated"] = True
        fields.append(field)
    return {
        "@context": _CONTEXT,
        "@type": "sc:Dataset",
        "name": name,
        "description": (f"{summary['count']} samples, synthetic share "
                        f"{summary['synthetic_share']:.1%}, exported by tether with the "
                        "provenance of every sample."),
        "conformsTo": CROISSANT,
        "url": data.name,
        "datePublished": date.today().isoformat(),
        "keywords": tags(summary),
        "rai:dataCollection": ", ".join(f"{n} {origin}" for origin, n in by_origin.items()
                                        if n) + " samples",
        "rai:dataCollectionType": collection,
        "rai:hasSyntheticData": synthetic,
        "prov:wasDerivedFrom": [{"@type": "prov:Entity", "name": d} for d in derived_from],
        "prov:wasGeneratedBy": [
            {"@type": "prov:Activity", "name": g["generator"],
             "description": f"{g['family'] or 'source'} {g['generator']}: {g['samples']} samples"
                            + (f", configuration {g['config_hash']}" if g.get("config_hash")
                               else "")}
            for g in generated_by],
        "distribution": [{
            "@type": "cr:FileObject", "@id": "data", "name": data.name,
            "contentUrl": data.name, "encodingFormat": _ENCODING[fmt],
            "sha256": hashlib.sha256(data.read_bytes()).hexdigest()}],
        "recordSet": [{"@type": "cr:RecordSet", "@id": "samples", "name": "samples",
                       "description": "One record per sample, with its provenance.",
                       "field": fields}],
    }


def write_cards(data_path: str | Path, fmt: str, summary: Mapping[str, Any],
                columns: Mapping[str, str], derived_from: list[str],
                generated_by: list[Mapping[str, Any]]) -> tuple[Path, Path]:
    """Write ``<stem>.card.md`` and ``<stem>.croissant.json`` beside ``data_path``; returns
    their paths (see :func:`write_hf_card` and :func:`croissant`)."""
    data = Path(data_path)
    card = write_hf_card(data.with_name(data.stem + ".card.md"), summary, data.name)
    meta = data.with_name(data.stem + ".croissant.json")
    meta.write_text(json.dumps(croissant(summary, data, fmt, columns, derived_from, generated_by),
                               indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return card, meta
