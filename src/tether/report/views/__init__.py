"""One view per result kind: ``tether.report.views.<kind>`` renders that kind's section.

A view module has ``render(data) -> blocks`` (``data`` is the saved result's JSON form, the
report's JSON twin), ``REQUIRED``: the keys without which the section is shown as incomplete,
optionally ``SAMPLE_IDS``: keys whose values are sample ids the report should show with
their texts, and ``SAMPLE_REFS``: paths to the sample ids the result names (``pairs.*.eval_id``)
mapped to the parameter naming their dataset (:mod:`tether.report.evidence`). The report finds a kind's view by the kind's name; nothing else lists them.

Example:
    >>> required("mirage")
    ('c2st_auc', 'auc_ci')
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")


def view(name: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """The ``render`` function of the kind (or ``provenance``) called ``name``."""
    return _module(name).render


def required(name: str) -> tuple[str, ...]:
    """The result keys the view of ``name`` cannot do without."""
    return tuple(getattr(_module(name), "REQUIRED", ()))


def sample_id_keys(name: str) -> tuple[str, ...]:
    """The result keys of ``name`` that hold sample ids to show with their texts."""
    return tuple(getattr(_module(name), "SAMPLE_IDS", ()))


def sample_refs(name: str) -> dict[str, str | None]:
    """The paths of ``name``'s result that hold sample ids, each with the parameter naming the
    dataset that holds them (None: any dataset)."""
    return dict(getattr(_module(name), "SAMPLE_REFS", {}))
