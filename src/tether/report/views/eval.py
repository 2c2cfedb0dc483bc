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


def _suite_points(suites: Sequence[Mapping[str, Any]], group: str) -> list[Estimate]:
    return [e for s in suites if (e := estimate_point(str(s["suite"]), _metric(s, "accuracy"), group))]


def render(data: dict[str, Any]) -> list[dict[str, Any]]:
    real, synthetic = data["real"], data["synthetic"]
    inflation = data.get("inflation") or {}
    head = [(f"{s['suite']} (real)", fmt_num(_metric(s, "accuracy").get("estimate")),
             f"accuracy {fmt_ci(_metric(s, 'accuracy').get('ci'))}, n = {fmt_num(s.get('n'))}")
            for s in real]
    if inflation.get("gap") is not None:
        head.append(("inflation gap", f"{float(inflation['gap']):+.3f}",
                     f"{fmt_ci(inflation.get('ci'))} synthetic − real"
                     f"{', ' + inflation['method'] if inflation.get('method') else ''}"))
    failed = data.get("failed") or []
    if synthetic:
        head.append(("synthetic unit tests", f"{len(synthetic) - len(failed)}/{len(synthetic)}",
                     "passed" + (f"; failed: {', '.join(map(str, failed))}" if failed else "")))
    blocks: list[dict[str, Any]] = []
    if data.get("model"):
        family = f" (family {data['model_family']})" if data.get("model_family") else ""
        blocks.append(note_block(f"Model {data['model']}{family}."))
    blocks.append(stats_block(*head))
    for w in data.get("warnings") or []:
        blocks.append(note_block(str(w), "bad"))
    points = _suite_points(real, "real") + _suite_points(synthetic, "synthetic")
    if points:
        blocks.append(chart_block(charts.estimates_chart(
            points, title="Accuracy by suite", key="eval-suites", xlabel="accuracy",
            colors={"real": charts.REAL, "synthetic": charts.SYNTHETIC}),
            "Blue: real suites, the acceptance result. Orange: synthetic suites, unit tests with a "
            "pass threshold, never averaged in. Bars are intervals."))
    blocks.append(table_block(["real suite", "accuracy", "macro-F1", "n", "method"],
                         [[s["suite"], _metric_text(s, "accuracy"), _metric_text(s, "macro_f1"),
                           s.get("n"), str(_metric(s, "accuracy").get("method", ""))]
                          for s in real],
                         title="Acceptance: real suites", numeric=[False, True, True, True, False]))
    if synthetic:
        blocks.append(table_block(["synthetic suite", "accuracy", "threshold", "result", "n"],
                             [[s["suite"], _metric_text(s, "accuracy"), s.get("threshold"),
                               {True: "pass", False: "FAIL"}.get(s.get("passed"), "–"),
                               s.get("n")]
                              for s in synthetic],
                             title="Unit tests: synthetic suites",
                             numeric=[False, True, True, False, True]))
    return blocks
