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

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

import tether
from tether.report import charts
from tether.report.charts import Band, Estimate
from tether.store import Store

#: Longest sample text shown in the report (characters).
SNIPPET = 280
#: Most rows shown in one table of pairs, issues or features.
MAX_ROWS = 12
#: Most sample texts shown in one table.
SAMPLE_ROWS = 6


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


@dataclass(frozen=True)
class _Kind:
    """How one audit kind becomes a section: title, command, required keys, view."""

    key: str
    title: str
    command: str
    required: tuple[str, ...]
    view: Callable[[dict[str, Any]], list[dict[str, Any]]]
    lede: str


# ---------------------------------------------------------------------------- helpers
def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:,.{digits}f}"
    return str(value)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1%}"


def _ci(ci: Any, digits: int = 3) -> str:
    if not isinstance(ci, Sequence) or len(ci) != 2 or ci[0] is None:
        return ""
    return f"[{_num(float(ci[0]), digits)}, {_num(float(ci[1]), digits)}]"


def _pct_ci(ci: Any) -> str:
    if not isinstance(ci, Sequence) or len(ci) != 2 or ci[0] is None:
        return ""
    return f"[{_pct(ci[0])}, {_pct(ci[1])}]"


def _json_safe(value: Any) -> Any:
    """Plain JSON values (results come from JSON already; params may hold paths or dates)."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _snippet(text: Any) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1] + "…"


def _stats(*items: tuple[str, str, str]) -> dict[str, Any]:
    return {"kind": "stats", "items": [{"label": a, "value": b, "note": c} for a, b, c in items]}


def _chart(svg: str, caption: str) -> dict[str, Any]:
    return {"kind": "chart", "svg": Markup(svg), "caption": caption}


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "",
           numeric: Sequence[bool] | None = None) -> dict[str, Any]:
    return {"kind": "table", "title": title, "headers": list(headers),
            "rows": [[_num(c) if not isinstance(c, str) else c for c in r] for r in rows],
            "numeric": list(numeric or [False] * len(headers))}


def _note(text: str, tone: str = "info") -> dict[str, Any]:
    return {"kind": "note", "text": text, "tone": tone}


def _row_block(*blocks: dict[str, Any]) -> dict[str, Any]:
    """Blocks laid out side by side."""
    return {"kind": "row", "blocks": list(blocks)}


def _est(name: str, d: Mapping[str, Any], group: str = "", value_key: str = "estimate",
         ci_key: str = "ci") -> Estimate | None:
    value, ci = d.get(value_key), d.get(ci_key)
    if value is None or not isinstance(ci, Sequence) or len(ci) != 2 or ci[0] is None:
        return None
    return Estimate(name, float(value), float(ci[0]), float(ci[1]), group)


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


def _audit_section(store: Store, kind: _Kind, guesses: Mapping[str, str]) -> Section:
    saved = store.latest_audit(kind.key)
    if saved is None:
        return Section(kind.key, kind.title, "not_run", _command(kind.command, {}, guesses),
                       message="Not run yet.")
    result = _json_safe(saved["result"])
    params = _json_safe(saved["params"])
    command = _command(kind.command, params, guesses)
    missing = [k for k in kind.required if not isinstance(result, Mapping) or result.get(k) is None]
    if missing:
        return Section(kind.key, kind.title, "incomplete", command,
                       result if isinstance(result, dict) else {}, params, saved["created_at"],
                       f"Incomplete result: missing {', '.join(missing)}.")
    if kind.key == "mirage":
        result = _with_texts(store, result, params)
    return Section(kind.key, kind.title, "ok", command, result, params, saved["created_at"])


def _with_texts(store: Store, result: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Add the text of the samples a mirage audit names, read from the datasets it compared."""
    names = [n for n in (params.get("synthetic"), params.get("real"))
             if isinstance(n, str) and store.has_dataset(n)]
    out = dict(result)
    for key in ("most_synthetic", "least_covered_real"):
        ids = [str(i) for i in (result.get(key) or [])[:MAX_ROWS]]
        if not ids or not names:
            continue
        rows = store.arrow("SELECT id, text, generator FROM samples WHERE list_contains(?, "
                           "dataset) AND list_contains(?, id)", [names, ids]).to_pylist()
        found = {r["id"]: r for r in rows}
        out[f"{key}_samples"] = [{"id": i, "generator": found[i]["generator"],
                                  "text": _snippet(found[i]["text"])} for i in ids if i in found]
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
    return Report(title, store.path, datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  tether.__version__, tuple(sections))


# ----------------------------------------------------------------------------- views
_ORIGIN_COLORS = {"real": charts.REAL, "synthetic": charts.SYNTHETIC}


