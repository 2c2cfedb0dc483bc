"""The report: a model built from the store, its JSON twin, and one self-contained HTML page.

:func:`build_report` reads the store (dataset summaries, runs, and the newest result of each
audit per subject: two diversity audits of two datasets are two sections) into a frozen :class:`Report` whose ``to_dict()`` carries every number the page shows.
Each audit section carries its verdicts (the kind's rule, with a policy's limits where the policy
names one); the first section sums them up with what to do next, and a policy, when given, is
checked into a section of its own.
:func:`render_html` turns that model into one HTML page: inline CSS, charts as inline SVG, no
script, style, font or image from anywhere else, every user string escaped by jinja2.

Example:
    >>> from tether import Store
    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("news", [{"text": "Rates rise", "label": "business"}], origin="real",
    ...                  label_origin="real")
    ...     report = build_report(s)
    >>> [x.key for x in report.sections][:3]
    ['summary', 'provenance', 'mirage']
    >>> [x.status for x in report.sections][:3]
    ['empty', 'ok', 'not_run']
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

import tether
from tether.policy import Policy, check, load_policy
from tether.report import evidence
from tether.report.baseline import compare_reports, load_baseline
from tether.report.views import records as records_view
from tether.report.views import required, sample_id_keys, view
from tether.report.views._blocks import MAX_ROWS, snippet
from tether.report.views.baseline import mark as mark_changes
from tether.results import KINDS, Kind, kind
from tether.store import Store
from tether.verdicts import Limit, Verdict, next_actions, worst
from tether.verdicts import policy as policy_verdicts


@dataclass(frozen=True)
class Section:
    """One section of the report: its status, the command that (re)makes it, and its data.

    ``status`` is ``ok``, ``not_run`` (the audit has no saved result), ``incomplete`` (a saved
    result lacks a required key) or ``empty`` (nothing to show, e.g. an empty store). ``level``
    is the worst of its ``verdicts`` (pass, warn, fail), or its status when it has none.
    """

    key: str
    title: str
    status: str
    command: str
    data: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    message: str = ""
    verdicts: tuple[Verdict, ...] = ()
    #: The section's HTML id when it is not its key (``diversity-2``: a second subject).
    anchor: str = ""

    @property
    def id(self) -> str:
        """The section's unique HTML id: its key, or ``key-N`` for the N-th subject of a kind."""
        return self.anchor or self.key

    @property
    def level(self) -> str:
        return (worst(self.verdicts) if self.status == "ok" else None) or self.status

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "id": self.id, "title": self.title, "status": self.status,
                "level": self.level, "command": self.command, "created_at": self.created_at,
                "params": self.params, "message": self.message,
                "verdicts": [v.to_dict() for v in self.verdicts], "data": self.data}


@dataclass(frozen=True)
class Report:
    """The report model. ``to_dict()`` is the JSON twin (``--json-out``)."""

    title: str
    store: str
    generated_at: str
    version: str
    sections: tuple[Section, ...]
    #: One record per sample the audits name (fields, provenance, lineage; the appendix).
    records: tuple[dict[str, Any], ...] = ()
    #: How many named samples the records leave out (:data:`evidence.MAX_RECORDS`).
    records_left_out: int = 0

    def section(self, key: str) -> Section:
        """The section named ``key`` (``provenance``, ``mirage``, ...)."""
        return next(s for s in self.sections if s.key == key)

    def __repr__(self) -> str:
        levels = [s.level for s in self.sections]
        counts = ", ".join(f"{levels.count(lv)} {lv}" for lv in dict.fromkeys(levels))
        return f"Report({self.title!r}, {self.store!r}: {len(self.sections)} sections, {counts})"

    def _repr_html_(self) -> str:
        """Notebook display: the page itself, in a frame (:mod:`tether.report.notebook`)."""
        from tether.report.notebook import report_html

        return report_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "store": self.store, "generated_at": self.generated_at,
                "version": self.version, "sections": [s.to_dict() for s in self.sections],
                "records": list(self.records), "records_left_out": self.records_left_out}


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


def _subject(store: Store, params: Mapping[str, Any]) -> str:
    """The datasets (or else the named values: no ``<table of N rows>``) a result's parameters
    name: its subject."""
    values = [v for value in params.values() for v in (value if isinstance(value, list)
                                                        else [value])
              if isinstance(v, str) and not v.startswith("<")]
    names = [v for v in values if store.has_dataset(v)]
    return ", ".join(dict.fromkeys(names or values[:3]))


