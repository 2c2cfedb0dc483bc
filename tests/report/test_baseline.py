"""Compare with an earlier run: ``build_report(baseline=)`` / ``tether report --baseline`` mark
the verdicts that flipped and the estimates whose intervals no longer overlap, and nothing when
nothing changed."""

from __future__ import annotations

import copy
import json
import re
import sys

import pytest
from typer.testing import CliRunner

from tether import Store
from tether.cli import app, main
from tether.errors import InputError
from tether.report import build_report, render_html
from tether.report.baseline import (
    BaselineComparison,
    IntervalShift,
    VerdictFlip,
    compare_reports,
    estimates,
)


@pytest.fixture(scope="module")
def twin(report_store):
    """The JSON twin of the populated store's report (what ``--json-out`` writes)."""
    with Store(report_store) as store:
        return json.loads(json.dumps(build_report(store).to_dict()))


def _section(report: dict, key: str) -> dict:
    return next(s for s in report["sections"] if s["key"] == key)


def _earlier(twin: dict) -> dict:
    """An earlier run: mirage passed with AUC 0.55 [0.50, 0.60], real holdout accuracy 0.60
    [0.55, 0.65], and the sweep's first point moved a little (its intervals still overlap)."""
    old = copy.deepcopy(twin)
    mirage = _section(old, "mirage")
    mirage["data"] |= {"c2st_auc": 0.55, "auc_ci": [0.50, 0.60]}
    for v in mirage["verdicts"]:
        v["level"] = "pass"
    accuracy = _section(old, "eval")["data"]["real"][0]["metrics"]["accuracy"]
    accuracy |= {"estimate": 0.60, "ci": [0.55, 0.65]}
    point = _section(old, "sweep")["data"]["points"][0]["accuracy"]
    lo, hi = point["ci"]
    point |= {"mean": point["mean"] + (hi - lo) / 4, "ci": [lo + (hi - lo) / 4, hi + (hi - lo) / 4]}
    return old


def test_identical_runs_report_nothing(twin, report_store, tmp_path):
    assert compare_reports(twin, twin) == BaselineComparison("baseline", twin["generated_at"],
                                                             (), ())
    path = tmp_path / "old.json"
    path.write_text(json.dumps(twin))
    with Store(report_store) as store:
        report = build_report(store, baseline=path)
    section = report.section("baseline")
    assert [s.key for s in report.sections][:2] == ["summary", "baseline"]
    assert section.data["changed"] is False and not section.data["flips"] + section.data["shifts"]
    page = render_html(report)
    assert "Nothing changed since" in page and 'class="changed"' not in page


def test_a_flipped_verdict_and_a_non_overlapping_interval_are_reported(twin, report_store):
    old = _earlier(twin)
    result = compare_reports(old, twin, "old.json")
    mirage_now = _section(twin, "mirage")["verdicts"][0]
    assert result.flips == (VerdictFlip("mirage", mirage_now["check"], "pass",
                                        mirage_now["level"], mirage_now["finding"]),)
    assert mirage_now["level"] != "pass"  # the fixture's mirage fails: a real flip
    accuracy = _section(twin, "eval")["data"]["real"][0]["metrics"]["accuracy"]
    assert {(s.section, s.path) for s in result.shifts} == {
        ("mirage", "c2st_auc"), ("eval", "real[suite=holdout].metrics.accuracy.estimate")}
    shift = next(s for s in result.shifts if s.section == "eval")
    assert shift == IntervalShift("eval", shift.path, 0.60, (0.55, 0.65), accuracy["estimate"],
                                  tuple(accuracy["ci"]))
    assert result.changed_sections == ("mirage", "eval")
    assert BaselineComparison.from_dict(json.loads(json.dumps(result.to_dict()))) == result

    with Store(report_store) as store:
        page = render_html(build_report(store, baseline=old))
    baseline = page[page.index('id="baseline"'):page.index('id="provenance"')]
    assert "Verdicts that flipped" in baseline and "Estimates whose intervals no longer overlap" in baseline
    assert "c2st_auc: 0.550 [0.500, 0.600] → 1.000" in page  # in the changed section
    # and at the changed number itself: the stat showing it is flagged with its earlier value
    stat = re.search(r'<div class="stat changed-stat"><div class="label">C2ST AUC</div>.*?'
                     r'<div class="sub was">([^<]*)</div>', page)
    assert stat and stat.group(1) == "was 0.550 [0.500, 0.600] (baseline)"
    flagged = re.findall(r'<div class="stat changed-stat"><div class="label">([^<]*)</div>'
                         r'<div class="value">([^<]*)</div>', page)
    assert flagged == [("C2ST AUC", "1.000"), ("holdout (real)", f"{accuracy['estimate']:.3f}")]
    cards = re.split(r"<section ", page)
    marked = [re.search(r'id="(\w+)"', c).group(1) for c in cards if '<div class="changed">' in c]
    assert marked == ["mirage", "eval"]


