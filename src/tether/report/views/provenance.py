"""The report view of the provenance result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.report import charts
from tether.report.views._blocks import (
    ORIGIN_COLORS,
    chart_block,
    fmt_num,
    fmt_pct,
    row_block,
    stats_block,
    table_block,
)


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    sums = data["datasets"]
    total = sum(s["count"] for s in sums)
    synthetic = sum(s["by_origin"].get("synthetic", 0) for s in sums)
    blocks = [stats_block(("datasets", fmt_num(len(sums)), ""),
                     ("samples", fmt_num(total), ""),
                     ("synthetic", fmt_num(synthetic), fmt_pct(synthetic / total if total else 0.0)
                      + " of all samples"),
                     ("runs", fmt_num(len(data["runs"])), ""))]
    rows = {s["name"]: {"real": s["by_origin"].get("real", 0),
                        "synthetic": s["by_origin"].get("synthetic", 0)} for s in sums}
    blocks.append(chart_block(charts.stacked_bars(rows, title="Samples by origin", key="prov-origin",
                                             colors=ORIGIN_COLORS),
                         "Real inputs (blue) and synthetic inputs (orange) in each dataset."))
    by_label_origin = {s["name"]: {("unlabelled" if k == "" else k): v
                                   for k, v in s["by_label_origin"].items()} for s in sums}
    by_generation = {s["name"]: {f"gen {k}": v for k, v in s["by_generation"].items()}
                     for s in sums}
    blocks.append(row_block(
        chart_block(charts.stacked_bars(by_label_origin, title="Samples by label origin",
                                   key="prov-label", width=4.6,
                                   colors=ORIGIN_COLORS | {"unlabelled": "#cbd5e1"}),
               "Where each label came from: humans (real), a model or rule (synthetic), none."),
        chart_block(charts.stacked_bars(by_generation, title="Samples by generation", key="prov-gen",
                                   width=4.6),
               "Lineage depth: 0 is real, 1 made from real seeds, 2 made from generated data…")))
    generators: dict[str, float] = {}
    for s in sums:
        for g, n in s["by_generator"].items():
            generators[g] = generators.get(g, 0) + n
    blocks.append(chart_block(charts.bar_chart(dict(sorted(generators.items(), key=lambda kv: -kv[1])),
                                          title="Samples by generator (all datasets)",
                                          key="prov-generator"),
                         "Every sample names the generator (or real source) that made it."))

    def parts(d: Mapping[str, int]) -> str:
        return ", ".join(f"{k or '(none)'} {v:,}" for k, v in d.items()) or "–"

    blocks.append(table_block(
        ["dataset", "samples", "synthetic share", "family", "label origin", "domain", "task"],
        [[s["name"], s["count"], fmt_pct(s["synthetic_share"]), parts(s["by_family"]),
          parts(s["by_label_origin"]), parts(s["by_domain"]), parts(s["by_task"])] for s in sums],
        title="Datasets", numeric=[False, True, True, False, False, False, False]))
    runs = [r for r in data["runs"] if r.get("started_at")]
    if runs:
        blocks.append(chart_block(charts.timeline(runs, title="Timeline of runs", key="prov-timeline"),
                             "Each ingest and generation run, from start to end, with the "
                             "samples it added."))
    return blocks
