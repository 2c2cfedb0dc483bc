"""The report view of the estimate result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.report import charts
from tether.report.views._blocks import (
    chart_block,
    estimate_point,
    fmt_ci,
    fmt_num,
    stats_block,
)


#: Keys without which the section is incomplete.
REQUIRED = ("classical", "ppi")


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    names = {"classical": "classical (gold only)", "ppi": "prediction-powered (PPI)",
             "ppi_pp": "PPI++ (power-tuned)"}
    present = [k for k in names if isinstance(data.get(k), Mapping)]
    points = [e for k in present if (e := estimate_point(names[k], data[k], k)) is not None]
    effective = data.get("effective_n") if isinstance(data.get("effective_n"), Mapping) else {}

    def note(k: str) -> str:
        ci = data[k].get("ci") or [None, None]
        width = float(ci[1]) - float(ci[0]) if ci[0] is not None else None
        extra = f", λ = {fmt_num(data[k].get('lambda'))}" if k == "ppi_pp" else ""
        gain = (f", worth {fmt_num(effective[k], 0)} gold rows" if effective.get(k) is not None
                else "")
        return f"{fmt_ci(ci)} width {fmt_num(width)}{extra}{gain}"

    metric = str(data.get("metric", "mean"))
    if data.get("positive"):
        metric += f" ({data['positive']})"
    if data.get("threshold") is not None:
        metric += f" (at ≥ {data['threshold']:g})"
    chosen = metric + (" — inferred from the gold labels" if data.get("metric_inferred") else "")
    blocks = [stats_block(*[(names[k], fmt_num(data[k].get("estimate")), note(k)) for k in present],
                     ("gold / unlabelled", f"{fmt_num(data.get('n_gold'))} / "
                                           f"{fmt_num(data.get('n_unlabelled'))}", chosen))]
    if points:
        blocks.append(chart_block(charts.estimates_chart(
            points, title=f"{metric}: prediction-powered vs classical", key="estimate-ppi",
            xlabel=metric, colors={"classical": charts.NEUTRAL, "ppi": charts.REAL,
                                   "ppi_pp": charts.GOOD}),
            "The same quantity three ways: the small real gold set alone, and model predictions "
            f"on unlabelled data corrected by it. {data.get('method', '')}".strip()))
    return blocks