def test_a_report_without_verdicts_or_estimates_compares_gracefully(twin):
    bare = {"sections": [{"key": s["key"], "data": {}} for s in twin["sections"]]}
    assert not compare_reports(bare, twin).changed
    assert not compare_reports({"sections": []}, twin).changed
    # verdicts only inside the data (an older layout) are found there
    old = copy.deepcopy(twin)
    mirage = _section(old, "mirage")
    mirage["data"]["verdicts"] = [{**v, "level": "pass"} for v in mirage.pop("verdicts")]
    assert [f.section for f in compare_reports(old, twin).flips] == ["mirage"]


def test_two_sections_of_one_kind_are_matched_by_their_subject():
    def section(anchor, dataset, level, auc):
        return {"key": "diversity", "id": anchor, "params": {"dataset": dataset},
                "verdicts": [{"check": "falling", "level": level}],
                "data": {"distinct": auc, "distinct_ci": [auc - 0.01, auc + 0.01]}}
    old = {"sections": [section("diversity", "loop", "pass", 0.9),
                        section("diversity-2", "control", "pass", 0.9)]}
    # the newer report lists them the other way round; only the loop collapsed
    new = {"sections": [section("diversity", "control", "pass", 0.9),
                        section("diversity-2", "loop", "warn", 0.5)]}
    c = compare_reports(old, new)
    assert [(f.section, f.old, f.new) for f in c.flips] == [("diversity-2", "pass", "warn")]
    assert [s.section for s in c.shifts] == ["diversity-2"]
    # one section of a kind on each side: the same subject even when its parameters changed
    one = {"sections": [section("diversity", "loop-v2", "warn", 0.5)]}
    assert [f.new for f in compare_reports({"sections": old["sections"][:1]}, one).flips] == \
        ["warn"]


def test_estimates_are_found_beside_their_intervals():
    data = {"c2st_auc": 0.7, "auc_ci": [0.6, 0.8], "flip_rate": 0.1, "flip_ci": [0.05, 0.2],
            "real": [{"suite": "a", "metrics": {"accuracy": {"estimate": 0.9, "ci": [0.8, 1]}}}],
            "no_interval": 0.4, "bad_ci": [None, None], "verdicts": [{"ci": [0, 1], "value": 3}]}
    assert list(estimates(data)) == [("c2st_auc", 0.7, (0.6, 0.8)), ("flip_rate", 0.1, (0.05, 0.2)),
                                     ("real[suite=a].metrics.accuracy.estimate", 0.9, (0.8, 1.0))]


def test_baseline_that_is_not_a_report_json_is_a_clear_error(report_store, tmp_path):
    page = tmp_path / "old.html"
    page.write_text("<!DOCTYPE html><html></html>")
    with Store(report_store) as store:
        with pytest.raises(InputError, match=r"old\.html is not JSON.*--json-out"):
            build_report(store, baseline=page)
        (tmp_path / "x.json").write_text('{"title": "x"}')
        with pytest.raises(InputError, match="no list of sections"):
            build_report(store, baseline=tmp_path / "x.json")
        with pytest.raises(InputError, match="no baseline report at"):
            build_report(store, baseline=tmp_path / "missing.json")


def test_cli_report_with_baseline(twin, report_store, tmp_path, monkeypatch, capsys):
    old = tmp_path / "old.json"
    old.write_text(json.dumps(_earlier(twin)))
    out = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "r.html"), "--baseline",
                                   str(old), "--store", str(report_store), "--json"],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    assert summary["baseline"] == {"path": str(old), "flips": 1, "shifts": 2}
    page = tmp_path / "r.html"
    monkeypatch.setattr(sys, "argv", ["tether", "report", "--out", str(tmp_path / "s.html"),
                                      "--baseline", str(page), "--store", str(report_store)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert err.startswith("error:") and f"baseline {page} is not JSON" in err
