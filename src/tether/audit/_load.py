"""Load one side of an audit (ids, texts, labels, user fields) from the store.

Example:
    >>> from tether import Store
    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("d", [{"id": "a", "text": "hi"}], origin="real")
    ...     load_side(s, "d").texts
    ['hi']
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from tether.errors import InputError
from tether.store import Store


@dataclass(frozen=True)
class Side:
    """The samples of one side: parallel lists of ids, texts, labels, user fields, parents."""

    name: str
    ids: list[str]
    texts: list[str | None]
    labels: list[str | None]
    fields: list[dict[str, Any]]
    parents: list[list[str]]

    @property
    def has_text(self) -> bool:
        return any(t is not None for t in self.texts)

    @cached_property
    def numeric(self) -> dict[str, np.ndarray]:
        """User fields that are numbers in every sample, as float arrays."""
        keys = set.intersection(*(set(f) for f in self.fields)) if self.fields else set()
        return {k: np.array([f[k] for f in self.fields], dtype=float) for k in sorted(keys)
                if all(isinstance(f[k], (int, float)) and not isinstance(f[k], bool)
                       for f in self.fields)}


def load_side(store: Store, dataset: str, origin: str | None = None) -> Side:
    """Samples of ``dataset`` (only those of ``origin`` when given), in insertion order."""
    table = store.table(dataset, "origin = ?" if origin else None, [origin] if origin else None)
    if table.num_rows == 0:
        raise InputError(f"dataset {dataset!r} has no {origin + ' ' if origin else ''}samples")
    return Side(dataset, [str(i) for i in table.column("id").to_pylist()],
                table.column("text").to_pylist(), table.column("label").to_pylist(),
                [json.loads(f) if f else {} for f in table.column("fields").to_pylist()],
                [list(p or []) for p in table.column("parents").to_pylist()])


def load_pair(store: Store, real: str, synthetic: str) -> tuple[Side, Side]:
    """The real and the synthetic side: two datasets as they are, or one dataset split by
    ``origin`` when both names are the same."""
    if real == synthetic:
        return load_side(store, real, "real"), load_side(store, synthetic, "synthetic")
    return load_side(store, real), load_side(store, synthetic)
