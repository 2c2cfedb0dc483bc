"""Compare a report with an earlier one (its JSON twin): the verdicts that flipped and the
estimates whose intervals no longer overlap.

An estimate is any number in a section's data beside its interval: ``{"estimate": x, "ci":
[lo, hi]}``, ``c2st_auc`` with ``auc_ci``, ``precision`` with ``precision_ci``, ``flip_rate``
with ``flip_ci`` … (the key without ``_ci``, or with ``_rate`` or ``c2st_`` added). Both reports
find it at the same path (list items matched by their ``suite``/``name``/``ratio``/… when they
have one, else by position). Disjoint intervals are a change; overlapping ones are not, however
far the point estimates moved. A report (or section) without ``verdicts`` has none to flip.

Example:
    >>> old = {"sections": [{"key": "mirage", "data": {"c2st_auc": 0.6, "auc_ci": [0.55, 0.65]},
    ...        "verdicts": [{"kind": "mirage", "check": "detectable", "level": "pass"}]}]}
    >>> new = {"sections": [{"key": "mirage", "data": {"c2st_auc": 0.95, "auc_ci": [0.93, 0.97]},
    ...        "verdicts": [{"kind": "mirage", "check": "detectable", "level": "fail"}]}]}
    >>> c = compare_reports(old, new)
    >>> [(f.check, f.old, f.new) for f in c.flips], [s.path for s in c.shifts]
    ([('detectable', 'pass', 'fail')], ['c2st_auc'])
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.errors import InputError

#: Keys that name a list item (matched across the two reports by it, not by position).
ITEM_KEYS = ("suite", "name", "kind", "group", "ratio", "rate", "at_generator", "generation",
             "generator", "label", "feature", "metric", "cluster")
#: Keys never compared (verdicts are compared on their own; texts and records are evidence).
SKIP = frozenset({"verdicts", "texts", "records"})


@dataclass(frozen=True)
class VerdictFlip:
    """A verdict (``section``, its ``check``) whose level went from ``old`` to ``new``."""

    section: str
    check: str
    old: str
    new: str
    finding: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"section": self.section, "check": self.check, "old": self.old, "new": self.new,
                "finding": self.finding}


@dataclass(frozen=True)
class IntervalShift:
    """An estimate at ``path`` in ``section`` whose interval no longer overlaps the earlier one."""

    section: str
    path: str
    old: float
    old_ci: tuple[float, float]
    new: float
    new_ci: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"section": self.section, "path": self.path, "old": self.old,
                "old_ci": list(self.old_ci), "new": self.new, "new_ci": list(self.new_ci)}


@dataclass(frozen=True)
class BaselineComparison:
    """What changed since the report ``baseline`` (generated ``baseline_generated_at``).

    >>> c = BaselineComparison("old.json", None, (VerdictFlip("eval", "inflation", "pass",
    ...                        "warn"),), ())
    >>> BaselineComparison.from_dict(c.to_dict()) == c, c.changed_sections
    (True, ('eval',))
    """

    baseline: str
    baseline_generated_at: str | None
    flips: tuple[VerdictFlip, ...]
    shifts: tuple[IntervalShift, ...]

    @property
    def changed(self) -> bool:
        return bool(self.flips or self.shifts)

    @property
    def changed_sections(self) -> tuple[str, ...]:
        """Sections with a change, in the order their changes are listed."""
        return tuple(dict.fromkeys([f.section for f in self.flips]
                                   + [s.section for s in self.shifts]))

    def to_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "baseline_generated_at": self.baseline_generated_at,
                "changed": self.changed, "flips": [f.to_dict() for f in self.flips],
                "shifts": [s.to_dict() for s in self.shifts]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaselineComparison:
        return cls(data["baseline"], data.get("baseline_generated_at"),
                   tuple(VerdictFlip(**f) for f in data.get("flips") or ()),
                   tuple(IntervalShift(**{**s, "old_ci": tuple(s["old_ci"]),
                                          "new_ci": tuple(s["new_ci"])})
                         for s in data.get("shifts") or ()))


def load_baseline(path: str | Path) -> dict[str, Any]:
    """The JSON twin of an earlier report (``tether report --json-out``), checked for shape."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no baseline report at {path}: pass the JSON twin an earlier "
                         "`tether report --json-out` wrote", path=str(path)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"baseline {path} is not JSON ({exc}): pass the JSON twin (--json-out) "
                         "of an earlier report, not its HTML page", path=str(path),
                         line=getattr(exc, "lineno", None)) from None
    if not isinstance(data, dict) or not isinstance(data.get("sections"), list):
        raise InputError(f"baseline {path} has no list of sections: it is not the JSON twin of "
                         "a tether report", path=str(path), field="sections")
    return data