def _view_provenance(data: dict[str, Any]) -> list[dict[str, Any]]:
    sums = data["datasets"]
    total = sum(s["count"] for s in sums)
    synthetic = sum(s["by_origin"].get("synthetic", 0) for s in sums)
    blocks = [_stats(("datasets", _num(len(sums)), ""),
                     ("samples", _num(total), ""),
                     ("synthetic", _num(synthetic), _pct(synthetic / total if total else 0.0)
                      + " of all samples"),
                     ("runs", _num(len(data["runs"])), ""))]
    rows = {s["name"]: {"real": s["by_origin"].get("real", 0),
                        "synthetic": s["by_origin"].get("synthetic", 0)} for s in sums}
    blocks.append(_chart(charts.stacked_bars(rows, title="Samples by origin", key="prov-origin",
                                             colors=_ORIGIN_COLORS),
                         "Real inputs (blue) and synthetic inputs (orange) in each dataset."))
    by_label_origin = {s["name"]: {("unlabelled" if k == "" else k): v
                                   for k, v in s["by_label_origin"].items()} for s in sums}
    by_generation = {s["name"]: {f"gen {k}": v for k, v in s["by_generation"].items()}
                     for s in sums}
    blocks.append(_row_block(
        _chart(charts.stacked_bars(by_label_origin, title="Samples by label origin",
                                   key="prov-label", width=4.6,
                                   colors=_ORIGIN_COLORS | {"unlabelled": "#cbd5e1"}),
               "Where each label came from: humans (real), a model or rule (synthetic), none."),
        _chart(charts.stacked_bars(by_generation, title="Samples by generation", key="prov-gen",
                                   width=4.6),
               "Lineage depth: 0 is real, 1 made from real seeds, 2 made from generated data…")))
    generators: dict[str, float] = {}
    for s in sums:
        for g, n in s["by_generator"].items():
            generators[g] = generators.get(g, 0) + n
    blocks.append(_chart(charts.bar_chart(dict(sorted(generators.items(), key=lambda kv: -kv[1])),
                                          title="Samples by generator (all datasets)",
                                          key="prov-generator"),
                         "Every sample names the generator (or real source) that made it."))

    def parts(d: Mapping[str, int]) -> str:
        return ", ".join(f"{k or '(none)'} {v:,}" for k, v in d.items()) or "–"

    blocks.append(_table(
        ["dataset", "samples", "synthetic share", "family", "label origin", "domain", "task"],
        [[s["name"], s["count"], _pct(s["synthetic_share"]), parts(s["by_family"]),
          parts(s["by_label_origin"]), parts(s["by_domain"]), parts(s["by_task"])] for s in sums],
        title="Datasets", numeric=[False, True, True, False, False, False, False]))
    runs = [r for r in data["runs"] if r.get("started_at")]
    if runs:
        blocks.append(_chart(charts.timeline(runs, title="Timeline of runs", key="prov-timeline"),
                             "Each ingest and generation run, from start to end, with the "
                             "samples it added."))
    return blocks


