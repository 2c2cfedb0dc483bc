"""The report view of the eval result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tether.report import charts
from tether.report.charts import Estimate
from tether.report.views._blocks import (
    chart_block,
    estimate_point,
    fmt_ci,
    fmt_num,
    note_block,
    stats_block,
    table_block,
)


#: Keys without which the section is incomplete.
REQUIRED = ("real", "synthetic")


def _metric(suite: Mapping[str, Any], metric: str) -> Mapping[str, Any]:
    """A suite's metric as ``{"estimate", "ci", "method"}`` (empty when the suite lacks it)."""
    value = (suite.get("metrics") or {}).get(metric)
    return value if isinstance(value, Mapping) else {}


def _metric_text(suite: Mapping[str, Any], metric: str) -> str:
    m = _metric(suite, metric)
    return f"{fmt_num(m.get('estimate'))} {fmt_ci(m.get('ci'))}".strip()


def _metrics(suites: Sequence[Mapping[str, Any]]) -> list[str]:
    """The metric names of the suites in their order (the first is the pass metric)."""
    names: list[str] = []
    for suite in suites:
        names += [m for m in suite.get("metrics") or {} if m not in names]
    return names or ["accuracy"]


def _suite_points(suites: Sequence[Mapping[str, Any]], group: str, metric: str) -> list[Estimate]:
    return [e for s in suites if (e := estimate_point(str(s["suite"]), _metric(s, metric), group))]


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    real, synthetic = data["real"], data["synthetic"]
    names = _metrics(list(real) + list(synthetic))
    first = names[0]
    inflation = data.get("inflation") or {}
    head = [(f"{s['suite']} (real)", fmt_num(_metric(s, first).get("estimate")),
             f"{first} {fmt_ci(_metric(s, first).get('ci'))}, n = {fmt_num(s.get('n'))}")
            for s in real]
    if inflation.get("gap") is not None:
        metric = inflation.get("metric") or "accuracy"
        head.append(("inflation gap", f"{float(inflation['gap']):+.3f}",
                     f"{fmt_ci(inflation.get('ci'))} synthetic − real "
                     f"{metric if metric == 'accuracy' else 'mean ' + metric}"
                     f"{', ' + inflation['method'] if inflation.get('method') else ''}"))
    failed = data.get("failed") or []
    if synthetic:
        head.append(("synthetic unit tests", f"{len(synthetic) - len(failed)}/{len(synthetic)}",
                     "passed" + (f"; failed: {', '.join(map(str, failed))}" if failed else "")))
    blocks: list[dict[str, Any]] = []
    if data.get("model") or data.get("judge_family"):
        family = f" (family {data['model_family']})" if data.get("model_family") else ""
        judge = f" Judge family {data['judge_family']}." if data.get("judge_family") else ""
        blocks.append(note_block((f"Model {data['model']}{family}." if data.get("model")
                                  else "") + judge))
    blocks.append(stats_block(*head))
    overlaps = data.get("family_overlaps") or []
    if overlaps:
        blocks.append(table_block(["roles", "family", "suite", "generator"],
                                  [[" + ".join(map(str, o.get("roles") or [])),
                                    str(o.get("family")), str(o.get("suite") or "–"),
                                    str(o.get("generator") or "–")] for o in overlaps],
                                  title="Roles sharing a model family (generator, judge, model)"))
    for w in data.get("warnings") or []:
        blocks.append(note_block(str(w), "bad"))
    points = _suite_points(real, "real", first) + _suite_points(synthetic, "synthetic", first)
    if points:
        blocks.append(chart_block(charts.estimates_chart(
            points, title=f"{first} by suite", key="eval-suites",
            xlabel=first, colors={"real": charts.REAL, "synthetic": charts.SYNTHETIC}),
            "Blue: real suites, the acceptance result. Orange: synthetic suites, unit tests with a "
            "pass threshold, never averaged in. Bars are intervals."))
    blocks.append(table_block(["real suite", *names, "n", "method"],
                         [[s["suite"], *(_metric_text(s, m) for m in names), s.get("n"),
                           str(_metric(s, first).get("method", ""))]
                          for s in real],
                         title="Acceptance: real suites",
                         numeric=[False, *([True] * len(names)), True, False]))
    if synthetic:
        blocks.append(table_block(["synthetic suite", first, "threshold", "result", "n"],
                             [[s["suite"], _metric_text(s, first), s.get("threshold"),
                               {True: "pass", False: "FAIL"}.get(s.get("passed"), "–"),
                               s.get("n")]
                              for s in synthetic],
                             title="Unit tests: synthetic suites",
                             numeric=[False, True, True, False, True]))
    return blocks
