"""The report view of the diversity result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tether.report import charts
from tether.report.charts import Band
from tether.report.views._blocks import (
    chart_block,
    fmt_ci,
    fmt_num,
    note_block,
    stats_block,
    table_block,
)


#: Keys without which the section is incomplete.
REQUIRED = ("by_generation",)


def _diversity_lines(groups: Sequence[Mapping[str, Any]]) -> list[Band]:
    metrics = list(dict.fromkeys(m for g in groups for m in (g.get("metrics") or {})))
    lines = []
    for m in metrics:
        vals = [(g.get("metrics") or {}).get(m) or {} for g in groups]
        if all(v.get("value") is not None for v in vals):
            has_ci = all(v.get("ci") and v["ci"][0] is not None for v in vals)
            lines.append(Band(m, [float(v["value"]) for v in vals],
                              [float(v["ci"][0]) for v in vals] if has_ci else None,
                              [float(v["ci"][1]) for v in vals] if has_ci else None))
    return lines


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    gens = [g for g in data["by_generation"] if isinstance(g, Mapping)]
    warnings = [str(w) for w in data.get("warnings") or []]
    blocks = [stats_block(("generations", fmt_num(len(gens)), ", ".join(
                          f"gen {g.get('group')}: {fmt_num(g.get('n'))}" for g in gens[:6])),
                     ("warnings", fmt_num(len(warnings)),
                      "diversity falling" if warnings else "no sustained fall"))]
    for w in warnings:
        blocks.append(note_block(w, "bad"))
    lines = _diversity_lines(gens)
    if lines and len(gens) > 1:
        blocks.append(chart_block(charts.line_chart(
            [float(g["group"]) if str(g["group"]).lstrip("-").isdigit() else i
             for i, g in enumerate(gens)], lines,
            title="Diversity per generation", key="diversity-gen", xlabel="generation",
            ylabel="value (on equal-size token draws)"),
            "Falling diversity generation after generation is the signature of a feedback loop. "
            "Bands: the range over random draws of the same size."))
    metrics = [b.name for b in lines]
    for key, title in (("by_generation", "generation"), ("by_generator", "generator"),
                       ("over_time", "time")):
        groups = [g for g in data.get(key) or [] if isinstance(g, Mapping)]
        if groups and metrics:
            blocks.append(table_block(
                [title, "samples", *metrics],
                [[str(g.get("group")), g.get("n"),
                  *[f"{fmt_num(((g.get('metrics') or {}).get(m) or {}).get('value'))} "
                    f"{fmt_ci(((g.get('metrics') or {}).get(m) or {}).get('ci'))}" for m in metrics]]
                 for g in groups],
                title=f"By {title}", numeric=[False, True, *[True] * len(metrics)]))
    return blocks
