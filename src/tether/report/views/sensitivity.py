"""The report view of the sensitivity result."""

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
    note_block,
    stats_block,
)


#: Keys without which the section is incomplete.
REQUIRED = ("generator_error", "gold", "generated")


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    err = data["generator_error"]
    gold, generated = data["gold"]["accuracy"], data["generated"]["accuracy"]
    trends = data.get("trends") or {}
    blocks = [stats_block(("generator error rate", fmt_pct(err["rate"]),
                      f"{fmt_ci(err.get('ci'))} on {fmt_num(data.get('n_matched'))} matched rows"),
                     ("student on gold labels", fmt_num(gold["mean"]), fmt_ci(gold.get("ci"))),
                     ("student on generator labels", fmt_num(generated["mean"]),
                      fmt_ci(generated.get("ci"))),
                     *[(f"slope ({kind} noise)", fmt_num(t.get("slope")),
                        f"{fmt_ci(t.get('ci'))} accuracy per unit of label error")
                       for kind, t in trends.items() if isinstance(t, Mapping)])]
    lines = []
    for kind in dict.fromkeys(p["kind"] for p in data.get("noise") or []):
        pts = sorted((p for p in data["noise"] if p["kind"] == kind),
                     key=lambda p: p["realised_rate"])
        acc = [p["accuracy"] for p in pts]
        has_ci = all(a.get("ci") for a in acc)
        lines.append(Band(f"gold + {kind} noise", [a["mean"] for a in acc],
                          [a["ci"][0] for a in acc] if has_ci else None,
                          [a["ci"][1] for a in acc] if has_ci else None,
                          x=[p["realised_rate"] for p in pts]))
    gen_ci = generated.get("ci") or [None, None]
    lines.append(Band("student on generator labels", [generated["mean"]],
                      [gen_ci[0]] if gen_ci[0] is not None else None,
                      [gen_ci[1]] if gen_ci[0] is not None else None, x=[err["rate"]]))
    blocks.append(chart_block(charts.line_chart(
        [], lines, title="Real held-out accuracy vs label error", key="sensitivity-curve",
        xlabel="label error rate in training data", ylabel="accuracy on real held-out data",
        percent_x=True),
        "Gold labels with noise injected uniformly and in the generator's own confusion "
        "pattern; the diamond is the student trained on the generator's labels."))
    for w in data.get("warnings") or []:
        blocks.append(note_block(str(w), "warn"))
    return blocks