def _audit_sections(store: Store, kind: Kind, guesses: Mapping[str, str],
                    policy: Policy | None = None) -> list[Section]:
    """One section per subject of ``kind`` (the newest result of each distinct set of
    parameters), newest first; the first keeps the kind's name as its id."""
    saved = store.latest_results_by_subject(kind.name)
    if not saved:
        return [Section(kind.name, kind.title, "not_run", _command(kind.command, {}, guesses),
                        message="Not run yet.")]
    sections = [_audit_section(store, kind, s, guesses, policy) for s in saved]
    if len(sections) == 1:
        return sections
    return [dataclasses.replace(s, title=f"{kind.title}: {_subject(store, s.params)}",
                                anchor=f"{kind.name}-{i + 1}" if i else "")
            for i, s in enumerate(sections)]


def _audit_section(store: Store, kind: Kind, saved: Any, guesses: Mapping[str, str],
                   policy: Policy | None = None) -> Section:
    result = _json_safe(saved.data)
    if isinstance(result, dict):  # judged afresh below, with the policy's limits
        result.pop("verdicts", None)
    params = _json_safe(saved.params)
    created = saved.created_at.isoformat()
    command = _command(kind.command, params, guesses)
    missing = [k for k in required(kind.name)
               if not isinstance(result, Mapping) or result.get(k) is None]
    if missing:
        return Section(kind.name, kind.title, "incomplete", command,
                       result if isinstance(result, dict) else {}, params, created,
                       f"Incomplete result: missing {', '.join(missing)}.")
    verdicts = tuple(v if v.command else dataclasses.replace(v, command=command)
                     for v in kind.judge(result, params, _policy_limits(policy, kind, params)))
    return Section(kind.name, kind.title, "ok", command,
                   _with_texts(store, kind.name, result, params), params, created,
                   verdicts=verdicts)


def _policy_limits(policy: Policy | None, kind: Kind, params: Mapping[str, Any]
                   ) -> dict[str, Limit]:
    """The limits ``policy`` sets for a result of ``kind`` with these ``params``: today the
    mirage AUC (a ``[[mirage]]`` entry for exactly this pair, else an unscoped
    ``max_mirage_auc``); it fails above the limit, as in ``tether check``."""
    if policy is None or kind.name != "mirage":
        return {}
    pair = next((m for m in policy.mirage if (m.real, m.synthetic)
                 == (params.get("real"), params.get("synthetic"))), None)
    if pair is not None:
        return {"fail_auc": Limit(pair.max_auc, ">", f"policy {policy.source} [[mirage]]")}
    if not policy.mirage and policy.max_mirage_auc is not None:
        return {"fail_auc": Limit(policy.max_mirage_auc, ">",
                                  f"policy {policy.source} max_mirage_auc")}
    return {}


def _policy_section(store: Store, policy: Policy) -> Section:
    result = check(store, policy).to_dict()
    command = f"tether check --policy {policy.source}"
    return Section("policy", "Policy gate (tether check)", "ok", command,
                   {**result, "source": policy.source},
                   verdicts=tuple(policy_verdicts(result, policy.source)))


def _summary(sections: list[Section]) -> Section:
    """The verdicts of every section in one table, and at most five next actions; each names
    the id of the section it comes from (``section``)."""
    where = {id(v): s.id for s in sections for v in s.verdicts}
    verdicts = sorted((v for s in sections for v in s.verdicts), key=lambda v: -v.severity)
    counts = {level: sum(v.level == level for v in verdicts) for level in ("fail", "warn", "pass")}
    data = {"counts": counts, "titles": {s.id: s.title for s in sections},
            "sections": [where[id(v)] for v in verdicts],
            "actions": [{**v.to_dict(), "section": where[id(v)]}
                        for v in next_actions(verdicts)]}
    return Section("summary", "Summary: verdicts and what to do next",
                   "ok" if verdicts else "empty", "tether report --out report.html", data,
                   message="" if verdicts else "No audit has run yet: nothing to judge.",
                   verdicts=tuple(verdicts))


def _with_texts(store: Store, name: str, result: dict[str, Any],
                params: Mapping[str, Any]) -> dict[str, Any]:
    """Add the texts of the samples a result names (its view's ``SAMPLE_IDS`` keys, each as
    ``<key>_samples``), read from the datasets among the result's parameters, and the full
    texts its view shows (``texts``, :func:`evidence.texts`)."""
    keys = sample_id_keys(name)
    names = [n for n in params.values() if isinstance(n, str) and store.has_dataset(n)]
    out = dict(result)
    texts = evidence.texts(store, name, result, params)
    if texts:
        out["texts"] = texts
    for key in keys:
        ids = [str(i) for i in (result.get(key) or [])[:MAX_ROWS]]
        if not ids or not names:
            continue
        found = store.sample_texts(names, ids)
        out[f"{key}_samples"] = [{"id": i, "generator": found[i]["generator"],
                                  "text": snippet(found[i]["text"])} for i in ids if i in found]
    return out


