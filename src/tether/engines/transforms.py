"""The heavy transforms as batch functions: generators (rule perturbations, simulated users,
any :class:`~tether.generate.base.Generator`), MinHash signatures and profile statistics.

Generator output carries every provenance column, with ``content_hash`` and ``id`` derived as
the store's ingest derives them (:func:`tether.store.content_hashes` and
:func:`tether.store.derived_ids`, the same SQL over the Arrow batch), so a Parquet folder written
here ingests into a store with the same hashes and ids, or stays outside it with its provenance
intact.

Example:
    >>> import pyarrow as pa
    >>> fn = perturb_transform("typos=0.1", seed=0, run_id="r0")
    >>> out = fn(pa.table({"id": ["a"], "text": ["hello world"], "label": ["x"]}))
    >>> out.column("parents").to_pylist(), out.column("generation").to_pylist()
    ([['a']], [1])
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tether.audit import minhash
from tether.audit.profile import STATS, text_profile
from tether.engines.base import Aggregate, Batch, Transform, require_columns
from tether.errors import InputError
from tether.generate.base import Failure, Generator
from tether.generate.perturb import PerturbGenerator, Pipeline
from tether.generate.simulate import SimulatedUsers, UserProfile
from tether.provenance import PROVENANCE_FIELDS, canonical_json, config_hash
from tether.stats import Z95, Interval, finite
from tether.store import content_hashes, derived_ids

#: Arrow types of the provenance columns a generator transform writes
PROVENANCE_TYPES: dict[str, pa.DataType] = {
    "origin": pa.string(), "label_origin": pa.string(), "family": pa.string(),
    "generator": pa.string(), "generator_config": pa.string(), "config_hash": pa.string(),
    "created_at": pa.timestamp("us"), "domain": pa.string(), "task": pa.string(),
    "parents": pa.list_(pa.string()), "generation": pa.int32(), "content_hash": pa.string(),
    "run_id": pa.string(),
}


def _string_typed(t: pa.DataType) -> pa.DataType:
    """An all-null column's type made concrete (so every batch writes one schema)."""
    if pa.types.is_null(t):
        return pa.string()
    if pa.types.is_list(t) and pa.types.is_null(t.value_type):
        return pa.list_(pa.string())
    return t


class GeneratorTransform(Transform):
    """Any generator as a batch function: seed rows in, new samples with provenance out.

    Each seed row's ``label_origin`` is read from the data; rows of a file without provenance
    are taken as real seeds (``generation`` 0) whose labels have ``label_origin`` (default
    ``real``). Children get ``generation`` = parent's + 1, the parent's ``domain`` and ``task``,
    ``created_at`` and ``run_id`` of this run, and ``id`` derived from the content as the store
    derives it. Failures the generator yields are not data: they are dropped here (``tether
    generate`` through a store records them on the run).

    Example:
        >>> from tether.generate.perturb import Pipeline, PerturbGenerator
        >>> fn = GeneratorTransform(PerturbGenerator(Pipeline.parse("drops=1")), seed=0)
        >>> fn(pa.table({"id": ["a"], "text": ["xy"]})).column("text").to_pylist()
        ['']
    """

    def __init__(self, generator: Generator, seed: int, *, run_id: str | None = None,
                 label_origin: str = "real", created_at: datetime | None = None) -> None:
        self.generator = generator
        self.seed = int(seed)
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.label_origin = label_origin
        self.created_at = created_at or datetime.now(timezone.utc).replace(tzinfo=None)
        self.config_json = canonical_json(generator.config())
        self.config_hash = config_hash(generator.config())
        self.name = generator.name

    def record(self) -> dict[str, Any]:
        return {"generator": self.generator.ref, "config": self.generator.config(),
                "seed": self.seed, "run_id": self.run_id}

    def __call__(self, batch: Batch) -> pa.Table:
        require_columns(batch, "id", "text")
        seeds = batch.to_pylist()
        for row in seeds:
            if row.get("label") is not None and not row.get("label_origin"):
                row["label_origin"] = self.label_origin
        by_id = {str(row["id"]): row for row in seeds}
        made = [s for s in self.generator.generate(seeds, self.seed) if not isinstance(s, Failure)]
        user = pa.Table.from_pylist(
            [{k: v for k, v in s.items() if k not in PROVENANCE_FIELDS} for s in made])
        if not made:  # every item failed: an empty table (engines write no rows for it)
            user = pa.table({"text": pa.array([], pa.string())})
        user = self._typed(user, batch.schema)
        parents = [[str(p) for p in s["parents"]] for s in made]

        def inherited(field: str) -> list[Any]:
            return [by_id[p[0]].get(field) if p and p[0] in by_id else None for p in parents]

        # the store's rule: 1 + max(parent generation); seeds without the field are real (0)
        generation = [1 + max((by_id.get(p, {}).get("generation") or 0 for p in ps), default=0)
                      for ps in parents]
        n = len(made)
        columns = {
            "origin": [s.get("origin", "synthetic") for s in made],
            "label_origin": [s.get("label_origin") for s in made],
            "family": [self.generator.family] * n, "generator": [self.generator.ref] * n,
            "generator_config": [self.config_json] * n, "config_hash": [self.config_hash] * n,
            "created_at": [self.created_at] * n, "domain": inherited("domain"),
            "task": inherited("task"), "parents": parents, "generation": generation,
        }
        for name, values in columns.items():
            user = user.append_column(pa.field(name, PROVENANCE_TYPES[name]),
                                      pa.array(values, PROVENANCE_TYPES[name]))
        hashes = content_hashes(user)
        out = user.add_column(0, "id", derived_ids(hashes, user.column("parents")))
        out = out.append_column("content_hash", hashes.cast(pa.string()))
        return out.append_column("run_id", pa.array([self.run_id] * n, pa.string()))

    @staticmethod
    def _typed(user: pa.Table, seed_schema: pa.Schema) -> pa.Table:
        """User fields in the seed's types where the seed has them, all-null columns as text."""
        fields = []
        for f in user.schema:
            if f.name in seed_schema.names:
                fields.append(pa.field(f.name, seed_schema.field(f.name).type))
            else:
                fields.append(pa.field(f.name, _string_typed(f.type)))
        return user.cast(pa.schema(fields))


