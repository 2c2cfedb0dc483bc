"""Deliberate mixing: a training set whose synthetic share is exactly the ratio asked for.

Rows are copied from a real and a synthetic dataset with every provenance field (origin,
generator, parents, generation, content hash) intact; the mix itself is recorded as a run.
The ratio is honoured exactly when the data allows it: with ratio ``p/q`` (in lowest terms) the
mix holds a multiple of ``q`` rows, ``p`` of every ``q`` synthetic. With ``by`` the same holds
inside every label (or domain). When the data is too short for the ratio, tether refuses and
says how many rows are needed and how many there are.

Example:
    >>> from tether import Store
    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("real", [{"text": f"real {i}", "label": "a"} for i in range(10)],
    ...                  origin="real", label_origin="real")
    ...     _ = s.ingest("syn", [{"text": f"syn {i}", "label": "a"} for i in range(10)],
    ...                  origin="synthetic", label_origin="synthetic", family="rule",
    ...                  generator="copy@1")
    ...     r = mix(s, "real", "syn", 0.3, "train")
    ...     (r.real, r.synthetic, r.share, s.summary("train").synthetic_share)
    (7, 3, 0.3, 0.3)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from tether.errors import InputError, StoreError
from tether.store import Store

#: Largest denominator a ratio is matched with: 0.3 → 3/10, 0.125 → 1/8, 0.333 → 333/1000.
MAX_DENOMINATOR = 1000
GROUP_FIELDS = ("label", "domain")


def round_half_up(x: float) -> int:
    """Round to the nearest integer, halves up (Python's ``round`` rounds halves to even)."""
    return math.floor(x + 0.5)


def _check_ratio(ratio: float) -> None:
    if not 0.0 <= ratio <= 1.0:
        raise InputError(f"the synthetic ratio must lie in [0, 1], got {ratio}", field="ratio")


def allocate(ratio: float, n_real: int, n_synthetic: int, *, size: int | None = None,
             cap: int | None = None, where: str = "") -> tuple[int, int]:
    """How many real and synthetic rows a mix at ``ratio`` takes: ``(real, synthetic)``.

    Without ``size``: the largest mix the data (and ``cap``) allows whose share is exactly the
    ratio. With ``size``: ``round(ratio * size)`` synthetic rows and the rest real. Raises
    :class:`InputError` naming what is needed and what is available when the data is short.

    >>> allocate(0.3, 100, 100)  # all 100 real rows would need 42.86 synthetic
    (98, 42)
    >>> allocate(0.25, 10, 100, size=8)
    (6, 2)
    """
    _check_ratio(ratio)
    at = f" ({where})" if where else ""
    if size is not None:
        if size < 1:
            raise InputError(f"the mix size must be at least 1, got {size}", field="size")
        syn = round_half_up(ratio * size)
        real = size - syn
        if syn > n_synthetic or real > n_real:
            raise InputError(
                f"not enough data for ratio {ratio:g} at size {size}{at}: needs {real} real and "
                f"{syn} synthetic rows, have {n_real} real and {n_synthetic} synthetic")
        return real, syn
    frac = Fraction(ratio).limit_denominator(MAX_DENOMINATOR)
    p, q = frac.numerator, frac.denominator
    limits = [n_synthetic // p if p else math.inf, n_real // (q - p) if q - p else math.inf]
    if cap is not None:
        limits.append(cap // q)
    units = min(limits)
    if units < 1:
        capped = f"; --cap-per-class {cap} is below {q}" if cap is not None and cap < q else ""
        raise InputError(
            f"not enough data for an exact synthetic share of {p}/{q}{at}: needs at least "
            f"{q - p} real and {p} synthetic rows, have {n_real} real and {n_synthetic} "
            f"synthetic{capped}; pass a size to accept a rounded share")
    return (q - p) * int(units), p * int(units)


@dataclass(frozen=True)
class GroupMix:
    """What one group (a label or a domain, or ``*`` for the whole mix) took."""

    group: str
    real: int
    synthetic: int
    available_real: int
    available_synthetic: int

    @property
    def share(self) -> float:
        total = self.real + self.synthetic
        return self.synthetic / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "share": self.share}


@dataclass(frozen=True)
class MixResult:
    """A finished mix: counts, the achieved synthetic share, and per-group detail."""

    dataset: str
    real_source: str
    synthetic_source: str
    ratio: float
    by: str | None
    seed: int
    real: int
    synthetic: int
    groups: list[GroupMix]
    run_id: str

    @property
    def size(self) -> int:
        return self.real + self.synthetic

    @property
    def share(self) -> float:
        return self.synthetic / self.size if self.size else 0.0

    @property
    def exact(self) -> bool:
        """Whether every group (and so the whole mix) holds exactly the ratio asked for."""
        return all(abs(g.share - self.ratio) < 1e-12 for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "real_source": self.real_source,
                "synthetic_source": self.synthetic_source, "ratio": self.ratio, "by": self.by,
                "seed": self.seed, "size": self.size, "real": self.real,
                "synthetic": self.synthetic, "share": self.share, "exact": self.exact,
                "groups": [g.to_dict() for g in self.groups], "run_id": self.run_id}


def _pool(store: Store, name: str, origin: str) -> list[dict[str, Any]]:
    """The rows of ``name`` as ingestable dicts (user fields expanded, provenance kept)."""
    rows = store.records(name)
    wrong = sum(1 for row in rows if row["origin"] != origin)
    if wrong:
        other = "synthetic" if origin == "real" else "real"
        raise InputError(f"dataset {name!r} holds {wrong} {other} rows; the {origin} side of a "
                         f"mix must be all {origin}", field=origin)
    return rows


def _group_key(row: Mapping[str, Any], by: str | None) -> str:
    if by is None:
        return "*"
    value = row.get(by)
    return "" if value is None else str(value)


def _targets(size: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Split ``size`` over groups in proportion to ``weights`` (largest remainder)."""
    total = sum(weights.values())
    if total == 0:
        raise InputError("no rows to mix")
    exact = {g: size * w / total for g, w in weights.items()}
    out = {g: math.floor(v) for g, v in exact.items()}
    for g in sorted(exact, key=lambda g: (out[g] - exact[g], g))[:size - sum(out.values())]:
        out[g] += 1
    return out


def plan(real: Sequence[Mapping[str, Any]], synthetic: Sequence[Mapping[str, Any]], ratio: float,
         *, by: str | None = None, cap_per_class: int | None = None, size: int | None = None,
         seed: int = 0) -> tuple[list[int], list[int], list[GroupMix]]:
    """Choose which rows a mix takes: indices into ``real`` and ``synthetic``, and group counts.

    Pure and deterministic in ``seed``; :func:`mix` writes what it chooses.

    >>> rows = [{"label": "a"}] * 10
    >>> r, s, groups = plan(rows, rows, 0.5, by="label")
    >>> (len(r), len(s), groups[0].share)
    (10, 10, 0.5)
    """
    _check_ratio(ratio)
    if by is not None and by not in GROUP_FIELDS:
        raise InputError(f"mix by {by!r}? expected one of {', '.join(GROUP_FIELDS)}", field="by")
    if cap_per_class is not None and by != "label":
        raise InputError("--cap-per-class caps the rows of each label, so it needs --by label",
                         field="cap_per_class")
    real_groups: dict[str, list[int]] = {}
    syn_groups: dict[str, list[int]] = {}
    for i, row in enumerate(real):
        real_groups.setdefault(_group_key(row, by), []).append(i)
    for i, row in enumerate(synthetic):
        syn_groups.setdefault(_group_key(row, by), []).append(i)
    keys = sorted(set(real_groups) | set(syn_groups))
    sizes: dict[str, int | None] = dict.fromkeys(keys)
    if size is not None:
        weights = {k: len((syn_groups if ratio == 1 else real_groups).get(k, [])) for k in keys}
        sizes = {k: v for k, v in _targets(size, weights).items() if v > 0}
        if cap_per_class is not None:
            sizes = {k: min(v, cap_per_class) for k, v in sizes.items()}
    rng = np.random.default_rng(seed)
    take_real: list[int] = []
    take_syn: list[int] = []
    groups = []
    for key in sizes:
        r_pool, s_pool = real_groups.get(key, []), syn_groups.get(key, [])
        where = f"{by} {key!r}" if by else ""
        n_r, n_s = allocate(ratio, len(r_pool), len(s_pool), size=sizes[key], cap=cap_per_class,
                            where=where)
        take_real += sorted(rng.choice(r_pool, n_r, replace=False).tolist()) if n_r else []
        take_syn += sorted(rng.choice(s_pool, n_s, replace=False).tolist()) if n_s else []
        groups.append(GroupMix(key, n_r, n_s, len(r_pool), len(s_pool)))
    return take_real, take_syn, groups


def mix(store: Store, real: str, synthetic: str, ratio: float, into: str, *,
        by: str | None = None, cap_per_class: int | None = None, size: int | None = None,
        seed: int = 0) -> MixResult:
    """Write dataset ``into``: rows of ``real`` and ``synthetic`` at synthetic share ``ratio``.

    ``by="label"`` or ``by="domain"`` makes the share exact within every group;
    ``cap_per_class`` (with ``by="label"``) caps the rows of each label; ``size`` fixes the total
    (the share is then rounded). Sampling is deterministic in ``seed``. Every row keeps its id
    and provenance; the mix is recorded as a run of kind ``mix``.

    Example:
        >>> # mix(store, "bbc-real", "bbc-typos", 0.3, "train", by="label").share  → 0.3
    """
    if store.has_dataset(into):
        raise InputError(f"dataset {into!r} already exists; mix into a new dataset so that its "
                         "share is exactly the one asked for", field="into")
    real_rows = _pool(store, real, "real")
    known = {row["content_hash"] for row in real_rows}
    # content already among the real rows would be skipped as a duplicate: leave it out up front
    syn_rows = [row for row in _pool(store, synthetic, "synthetic")
                if row["content_hash"] not in known]
    take_real, take_syn, groups = plan(real_rows, syn_rows, ratio, by=by,
                                       cap_per_class=cap_per_class, size=size, seed=seed)
    rows = [real_rows[i] for i in take_real] + [syn_rows[i] for i in take_syn]
    text_field = "text" if any(row.get("text") is not None for row in rows) else None
    if text_field is None:
        rows = [{k: v for k, v in row.items() if k != "text"} for row in rows]
    run_id = store.start_run("mix", into, seed=seed, params={
        "real": real, "synthetic": synthetic, "ratio": ratio, "by": by,
        "cap_per_class": cap_per_class, "size": size})
    try:
        written = store.ingest(into, rows, text_field=text_field, run_id=run_id)
        if written.added != len(rows):
            raise StoreError(f"the mix wrote {written.added} of {len(rows)} rows "
                             f"({written.skipped_duplicates} duplicate contents)")
    except BaseException:
        store.finish_run(run_id, status="failed")
        raise
    store.finish_run(run_id)
    if by is not None:
        groups = [GroupMix("*", len(take_real), len(take_syn), len(real_rows), len(syn_rows)),
                  *groups]
    return MixResult(into, real, synthetic, ratio, by, seed, len(take_real), len(take_syn),
                     groups, run_id)