def _interval(ci: Any) -> tuple[float, float] | None:
    if (isinstance(ci, (list, tuple)) and len(ci) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                    and math.isfinite(x) for x in ci)):
        return float(ci[0]), float(ci[1])
    return None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def estimates(data: Any, path: str = "") -> Iterator[tuple[str, float, tuple[float, float]]]:
    """``(path, value, interval)`` of every estimate with an interval in ``data``."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            if key in SKIP:
                continue
            ci = _interval(value) if key == "ci" or key.endswith("_ci") else None
            if ci is not None:
                base = key[:-3] if key.endswith("_ci") else ""
                names = ([base, f"{base}_rate", f"c2st_{base}"] if base else []) + [
                    "estimate", "mean", "value"]
                name = next((n for n in names if _number(data.get(n))), None)
                if name is not None:
                    yield (f"{path}.{name}" if path else name), float(data[name]), ci
            elif isinstance(value, (Mapping, list)):
                yield from estimates(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        seen: set[str] = set()
        for i, item in enumerate(data):
            keys = [f"{k}={item[k]}" for k in ITEM_KEYS if isinstance(item, Mapping)
                    and isinstance(item.get(k), (str, int, float))]
            name = ",".join(keys) if keys and ",".join(keys) not in seen else str(i)
            seen.add(name)
            yield from estimates(item, f"{path}[{name}]")


def _verdicts(section: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    found = section.get("verdicts")
    if found is None and isinstance(section.get("data"), Mapping):
        found = section["data"].get("verdicts")
    return {str(v.get("check", v.get("finding", ""))): v for v in found or []
            if isinstance(v, Mapping) and v.get("level")}


def _subject(section: Mapping[str, Any]) -> str:
    """What a section is about, the same in both reports: its kind and the parameters of its
    result (two diversity sections on two lineages are two subjects)."""
    return json.dumps([section.get("key"), section.get("params") or {}], sort_keys=True,
                      default=str)


def compare_reports(old: Mapping[str, Any], new: Mapping[str, Any],
                    baseline: str = "baseline") -> BaselineComparison:
    """What changed from report ``old`` to report ``new`` (both JSON twins)."""
    sections = [s for s in old.get("sections") or [] if isinstance(s, Mapping)]
    before = {_subject(s): s for s in sections}
    kinds = [s.get("key") for s in sections]
    # a kind with one section in the old report is the same subject whatever its parameters
    single = {s.get("key"): s for s in sections if kinds.count(s.get("key")) == 1}
    flips, shifts = [], []
    for section in new.get("sections") or []:
        key = section.get("id") or section.get("key")
        then_section = before.get(_subject(section)) or single.get(section.get("key"))
        if section.get("key") in ("summary", "baseline") or then_section is None:
            continue
        then, now = _verdicts(then_section), _verdicts(section)
        flips += [VerdictFlip(key, check, then[check]["level"], v["level"],
                              str(v.get("finding") or ""))
                  for check, v in now.items() if check in then
                  and then[check]["level"] != v["level"]]
        earlier = {p: (x, ci) for p, x, ci in estimates(then_section.get("data") or {})}
        for path, value, ci in estimates(section.get("data") or {}):
            if path in earlier and (ci[1] < earlier[path][1][0] or earlier[path][1][1] < ci[0]):
                shifts.append(IntervalShift(key, path, earlier[path][0], earlier[path][1],
                                            value, ci))
    return BaselineComparison(baseline, old.get("generated_at"), tuple(flips), tuple(shifts))