def perturb_transform(ops: str | Pipeline, seed: int, *, n_per_seed: int = 1,
                      **kwargs: Any) -> GeneratorTransform:
    """Rule perturbations (``"typos=0.05,casing=0.1"``) as a batch function; each row's
    randomness is ``row_rng(seed, id)``, so the texts equal
    :func:`~tether.generate.perturb.perturb_texts` of the same ids and seed."""
    pipe = ops if isinstance(ops, Pipeline) else Pipeline.parse(ops)
    return GeneratorTransform(PerturbGenerator(pipe, n_per_seed), seed, **kwargs)


def simulate_users_transform(profile: UserProfile, seed: int, *, fitted_on: str | None = None,
                             **kwargs: Any) -> GeneratorTransform:
    """Simulated users (a fitted :class:`~tether.generate.simulate.UserProfile`) as a batch
    function."""
    return GeneratorTransform(SimulatedUsers(profile, fitted_on), seed, **kwargs)


class MinHashTransform(Transform):
    """MinHash signatures (:func:`tether.audit.minhash.signatures`) as a batch function: ``id``
    and ``signature`` (``num_perm`` uint32 values) per row.

    >>> fn = MinHashTransform(num_perm=16)
    >>> fn(pa.table({"id": ["a"], "text": ["some text"]})).schema.field("signature").type
    FixedSizeListType(fixed_size_list<item: uint32>[16])
    """

    name = "minhash"

    def __init__(self, num_perm: int = 128, ngram: int = 5, seed: int = 1, unit: str = "char",
                 text_field: str = "text", id_field: str = "id") -> None:
        if num_perm < 1 or ngram < 1:
            raise InputError("num_perm and ngram must be at least 1", field="num_perm")
        self.num_perm, self.ngram, self.seed, self.unit = num_perm, ngram, seed, unit
        self.text_field, self.id_field = text_field, id_field

    def record(self) -> dict[str, Any]:
        return {"config": {"num_perm": self.num_perm, "ngram": self.ngram, "unit": self.unit},
                "seed": self.seed}

    def __call__(self, batch: Batch) -> pa.Table:
        require_columns(batch, self.id_field, self.text_field)
        texts = batch.column(self.text_field).to_pylist()
        sig = minhash.signatures(texts, num_perm=self.num_perm, ngram=self.ngram, seed=self.seed,
                                 unit=self.unit)
        values = pa.array(sig.reshape(-1), pa.uint32())
        return pa.table({"id": batch.column(self.id_field).cast(pa.string()),
                         "signature": pa.FixedSizeListArray.from_arrays(values, self.num_perm)})


# ------------------------------------------------------------------------- profile statistics
#: per-text statistics that a batch can compute alone (``duplicate`` needs every earlier text,
#: ``oov_rate`` a word list: both stay with the in-memory mirage audit)
BATCH_STATS = tuple(s for s in STATS if s not in ("duplicate", "oov_rate"))


@dataclass(frozen=True)
class StatSummary:
    """One statistic over all texts: how many were defined, mean with its normal (CLT)
    interval, standard deviation, min and max."""

    n: int
    mean: float | None
    mean_ci: Interval
    std: float | None
    min: float | None
    max: float | None


