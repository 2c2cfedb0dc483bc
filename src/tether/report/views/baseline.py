"""The report view of the comparison with an earlier report (``tether report --baseline``)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from tether.report.views._blocks import badge, fmt_ci, fmt_num, note_block, table_block

REQUIRED = ("flips", "shifts")


def _section(key: str) -> Markup:
    return Markup('<a href="#{0}">{0}</a>').format(key)


def changes(data: dict[str, Any], section: str) -> list[str]:
    """One line per change of ``section`` (what the changed section itself shows)."""
    return ([f"verdict {f['check']}: {f['old']} → {f['new']}" for f in data["flips"]
             if f["section"] == section]
            + [f"{s['path']}: {fmt_num(s['old'])} {fmt_ci(s['old_ci'])} → {fmt_num(s['new'])} "
               f"{fmt_ci(s['new_ci'])}" for s in data["shifts"] if s["section"] == section])


def mark(blocks: list[dict[str, Any]], data: dict[str, Any],
         section: str) -> list[dict[str, Any]]:
    """``section``'s blocks with its changes since the baseline marked: a note listing them
    first, and each stat whose value is a shifted estimate flagged with its earlier value."""
    lines = changes(data, section)
    if not lines:
        return blocks
    was = {fmt_num(s["new"]): f"was {fmt_num(s['old'])} {fmt_ci(s['old_ci'])}"
           for s in data["shifts"] if s["section"] == section}

    def flag(b: dict[str, Any]) -> dict[str, Any]:
        if b.get("kind") == "stats":
            return {**b, "items": [{**it, "changed": was[it["value"]]} if it["value"] in was
                                   else it for it in b["items"]]}
        if b.get("kind") == "row":
            return {**b, "blocks": [flag(x) for x in b["blocks"]]}
        return b

    return [{"kind": "changes", "items": lines}, *(flag(b) for b in blocks)]


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    when = data.get("baseline_generated_at") or "an unknown time"
    if not data["flips"] and not data["shifts"]:
        return [note_block(f"Nothing changed since {data['baseline']} (generated {when}): no "
                           "verdict flipped and every interval overlaps its earlier one.")]
    blocks = [note_block(f"Compared with {data['baseline']} (generated {when}): "
                         f"{len(data['flips']):,} verdict(s) flipped, {len(data['shifts']):,} "
                         "estimate(s) whose intervals no longer overlap.", "warn")]
    if data["flips"]:
        blocks.append(table_block(["section", "check", "was", "now", "finding"],
                                  [[_section(f["section"]), f["check"], badge(f["old"]),
                                    badge(f["new"]), f["finding"]] for f in data["flips"]],
                                  title="Verdicts that flipped"))
    if data["shifts"]:
        blocks.append(table_block(
            ["section", "estimate", "was", "now"],
            [[_section(s["section"]), s["path"], f"{fmt_num(s['old'])} {fmt_ci(s['old_ci'])}",
              f"{fmt_num(s['new'])} {fmt_ci(s['new_ci'])}"] for s in data["shifts"]],
            title="Estimates whose intervals no longer overlap", numeric=[False, False, True, True]))
    return blocks
