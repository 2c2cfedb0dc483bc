"""The report view of the labels result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.report import charts
from tether.report.charts import Estimate
from tether.report.views._blocks import (
    MAX_ROWS,
    chart_block,
    fmt_num,
    fmt_pct,
    fmt_pct_ci,
    stats_block,
    table_block,
)


#: Keys without which the section is incomplete.
REQUIRED = ("issue_count", "n")
#: Where the result names samples, and the parameter naming their dataset.
SAMPLE_REFS = {"issues.*.id": "dataset"}


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = [stats_block(("label issues", fmt_num(data["issue_count"]), f"of {fmt_num(data['n'])} samples"),
                     ("issue rate", fmt_pct(data.get("issue_rate")),
                      fmt_pct_ci(data.get("issue_rate_ci"))))]
    for key, title in (("by_generator", "generator"), ("by_label_origin", "label origin")):
        groups = data.get(key)
        if isinstance(groups, Mapping) and groups:
            pts = [Estimate(g or "(none)", float(v["rate"]), float(v["rate_ci"][0]),
                            float(v["rate_ci"][1]), key) for g, v in groups.items()
                   if isinstance(v, Mapping) and v.get("rate_ci")]
            if pts:
                blocks.append(chart_block(charts.estimates_chart(
                    pts, title=f"Label issue rate by {title}", key=f"labels-{key}",
                    xlabel="share of samples whose label is likely wrong",
                    colors={key: charts.SYNTHETIC if key == "by_generator" else charts.REAL}),
                    f"Confident learning, broken down by {title}: hard mistakes, found where "
                    "they are."))
    issues = [i for i in data.get("issues") or [] if isinstance(i, Mapping)]
    if issues:
        blocks.append(table_block(["id", "given", "suggested", "confidence", "label origin",
                              "generator"],
                             [[str(i.get("id")), str(i.get("given")), str(i.get("suggested")),
                               i.get("self_confidence"), str(i.get("label_origin") or ""),
                               str(i.get("generator") or "")] for i in issues[:MAX_ROWS]],
                             title=f"Likely label errors ({len(issues):,}; least confident first)",
                             numeric=[False, False, False, True, False, False]))
    return blocks