def _view_mirage(data: dict[str, Any]) -> list[dict[str, Any]]:
    auc, ci = float(data["c2st_auc"]), data["auc_ci"]
    verdict = ("indistinguishable" if ci[0] <= 0.5 <= ci[1] else
               "easily told apart" if auc >= 0.8 else "distinguishable")
    blocks = [_stats(("C2ST AUC", _num(auc), f"{_ci(ci)} cross-validated"),
                     ("p-value", _num(data.get("p_value"), 4), "permutation test"),
                     ("real / synthetic", f"{_num(data.get('n_real'))} / "
                                          f"{_num(data.get('n_synthetic'))}", "samples"),
                     ("verdict", verdict, "0.5 = a classifier cannot tell them apart"))]
    blocks.append(_chart(charts.estimates_chart(
        [Estimate("real vs synthetic", auc, float(ci[0]), float(ci[1]), "C2ST AUC")],
        title="Can a classifier tell synthetic from real?", key="mirage-auc",
        xlabel="cross-validated AUC", reference=0.5, reference_label="indistinguishable",
        xlim=(0.4, 1.0), colors={"C2ST AUC": charts.SYNTHETIC}),
        str(data.get("method") or "Classifier two-sample test; 0.5 means indistinguishable.")))
    profile = data.get("profile") if isinstance(data.get("profile"), Mapping) else {}
    stats = {k: v for k, v in (profile.get("stats") or {}).items() if isinstance(v, Mapping)}
    deltas = [Estimate(k, float(v["cliffs_delta"]), float(v["delta_ci"][0]),
                       float(v["delta_ci"][1]), "flagged" if v.get("flag") else "similar")
              for k, v in stats.items()
              if v.get("cliffs_delta") is not None and None not in (v.get("delta_ci") or [None])]
    if deltas:
        blocks.append(_chart(charts.estimates_chart(
            deltas, title="Profile: synthetic vs real, statistic by statistic",
            key="mirage-profile", xlabel="Cliff's delta (synthetic over real)", reference=0.0,
            reference_label="no difference",
            xlim=(-1.0, 1.0), colors={"flagged": charts.BAD, "similar": charts.NEUTRAL}),
            "Red: a significant difference (flagged). Left of 0: the synthetic side has less of "
            "it (fewer typos, shorter, more regular)."))
    if stats:
        blocks.append(_table(
            ["statistic", "real mean", "synthetic mean", "Cliff's δ", "p (adjusted)", "flag"],
            [[k, f"{_num(v.get('real_mean'))} {_ci(v.get('real_ci'))}",
              f"{_num(v.get('synthetic_mean'))} {_ci(v.get('synthetic_ci'))}",
              f"{_num(v.get('cliffs_delta'))} {_ci(v.get('delta_ci'))}",
              _num(v.get("p_adjusted"), 4), str(v.get("flag") or "")] for k, v in stats.items()],
            title="Profile side by side", numeric=[False, True, True, True, True, False]))
    labels = profile.get("labels")
    if isinstance(labels, Mapping) and isinstance(labels.get("real"), Mapping):
        names = list(dict.fromkeys([*labels["real"], *(labels.get("synthetic") or {})]))
        blocks.append(_chart(charts.grouped_bars(
            names, {"real": [float(labels["real"].get(k, 0)) for k in names],
                    "synthetic": [float((labels.get("synthetic") or {}).get(k, 0)) for k in names]},
            title="Label distribution", key="mirage-labels", ylabel="share",
            colors=_ORIGIN_COLORS, percent=True),
            f"Cramér's V {_num(labels.get('cramers_v'))} {_ci(labels.get('v_ci'))}, "
            f"chi-square p = {_num(labels.get('p_value'), 4)}."))
    feats = [f for f in data.get("top_features") or []
             if isinstance(f, Mapping) and isinstance(f.get("weight"), (int, float))]
    if feats:
        weights = {str(f.get("feature")): float(f["weight"]) for f in feats[:MAX_ROWS]}
        blocks.append(_chart(charts.bar_chart(
            weights, title="Features that give synthetic data away", key="mirage-features",
            xlabel="classifier weight (positive = synthetic)", decimals=3,
            colors={k: charts.SYNTHETIC if v > 0 else charts.REAL for k, v in weights.items()}),
            "The n-gram features the two-sample classifier leans on most."))
    for key, title in (("most_synthetic", "Most synthetic-looking samples"),
                       ("least_covered_real", "Real samples least like any synthetic one")):
        samples = data.get(f"{key}_samples")
        if samples:
            blocks.append(_table(["id", "generator", "text"],
                                 [[x["id"], x.get("generator") or "", x["text"]]
                                  for x in samples[:SAMPLE_ROWS]], title=title))
        elif data.get(key):
            blocks.append(_table(["id"], [[str(i)] for i in data[key][:MAX_ROWS]], title=title))
    return blocks


def _view_coverage(data: dict[str, Any]) -> list[dict[str, Any]]:
    modes = [m for m in data.get("modes") or [] if isinstance(m, Mapping)]
    uncovered = [m for m in data.get("uncovered_real") or [] if isinstance(m, Mapping)]
    blocks = [_stats(("precision", _num(float(data["precision"])),
                      f"{_ci(data.get('precision_ci'))} synthetic samples where real data lives"),
                     ("recall", _num(float(data["recall"])),
                      f"{_ci(data.get('recall_ci'))} real data the synthetic reaches"),
                     ("uncovered real modes", _num(len(uncovered)),
                      f"of {_num(len(modes))} real clusters" if modes else ""))]
    by_label = data.get("by_label")
    if isinstance(by_label, Mapping):
        pts = [e for label, v in by_label.items() if isinstance(v, Mapping)
               for key in ("precision", "recall")
               if (e := _est(f"{label} · {key}", v, key, key, f"{key}_ci")) is not None]
        if pts:
            blocks.append(_chart(charts.estimates_chart(
                pts, title="Precision and recall by label", key="coverage-label",
                xlabel="share", colors={"precision": charts.SYNTHETIC, "recall": charts.REAL}),
                "Precision (orange): synthetic samples inside the real manifold. Recall (blue): "
                "real samples the synthetic data reaches."))
    if modes:
        pts = [Estimate(f"mode {m.get('cluster')} · {m.get('label') or '–'} · "
                        f"n={m.get('size')}",
                        float(m["reached"]), float(m["reached_ci"][0]), float(m["reached_ci"][1]),
                        "uncovered" if m in uncovered else "covered")
               for m in modes if m.get("reached_ci")]
        blocks.append(_chart(charts.estimates_chart(
            pts, title="Real modes reached by synthetic data", key="coverage-modes",
            xlabel="share of the mode's real samples a synthetic sample reaches",
            colors={"uncovered": charts.BAD, "covered": charts.REAL}),
            "Red: real modes (clusters) no synthetic sample reaches — the rare cases synthetic "
            "data was supposed to fill."))
    if uncovered:
        blocks.append(_table(["mode", "label", "real samples", "reached", "examples (ids)"],
                             [[str(m.get("cluster")), str(m.get("label") or ""), m.get("size"),
                               _pct(m.get("reached")), _cell(m.get("examples") or [])]
                              for m in uncovered[:MAX_ROWS]],
                             title="Uncovered real modes",
                             numeric=[False, False, True, True, False]))
    return blocks


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value[:6]) + (" …" if len(value) > 6 else "")
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_num(v)}" for k, v in list(value.items())[:6])
    if isinstance(value, str):
        return _snippet(value)
    return value


