"""The report view of the overlap result."""

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
    fmt_pct_ci,
    note_block,
    stats_block,
    table_block,
)


#: Keys without which the section is incomplete.
REQUIRED = ("contaminated_eval", "eval_count")


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    n_bad, n_eval = int(data["contaminated_eval"]), int(data["eval_count"])
    rate = data.get("contamination_rate", n_bad / n_eval if n_eval else 0.0)
    blocks = [stats_block(("contaminated eval items", fmt_num(n_bad), f"of {fmt_num(n_eval)} eval items"),
                     ("contamination rate", fmt_pct(rate),
                      fmt_pct_ci(data.get("contamination_ci"))),
                     ("near-duplicates / shared 13-grams",
                      f"{fmt_num(data.get('near_duplicate_eval'))} / {fmt_num(data.get('ngram_eval'))}",
                      f"eval items; Jaccard ≥ {fmt_num(data.get('threshold'), 2)}"))]
    if n_bad:
        blocks.append(note_block(f"{n_bad:,} eval item(s) have a near-duplicate or a long shared "
                            "passage in training: their scores measure memory, not skill.", "bad"))
    else:
        blocks.append(note_block("No eval item has a near-duplicate in training."))
    pairs = data.get("pairs") or []
    if pairs:
        blocks.append(table_block(["train id", "eval id", "Jaccard"],
                             [[str(p.get("train_id")), str(p.get("eval_id")), p.get("jaccard")]
                              for p in pairs[:MAX_ROWS]],
                             title=f"Near-duplicate pairs ({data.get('pair_count', len(pairs)):,}"
                                   + (f", the {len(pairs):,} closest listed)" if
                                      data.get("truncated") else ")"),
                             numeric=[False, False, True]))
    memo = data.get("memorization")
    if isinstance(memo, Mapping) and memo.get("synthetic") and memo.get("holdout"):
        dists = {"synthetic → its real sources":
                 [float(x["distance"]) for x in memo["synthetic"]],
                 "unseen real → the same sources":
                 [float(x["distance"]) for x in memo["holdout"]]}
        blocks.append(stats_block(
            ("median distance, synthetic", fmt_num(memo.get("synthetic_median")), ""),
            ("median distance, unseen real", fmt_num(memo.get("holdout_median")), ""),
            ("difference", fmt_num(memo.get("median_difference")),
             f"{fmt_ci(memo.get('median_difference_ci'))} p = {fmt_num(memo.get('p_value'), 4)}"),
            ("copied?", "yes" if memo.get("copied") else "no",
             f"copies: synthetic {fmt_pct(memo.get('copy_share_synthetic'))}, "
             f"unseen real {fmt_pct(memo.get('copy_share_holdout'))}")))
        blocks.append(chart_block(charts.histogram(
            dists, title="Memorization: distance to the closest real source record",
            key="overlap-memo", xlabel="distance (1 − Jaccard)",
            colors=dict(zip(dists, (charts.SYNTHETIC, charts.REAL)))),
            "Synthetic data closer to the records it was made from than unseen real data is has "
            "copied them (a privacy leak when the real data is sensitive)."))
    return blocks
