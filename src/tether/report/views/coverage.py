"""The report view of the coverage result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.report import charts
from tether.report.charts import Estimate
from tether.report.views._blocks import (
    MAX_ROWS,
    cell,
    chart_block,
    estimate_point,
    fmt_ci,
    fmt_num,
    fmt_pct,
    stats_block,
    table_block,
)


#: Keys without which the section is incomplete.
REQUIRED = ("precision", "recall")
#: Where the result names samples, and the parameter naming their dataset.
SAMPLE_REFS = {"modes.*.examples": "real", "uncovered_real.*.examples": "real"}


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    modes = [m for m in data.get("modes") or [] if isinstance(m, Mapping)]
    uncovered = [m for m in data.get("uncovered_real") or [] if isinstance(m, Mapping)]
    blocks = [stats_block(("precision", fmt_num(float(data["precision"])),
                      f"{fmt_ci(data.get('precision_ci'))} synthetic samples where real data lives"),
                     ("recall", fmt_num(float(data["recall"])),
                      f"{fmt_ci(data.get('recall_ci'))} real data the synthetic reaches"),
                     ("uncovered real modes", fmt_num(len(uncovered)),
                      f"of {fmt_num(len(modes))} real clusters" if modes else ""))]
    by_label = data.get("by_label")
    if isinstance(by_label, Mapping):
        pts = [e for label, v in by_label.items() if isinstance(v, Mapping)
               for key in ("precision", "recall")
               if (e := estimate_point(f"{label} · {key}", v, key, key, f"{key}fmt_ci")) is not None]
        if pts:
            blocks.append(chart_block(charts.estimates_chart(
                pts, title="Precision and recall by label", key="coverage-label",
                xlabel="share", colors={"precision": charts.SYNTHETIC, "recall": charts.REAL}),
                "Precision (orange): synthetic samples inside the real manifold. Recall (blue): "
                "real samples the synthetic data reaches."))
    if modes:
        pts = [Estimate(f"mode {m.get('cluster')} · {m.get('label') or '–'} · "
                        f"n={m.get('size')}",
                        float(m["reached"]), float(m["reached_ci"][0]), float(m["reached_ci"][1]),
                        "uncovered" if m in uncovered else "covered")
               for m in modes if m.get("reached_ci")]
        blocks.append(chart_block(charts.estimates_chart(
            pts, title="Real modes reached by synthetic data", key="coverage-modes",
            xlabel="share of the mode's real samples a synthetic sample reaches",
            colors={"uncovered": charts.BAD, "covered": charts.REAL}),
            "Red: real modes (clusters) no synthetic sample reaches — the rare cases synthetic "
            "data was supposed to fill."))
    if uncovered:
        blocks.append(table_block(["mode", "label", "real samples", "reached", "examples (ids)"],
                             [[str(m.get("cluster")), str(m.get("label") or ""), m.get("size"),
                               fmt_pct(m.get("reached")), cell(m.get("examples") or [])]
                              for m in uncovered[:MAX_ROWS]],
                             title="Uncovered real modes",
                             numeric=[False, False, True, True, False]))
    return blocks
