"""The summary: every verdict in one table (worst first, each linked to its section), then at
most five next actions with their evidence and command."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from tether.report.views._blocks import badge, stats_block, table_block

REQUIRED = ("counts", "actions")


def _link(key: str, titles: dict[str, str]) -> Markup:
    return Markup('<a href="#{}">{}</a>').format(key, titles.get(key, key))


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    counts, titles = data["counts"], data["titles"]
    blocks = [stats_block(("failing", f"{counts['fail']:,}", "verdicts that fail"),
                          ("warnings", f"{counts['warn']:,}", "verdicts that warn"),
                          ("passing", f"{counts['pass']:,}", "verdicts that pass"))]
    if data["actions"]:
        blocks.append({"kind": "actions", "title": "What to do next", "items": [
            {"level": a["level"], "badge": badge(a["level"]), "text": a["action"],
             "evidence": a["evidence"], "command": a["command"],
             "section": _link(a.get("section", a["kind"]), titles)} for a in data["actions"]]})
    else:
        blocks.append({"kind": "note", "tone": "info",
                       "text": "Nothing to do: no verdict warns or fails."})
    where = data.get("sections") or [v["kind"] for v in data["verdicts"]]
    rows = [[badge(v["level"]), _link(at, titles), v["finding"], v["rule"]]
            for v, at in zip(data["verdicts"], where)]
    blocks.append(table_block(["verdict", "section", "finding", "rule"], rows,
                              title="Every verdict, worst first"))
    return blocks
