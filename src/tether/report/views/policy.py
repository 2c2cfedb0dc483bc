"""The policy gate: every rule of the policy checked against the store (``tether check``)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from tether.report.views._blocks import badge, note_block, table_block

REQUIRED = ("rules",)


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    rules = data["rules"]
    failed = sum(not r["passed"] for r in rules)
    note = (note_block(f"{failed} of {len(rules)} rules of {data['source']} fail: "
                       "`tether check` exits 1 and CI fails.", "bad") if failed else
            note_block(f"All {len(rules)} rules of {data['source']} pass.", "info"))
    rows = [[badge("pass" if r["passed"] else "fail"),
             Markup("_<wbr>").join(escape(p) for p in r["rule"].split("_")), r["target"],
             "–" if r["value"] is None else r["value"], r["limit"], r["message"]]
            for r in rules]
    return [note, table_block(["result", "rule", "target", "value", "limit", "detail"], rows,
                              numeric=[False, False, False, True, True, False])]
