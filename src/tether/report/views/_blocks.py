"""The building blocks every report view returns: stat rows, charts, tables, notes; and the
number formats they share. A view is a function of one saved result's JSON form that returns a
list of these blocks; the page template lays them out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from tether.report import charts
from tether.report.charts import Estimate

#: Longest sample text shown in the report (characters).
SNIPPET = 280
#: Most rows shown in one table of pairs, issues or features.
MAX_ROWS = 12
#: Most sample texts shown in one table.
SAMPLE_ROWS = 6
#: Most pairs of texts shown side by side in one list.
PAIR_ROWS = 3


def fmt_num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:,.{digits}f}"
    return str(value)


def fmt_pct(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1%}"


def fmt_ci(ci: Any, digits: int = 3) -> str:
    if not isinstance(ci, Sequence) or len(ci) != 2 or ci[0] is None:
        return ""
    return f"[{fmt_num(float(ci[0]), digits)}, {fmt_num(float(ci[1]), digits)}]"


def fmt_pct_ci(ci: Any) -> str:
    if not isinstance(ci, Sequence) or len(ci) != 2 or ci[0] is None:
        return ""
    return f"[{fmt_pct(ci[0])}, {fmt_pct(ci[1])}]"


def snippet(text: Any, length: int = SNIPPET) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= length else text[: length - 1] + "…"


def stats_block(*items: tuple[str, str, str]) -> dict[str, Any]:
    return {"kind": "stats", "items": [{"label": a, "value": b, "note": c} for a, b, c in items]}


def chart_block(svg: str, caption: str) -> dict[str, Any]:
    return {"kind": "chart", "svg": Markup(svg), "caption": caption}


def table_block(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "",
           numeric: Sequence[bool] | None = None) -> dict[str, Any]:
    return {"kind": "table", "title": title, "headers": list(headers),
            "rows": [[fmt_num(c) if not isinstance(c, str) else c for c in r] for r in rows],
            "numeric": list(numeric or [False] * len(headers))}


def badge(level: str) -> Markup:
    """A section's or verdict's level as a badge: pass, warn, fail (or a status: not run …)."""
    return Markup('<span class="badge {0}" data-level="{0}">{1}</span>').format(
        level, level.replace("_", " "))


def note_block(text: str, tone: str = "info") -> dict[str, Any]:
    return {"kind": "note", "text": text, "tone": tone}


def row_block(*blocks: dict[str, Any]) -> dict[str, Any]:
    """Blocks laid out side by side."""
    return {"kind": "row", "blocks": list(blocks)}


def estimate_point(name: str, d: Mapping[str, Any], group: str = "", value_key: str = "estimate",
         ci_key: str = "ci") -> Estimate | None:
    value, ci = d.get(value_key), d.get(ci_key)
    if value is None or not isinstance(ci, Sequence) or len(ci) != 2 or ci[0] is None:
        return None
    return Estimate(name, float(value), float(ci[0]), float(ci[1]), group)


def cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value[:6]) + (" …" if len(value) > 6 else "")
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {fmt_num(v)}" for k, v in list(value.items())[:6])
    if isinstance(value, str):
        return snippet(value)
    return value


ORIGIN_COLORS = {"real": charts.REAL, "synthetic": charts.SYNTHETIC}
