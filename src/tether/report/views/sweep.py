"""The report view of the sweep result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.report import charts
from tether.report.charts import Band
from tether.report.views._blocks import (
    chart_block,
    fmt_ci,
    fmt_num,
    fmt_pct,
    snippet,
    stats_block,
    table_block,
)


#: Keys without which the section is incomplete.
REQUIRED = ("points",)


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    points = data["points"]
    shares = [float(p.get("share", p["ratio"])) for p in points]
    acc = [p["accuracy"] for p in points]
    has_ci = all(a.get("ci") for a in acc)
    band = Band("real held-out accuracy", [float(a["mean"]) for a in acc],
                [float(a["ci"][0]) for a in acc] if has_ci else None,
                [float(a["ci"][1]) for a in acc] if has_ci else None)
    lines = [band]
    if all(isinstance(p.get("macro_f1"), Mapping) for p in points):
        f1 = [p["macro_f1"] for p in points]
        f1_ci = all(f.get("ci") for f in f1)
        lines.append(Band("real held-out macro-F1", [float(f["mean"]) for f in f1],
                          [float(f["ci"][0]) for f in f1] if f1_ci else None,
                          [float(f["ci"][1]) for f in f1] if f1_ci else None))
    best = data.get("best") or {}
    trend = data.get("trend") or {}
    blocks = [stats_block(("best synthetic share", fmt_pct(best.get("ratio")),
                      f"accuracy {fmt_num(best.get('accuracy'))}"),
                     ("trend", fmt_num(trend.get("slope")),
                      f"{fmt_ci(trend.get('ci'))} accuracy per unit of share"
                      f"{', ' + trend['method'] if trend.get('method') else ''}"),
                     ("setup", f"{fmt_num(data.get('repeats'))} repeats",
                      f"mode {data.get('mode', '–')}, holdout n = {fmt_num(data.get('n_holdout'))}, "
                      f"student {snippet(data.get('student', '–'))[:60]}"))]
    blocks.append(chart_block(charts.line_chart(
        shares, lines, title="Real held-out score vs synthetic share", key="sweep-curve",
        xlabel="synthetic share of training data", ylabel="score on real held-out data",
        mark_x=float(best["ratio"]) if best.get("ratio") is not None else None,
        mark_label="best share", percent_x=True),
        "Each point: students trained at that share, scored on real held-out data; bands: "
        f"{acc[0].get('method', 'intervals')}."))
    blocks.append(table_block(["synthetic share", "real", "synthetic", "accuracy", "interval",
                          "macro-F1"],
                         [[fmt_pct(s), p.get("n_real"), p.get("n_synthetic"), a["mean"],
                           fmt_ci(a.get("ci")), (p.get("macro_f1") or {}).get("mean")]
                          for s, p, a in zip(shares, points, acc)],
                         numeric=[True] * 6))
    return blocks
