"""The report model, its JSON twin and the HTML page, built from results of the real audit and
evaluation functions (tests/report/conftest.py) and from malformed results."""

from __future__ import annotations

import html
import json
import re

import pytest

from tether import Store
from tether.report import build_report, render_html, write_report
from tether.report.views._blocks import fmt_num as _num
from tether.results import KINDS

ORDER = ["summary", "provenance", "mirage", "coverage", "overlap", "labels", "generator", "diversity",
         "faithfulness", "style", "eval", "estimate", "sweep", "sensitivity"]
#: Kinds the fixture fills by calling the real library functions.
FROM_REAL_FUNCTIONS = {"mirage", "coverage", "overlap", "labels", "generator", "diversity",
                       "faithfulness", "style", "eval", "estimate", "sweep", "sensitivity"}
#: XML namespace names inside inline SVG: identifiers, never fetched.
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


@pytest.fixture(scope="module")
def report(report_store):
    with Store(report_store) as store:
        return build_report(store)


@pytest.fixture(scope="module")
def page(report):
    return render_html(report)


def text_of(page: str) -> str:
    """The page's visible text, tags removed and entities decoded."""
    body = re.sub(r"<svg.*?</svg>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def test_sections_in_order_with_results_from_the_real_functions(report):
    assert [s.key for s in report.sections] == ORDER == ["summary", "provenance",
                                                         *(k.name for k in KINDS)]
    assert {s.key: s.status for s in report.sections} == {k: "ok" for k in ORDER}
    assert {s.key for s in report.sections[2:]} == FROM_REAL_FUNCTIONS


def test_sections_not_run_say_so_and_show_the_command_with_real_names(report_store, tmp_path):
    path = tmp_path / "partial.duckdb"
    with Store(report_store) as full, Store(path) as store:
        for name in ("train", "holdout", "synthetic"):
            store.ingest(name, full.table(name).drop_columns(
                ["config_hash", "generation", "content_hash", "run_id", "created_at"]))
        report = build_report(store)
    assert {s.status for s in report.sections[2:]} == {"not_run"}
    assert report.section("diversity").command == "tether audit diversity --dataset synthetic"
    assert report.section("mirage").command == \
        "tether audit mirage --real train --synthetic synthetic"
    assert report.section("sweep").command == \
        "tether sweep --real train --synthetic synthetic --holdout holdout"
    text = text_of(render_html(report))
    assert "Not run yet. Run: tether audit diversity --dataset synthetic" in text


def test_json_twin_carries_every_number_shown(report, page):
    data = json.loads(json.dumps(report.to_dict()))
    sections = {s["key"]: s["data"] for s in data["sections"]}
    text = text_of(page)
    mirage = sections["mirage"]
    assert f"C2ST AUC {_num(mirage['c2st_auc'])}" in text
    real = sections["eval"]["real"][0]["metrics"]["accuracy"]
    assert f"{_num(real['estimate'])} [{_num(real['ci'][0])}, {_num(real['ci'][1])}]" in text
    gap = sections["eval"]["inflation"]["gap"]
    assert f"inflation gap {gap:+.3f}" in text
    for key in ("classical", "ppi", "ppi_pp"):
        assert _num(sections["estimate"][key]["estimate"]) in text
    gen = sections["generator"]
    assert f"generator accuracy {_num(gen['accuracy'])}" in text
    assert f"{_num(sections['coverage']['precision'])}" in text
    overlap = sections["overlap"]
    assert f"contaminated eval items {overlap['contaminated_eval']:,}" in text
    for point in sections["sweep"]["points"]:
        assert _num(point["accuracy"]["mean"]) in text
    provenance = sections["provenance"]
    assert f"samples {sum(d['count'] for d in provenance['datasets']):,}" in text
    assert len(provenance["runs"]) == 8  # 4 real ingests, the variant, the teacher, 3 of loop
    assert {r["dataset"] for r in provenance["runs"]} == {d["name"] for d in provenance["datasets"]}


def test_page_is_self_contained(page):
    # one inline script (the sample browser's filters), allowed by its hash, none from a file
    assert re.findall(r"<script[^>]*>", page, flags=re.I) == ["<script>"]
    assert "<link" not in page.lower()
    assert not re.search(r"@import|@font-face|url\((?!#)", page)
    assert not re.search(r"""\b(?:src|href|action|poster|srcset)\s*=\s*["']?(?!#)[a-z]+:""",
                         page, flags=re.I)
    urls = set(re.findall(r"(?:https?|ftp|wss?)://[^\s\"'<>)]+", page))
    assert urls <= NAMESPACES, urls - NAMESPACES
    assert "default-src 'none'" in page  # and the browser is told to fetch nothing
    assert page.count("<svg") >= 15  # real charts, inline


def test_user_text_is_escaped(tmp_path):
    evil = "<script>alert(1)</script>"
    with Store(tmp_path / "s.duckdb") as store:
        store.ingest(evil, [{"text": "a", "label": "x"}], origin="real", label_origin="real",
                     domain=evil)
        page = render_html(build_report(store, title=evil))
    assert evil not in page
    assert html.escape(evil, quote=False) in page or "&lt;script&gt;" in page


def test_empty_store_renders_with_every_section_not_run(tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        report = build_report(store)
    assert report.section("provenance").status == "empty"
    assert all(s.status == "not_run" for s in report.sections[2:])
    assert report.section("mirage").command == \
        "tether audit mirage --real REAL --synthetic SYNTHETIC"
    assert "The store holds no datasets yet." in text_of(render_html(report))


def test_missing_required_key_shows_incomplete_and_missing_optional_keys_do_not(tmp_path,
                                                                                 save_json):
    with Store(tmp_path / "s.duckdb") as store:
        save_json(store, "mirage", {"c2st_auc": 0.71, "auc_ci": [0.66, 0.76]},
                  {"real": "a", "synthetic": "b"})
        save_json(store, "sweep", {"mode": "replace"})
        save_json(store, "generator", {"accuracy": 0.9, "accuracy_ci": [0.85, 0.94],
                                       "confusion": "not a matrix"})
        report = build_report(store)
        page = render_html(report)
    assert report.section("mirage").status == "ok"
    assert report.section("sweep").status == "incomplete"
    assert "missing points" in report.section("sweep").message
    text = text_of(page)
    assert "C2ST AUC 0.710" in text
    assert "Incomplete result: missing points." in text
    assert "Incomplete result: could not read" in text  # wrong shape: the section, not the page


def test_results_without_optional_keys_render(tmp_path, save_json):
    """Only the required keys of each audit: every optional part is left out, nothing breaks."""
    minimal = {"coverage": {"precision": 0.8, "recall": 0.4},
               "overlap": {"contaminated_eval": 0, "eval_count": 50},
               "labels": {"issue_count": 3, "n": 90},
               "generator": {"accuracy": 0.9, "accuracy_ci": [0.85, 0.94],
                             "confusion": {"labels": ["a", "b"], "matrix": [[9, 1], [0, 10]]}},
               "diversity": {"by_generation": []},
               "faithfulness": {"flip_rate": 0.1},
               "style": {"features": {}, "flagged": []},
               "eval": {"real": [], "synthetic": []},
               "estimate": {"classical": {"estimate": 0.5, "ci": [0.4, 0.6]},
                            "ppi": {"estimate": 0.52, "ci": [0.47, 0.57]}},
               "sweep": {"points": [{"ratio": 0.0, "accuracy": {"mean": 0.9}},
                                    {"ratio": 0.5, "accuracy": {"mean": 0.8}}]},
               "sensitivity": {"generator_error": {"rate": 0.1},
                               "gold": {"accuracy": {"mean": 0.9}},
                               "generated": {"accuracy": {"mean": 0.85}}}}
    with Store(tmp_path / "s.duckdb") as store:
        for kind, result in minimal.items():
            save_json(store, kind, result)
        report = build_report(store)
        text = text_of(render_html(report))
    assert all(s.status == "ok" for s in report.sections[3:])  # summary, provenance, mirage
    assert "Incomplete" not in text
    assert "precision 0.800" in text and "label flips 10.0%" in text


def test_write_report_writes_the_page_and_its_json_twin(report, tmp_path):
    path = write_report(report, tmp_path / "out" / "r.html", tmp_path / "out" / "r.json")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert json.loads((tmp_path / "out" / "r.json").read_text()) == \
        json.loads(json.dumps(report.to_dict()))


def test_one_section_per_subject_with_unique_ids_and_working_links(tmp_path, save_json):
    """Two diversity results on two datasets both show; a rerun with the same parameters
    replaces the older; every section id is unique and every in-page link has a target."""
    gens = [{"group": str(g), "n": 40, "metrics": {"distinct_2": {"value": v, "ci": [v - .1, v]}}}
            for g, v in ((1, 0.6), (2, 0.4), (3, 0.2))]
    with Store(tmp_path / "s.duckdb") as store:
        for name in ("loop", "control"):
            store.ingest(name, [{"text": f"{name} text", "label": "x"}], origin="real",
                         label_origin="real")
        save_json(store, "diversity", {"by_generation": [], "warnings": ["old"]},
                  {"dataset": "loop"})
        save_json(store, "diversity", {"by_generation": gens, "warnings": ["fell"]},
                  {"dataset": "loop"})
        save_json(store, "diversity", {"by_generation": gens, "warnings": []},
                  {"dataset": "control"})
        for metric in ("accuracy", "mean"):  # rows in memory: named by their metric
            save_json(store, "estimate", {"classical": {"estimate": 0.5, "ci": [0.4, 0.6]},
                                          "ppi": {"estimate": 0.5, "ci": [0.45, 0.55]}},
                      {"gold": "<table of 9 rows>", "metric": metric})
        report = build_report(store)
        page = render_html(report)
    diversity = [s for s in report.sections if s.key == "diversity"]
    assert [s.params["dataset"] for s in diversity] == ["control", "loop"]  # newest first
    assert [s.id for s in diversity] == ["diversity", "diversity-2"]
    assert [s.data["warnings"] for s in diversity] == [[], ["fell"]]
    assert diversity[1].title.endswith(": loop")
    assert [s.title.rpartition(": ")[2] for s in report.sections if s.key == "estimate"] == \
        ["mean", "accuracy"]
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)) and page.count("<svg") >= 2  # two charts, distinct ids
    assert set(re.findall(r'href="#([^"]+)"', page)) <= set(ids)
    summary = report.section("summary").data
    assert "diversity-2" in summary["sections"]
    assert '<a href="#diversity-2">' in page


def test_estimate_view_says_when_the_metric_was_inferred():
    from tether.evaluate.ppi import estimate
    from tether.report.views.estimate import render
    gold = [{"label": 4, "prediction": 3.5}, {"label": 2, "prediction": 2.5},
            {"label": 5, "prediction": 4.0}]
    chosen = estimate(gold, [{"prediction": 3.0}] * 10).to_dict()
    asked = estimate(gold, [{"prediction": 3.0}] * 10, metric="pass_rate", threshold=4).to_dict()
    notes = [item["note"] for d in (chosen, asked) for item in render(d)[0]["items"]
             if item["label"] == "gold / unlabelled"]
    assert notes == ["mean — inferred from the gold labels", "pass_rate (at ≥ 4)"]
