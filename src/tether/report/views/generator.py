"""The report view of the generator result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.report import charts
from tether.report.views._blocks import (
    MAX_ROWS,
    chart_block,
    fmt_ci,
    fmt_num,
    fmt_pct,
    stats_block,
    table_block,
)


#: Keys without which the section is incomplete.
REQUIRED = ("accuracy", "accuracy_ci", "confusion")


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    acc, ci = float(data["accuracy"]), data["accuracy_ci"]
    blocks = [stats_block(("generator accuracy", fmt_num(acc), f"{fmt_ci(ci)} on {fmt_num(data.get('n'))} "
                                                       "real gold labels"),
                     ("errors", fmt_num(data.get("errors")), ""),
                     ("systematic share", fmt_pct(data.get("systematic_share")),
                      f"{fmt_ci(data.get('systematic_share_ci'))} of errors beyond uniform noise"),
                     ("hard-mistake rate", fmt_pct(data.get("hard_error_rate")),
                      f"{fmt_ci(data.get('hard_error_rate_ci'))} uniform-noise part"))]
    conf = data["confusion"]
    labels = conf.get("labels") or data.get("labels")
    blocks.append(chart_block(charts.heatmap(conf["matrix"], labels, labels, title="Confusion matrix",
                                        key="generator-confusion", xlabel="generator label",
                                        ylabel="gold label"),
                         "Rows: the human label; columns: the generator's label. Colour: share "
                         "of the row; off-diagonal mass is the generator's error."))
    skew = data.get("label_skew")
    if isinstance(skew, Mapping) and skew.get("real") is not None:
        names = skew.get("labels") or labels
        blocks.append(chart_block(charts.grouped_bars(
            names, {"gold": [float(x) for x in skew["real"]],
                    "generator": [float(x) for x in skew.get("generated") or []]},
            title="Label distribution: gold vs generator", key="generator-skew",
            ylabel="share of items", colors={"gold": charts.REAL, "generator": charts.SYNTHETIC},
            percent=True),
            f"Total variation distance {fmt_num(skew.get('tvd'))} {fmt_ci(skew.get('tvd_ci'))}; "
            f"balance difference {fmt_num(skew.get('balance_difference'))} "
            f"{fmt_ci(skew.get('balance_difference_ci'))} (positive: more balanced than reality); "
            f"Stuart–Maxwell p = {fmt_num(skew.get('p_value'), 4)}."))
    cells = [c for c in data.get("top_confusions") or [] if isinstance(c, Mapping)]
    if cells:
        systematic = {(c.get("gold"), c.get("generated"))
                      for c in data.get("systematic_cells") or [] if isinstance(c, Mapping)}
        blocks.append(table_block(["gold", "generator", "count", "expected if uniform", "excess",
                              "systematic"],
                             [[str(c.get("gold")), str(c.get("generated")), c.get("count"),
                               c.get("expected_uniform"), c.get("excess"),
                               "yes" if (c.get("gold"), c.get("generated")) in systematic else ""]
                              for c in cells[:MAX_ROWS]],
                             title="Largest confusions (the evidence)",
                             numeric=[False, False, True, True, True, False]))
    return blocks
