"""The report view of the faithfulness result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.report import charts
from tether.report.views._blocks import (
    MAX_ROWS,
    chart_block,
    estimate_point,
    fmt_ci,
    fmt_num,
    fmt_pct,
    fmt_pct_ci,
    stats_block,
    table_block,
)


#: Keys without which the section is incomplete.
REQUIRED = ("flip_rate",)
#: Where the result names samples, and the parameter naming their dataset (None: any).
SAMPLE_REFS = {"worst.*.child_id": "dataset", "worst.*.parent_id": None}


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = [stats_block(("label flips", fmt_pct(data["flip_rate"]),
                      f"{fmt_pct_ci(data.get('flip_ci'))} of {fmt_num(data.get('n_children'))} derived "
                      "samples"),
                     ("similarity to parent", fmt_num(data.get("similarity")),
                      f"{fmt_ci(data.get('similarity_ci'))} TF-IDF cosine"))]
    pts = [e for key, group in (("by_generator", "generator"), ("by_operation", "operation"))
           if isinstance(data.get(key), Mapping)
           for name, v in data[key].items() if isinstance(v, Mapping)
           and (e := estimate_point(f"{group}: {name} (n={v.get('n')})", v, group, "flip_rate", "flip_ci"))]
    if pts:
        blocks.append(chart_block(charts.estimates_chart(
            pts, title="Label flips per generator and operation", key="faith-groups",
            xlabel="share of children whose predicted label differs from the parent's",
            colors={"generator": charts.SYNTHETIC, "operation": charts.NEUTRAL}),
            "An augmentation that changes what \"correct\" means is not augmentation."))
    worst = [w for w in data.get("worst") or [] if isinstance(w, Mapping)]
    if worst:
        blocks.append(table_block(["child", "parent", "parent label", "child label", "similarity",
                              "generator", "operation"],
                             [[str(w.get("child_id")), str(w.get("parent_id")),
                               str(w.get("parent_label")), str(w.get("child_label")),
                               w.get("similarity"), str(w.get("generator") or ""),
                               str(w.get("operation") or "")] for w in worst[:MAX_ROWS]],
                             title="Worst cases (flipped first, then least similar)",
                             numeric=[False, False, False, False, True, False, False]))
    return blocks