def build_report(store: Store, *, title: str = "tether report",
                 policy: Policy | str | Path | None = None,
                 baseline: Mapping[str, Any] | str | Path | None = None) -> Report:
    """Read the store into a :class:`Report`: a summary of every verdict first, the policy gate
    when a ``policy`` (a :class:`~tether.policy.Policy` or a policy file) is given, provenance,
    then one section per audit kind, and the records of the samples the audits name. With a
    ``baseline`` (an earlier report's JSON twin, or its path), a "changed since baseline"
    section follows the summary.

    Example:
        >>> from tether import Store
        >>> with Store(":memory:") as s:
        ...     build_report(s).section("mirage").command
        'tether audit mirage --real REAL --synthetic SYNTHETIC'
    """
    guesses = _guess_names(store)
    if isinstance(policy, (str, Path)):
        policy = load_policy(policy)
    sections = [_provenance(store)] + [s for k in KINDS
                                       for s in _audit_sections(store, k, guesses, policy)]
    if policy is not None:
        sections.insert(0, _policy_section(store, policy))
    sections.insert(0, _summary(sections))
    found, left_out = evidence.records(store, sections)
    report = Report(title, store.path, datetime.now(UTC).isoformat(timespec="seconds"),
                    tether.__version__, tuple(sections), tuple(found), left_out)
    if baseline is None:
        return report
    label = "baseline report" if isinstance(baseline, Mapping) else str(baseline)
    old = baseline if isinstance(baseline, Mapping) else load_baseline(baseline)
    comparison = compare_reports(old, report.to_dict(), label)
    section = Section("baseline", "Changed since baseline", "ok",
                      f"tether report --baseline {label}", comparison.to_dict())
    return dataclasses.replace(report, sections=(*sections[:1], section, *sections[1:]))


# ----------------------------------------------------------------------------- views


#: The ledes of the sections that are not kinds (every other section's is its kind's).
LEDES = {
    "summary": "Every verdict, worst first, with the rule that decided it; then what to do next.",
    "policy": "The policy's limits checked against the store (`tether check`): CI fails on any "
              "failed rule.",
    "provenance": "Where every sample came from: origin, label origin, generator, lineage.",
    "baseline": "What changed since the earlier report: verdicts that flipped, estimates whose "
                "intervals no longer overlap.",
}
#: The sha256 of the page's one inline script, as its Content-Security-Policy allows it.
SCRIPT_HASH = "sha256-" + base64.b64encode(
    hashlib.sha256(records_view.SCRIPT.encode()).digest()).decode()


# ---------------------------------------------------------------------------- render
def _blocks(section: Section) -> list[dict[str, Any]]:
    """The section's view of its data and verdicts (the saved result's JSON form); the charts
    of a further subject's section get its id before their own (ids unique on the page)."""
    if section.status != "ok":
        return []
    blocks = view(section.key)({**section.data,
                                "verdicts": [v.to_dict() for v in section.verdicts]})
    return _salted(blocks, section.anchor) if section.anchor else blocks


_SVG_ID = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')


def _salted(blocks: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """``blocks`` with every id and id reference inside their charts prefixed by ``prefix``."""
    def salt(b: dict[str, Any]) -> dict[str, Any]:
        if b.get("kind") == "chart":
            return {**b, "svg": Markup(_SVG_ID.sub(lambda m: f"{m[1]}{prefix}-{m[2]}", b["svg"]))}
        if b.get("kind") == "row":
            return {**b, "blocks": [salt(inner) for inner in b["blocks"]]}
        return b
    return [salt(b) for b in blocks]


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
    anchors = {r["id"]: r["anchor"] for r in reversed(report.records)}
    named = {}
    for r in reversed(report.records):
        for key in r["named_by"]:
            named.setdefault(key, {})[r["id"]] = r["anchor"]
    changed = next((s.data for s in report.sections if s.key == "baseline"), None)
    for section in report.sections:
        status, message = section.status, section.message
        try:
            blocks = records_view.link_ids(_blocks(section),
                                           {**anchors, **named.get(section.key, {})})
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            blocks, status = [], "incomplete"
            message = f"Incomplete result: could not read {type(exc).__name__}: {exc}."
        if changed and section.key != "baseline":
            blocks = mark_changes(blocks, changed, section.key)
        lede = LEDES[section.key] if section.key in LEDES else kind(section.key).lede
        level = section.level if status == section.status else status
        if section.key == "baseline" and status == "ok":  # no verdicts: changed or not
            level = "warn" if section.data["changed"] else "pass"
        views.append({"section": section, "status": status, "level": level,
                      "message": message, "blocks": blocks, "lede": lede})
    template = _environment().get_template("template.html.j2")
    return template.render(report=report, views=views,
                           records=records_view.render(report.records, report.records_left_out),
                           script=Markup(records_view.SCRIPT), script_hash=SCRIPT_HASH)


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
