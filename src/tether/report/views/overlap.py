"""The report view of the overlap result: contamination counts, the near-duplicate and
shared-passage pairs with both texts side by side (the longest shared run of words marked), and
the memorization test with its closest synthetic–source pairs.

Example:
    >>> a, b = shared_passage("Rates rose, again: the bank warned.", "so rates rose again today")
    >>> "Rates rose, again: the bank warned."[slice(*a)], "so rates rose again today"[slice(*b)]
    ('Rates rose, again', 'rates rose again')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from difflib import SequenceMatcher
from typing import Any

from tether.report import charts
from tether.report.views._blocks import (
    MAX_ROWS,
    PAIR_ROWS,
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
#: Where the result names samples, and the parameter naming their dataset.
SAMPLE_REFS = {"pairs.*.train_id": "train", "pairs.*.eval_id": "eval",
               "ngram_overlap.*.train_id": "train", "ngram_overlap.*.eval_id": "eval",
               "memorization.synthetic.*.id": "train",
               "memorization.synthetic.*.nearest_real_id": "eval",
               "memorization.holdout.*.id": "holdout",
               "memorization.holdout.*.nearest_real_id": "eval"}
#: Characters of context shown either side of a shared passage, and the longest passage shown.
CONTEXT, PASSAGE = 160, 900

_WORD = re.compile(r"\w+")


def shared_passage(a: str, b: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Character spans of the longest run of words ``a`` and ``b`` share (case-insensitive,
    punctuation and spacing ignored); ``(0, 0)`` spans when they share no word."""
    wa, wb = list(_WORD.finditer(a)), list(_WORD.finditer(b))
    m = SequenceMatcher(None, [w.group().lower() for w in wa], [w.group().lower() for w in wb],
                        autojunk=False).find_longest_match(0, len(wa), 0, len(wb))
    if m.size == 0:
        return (0, 0), (0, 0)
    return ((wa[m.a].start(), wa[m.a + m.size - 1].end()),
            (wb[m.b].start(), wb[m.b + m.size - 1].end()))


def _side(label: str, sample_id: str, text: str, span: tuple[int, int]) -> dict[str, Any]:
    start, end = span
    before, match, after = text[max(0, start - CONTEXT):start], text[start:end], text[end:]
    if start > CONTEXT:
        before = "…" + before
    if len(match) > PASSAGE:
        match = match[:PASSAGE // 2] + " … " + match[-PASSAGE // 2:]
    if len(after) > CONTEXT:
        after = after[:CONTEXT] + "…"
    return {"label": label, "id": sample_id, "before": before, "match": match, "after": after,
            "words": len(_WORD.findall(text[start:end]))}


def pairs_block(title: str, pairs: list[tuple[str, str, str]], texts: Mapping[str, Mapping[str, str]],
                roles: tuple[str, str], labels: tuple[str, str]) -> dict[str, Any] | None:
    """Side-by-side texts of ``pairs`` (left id, right id, score), the shared passage marked;
    None when the texts of none of them are at hand."""
    items = []
    for left, right, score in pairs:
        a, b = texts.get(roles[0], {}).get(left), texts.get(roles[1], {}).get(right)
        if a is None or b is None:
            continue
        span_a, span_b = shared_passage(a, b)
        sides = [_side(labels[0], left, a, span_a), _side(labels[1], right, b, span_b)]
        items.append({"score": score, "sides": sides,
                      "shared": f"{sides[0]['words']:,} words in a row shared"})
    return {"kind": "pairs", "title": title, "items": items} if items else None


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
    if data.get("dropped_ngrams"):
        blocks.append(note_block(
            f"{fmt_num(data['dropped_ngrams'])} 13-grams found in more than "
            f"{fmt_num(data.get('max_train_df'))} training texts (held by "
            f"{fmt_num(data.get('dropped_ngram_eval'))} eval item(s)) were left out as "
            "boilerplate."))
    if data.get("pairs_path"):
        blocks.append(note_block(
            f"Every pair (not only those listed) is in {data['pairs_path']}."))
    texts = data.get("texts") or {}
    for key, score, label in (("pairs", "jaccard", "Near-duplicate pairs"),
                              ("ngram_overlap", "shared_ngrams", "Pairs sharing a long passage")):
        listed = data.get(key) or []
        if not listed:
            continue
        count = data.get("pair_count" if key == "pairs" else "ngram_pair_count", len(listed))
        shown = pairs_block(
            f"{label}: the {min(len(listed), PAIR_ROWS)} strongest, side by side",
            [(str(p.get("train_id")), str(p.get("eval_id")),
              f"Jaccard {fmt_num(p[score], 2)}" if key == "pairs" else
              f"{fmt_num(p[score])} shared 13-grams") for p in listed[:PAIR_ROWS]],
            texts, ("train", "eval"), ("train", "eval"))
        if shown:
            blocks.append(shown)
        blocks.append(table_block(["train id", "eval id", "Jaccard" if key == "pairs" else
                                   "shared 13-grams"],
                                  [[str(p.get("train_id")), str(p.get("eval_id")), p.get(score)]
                                   for p in listed[:MAX_ROWS]],
                                  title=f"{label} ({count:,}"
                                        + (f", the {len(listed):,} strongest listed)"
                                           if count > len(listed) else ")"),
                                  numeric=[False, False, True]))
    memo = data.get("memorization")
    if isinstance(memo, Mapping) and memo.get("histogram"):
        hist = memo["histogram"]
        counts = {"synthetic → its real sources": hist["synthetic"],
                  "unseen real → the same sources": hist["holdout"]}
        blocks.append(stats_block(
            ("median distance, synthetic", fmt_num(memo.get("synthetic_median")), ""),
            ("median distance, unseen real", fmt_num(memo.get("holdout_median")), ""),
            ("difference", fmt_num(memo.get("median_difference")),
             f"{fmt_ci(memo.get('median_difference_ci'))} p = {fmt_num(memo.get('p_value'), 4)}"),
            ("copied?", "yes" if memo.get("copied") else "no",
             f"copies: synthetic {fmt_pct(memo.get('copy_share_synthetic'))}, "
             f"unseen real {fmt_pct(memo.get('copy_share_holdout'))}"),
            ("no source within the threshold",
             f"{memo['censored_synthetic']:,} of {memo['synthetic_count']:,} synthetic",
             f"{memo['censored_holdout']:,} of {memo['holdout_count']:,} unseen real "
             "(distance censored at 1)")))
        blocks.append(chart_block(charts.histogram(
            hist["edges"], counts,
            title="Memorization: distance to the closest real source record",
            key="overlap-memo", xlabel="distance (1 − Jaccard; 1 = no source within "
                                       "the threshold)",
            colors=dict(zip(counts, (charts.SYNTHETIC, charts.REAL)))),
            "Synthetic data closer to the records it was made from than unseen real data is has "
            "copied them (a privacy leak when the real data is sensitive)."))
        close = [x for x in memo["synthetic"] if x.get("nearest_real_id") is not None]
        shown = pairs_block(
            "Memorization: the synthetic samples closest to a real source, side by side",
            [(str(x["id"]), str(x["nearest_real_id"]), f"distance {fmt_num(x['distance'])}")
             for x in close[:PAIR_ROWS]], texts, ("train", "eval"), ("synthetic", "real source"))
        if shown:
            blocks.append(shown)
    return blocks
