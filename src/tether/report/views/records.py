"""The records appendix and the sample browser: one record per sample the audits name (its
fields, provenance and lineage), each the target of every link to its id in the page.

A record's anchor is ``rec-<dataset>-<id>``; characters other than letters, digits, ``_``, ``.``,
``:`` and ``-`` become ``_``, and then (or when the dataset's name has a ``-``, which would make
the split ambiguous) a short hash of the pair keeps anchors unique. The browser is a
plain table; a few lines of inline script (:data:`SCRIPT`, allowed by its hash in the page's
Content-Security-Policy) add filters by dataset, origin, generator and the audit that named it,
and open a folded record a link points to (Chromium also opens it without the script).

Example:
    >>> anchor("train", "bbc-001"), anchor("my set", "a/b")[:14]
    ('rec-train-bbc-001', 'rec-my_set-a_b')
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from tether.report.views._blocks import snippet

#: Longest text shown in one record (characters).
RECORD_TEXT = 600
#: The provenance fields a record shows, in order, with their labels.
PROVENANCE = (("origin", "origin"), ("label_origin", "label origin"), ("generator", "generator"),
              ("family", "family"), ("run_id", "run"), ("generation", "generation"),
              ("domain", "domain"), ("task", "task"), ("created_at", "created"))
#: The browser's filters: record key, label.
FILTERS = (("dataset", "dataset"), ("origin", "origin"), ("generator", "generator"),
           ("named_by", "audit flag"))

_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")

#: The browser's filters (inline, no library, no network). Rows stay visible without it.
SCRIPT = """
document.querySelectorAll("[data-browser]").forEach(function (b) {
  var form = b.querySelector("form"), rows = b.querySelectorAll("tbody tr");
  var count = b.querySelector("[data-count]");
  function apply() {
    var shown = 0;
    rows.forEach(function (r) {
      var ok = Array.prototype.every.call(form.elements, function (s) {
        return !s.value || (" " + r.getAttribute("data-" + s.name) + " ").indexOf(" " + s.value + " ") >= 0;
      });
      r.hidden = !ok;
      shown += ok ? 1 : 0;
    });
    count.textContent = shown + " of " + rows.length + " shown";
  }
  form.hidden = false;
  form.addEventListener("change", apply);
  apply();
});
function reveal() {
  var t = document.getElementById(decodeURIComponent(location.hash.slice(1)));
  var d = t && t.closest("details");
  if (d && !d.open) { d.open = true; t.scrollIntoView(); }
}
window.addEventListener("hashchange", reveal);
reveal();
"""


def _slug(text: str) -> str:
    return _UNSAFE.sub("_", text)


def anchor(dataset: str, sample_id: str) -> str:
    """The element id of the record of ``sample_id`` in ``dataset`` (safe in ``href="#…"``)."""
    ds, sid = _slug(dataset), _slug(sample_id)
    out = f"rec-{ds}-{sid}"
    if ds != dataset or sid != sample_id or "-" in ds:  # else "rec-a-b-c" could be either
        out += "-" + hashlib.sha1(f"{dataset}\0{sample_id}".encode()).hexdigest()[:8]
    return out


def link(sample_id: str, href: str) -> Markup:
    """``sample_id`` as a link to its record (escaped)."""
    return Markup('<a class="rec" href="#{}">{}</a>').format(href, sample_id)


def link_ids(blocks: list[dict[str, Any]], anchors: Mapping[str, str]) -> list[dict[str, Any]]:
    """``blocks`` with every sample id in ``anchors`` turned into a link to its record: table
    cells that are an id (or a comma-separated list of ids), the two sides of text pairs and
    the evidence of next actions."""
    def one(value: Any) -> Any:
        if isinstance(value, Markup) or not isinstance(value, str):
            return value
        if value in anchors:
            return link(value, anchors[value])
        parts = value.split(", ")
        if len(parts) > 1 and all(p in anchors for p in parts):
            return Markup(", ").join(link(p, anchors[p]) for p in parts)
        return value

    out = []
    for b in blocks:
        if b.get("kind") == "table":
            b = {**b, "rows": [[one(c) for c in r] for r in b["rows"]]}
        elif b.get("kind") == "pairs":
            b = {**b, "items": [{**it, "sides": [{**s, "href": anchors.get(s["id"])}
                                                 for s in it["sides"]]} for it in b["items"]]}
        elif b.get("kind") == "actions":
            b = {**b, "items": [{**it, "evidence": [one(e) for e in it.get("evidence") or []]}
                                for it in b["items"]]}
        elif b.get("kind") == "row":
            b = {**b, "blocks": link_ids(b["blocks"], anchors)}
        out.append(b)
    return out


def _value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "–"
    return "–" if value is None or value == "" else str(value)


def _chain(ids: Sequence[str], anchors: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"id": i, "href": anchors.get(i)} for i in ids]


def render(records: Sequence[Mapping[str, Any]], limited: int = 0) -> list[dict[str, Any]]:
    """The browser (a table with filters) and the appendix (one record each) of ``records``
    (the report's JSON form of them); ``limited`` is how many named samples were left out."""
    if not records:
        return []
    anchors = {r["id"]: r["anchor"] for r in reversed(records)}
    options = {key: sorted({v for r in records for v in
                            (r.get(key) if isinstance(r.get(key), list) else [r.get(key)]) if v})
               for key, _ in FILTERS}
    browser = {"kind": "browser", "filters": [{"name": k, "label": label, "options": options[k]}
                                              for k, label in FILTERS],
               "limited": limited,
               "rows": [{"anchor": r["anchor"], "id": r["id"], "dataset": r["dataset"],
                         "origin": r.get("origin") or "", "generator": r.get("generator") or "",
                         "label_origin": r.get("label_origin") or "",
                         "named_by": " ".join(r["named_by"]), "label": _value(r.get("label")),
                         "text": snippet(r.get("text"), 120)} for r in records]}
    appendix = {"kind": "records", "items": []}
    for r in records:
        fields = [("label", _value(r.get("label")))]
        fields += [(k, _value(v)) for k, v in (r.get("fields") or {}).items()]
        appendix["items"].append({
            "anchor": r["anchor"], "id": r["id"], "dataset": r["dataset"],
            "origin": r.get("origin") or "", "named_by": ", ".join(r["named_by"]),
            "text": snippet(r.get("text"), RECORD_TEXT),
            "fields": fields,
            "provenance": [(label, _value(r.get(key))) for key, label in PROVENANCE],
            "parents": _chain(r.get("parents") or [], anchors),
            "ancestors": _chain(r.get("ancestors") or [], anchors),
            "real_seeds": _chain(r.get("real_seeds") or [], anchors),
            "descendants": r.get("descendants") or 0})
    return [browser, appendix]
