"""Diversity and feedback loops: is each generation of synthetic data poorer than the last?

For each group of samples (per ``generation``, per generator, and over time by ``created_at``)
the audit measures, on random draws of the same number of tokens (so group sizes do not bias
them): distinct-1 and distinct-2 (distinct n-grams / n-grams), the zlib compression ratio of the
text (compressed / raw bytes; lower = more repetitive), the vocabulary tail mass (share of tokens
from words outside the draw's ``top_k`` most frequent) and the embedding spread (mean pairwise
cosine distance in a TF-IDF → SVD space fitted on the whole dataset, or on a uniform sample of
``fit_max`` texts when it is larger). Each value is the mean of
``draws`` random draws without replacement, with the 2.5–97.5% range of the draws as its
interval (a subsampling interval: the variability of a fixed-size draw from the group).

A warning fires for an ordered grouping (generations, time) when a metric falls significantly
in one step (the later interval entirely below the earlier one), or falls step after step for
at least two steps with the end of that run significantly below its start.

Example:
    >>> texts = [f"story {i} about topic {i % 7} and more words {i * 3}" for i in range(200)]
    >>> r = diversity(texts, generations=[0] * 100 + [1] * 100, draws=5)
    >>> [g.group for g in r.by_generation], r.warnings
    (['0', '1'], [])
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np

from tether.audit._load import field_name, field_params, field_table, plain
from tether.audit.features import svd_embedding
from tether.audit.profile import tokens
from tether.errors import InputError
from tether.results import Result
from tether.stats import percentile
from tether.store import Store

METRICS = ("distinct_1", "distinct_2", "compression_ratio", "tail_mass", "spread")


@dataclass(frozen=True)
class GroupDiversity:
    """The metrics of one group: ``{metric: {"value", "ci"}}`` over ``tokens``-token draws
    (``ci`` a percentile :class:`~tether.stats.Interval` over the draws)."""

    group: str
    n: int
    tokens: int
    metrics: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class DiversityResult(Result):
    """The diversity audit. ``to_dict()`` is the ``tether audit diversity --json`` contract."""

    by_generation: list[GroupDiversity]
    by_generator: list[GroupDiversity]
    over_time: list[GroupDiversity]
    warnings: list[str]
    method: str
    field: str = "text"

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


def _draw_metrics(texts: list[str], idx: np.ndarray, Z: np.ndarray, budget: int,
                  top_k: int, spread_sample: int, rng: np.random.Generator) -> dict[str, float]:
    """The metrics of one draw of ``budget`` tokens from the texts ``idx`` (tokenized here, as
    drawn: a draw reads a few hundred texts, and holding the tokens of every text costs
    gigabytes at a million)."""
    words: list[str] = []
    bigrams: set[tuple[str, str]] = set()
    n_bigrams = 0
    chosen = []
    for i in idx[rng.permutation(idx.size)]:
        take = tokens(texts[i])[:budget - len(words)]
        words += take
        bigrams.update(zip(take, take[1:]))
        n_bigrams += max(len(take) - 1, 0)
        chosen.append(i)
        if len(words) >= budget:
            break
    counts = Counter(words)
    head = sum(c for _, c in counts.most_common(top_k))
    data = " ".join(words).encode()
    E = Z[chosen[:spread_sample]]
    m = len(E)
    spread = (1 - (E @ E.T).sum() / (m * m)) * m / (m - 1) if m > 1 else np.nan
    return {"distinct_1": len(counts) / len(words),
            "distinct_2": len(bigrams) / n_bigrams if n_bigrams else np.nan,
            "compression_ratio": len(zlib.compress(data, 9)) / len(data),
            "tail_mass": 1 - head / len(words), "spread": float(spread)}


def _grouping(keys: Sequence[str], texts: list[str], lengths: np.ndarray, Z: np.ndarray,
              order: list[str], budget: int, draws: int, top_k: int, spread_sample: int,
              rng: np.random.Generator) -> list[GroupDiversity]:
    key_array = np.asarray(keys, dtype=object)
    members = {g: np.flatnonzero(key_array == g) for g in order}
    totals = {g: int(lengths[idx].sum()) for g, idx in members.items()}
    # half the smallest group, so that draws from every group vary
    size = min(budget, max(1, min(totals.values()) // 2))
    out = []
    for g in order:
        idx = members[g]
        if totals[g] == 0:
            continue
        runs = [_draw_metrics(texts, idx, Z, size, top_k, spread_sample, rng)
                for _ in range(draws)]
        metrics = {m: {"value": float(np.nanmean([r[m] for r in runs])),
                       "ci": percentile([r[m] for r in runs])} for m in METRICS}
        out.append(GroupDiversity(group=g, n=len(idx), tokens=size, metrics=metrics))
    return out


def falling(groups: Sequence[GroupDiversity], what: str) -> list[str]:
    """Warnings for metrics that fall along ordered ``groups`` (see the module docstring)."""
    out = []
    for m in METRICS:
        vals = [g.metrics[m]["value"] for g in groups]
        lo = [g.metrics[m]["ci"][0] for g in groups]
        hi = [g.metrics[m]["ci"][1] for g in groups]
        drops = [j for j in range(len(vals) - 1) if hi[j + 1] < lo[j]]
        start = 0
        runs = []
        for j in range(1, len(vals) + 1):
            if j == len(vals) or not vals[j] < vals[j - 1]:
                if j - 1 - start >= 2 and hi[j - 1] < lo[start]:
                    runs.append((start, j - 1))
                start = j
        if runs:
            a, b = runs[0]
            path = " -> ".join(f"{v:.3g}" for v in vals[a:b + 1])
            out.append(f"{m} falls {what} after {what}: {path} "
                       f"({groups[a].group} -> {groups[b].group})")
        elif drops:
            j = drops[0]
            out.append(f"{m} drops significantly from {what} {groups[j].group} to "
                       f"{groups[j + 1].group}: {vals[j]:.3g} -> {vals[j + 1]:.3g}")
    return out


def _time_bins(created_at: Sequence[Any], bins: int) -> tuple[list[str], list[str]]:
    stamps = [c if isinstance(c, datetime) else datetime.fromisoformat(str(c)) for c in created_at]
    order = np.argsort(np.array([s.timestamp() for s in stamps]), kind="stable")
    edges = np.array_split(order, min(bins, len(set(stamps))))
    keys = [""] * len(stamps)
    for part in edges:
        name = min(stamps[i] for i in part).isoformat(timespec="seconds")
        for i in part:
            keys[i] = name
    # bins that start at the same instant merge
    return keys, list(dict.fromkeys(keys[i] for i in order))


def diversity(texts: Sequence[str], *, generations: Sequence[int] | None = None,
              generators: Sequence[str | None] | None = None,
              created_at: Sequence[Any] | None = None, budget: int = 20_000, draws: int = 20,
              top_k: int = 100, spread_sample: int = 200, time_bins: int = 5,
              fit_max: int = 20_000, seed: int = 0) -> DiversityResult:
    """Diversity per generation, per generator and over time (see the module docstring). The
    embedding for the spread is fitted on at most ``fit_max`` texts drawn uniformly, then
    applied to all in batches."""
    raw = [t or "" for t in texts]
    if not raw:
        raise InputError("no texts to measure")
    lengths = np.fromiter((len(tokens(t)) for t in raw), dtype=np.int64, count=len(raw))
    Z = svd_embedding(raw, seed=seed, fit_max=fit_max)
    rng = np.random.default_rng(seed)
    common = dict(budget=budget, draws=draws, top_k=top_k, spread_sample=spread_sample, rng=rng)
    by_gen, by_generator, over_time, warnings = [], [], [], []
    if generations is not None:
        keys = [str(int(g)) for g in generations]
        order = [str(g) for g in sorted({int(g) for g in generations})]
        by_gen = _grouping(keys, raw, lengths, Z, order, **common)
        warnings += falling(by_gen, "generation")
    if generators is not None:
        keys = [g or "(none)" for g in generators]
        by_generator = _grouping(keys, raw, lengths, Z, sorted(set(keys)), **common)
    if created_at is not None and len(set(map(str, created_at))) > 1:
        keys, order = _time_bins(created_at, time_bins)
        over_time = _grouping(keys, raw, lengths, Z, order, **common)
        warnings += falling(over_time, "time bin")
    return DiversityResult(
        by_generation=by_gen, by_generator=by_generator, over_time=over_time,
        warnings=warnings,
        method=(f"distinct-1/2, zlib compression ratio, tail mass outside the top {top_k} words "
                f"and embedding spread (mean pairwise cosine distance, TF-IDF -> SVD fitted on up to "
                f"{fit_max:,} texts, up to {spread_sample} texts per draw) on {draws} random draws of equal token count per group "
                "(half the smallest group's tokens, at most "
                f"{budget}); intervals: 2.5-97.5% of the draws"))


def audit_diversity(store: Store, dataset: str, *, field: str = "text",
                    turns: str | None = None, **options: Any) -> DiversityResult:
    """Run :func:`diversity` on a dataset of the store and save the result (kind
    ``diversity``). ``field`` (``turns`` of a ``messages`` field) is the text measured;
    ``options`` go to :func:`diversity`."""
    t = field_table(store, dataset, field, turns)
    result = diversity(t.column("text").to_pylist(),
                       generations=t.column("generation").to_pylist(),
                       generators=t.column("generator").to_pylist(),
                       created_at=t.column("created_at").to_pylist(), **options)
    result = replace(result, field=field_name(field, turns))
    store.save_result(result, {"dataset": dataset,
                                                     **field_params(field, turns), **options})
    return result
