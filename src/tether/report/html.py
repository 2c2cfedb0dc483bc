"""The report: a model built from the store, its JSON twin, and one self-contained HTML page.

:func:`build_report` reads the store (dataset summaries, runs, and the latest result of each
audit) into a frozen :class:`Report` whose ``to_dict()`` carries every number the page shows.
:func:`render_html` turns that model into one HTML page: inline CSS, charts as inline SVG, no
script, style, font or image from anywhere else, every user string escaped by jinja2.

Example:
    >>> from tether import Store
    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("news", [{"text": "Rates rise", "label": "business"}], origin="real",
    ...                  label_origin="real")
    ...     report = build_report(s)
    >>> [x.status for x in report.sections][:2]
    ['ok', 'not_run']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

import tether
from tether.report.views import required, sample_id_keys, view
from tether.report.views._blocks import MAX_ROWS, snippet
from tether.results import KINDS, Kind, kind
from tether.store import Store


@dataclass(frozen=True)
class Section:
    """One section of the report: its status, the command that (re)makes it, and its data.

    ``status`` is ``ok``, ``not_run`` (the audit has no saved result), ``incomplete`` (a saved
    result lacks a required key) or ``empty`` (nothing to show, e.g. an empty store).
    """

    key: str
    title: str
    status: str
    command: str
    data: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "status": self.status,
                "command": self.command, "created_at": self.created_at, "params": self.params,
                "message": self.message, "data": self.data}


@dataclass(frozen=True)
class Report:
    """The report model. ``to_dict()`` is the JSON twin (``--json-out``)."""

    title: str
    store: str
    generated_at: str
    version: str
    sections: tuple[Section, ...]

    def section(self, key: str) -> Section:
        """The section named ``key`` (``provenance``, ``mirage``, ...)."""
        return next(s for s in self.sections if s.key == key)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "store": self.store, "generated_at": self.generated_at,
                "version": self.version, "sections": [s.to_dict() for s in self.sections]}


# ---------------------------------------------------------------------------- helpers


def _json_safe(value: Any) -> Any:
    """Plain JSON values (results come from JSON already; params may hold paths or dates)."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


# ----------------------------------------------------------------------- build model
def _provenance(store: Store) -> Section:
    infos = store.datasets()
    summaries = [store.summary(d.name).to_dict() for d in infos]
    runs = [{k: _json_safe(r.get(k)) for k in ("run_id", "kind", "dataset", "generator",
                                                 "status", "started_at", "ended_at", "added",
                                                 "skipped", "failed", "seed")}
            for r in store.runs()]
    status = "ok" if summaries else "empty"
    return Section("provenance", "Provenance overview", status,
                   "tether ingest FILE --dataset NAME --origin real --label-origin real",
                   {"datasets": summaries, "runs": runs},
                   message="" if summaries else "The store holds no datasets yet.")


def _guess_names(store: Store) -> dict[str, str]:
    """Dataset names to put in the hint commands of audits that have not run."""
    infos = store.datasets()
    held = ("holdout", "gold", "eval", "test")
    real = sorted((d.name for d in infos if d.synthetic == 0),
                  key=lambda n: any(h in n for h in held))
    synthetic = [d.name for d in infos if d.synthetic > 0]
    names = {"real": real[0] if real else "REAL",
             "synthetic": synthetic[0] if synthetic else "SYNTHETIC",
             "holdout": next((n for n in real if "holdout" in n), real[-1] if real else "HOLDOUT"),
             "gold": next((n for n in real if "gold" in n), "GOLD")}
    names |= {"train": names["synthetic"], "eval": names["holdout"],
              "dataset": names["synthetic"], "generated": names["synthetic"]}
    return names


def _command(template: str, params: Mapping[str, Any], guesses: Mapping[str, str]) -> str:
    values = {k: str(v) for k, v in guesses.items()}
    values |= {k: str(v) for k, v in params.items() if isinstance(v, (str, int, float))}
    return template.format_map(_Default(values))


