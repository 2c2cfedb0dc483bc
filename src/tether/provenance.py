"""The provenance vocabulary: which fields tether owns and which values they may take.

A sample is the user's own fields (``text``, ``label``, anything else) plus the provenance
fields below. ``generation`` and ``content_hash`` are derived by the store, never typed in.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

ORIGINS = ("real", "synthetic")
LABEL_ORIGINS = ("real", "synthetic")
FAMILIES = ("model", "rule", "simulation")

#: Provenance fields, in the order they are stored and exported.
PROVENANCE_FIELDS = (
    "id",
    "origin",
    "label_origin",
    "family",
    "generator",
    "generator_config",
    "config_hash",
    "created_at",
    "domain",
    "task",
    "parents",
    "generation",
    "content_hash",
    "run_id",
)
#: Fields the user may give per row or as a default for a whole ingest.
GIVEN_FIELDS = ("origin", "label_origin", "family", "generator", "generator_config", "domain", "task")
#: Fields the store derives; a file may carry them only if they agree with the derived value.
DERIVED_FIELDS = ("config_hash", "generation", "content_hash", "run_id")

_GENERATOR_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same value always gives the same text.

    >>> canonical_json({"b": 1, "a": [1, 2]})
    '{"a":[1,2],"b":1}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def config_hash(config: dict[str, Any] | None) -> str | None:
    """Short stable hash of a generator configuration (``None`` for no configuration).

    >>> config_hash({"rate": 0.1}) == config_hash({"rate": 0.1})
    True
    """
    if config is None:
        return None
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:16]


def check_generator(value: str) -> str:
    """Return ``value`` if it reads ``name@version``, else raise ``ValueError``.

    >>> check_generator("typos@1.0")
    'typos@1.0'
    """
    if not _GENERATOR_RE.match(value):
        raise ValueError(f"generator must read name@version, got {value!r}")
    return value
