"""The demo end to end on its small configuration: every section filled, the report's numbers
are the JSON twin's, and the same seed gives the same numbers."""

from __future__ import annotations

import json
import re

import pytest

from tether import Store
from tether.demo import run_demo

VOLATILE = {"created_at", "generated_at", "run_id", "audit_id", "store", "runs", "updated_at",
            "over_time"}  # wall-clock times, which differ between two runs by design


def stable(value):
    """The JSON twin without timestamps and run ids (which differ between two runs)."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return run_demo(out, seed=3, small=True)


def test_every_section_of_the_report_is_filled(demo):
    twin = json.loads(open(demo.report_json).read())
    statuses = {s["key"]: s["status"] for s in twin["sections"]}
    assert set(statuses) >= {"provenance", "mirage", "coverage", "overlap", "labels", "generator",
                             "diversity", "faithfulness", "eval", "estimate", "sweep",
                             "sensitivity", "style"}
    assert set(statuses.values()) == {"ok"}, statuses


def test_report_numbers_match_the_json_twin(demo):
    html = open(demo.report).read()
    twin = {s["key"]: s["data"] for s in json.loads(open(demo.report_json).read())["sections"]}
    assert f"{twin['mirage']['c2st_auc']:.3f}" in html
    assert f"{twin['generator']['accuracy']:.3f}" in html
    real = twin["eval"]["real"][0]["metrics"]["accuracy"]
    assert f"{real['estimate']:.3f}" in html
    assert f"{twin['estimate']['ppi_pp']['estimate']:.3f}" in html
    assert f"{twin['coverage']['precision']:.3f}" in html
    assert real["estimate"] == pytest.approx(demo.headline["real_holdout_accuracy"])
    assert not re.search(r"""(src|href)=["']https?://""", html)


def test_every_family_and_provenance_is_in_the_store(demo):
    with Store(demo.store, read_only=True) as store:
        families = {r[0] for r in store._con.execute(
            "SELECT DISTINCT family FROM samples WHERE family IS NOT NULL").fetchall()}
        assert families == {"model", "rule", "simulation"}
        teacher = store.summary("teacher-labels")
        assert teacher.by_origin["real"] == teacher.count
        assert teacher.by_label_origin == {"synthetic": teacher.count}
        assert store.summary("train-mix").synthetic_share == pytest.approx(0.3, abs=0.01)
        assert store.summary("synthetic-gen2").by_generation == {"2": store.summary("synthetic-gen2").count}
        assert all(r["status"] == "complete" for r in store.runs())


def test_same_seed_same_numbers(demo, tmp_path):
    again = run_demo(tmp_path, seed=3, small=True)
    first = stable(json.loads(open(demo.report_json).read())["sections"])
    second = stable(json.loads(open(again.report_json).read())["sections"])
    assert first == second


def sections(demo, key):
    """The report's sections of one kind, by title (one per subject)."""
    twin = json.loads(open(demo.report_json).read())
    return {s["title"].split(": ", 1)[-1]: s for s in twin["sections"] if s["key"] == key}


def test_headline_task_scores_real_and_rule_made_references_apart(demo):
    evals = {s["data"]["real"][0]["suite"]: s for s in sections(demo, "eval").values()}
    task = evals["headlines-real"]["data"]
    (real,), (rules,) = task["real"], task["synthetic"]
    assert (real["suite"], rules["suite"]) == ("headlines-real", "headlines-rules")
    # the extractive student copies the lead, and so do the rules: synthetic references
    # inflate its score far past what the human headlines give it
    assert rules["metrics"]["rouge_l"]["ci"][0] > real["metrics"]["rouge_l"]["ci"][1]
    assert task["inflation"]["metric"] == "rouge_l" and task["inflation"]["ci"][0] > 0
    assert set(real["metrics"]) == {"rouge_l", "token_f1"}
    style = [s for s in sections(demo, "style").values()
             if s["params"].get("real") == "headlines-real"]
    assert style and style[0]["data"]["field"] == "label"
    estimates = [s["data"] for s in sections(demo, "estimate").values()
                 if s["data"]["metric"] == "mean"]
    assert estimates[0]["n_gold"] == demo.headline["headlines"]["n_gold"]
    lo, hi = estimates[0]["ppi_pp"]["ci"]
    assert lo <= real["metrics"]["rouge_l"]["estimate"] <= hi


def test_feedback_loop_collapse_warns_and_its_control_stays_silent(demo):
    loop = demo.headline["feedback_loop"]
    assert loop["own"]["diversity_warned_at"] is not None
    assert 2 <= loop["own"]["diversity_warned_at"] <= 5
    assert "distinct_1" in loop["own"]["fell"]
    assert loop["real"] == {"diversity_warned_at": None, "fell": [], "warnings": []}
    found = {s["params"].get("dataset"): s for s in sections(demo, "diversity").values()}
    collapse, control = found["collapse-lineage"], found["control-lineage"]
    # both grouped by refit round: five groups each, so the control could warn and does not
    assert len(collapse["data"]["by_generation"]) == len(control["data"]["by_generation"]) == 5
    assert collapse["level"] == "warn" and control["level"] == "pass"
    assert any(w.startswith("distinct_1 ") and " falls " in w
               for w in collapse["data"]["warnings"])
    assert control["data"]["warnings"] == []
    with Store(demo.store, read_only=True) as store:
        assert store.summary("collapse-5").by_generation == {"5": store.summary("collapse-5").count}
        assert store.summary("control-5").by_generation == {"1": store.summary("control-5").count}