def _view_overlap(data: dict[str, Any]) -> list[dict[str, Any]]:
    n_bad, n_eval = int(data["contaminated_eval"]), int(data["eval_count"])
    rate = data.get("contamination_rate", n_bad / n_eval if n_eval else 0.0)
    blocks = [_stats(("contaminated eval items", _num(n_bad), f"of {_num(n_eval)} eval items"),
                     ("contamination rate", _pct(rate),
                      _pct_ci(data.get("contamination_ci"))),
                     ("near-duplicates / shared 13-grams",
                      f"{_num(data.get('near_duplicate_eval'))} / {_num(data.get('ngram_eval'))}",
                      f"eval items; Jaccard ≥ {_num(data.get('threshold'), 2)}"))]
    if n_bad:
        blocks.append(_note(f"{n_bad:,} eval item(s) have a near-duplicate or a long shared "
                            "passage in training: their scores measure memory, not skill.", "bad"))
    else:
        blocks.append(_note("No eval item has a near-duplicate in training."))
    pairs = data.get("pairs") or []
    if pairs:
        blocks.append(_table(["train id", "eval id", "Jaccard"],
                             [[str(p.get("train_id")), str(p.get("eval_id")), p.get("jaccard")]
                              for p in pairs[:MAX_ROWS]],
                             title=f"Near-duplicate pairs ({len(pairs):,})",
                             numeric=[False, False, True]))
    memo = data.get("memorization")
    if isinstance(memo, Mapping) and memo.get("synthetic") and memo.get("holdout"):
        dists = {"synthetic → its real sources":
                 [float(x["distance"]) for x in memo["synthetic"]],
                 "unseen real → the same sources":
                 [float(x["distance"]) for x in memo["holdout"]]}
        blocks.append(_stats(
            ("median distance, synthetic", _num(memo.get("synthetic_median")), ""),
            ("median distance, unseen real", _num(memo.get("holdout_median")), ""),
            ("difference", _num(memo.get("median_difference")),
             f"{_ci(memo.get('median_difference_ci'))} p = {_num(memo.get('p_value'), 4)}"),
            ("copied?", "yes" if memo.get("copied") else "no",
             f"copies: synthetic {_pct(memo.get('copy_share_synthetic'))}, "
             f"unseen real {_pct(memo.get('copy_share_holdout'))}")))
        blocks.append(_chart(charts.histogram(
            dists, title="Memorization: distance to the closest real source record",
            key="overlap-memo", xlabel="distance (1 − Jaccard)",
            colors=dict(zip(dists, (charts.SYNTHETIC, charts.REAL)))),
            "Synthetic data closer to the records it was made from than unseen real data is has "
            "copied them (a privacy leak when the real data is sensitive)."))
    return blocks


