"""The report view of the style audit: which features of the synthetic answers differ from the
real ones (length, hedging, politeness, openers, formatting), by how much, and examples."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.report import charts
from tether.report.charts import Estimate
from tether.report.views._blocks import (
    MAX_ROWS,
    chart_block,
    fmt_ci,
    fmt_num,
    note_block,
    stats_block,
    table_block,
)

#: Keys without which the section is incomplete.
REQUIRED = ("features", "flagged")


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    features = {k: v for k, v in (data.get("features") or {}).items() if isinstance(v, Mapping)}
    flagged = [str(f) for f in data.get("flagged") or []]
    blocks = [stats_block(
        ("field", str(data.get("field") or "text"),
         f"prompt field {data['prompt_field']}" if data.get("prompt_field") else ""),
        ("real / synthetic", f"{fmt_num(data.get('n_real'))} / "
                             f"{fmt_num(data.get('n_synthetic'))}", "answers"),
        ("features that differ", fmt_num(len(flagged)), f"of {len(features)} compared"))]
    deltas = [Estimate(k, float(v["cliffs_delta"]), float(v["delta_ci"][0]),
                       float(v["delta_ci"][1]), "flagged" if v.get("flagged") else "similar")
              for k, v in features.items()
              if v.get("cliffs_delta") is not None and None not in (v.get("delta_ci") or [None])]
    if deltas:
        blocks.append(chart_block(charts.estimates_chart(
            deltas, title="Style: synthetic vs real, feature by feature", key="style-deltas",
            xlabel="Cliff's delta (synthetic over real)", reference=0.0,
            reference_label="no difference", xlim=(-1.0, 1.0),
            colors={"flagged": charts.BAD, "similar": charts.NEUTRAL}),
            "Red: a significant difference after multiplicity correction. Right of 0: the "
            "synthetic answers have more of it (longer, politer, more hedged)."))
    for finding in (data.get("findings") or [])[:MAX_ROWS]:
        blocks.append(note_block(str(finding), "warn"))
    if features:
        order = flagged + [k for k in features if k not in flagged]
        blocks.append(table_block(
            ["feature", "real mean", "synthetic mean", "ratio", "Cliff's δ", "p (adjusted)",
             "examples"],
            [[k, f"{fmt_num(features[k].get('real_mean'))} {fmt_ci(features[k].get('real_ci'))}",
              f"{fmt_num(features[k].get('synthetic_mean'))} "
              f"{fmt_ci(features[k].get('synthetic_ci'))}",
              f"{fmt_num(features[k].get('ratio'))} {fmt_ci(features[k].get('ratio_ci'))}",
              f"{fmt_num(features[k].get('cliffs_delta'))} {fmt_ci(features[k].get('delta_ci'))}",
              fmt_num(features[k].get("p_adjusted"), 4),
              ", ".join(map(str, (features[k].get("examples") or [])[:3]))] for k in order],
            title="Every feature side by side",
            numeric=[False, True, True, True, True, True, False]))
    return blocks