@dataclass(frozen=True)
class ProfileSummary:
    """Profile statistics of a whole dataset, combined from per-batch partial aggregates."""

    count: int
    stats: dict[str, StatSummary]
    labels: dict[str, int]
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count,
                "stats": {k: vars(v) | {"mean_ci": v.mean_ci.to_dict()}
                          for k, v in self.stats.items()},
                "labels": dict(self.labels), "method": self.method}


def combine_moments(n: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> tuple[int, float, float]:
    """Pool per-part counts, means and sums of squared deviations (Chan, Golub & LeVeque 1979):
    the total count, mean and ``m2`` equal those of the concatenated parts.

    >>> combine_moments(np.array([2, 1]), np.array([1.0, 4.0]), np.array([2.0, 0.0]))
    (3, 2.0, 8.0)
    """
    keep = n > 0
    n, mean, m2 = n[keep], mean[keep], m2[keep]
    total = int(n.sum())
    if total == 0:
        return 0, float("nan"), float("nan")
    grand = float((n * mean).sum() / total)
    return total, grand, float((m2 + n * (mean - grand) ** 2).sum())


class ProfileAggregate(Aggregate):
    """Profile statistics (:func:`tether.audit.profile.text_profile`) as a map-reduce aggregate:
    per batch, each statistic's count, mean, sum of squared deviations, min and max, and the
    label counts; combined exactly (the pooled moments equal those of one pass).

    >>> agg = ProfileAggregate()
    >>> t = pa.table({"text": ["a b", "c d e"], "label": ["x", "y"]})
    >>> agg.combine(agg.partial(t)).stats["words"].mean
    2.5
    """

    name = "profile"

    def __init__(self, text_field: str = "text", label_field: str = "label") -> None:
        self.text_field, self.label_field = text_field, label_field

    def partial(self, batch: Batch) -> pa.Table:
        require_columns(batch, self.text_field)
        profile = text_profile(batch.column(self.text_field).to_pylist())
        rows = {"kind": [], "key": [], "n": [], "mean": [], "m2": [], "min": [], "max": []}

        def add(kind: str, key: str, n: int, mean: float, m2: float, lo: float, hi: float) -> None:
            for col, value in zip(rows, (kind, key, n, mean, m2, lo, hi)):
                rows[col].append(value)

        for stat in BATCH_STATS:
            v = profile[stat][np.isfinite(profile[stat])]
            if v.size:
                add("stat", stat, int(v.size), float(v.mean()), float(((v - v.mean()) ** 2).sum()),
                    float(v.min()), float(v.max()))
        add("rows", "", batch.num_rows, 0.0, 0.0, 0.0, 0.0)
        if self.label_field in batch.schema.names:
            counts = pc.value_counts(batch.column(self.label_field).cast(pa.string()))
            for item in counts.to_pylist():
                if item["values"] is not None:
                    add("label", item["values"], item["counts"], 0.0, 0.0, 0.0, 0.0)
        return pa.table(rows, schema=pa.schema([
            ("kind", pa.string()), ("key", pa.string()), ("n", pa.int64()),
            ("mean", pa.float64()), ("m2", pa.float64()), ("min", pa.float64()),
            ("max", pa.float64())]))

    def combine(self, partials: pa.Table) -> ProfileSummary:
        data = partials.to_pydict()
        kind = np.array(data["kind"], dtype=object)
        key = np.array(data["key"], dtype=object)
        cols = {c: np.asarray(data[c], dtype=float) for c in ("n", "mean", "m2", "min", "max")}
        stats: dict[str, StatSummary] = {}
        for stat in BATCH_STATS:
            at = (kind == "stat") & (key == stat)
            n, mean, m2 = combine_moments(cols["n"][at].astype(np.int64), cols["mean"][at],
                                          cols["m2"][at])
            std = float(np.sqrt(m2 / (n - 1))) if n > 1 else float("nan")
            half = Z95 * std / np.sqrt(n) if n > 1 else 0.0
            stats[stat] = StatSummary(
                n, finite(mean), Interval(mean - half, mean + half, 0.95, "normal"), finite(std),
                finite(cols["min"][at].min()) if n else None,
                finite(cols["max"][at].max()) if n else None)
        labels: dict[str, int] = {}
        for k, c in zip(key[kind == "label"], cols["n"][kind == "label"]):
            labels[k] = labels.get(k, 0) + int(c)
        return ProfileSummary(int(cols["n"][kind == "rows"].sum()), stats,
                              dict(sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))),
                              "per-text statistics of tether.audit.profile; means with normal "
                              "(CLT) 95% intervals; moments pooled over batches (Chan et al.)")