class _Default(dict):
    def __missing__(self, key: str) -> str:
        return key.upper()


def _audit_section(store: Store, kind: Kind, guesses: Mapping[str, str]) -> Section:
    saved = store.latest_result(kind.name)
    if saved is None:
        return Section(kind.name, kind.title, "not_run", _command(kind.command, {}, guesses),
                       message="Not run yet.")
    result = _json_safe(saved.data)
    params = _json_safe(saved.params)
    created = saved.created_at.isoformat()
    command = _command(kind.command, params, guesses)
    missing = [k for k in required(kind.name)
               if not isinstance(result, Mapping) or result.get(k) is None]
    if missing:
        return Section(kind.name, kind.title, "incomplete", command,
                       result if isinstance(result, dict) else {}, params, created,
                       f"Incomplete result: missing {', '.join(missing)}.")
    return Section(kind.name, kind.title, "ok", command, _with_texts(store, kind.name, result, params),
                   params, created)


def _with_texts(store: Store, name: str, result: dict[str, Any],
                params: Mapping[str, Any]) -> dict[str, Any]:
    """Add the texts of the samples a result names (its view's ``SAMPLE_IDS`` keys, each as
    ``<key>_samples``), read from the datasets among the result's parameters."""
    keys = sample_id_keys(name)
    names = [n for n in params.values() if isinstance(n, str) and store.has_dataset(n)]
    out = dict(result)
    for key in keys:
        ids = [str(i) for i in (result.get(key) or [])[:MAX_ROWS]]
        if not ids or not names:
            continue
        found = store.sample_texts(names, ids)
        out[f"{key}_samples"] = [{"id": i, "generator": found[i]["generator"],
                                  "text": snippet(found[i]["text"])} for i in ids if i in found]
    return out


def build_report(store: Store, *, title: str = "tether report") -> Report:
    """Read the store into a :class:`Report`: provenance, then one section per audit kind.

    Example:
        >>> from tether import Store
        >>> with Store(":memory:") as s:
        ...     build_report(s).section("mirage").command
        'tether audit mirage --real REAL --synthetic SYNTHETIC'
    """
    guesses = _guess_names(store)
    sections = [_provenance(store)] + [_audit_section(store, k, guesses) for k in KINDS]
    return Report(title, store.path, datetime.now(UTC).isoformat(timespec="seconds"),
                  tether.__version__, tuple(sections))


# ----------------------------------------------------------------------------- views


#: The provenance section's lede (every other section's is its kind's).
PROVENANCE_LEDE = "Where every sample came from: origin, label origin, generator, lineage."


# ---------------------------------------------------------------------------- render
def _blocks(section: Section) -> list[dict[str, Any]]:
    if section.status != "ok":
        return []
    return view(section.key)(section.data)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("tether.report", ""),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    return env


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no network).

    A section whose stored result has an unexpected shape renders as "incomplete result"
    naming the problem, instead of failing the whole report.
    """
    views = []
    for section in report.sections:
        status, message = section.status, section.message
        try:
            blocks = _blocks(section)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            blocks, status = [], "incomplete"
            message = f"Incomplete result: could not read {type(exc).__name__}: {exc}."
        lede = PROVENANCE_LEDE if section.key == "provenance" else kind(section.key).lede
        views.append({"section": section, "status": status, "message": message,
                      "blocks": blocks, "lede": lede})
    template = _environment().get_template("template.html.j2")
    return template.render(report=report, views=views)


def write_report(report: Report, path: str | Path, json_path: str | Path | None = None) -> Path:
    """Write the HTML page to ``path`` (and the JSON twin to ``json_path``); returns ``path``.

    Example:
        >>> from tether import Store
        >>> with Store(":memory:") as s:  # doctest: +SKIP
        ...     write_report(build_report(s), "report.html", "report.json")
    """
    import json

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(report), encoding="utf-8")
    if json_path is not None:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    return out
