"""Audits: how far synthetic data is from reality, and how wrong the generator is.

Each audit is a pure function returning a frozen result with ``to_dict()``, plus an
``audit_*(store, ...)`` wrapper that loads the datasets and saves the result in the store.
Names are imported on first use, so ``tether.audit.minhash`` (the batch transform a distributed
engine ships to its workers) does not pull in scikit-learn or cleanlab.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "signatures": "minhash", "lsh_params": "minhash", "band_keys": "minhash",
    "HashIndex": "minhash",
    "find_overlap": "overlap", "memorization": "overlap", "audit_overlap": "overlap",
    "OverlapResult": "overlap", "MemorizationResult": "overlap",
    "label_issues": "labels", "audit_labels": "labels", "LabelIssuesResult": "labels",
    "generator_audit": "generator", "audit_generator": "generator",
    "GeneratorAuditResult": "generator",
    # mirage, coverage, diversity, faithfulness and style are also module names: import those functions
    # from their modules (tether.audit.mirage.mirage); the package exports the rest
    "mirage_table": "mirage", "c2st": "mirage", "audit_mirage": "mirage",
    "MirageResult": "mirage", "C2ST": "mirage",
    "compare_profiles": "profile", "text_profile": "profile", "ProfileComparison": "profile",
    "coverage_points": "coverage", "audit_coverage": "coverage", "CoverageResult": "coverage",
    "audit_diversity": "diversity", "DiversityResult": "diversity",
    "audit_faithfulness": "faithfulness", "FaithfulnessResult": "faithfulness",
    "style_features": "style", "compare_style": "style", "audit_style": "style",
    "StyleResult": "style",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tether.audit' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tether.audit.{_EXPORTS[name]}"), name)
