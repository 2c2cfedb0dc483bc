"""Notebooks: every result shows inline through the report's own view of its kind, with a short
text ``repr``; the report shows as its page in a frame."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import pytest

from tether import Store
from tether.report import build_report, render_html
from tether.results import KINDS, headline

_SECTION = r'<section class="card[^"]*" id="{}">(.*?)</section>'
#: A whole mirage result's JSON form (no profile).
MIRAGE = {"c2st_auc": 0.7, "auc_ci": [0.6, 0.8], "p_value": 0.01, "p_value_delong": 0.01,
          "n_real": 10, "n_synthetic": 10, "top_features": [], "most_synthetic": [],
          "least_covered_real": [], "profile": None, "features": "ngrams", "method": "C2ST"}


def _titles(fragment: str) -> tuple[list[str], list[str]]:
    """The table titles and chart captions of an HTML fragment, in order."""
    return (re.findall(r"<h3>(.*?)</h3>", fragment, re.DOTALL),
            re.findall(r"<figcaption>(.*?)</figcaption>", fragment, re.DOTALL))


@pytest.fixture(scope="module")
def saved(report_store):
    """Every kind's latest result in the populated store, as its result object; the report."""
    with Store(report_store, read_only=True) as s:
        results = {k.name: k.result_type.from_dict(s.latest_result(k.name).data) for k in KINDS}
        report = build_report(s)
    return results, report


@pytest.mark.parametrize("name", [k.name for k in KINDS])
def test_every_result_renders_inline_as_its_report_section(saved, name):
    results, report = saved
    result = results[name]
    fragment = result._repr_html_()
    assert f'<div class="tether-result" data-kind="{name}">' in fragment
    kind = next(k for k in KINDS if k.name == name)
    assert html.escape(kind.title) in fragment
    worst = next(lv for lv in ("fail", "warn", "pass") if lv in {v.level for v in result.verdicts})
    assert f'data-level="{worst}"' in fragment.split("</h3>")[0]  # the badge in the heading
    page = render_html(report)
    section = re.search(_SECTION.format(name), page, re.DOTALL).group(1)
    # one rendering: the same view gives the same tables and charts as the report's section
    inline_tables, inline_charts = _titles(fragment.split("</h3>", 1)[1])
    page_tables, page_charts = _titles(section)
    assert inline_charts == page_charts and len(inline_charts) == fragment.count("<svg")
    # the page adds only what needs the store: the texts of named pairs, side by side
    assert set(inline_tables) <= set(page_tables)
    assert all("side by side" in t for t in set(page_tables) - set(inline_tables))


@pytest.mark.parametrize("name", [k.name for k in KINDS])
def test_every_result_has_a_short_text_repr(saved, name):
    result = saved[0][name]
    text = repr(result)
    assert text.startswith(f"{type(result).__name__}(") and text.endswith(")")
    assert "\n" not in text and len(text) < 220
    for verdict in result.verdicts:
        assert f"{verdict.level}: " in text and verdict.check in text
    data = result.to_dict()
    for shown in headline(data):
        assert shown in text
        key, _, value = shown.partition("=")
        number = float(value.split(" ")[0].replace(",", ""))
        assert number == pytest.approx(data[key], rel=5e-3, abs=5e-4)


def test_the_mirage_repr_names_auc_interval_and_sizes(saved):
    result = saved[0]["mirage"]
    auc, (lo, hi) = result.c2st_auc, result.auc_ci
    assert repr(result).startswith(f"MirageResult(c2st_auc={auc:.3g} [{lo:.3g}, {hi:.3g}]")
    assert f"n_real={result.n_real:,}" in repr(result)


def test_user_text_in_a_result_is_escaped():
    from tether.audit.mirage import MirageResult

    result = MirageResult.from_dict({**MIRAGE, "top_features": [
        {"feature": "<script>alert(1)</script>", "weight": 0.5}]})
    fragment = result._repr_html_()
    assert "<script>" not in fragment and "&lt;script&gt;" in fragment


def test_the_report_shows_as_its_page_in_a_frame(saved):
    _, report = saved
    frame = report._repr_html_()
    srcdoc = re.fullmatch(r'<iframe srcdoc="([^"]*)" .*</iframe>', frame, re.DOTALL).group(1)
    assert html.unescape(srcdoc) == render_html(report)
    text = repr(report)
    assert text.startswith(f"Report({report.title!r}") and len(text) < 200
    assert f"{len(report.sections)} sections" in text


def test_the_results_layer_imports_the_report_only_to_display():
    code = f"""
import sys
from tether.audit.mirage import MirageResult
r = MirageResult.from_dict({MIRAGE!r})
before = "tether.report" in sys.modules
text = repr(r)
after_repr = "tether.report" in sys.modules
r._repr_html_()
print(before, after_repr, "tether.report.notebook" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False", "True"]


def test_ipython_displays_results_and_the_report_as_html(saved):
    formatters = pytest.importorskip("IPython.core.formatters", reason="IPython not installed")
    results, report = saved
    display = formatters.DisplayFormatter()
    for obj in (results["mirage"], report):
        data, _ = display.format(obj)
        assert data["text/html"] == obj._repr_html_()
        assert data["text/plain"] == repr(obj)
    assert json.dumps(results["mirage"].to_dict())  # the display left the result intact