def _view_labels(data: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = [_stats(("label issues", _num(data["issue_count"]), f"of {_num(data['n'])} samples"),
                     ("issue rate", _pct(data.get("issue_rate")),
                      _pct_ci(data.get("issue_rate_ci"))))]
    for key, title in (("by_generator", "generator"), ("by_label_origin", "label origin")):
        groups = data.get(key)
        if isinstance(groups, Mapping) and groups:
            pts = [Estimate(g or "(none)", float(v["rate"]), float(v["rate_ci"][0]),
                            float(v["rate_ci"][1]), key) for g, v in groups.items()
                   if isinstance(v, Mapping) and v.get("rate_ci")]
            if pts:
                blocks.append(_chart(charts.estimates_chart(
                    pts, title=f"Label issue rate by {title}", key=f"labels-{key}",
                    xlabel="share of samples whose label is likely wrong",
                    colors={key: charts.SYNTHETIC if key == "by_generator" else charts.REAL}),
                    f"Confident learning, broken down by {title}: hard mistakes, found where "
                    "they are."))
    issues = [i for i in data.get("issues") or [] if isinstance(i, Mapping)]
    if issues:
        blocks.append(_table(["id", "given", "suggested", "confidence", "label origin",
                              "generator"],
                             [[str(i.get("id")), str(i.get("given")), str(i.get("suggested")),
                               i.get("self_confidence"), str(i.get("label_origin") or ""),
                               str(i.get("generator") or "")] for i in issues[:MAX_ROWS]],
                             title=f"Likely label errors ({len(issues):,}; least confident first)",
                             numeric=[False, False, False, True, False, False]))
    return blocks


def _view_generator(data: dict[str, Any]) -> list[dict[str, Any]]:
    acc, ci = float(data["accuracy"]), data["accuracy_ci"]
    blocks = [_stats(("generator accuracy", _num(acc), f"{_ci(ci)} on {_num(data.get('n'))} "
                                                       "real gold labels"),
                     ("errors", _num(data.get("errors")), ""),
                     ("systematic share", _pct(data.get("systematic_share")),
                      f"{_ci(data.get('systematic_share_ci'))} of errors beyond uniform noise"),
                     ("hard-mistake rate", _pct(data.get("hard_error_rate")),
                      f"{_ci(data.get('hard_error_rate_ci'))} uniform-noise part"))]
    conf = data["confusion"]
    labels = conf.get("labels") or data.get("labels")
    blocks.append(_chart(charts.heatmap(conf["matrix"], labels, labels, title="Confusion matrix",
                                        key="generator-confusion", xlabel="generator label",
                                        ylabel="gold label"),
                         "Rows: the human label; columns: the generator's label. Colour: share "
                         "of the row; off-diagonal mass is the generator's error."))
    skew = data.get("label_skew")
    if isinstance(skew, Mapping) and skew.get("real") is not None:
        names = skew.get("labels") or labels
        blocks.append(_chart(charts.grouped_bars(
            names, {"gold": [float(x) for x in skew["real"]],
                    "generator": [float(x) for x in skew.get("generated") or []]},
            title="Label distribution: gold vs generator", key="generator-skew",
            ylabel="share of items", colors={"gold": charts.REAL, "generator": charts.SYNTHETIC},
            percent=True),
            f"Total variation distance {_num(skew.get('tvd'))} {_ci(skew.get('tvd_ci'))}; "
            f"balance difference {_num(skew.get('balance_difference'))} "
            f"{_ci(skew.get('balance_difference_ci'))} (positive: more balanced than reality); "
            f"Stuart–Maxwell p = {_num(skew.get('p_value'), 4)}."))
    cells = [c for c in data.get("top_confusions") or [] if isinstance(c, Mapping)]
    if cells:
        systematic = {(c.get("gold"), c.get("generated"))
                      for c in data.get("systematic_cells") or [] if isinstance(c, Mapping)}
        blocks.append(_table(["gold", "generator", "count", "expected if uniform", "excess",
                              "systematic"],
                             [[str(c.get("gold")), str(c.get("generated")), c.get("count"),
                               c.get("expected_uniform"), c.get("excess"),
                               "yes" if (c.get("gold"), c.get("generated")) in systematic else ""]
                              for c in cells[:MAX_ROWS]],
                             title="Largest confusions (the evidence)",
                             numeric=[False, False, True, True, True, False]))
    return blocks


def _diversity_lines(groups: Sequence[Mapping[str, Any]]) -> list[Band]:
    metrics = list(dict.fromkeys(m for g in groups for m in (g.get("metrics") or {})))
    lines = []
    for m in metrics:
        vals = [(g.get("metrics") or {}).get(m) or {} for g in groups]
        if all(v.get("value") is not None for v in vals):
            has_ci = all(v.get("ci") and v["ci"][0] is not None for v in vals)
            lines.append(Band(m, [float(v["value"]) for v in vals],
                              [float(v["ci"][0]) for v in vals] if has_ci else None,
                              [float(v["ci"][1]) for v in vals] if has_ci else None))
    return lines


def _view_diversity(data: dict[str, Any]) -> list[dict[str, Any]]:
    gens = [g for g in data["by_generation"] if isinstance(g, Mapping)]
    warnings = [str(w) for w in data.get("warnings") or []]
    blocks = [_stats(("generations", _num(len(gens)), ", ".join(
                          f"gen {g.get('group')}: {_num(g.get('n'))}" for g in gens[:6])),
                     ("warnings", _num(len(warnings)),
                      "diversity falling" if warnings else "no sustained fall"))]
    for w in warnings:
        blocks.append(_note(w, "bad"))
    lines = _diversity_lines(gens)
    if lines and len(gens) > 1:
        blocks.append(_chart(charts.line_chart(
            [float(g["group"]) if str(g["group"]).lstrip("-").isdigit() else i
             for i, g in enumerate(gens)], lines,
            title="Diversity per generation", key="diversity-gen", xlabel="generation",
            ylabel="value (on equal-size token draws)"),
            "Falling diversity generation after generation is the signature of a feedback loop. "
            "Bands: the range over random draws of the same size."))
    metrics = [b.name for b in lines]
    for key, title in (("by_generation", "generation"), ("by_generator", "generator"),
                       ("over_time", "time")):
        groups = [g for g in data.get(key) or [] if isinstance(g, Mapping)]
        if groups and metrics:
            blocks.append(_table(
                [title, "samples", *metrics],
                [[str(g.get("group")), g.get("n"),
                  *[f"{_num(((g.get('metrics') or {}).get(m) or {}).get('value'))} "
                    f"{_ci(((g.get('metrics') or {}).get(m) or {}).get('ci'))}" for m in metrics]]
                 for g in groups],
                title=f"By {title}", numeric=[False, True, *[True] * len(metrics)]))
    return blocks


def _view_faithfulness(data: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = [_stats(("label flips", _pct(data["flip_rate"]),
                      f"{_pct_ci(data.get('flip_ci'))} of {_num(data.get('n_children'))} derived "
                      "samples"),
                     ("similarity to parent", _num(data.get("similarity")),
                      f"{_ci(data.get('similarity_ci'))} TF-IDF cosine"))]
    pts = [e for key, group in (("by_generator", "generator"), ("by_operation", "operation"))
           if isinstance(data.get(key), Mapping)
           for name, v in data[key].items() if isinstance(v, Mapping)
           and (e := _est(f"{group}: {name} (n={v.get('n')})", v, group, "flip_rate", "flip_ci"))]
    if pts:
        blocks.append(_chart(charts.estimates_chart(
            pts, title="Label flips per generator and operation", key="faith-groups",
            xlabel="share of children whose predicted label differs from the parent's",
            colors={"generator": charts.SYNTHETIC, "operation": charts.NEUTRAL}),
            "An augmentation that changes what \"correct\" means is not augmentation."))
    worst = [w for w in data.get("worst") or [] if isinstance(w, Mapping)]
    if worst:
        blocks.append(_table(["child", "parent", "parent label", "child label", "similarity",
                              "generator", "operation"],
                             [[str(w.get("child_id")), str(w.get("parent_id")),
                               str(w.get("parent_label")), str(w.get("child_label")),
                               w.get("similarity"), str(w.get("generator") or ""),
                               str(w.get("operation") or "")] for w in worst[:MAX_ROWS]],
                             title="Worst cases (flipped first, then least similar)",
                             numeric=[False, False, False, False, True, False, False]))
    return blocks


def _metric(suite: Mapping[str, Any], metric: str) -> Mapping[str, Any]:
    """A suite's metric as ``{"estimate", "ci", "method"}`` (empty when the suite lacks it)."""
    value = (suite.get("metrics") or {}).get(metric)
    return value if isinstance(value, Mapping) else {}


def _metric_text(suite: Mapping[str, Any], metric: str) -> str:
    m = _metric(suite, metric)
    return f"{_num(m.get('estimate'))} {_ci(m.get('ci'))}".strip()


def _suite_points(suites: Sequence[Mapping[str, Any]], group: str) -> list[Estimate]:
    return [e for s in suites if (e := _est(str(s["suite"]), _metric(s, "accuracy"), group))]


def _view_eval(data: dict[str, Any]) -> list[dict[str, Any]]:
    real, synthetic = data["real"], data["synthetic"]
    inflation = data.get("inflation") or {}
    head = [(f"{s['suite']} (real)", _num(_metric(s, "accuracy").get("estimate")),
             f"accuracy {_ci(_metric(s, 'accuracy').get('ci'))}, n = {_num(s.get('n'))}")
            for s in real]
    if inflation.get("gap") is not None:
        head.append(("inflation gap", f"{float(inflation['gap']):+.3f}",
                     f"{_ci(inflation.get('ci'))} synthetic − real"
                     f"{', ' + inflation['method'] if inflation.get('method') else ''}"))
    failed = data.get("failed") or []
    if synthetic:
        head.append(("synthetic unit tests", f"{len(synthetic) - len(failed)}/{len(synthetic)}",
                     "passed" + (f"; failed: {', '.join(map(str, failed))}" if failed else "")))
    blocks: list[dict[str, Any]] = []
    if data.get("model"):
        family = f" (family {data['model_family']})" if data.get("model_family") else ""
        blocks.append(_note(f"Model {data['model']}{family}."))
    blocks.append(_stats(*head))
    for w in data.get("warnings") or []:
        blocks.append(_note(str(w), "bad"))
    points = _suite_points(real, "real") + _suite_points(synthetic, "synthetic")
    if points:
        blocks.append(_chart(charts.estimates_chart(
            points, title="Accuracy by suite", key="eval-suites", xlabel="accuracy",
            colors={"real": charts.REAL, "synthetic": charts.SYNTHETIC}),
            "Blue: real suites, the acceptance result. Orange: synthetic suites, unit tests with a "
            "pass threshold, never averaged in. Bars are intervals."))
    blocks.append(_table(["real suite", "accuracy", "macro-F1", "n", "method"],
                         [[s["suite"], _metric_text(s, "accuracy"), _metric_text(s, "macro_f1"),
                           s.get("n"), str(_metric(s, "accuracy").get("method", ""))]
                          for s in real],
                         title="Acceptance: real suites", numeric=[False, True, True, True, False]))
    if synthetic:
        blocks.append(_table(["synthetic suite", "accuracy", "threshold", "result", "n"],
                             [[s["suite"], _metric_text(s, "accuracy"), s.get("threshold"),
                               {True: "pass", False: "FAIL"}.get(s.get("passed"), "–"),
                               s.get("n")]
                              for s in synthetic],
                             title="Unit tests: synthetic suites",
                             numeric=[False, True, True, False, True]))
    return blocks


def _view_estimate(data: dict[str, Any]) -> list[dict[str, Any]]:
    names = {"classical": "classical (gold only)", "ppi": "prediction-powered (PPI)",
             "ppi_pp": "PPI++ (power-tuned)"}
    present = [k for k in names if isinstance(data.get(k), Mapping)]
    points = [e for k in present if (e := _est(names[k], data[k], k)) is not None]
    effective = data.get("effective_n") if isinstance(data.get("effective_n"), Mapping) else {}

    def note(k: str) -> str:
        ci = data[k].get("ci") or [None, None]
        width = float(ci[1]) - float(ci[0]) if ci[0] is not None else None
        extra = f", λ = {_num(data[k].get('lambda'))}" if k == "ppi_pp" else ""
        gain = (f", worth {_num(effective[k], 0)} gold rows" if effective.get(k) is not None
                else "")
        return f"{_ci(ci)} width {_num(width)}{extra}{gain}"

    metric = str(data.get("metric", "mean"))
    if data.get("positive"):
        metric += f" ({data['positive']})"
    blocks = [_stats(*[(names[k], _num(data[k].get("estimate")), note(k)) for k in present],
                     ("gold / unlabelled", f"{_num(data.get('n_gold'))} / "
                                           f"{_num(data.get('n_unlabelled'))}", metric))]
    if points:
        blocks.append(_chart(charts.estimates_chart(
            points, title=f"{metric}: prediction-powered vs classical", key="estimate-ppi",
            xlabel=metric, colors={"classical": charts.NEUTRAL, "ppi": charts.REAL,
                                   "ppi_pp": charts.GOOD}),
            "The same quantity three ways: the small real gold set alone, and model predictions "
            f"on unlabelled data corrected by it. {data.get('method', '')}".strip()))
    return blocks


def _view_sweep(data: dict[str, Any]) -> list[dict[str, Any]]:
    points = data["points"]
    shares = [float(p.get("share", p["ratio"])) for p in points]
    acc = [p["accuracy"] for p in points]
    has_ci = all(a.get("ci") for a in acc)
    band = Band("real held-out accuracy", [float(a["mean"]) for a in acc],
                [float(a["ci"][0]) for a in acc] if has_ci else None,
                [float(a["ci"][1]) for a in acc] if has_ci else None)
    lines = [band]
    if all(isinstance(p.get("macro_f1"), Mapping) for p in points):
        f1 = [p["macro_f1"] for p in points]
        f1_ci = all(f.get("ci") for f in f1)
        lines.append(Band("real held-out macro-F1", [float(f["mean"]) for f in f1],
                          [float(f["ci"][0]) for f in f1] if f1_ci else None,
                          [float(f["ci"][1]) for f in f1] if f1_ci else None))
    best = data.get("best") or {}
    trend = data.get("trend") or {}
    blocks = [_stats(("best synthetic share", _pct(best.get("ratio")),
                      f"accuracy {_num(best.get('accuracy'))}"),
                     ("trend", _num(trend.get("slope")),
                      f"{_ci(trend.get('ci'))} accuracy per unit of share"
                      f"{', ' + trend['method'] if trend.get('method') else ''}"),
                     ("setup", f"{_num(data.get('repeats'))} repeats",
                      f"mode {data.get('mode', '–')}, holdout n = {_num(data.get('n_holdout'))}, "
                      f"student {_snippet(data.get('student', '–'))[:60]}"))]
    blocks.append(_chart(charts.line_chart(
        shares, lines, title="Real held-out score vs synthetic share", key="sweep-curve",
        xlabel="synthetic share of training data", ylabel="score on real held-out data",
        mark_x=float(best["ratio"]) if best.get("ratio") is not None else None,
        mark_label="best share", percent_x=True),
        "Each point: students trained at that share, scored on real held-out data; bands: "
        f"{acc[0].get('method', 'intervals')}."))
    blocks.append(_table(["synthetic share", "real", "synthetic", "accuracy", "interval",
                          "macro-F1"],
                         [[_pct(s), p.get("n_real"), p.get("n_synthetic"), a["mean"],
                           _ci(a.get("ci")), (p.get("macro_f1") or {}).get("mean")]
                          for s, p, a in zip(shares, points, acc)],
                         numeric=[True] * 6))
    return blocks


def _view_sensitivity(data: dict[str, Any]) -> list[dict[str, Any]]:
    err = data["generator_error"]
    gold, generated = data["gold"]["accuracy"], data["generated"]["accuracy"]
    trends = data.get("trends") or {}
    blocks = [_stats(("generator error rate", _pct(err["rate"]),
                      f"{_ci(err.get('ci'))} on {_num(data.get('n_matched'))} matched rows"),
                     ("student on gold labels", _num(gold["mean"]), _ci(gold.get("ci"))),
                     ("student on generator labels", _num(generated["mean"]),
                      _ci(generated.get("ci"))),
                     *[(f"slope ({kind} noise)", _num(t.get("slope")),
                        f"{_ci(t.get('ci'))} accuracy per unit of label error")
                       for kind, t in trends.items() if isinstance(t, Mapping)])]
    lines = []
    for kind in dict.fromkeys(p["kind"] for p in data.get("noise") or []):
        pts = sorted((p for p in data["noise"] if p["kind"] == kind),
                     key=lambda p: p["realised_rate"])
        acc = [p["accuracy"] for p in pts]
        has_ci = all(a.get("ci") for a in acc)
        lines.append(Band(f"gold + {kind} noise", [a["mean"] for a in acc],
                          [a["ci"][0] for a in acc] if has_ci else None,
                          [a["ci"][1] for a in acc] if has_ci else None,
                          x=[p["realised_rate"] for p in pts]))
    gen_ci = generated.get("ci") or [None, None]
    lines.append(Band("student on generator labels", [generated["mean"]],
                      [gen_ci[0]] if gen_ci[0] is not None else None,
                      [gen_ci[1]] if gen_ci[0] is not None else None, x=[err["rate"]]))
    blocks.append(_chart(charts.line_chart(
        [], lines, title="Real held-out accuracy vs label error", key="sensitivity-curve",
        xlabel="label error rate in training data", ylabel="accuracy on real held-out data",
        percent_x=True),
        "Gold labels with noise injected uniformly and in the generator's own confusion "
        "pattern; the diamond is the student trained on the generator's labels."))
    for w in data.get("warnings") or []:
        blocks.append(_note(str(w), "warn"))
    return blocks


KINDS: tuple[_Kind, ...] = (
    _Kind("mirage", "Mirage: can synthetic be told from real?",
          "tether audit mirage --real {real} --synthetic {synthetic}", ("c2st_auc", "auc_ci"),
          _view_mirage, "Profile and classifier two-sample test of synthetic against real data."),
    _Kind("coverage", "Coverage of real data", "tether audit coverage --real {real} "
          "--synthetic {synthetic}", ("precision", "recall"), _view_coverage,
          "Precision and recall of distributions (k-NN manifolds): fidelity and coverage."),
    _Kind("overlap", "Overlap and contamination", "tether audit overlap --train {train} "
          "--eval {eval}", ("contaminated_eval", "eval_count"), _view_overlap,
          "Near-duplicates (MinHash + LSH, exact Jaccard) between training and evaluation data."),
    _Kind("labels", "Label issues by generator", "tether audit labels --dataset {dataset}",
          ("issue_count", "n"), _view_labels,
          "Confident learning on out-of-fold probabilities of a default student."),
    _Kind("generator", "Generator audit", "tether audit generator --gold {gold} "
          "--generated {generated}", ("accuracy", "accuracy_ci", "confusion"), _view_generator,
          "The generator's labels against real gold labels on the same inputs."),
    _Kind("diversity", "Diversity per generation", "tether audit diversity --dataset {dataset}",
          ("by_generation",), _view_diversity,
          "Distinct n-grams, compression, tail mass and spread, generation after generation."),
    _Kind("faithfulness", "Faithfulness of derived samples",
          "tether audit faithfulness --dataset {dataset}", ("flip_rate",), _view_faithfulness,
          "Does each perturbation or paraphrase keep its parent's meaning?"),
    _Kind("eval", "Evaluation: real suites first", "tether eval --predictions PREDICTIONS.jsonl "
          "--suites {holdout}", ("real", "synthetic"), _view_eval,
          "Real suites are acceptance tests; synthetic suites are unit tests, reported apart."),
    _Kind("estimate", "Prediction-powered estimates", "tether estimate --gold GOLD.jsonl "
          "--predicted PREDICTED.jsonl", ("classical", "ppi"), _view_estimate,
          "A small real gold set corrects model-made labels into valid intervals."),
    _Kind("sweep", "Synthetic ratio sweep", "tether sweep --real {real} --synthetic {synthetic} "
          "--holdout {holdout}", ("points",), _view_sweep,
          "A student trained at each synthetic share, measured on real held-out data."),
    _Kind("sensitivity", "Sensitivity to the generator", "tether sensitivity --gold {gold} "
          "--generated {generated} --holdout {holdout}", ("generator_error", "gold", "generated"),
          _view_sensitivity,
          "How much real performance a better generator would buy."),
)
_VIEWS = {k.key: k for k in KINDS}
_LEDES = {"provenance": "Where every sample came from: origin, label origin, generator, lineage."}


# ---------------------------------------------------------------------------- render
def _blocks(section: Section) -> list[dict[str, Any]]:
    if section.status != "ok":
        return []
    view = _view_provenance if section.key == "provenance" else _VIEWS[section.key].view
    return view(section.data)


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
        lede = _LEDES.get(section.key) or _VIEWS[section.key].lede
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
