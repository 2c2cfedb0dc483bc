"""Charts: real plots as inline SVG that reference nothing outside the page."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import matplotlib.pyplot as plt
import pytest

from tether.report import charts
from tether.report.charts import Band, Estimate

SVG = "{http://www.w3.org/2000/svg}"
#: URIs that may appear in an inline SVG: XML namespace names, which are never fetched.
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def all_charts() -> dict[str, str]:
    return {
        "bar": charts.bar_chart({"real": 120, "synthetic": 30}, title="Samples", key="t-bar"),
        "stacked": charts.stacked_bars({"train": {"real": 80, "synthetic": 20},
                                        "holdout": {"real": 50}}, title="Origin", key="t-stack"),
        "grouped": charts.grouped_bars(["business", "sport"], {"real": [0.6, 0.4],
                                                               "generator": [0.5, 0.5]},
                                       title="Skew", key="t-group", ylabel="share"),
        "heatmap": charts.heatmap([[40, 7], [3, 50]], ["business", "sport"], ["business", "sport"],
                                  title="Confusion", key="t-heat", xlabel="generator",
                                  ylabel="gold"),
        "line": charts.line_chart([0, 0.5, 1], [Band("accuracy", [0.9, 0.85, 0.7],
                                                     [0.88, 0.82, 0.65], [0.92, 0.88, 0.75])],
                                  title="Sweep", key="t-line", xlabel="share", ylabel="accuracy",
                                  mark_x=0.0, mark_label="best share", percent_x=True),
        "estimates": charts.estimates_chart([Estimate("classical", 0.8, 0.7, 0.9, "classical"),
                                             Estimate("ppi", 0.82, 0.77, 0.87, "ppi")],
                                            title="PPI", key="t-est", xlabel="accuracy",
                                            reference=0.75, reference_label="target"),
        "histogram": charts.histogram([0, 0.5, 1], {"synthetic": [3, 0], "holdout": [0, 2]},
                                      title="Distances", key="t-hist", xlabel="distance"),
        "timeline": charts.timeline([
            {"kind": "ingest", "dataset": "train", "started_at": "2025-03-01T10:00:00",
             "ended_at": "2025-03-01T10:00:01", "added": 300},
            {"kind": "generate", "dataset": "typos", "started_at": "2025-03-01T10:05:00",
             "ended_at": "2025-03-01T10:07:30", "added": 900}], title="Runs", key="t-time"),
    }


@pytest.fixture(scope="module")
def rendered():
    return all_charts()


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_every_chart_is_inline_svg_that_references_nothing_outside(rendered):
    for name, svg in rendered.items():
        assert svg.startswith("<svg") and svg.endswith("</svg>"), name
        ET.fromstring(svg)  # well-formed
        assert "<metadata" not in svg and "<?xml" not in svg and "DOCTYPE" not in svg, name
        urls = set(re.findall(r"(?:https?|ftp|wss?)://[^\s\"'<>)]+", svg))
        assert urls <= NAMESPACES, (name, urls - NAMESPACES)
        assert not re.search(r"@import|@font-face|<image|<script|<foreignObject", svg), name
        refs = re.findall(r'(?:href="|url\()#?([^")]+)', svg)
        ids = set(re.findall(r'\bid="([^"]+)"', svg))
        assert set(refs) <= ids, (name, set(refs) - ids)  # every reference is internal


def test_text_stays_text_and_charts_have_axes_and_labels(rendered):
    words = {name: " ".join(texts(svg)) for name, svg in rendered.items()}
    assert "Samples" in words["bar"] and "120" in words["bar"] and "30" in words["bar"]
    assert "samples" in words["stacked"] and "holdout" in words["stacked"]
    assert "gold" in words["heatmap"] and "generator" in words["heatmap"]
    # heat map annotations: every cell's count is written on it
    for count in ("40", "7", "3", "50"):
        assert count in texts(rendered["heatmap"]), count
    assert all(w in words["line"] for w in ("accuracy", "share", "best share"))
    assert "0.800  [0.700, 0.900]" in words["estimates"] and "target" in words["estimates"]
    assert "+900" in words["timeline"] and "generate → typos" in words["timeline"]
    assert "synthetic (n=3)" in words["histogram"]


def test_intervals_are_drawn_as_bands_and_error_bars(rendered):
    # the band is a filled, translucent polygon; error bars are line collections with caps
    assert re.search(r"fill-opacity: 0\.16", rendered["line"])
    est = ET.fromstring(rendered["estimates"])
    caps = [g for g in est.iter(f"{SVG}g") if g.get("id", "").startswith("t-est-LineCollection")]
    assert len(caps) == 2  # one interval per estimate


def test_ids_are_unique_across_charts_on_one_page(rendered):
    seen: set[str] = set()
    for svg in rendered.values():
        ids = re.findall(r'\bid="([^"]+)"', svg)
        assert len(ids) == len(set(ids))
        assert not seen & set(ids)
        seen |= set(ids)


def test_user_text_is_escaped_and_dollar_signs_are_literal():
    svg = charts.bar_chart({"<script>alert(1)</script>": 3, "costs $5 and $6": 2},
                           title="t", key="t-esc")
    assert "<script>" not in svg
    assert "<script>alert(1)</script>" in texts(svg)
    assert "costs $5 and $6" in texts(svg)  # not parsed as mathtext


def test_same_input_same_svg_and_figures_are_closed():
    before = len(plt.get_fignums())
    first, second = all_charts(), all_charts()
    assert first == second  # deterministic: ids are salted with the chart key, no dates
    assert len(plt.get_fignums()) == before == 0
