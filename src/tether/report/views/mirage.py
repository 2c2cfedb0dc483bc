"""The report view of the mirage result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.report import charts
from tether.report.charts import Estimate
from tether.report.views._blocks import (
    MAX_ROWS,
    ORIGIN_COLORS,
    SAMPLE_ROWS,
    chart_block,
    fmt_ci,
    fmt_num,
    stats_block,
    table_block,
)


#: Keys without which the section is incomplete.
REQUIRED = ("c2st_auc", "auc_ci")
#: Keys holding sample ids the report shows with their texts.
SAMPLE_IDS = ("most_synthetic", "least_covered_real")


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    auc, ci = float(data["c2st_auc"]), data["auc_ci"]
    verdict = ("indistinguishable" if ci[0] <= 0.5 <= ci[1] else
               "easily told apart" if auc >= 0.8 else "distinguishable")
    blocks = [stats_block(("C2ST AUC", fmt_num(auc), f"{fmt_ci(ci)} cross-validated"),
                     ("p-value", fmt_num(data.get("p_value"), 4), "permutation test"),
                     ("real / synthetic", f"{fmt_num(data.get('n_real'))} / "
                                          f"{fmt_num(data.get('n_synthetic'))}", "samples"),
                     ("verdict", verdict, "0.5 = a classifier cannot tell them apart"))]
    blocks.append(chart_block(charts.estimates_chart(
        [Estimate("real vs synthetic", auc, float(ci[0]), float(ci[1]), "C2ST AUC")],
        title="Can a classifier tell synthetic from real?", key="mirage-auc",
        xlabel="cross-validated AUC", reference=0.5, reference_label="indistinguishable",
        xlim=(0.4, 1.0), colors={"C2ST AUC": charts.SYNTHETIC}),
        str(data.get("method") or "Classifier two-sample test; 0.5 means indistinguishable.")))
    profile = data.get("profile") if isinstance(data.get("profile"), Mapping) else {}
    stats = {k: v for k, v in (profile.get("stats") or {}).items() if isinstance(v, Mapping)}
    deltas = [Estimate(k, float(v["cliffs_delta"]), float(v["delta_ci"][0]),
                       float(v["delta_ci"][1]), "flagged" if v.get("flag") else "similar")
              for k, v in stats.items()
              if v.get("cliffs_delta") is not None and None not in (v.get("delta_ci") or [None])]
    if deltas:
        blocks.append(chart_block(charts.estimates_chart(
            deltas, title="Profile: synthetic vs real, statistic by statistic",
            key="mirage-profile", xlabel="Cliff's delta (synthetic over real)", reference=0.0,
            reference_label="no difference",
            xlim=(-1.0, 1.0), colors={"flagged": charts.BAD, "similar": charts.NEUTRAL}),
            "Red: a significant difference (flagged). Left of 0: the synthetic side has less of "
            "it (fewer typos, shorter, more regular)."))
    if stats:
        blocks.append(table_block(
            ["statistic", "real mean", "synthetic mean", "Cliff's δ", "p (adjusted)", "flag"],
            [[k, f"{fmt_num(v.get('real_mean'))} {fmt_ci(v.get('real_ci'))}",
              f"{fmt_num(v.get('synthetic_mean'))} {fmt_ci(v.get('synthetic_ci'))}",
              f"{fmt_num(v.get('cliffs_delta'))} {fmt_ci(v.get('delta_ci'))}",
              fmt_num(v.get("p_adjusted"), 4), str(v.get("flag") or "")] for k, v in stats.items()],
            title="Profile side by side", numeric=[False, True, True, True, True, False]))
    labels = profile.get("labels")
    if isinstance(labels, Mapping) and isinstance(labels.get("real"), Mapping):
        names = list(dict.fromkeys([*labels["real"], *(labels.get("synthetic") or {})]))
        blocks.append(chart_block(charts.grouped_bars(
            names, {"real": [float(labels["real"].get(k, 0)) for k in names],
                    "synthetic": [float((labels.get("synthetic") or {}).get(k, 0)) for k in names]},
            title="Label distribution", key="mirage-labels", ylabel="share",
            colors=ORIGIN_COLORS, percent=True),
            f"Cramér's V {fmt_num(labels.get('cramers_v'))} {fmt_ci(labels.get('v_ci'))}, "
            f"chi-square p = {fmt_num(labels.get('p_value'), 4)}."))
    feats = [f for f in data.get("top_features") or []
             if isinstance(f, Mapping) and isinstance(f.get("weight"), (int, float))]
    if feats:
        weights = {str(f.get("feature")): float(f["weight"]) for f in feats[:MAX_ROWS]}
        blocks.append(chart_block(charts.bar_chart(
            weights, title="Features that give synthetic data away", key="mirage-features",
            xlabel="classifier weight (positive = synthetic)", decimals=3,
            colors={k: charts.SYNTHETIC if v > 0 else charts.REAL for k, v in weights.items()}),
            "The n-gram features the two-sample classifier leans on most."))
    for key, title in (("most_synthetic", "Most synthetic-looking samples"),
                       ("least_covered_real", "Real samples least like any synthetic one")):
        samples = data.get(f"{key}_samples")
        if samples:
            blocks.append(table_block(["id", "generator", "text"],
                                 [[x["id"], x.get("generator") or "", x["text"]]
                                  for x in samples[:SAMPLE_ROWS]], title=title))
        elif data.get(key):
            blocks.append(table_block(["id"], [[str(i)] for i in data[key][:MAX_ROWS]], title=title))
    return blocks
