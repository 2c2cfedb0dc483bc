"""`tether eval` and `tether estimate` through the command line: JSON contracts, exit codes."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from tether import Store, datasets
from tether.cli import app, main
from tether.errors import InputError


def tether(*args):
    return CliRunner().invoke(app, list(map(str, args)), catch_exceptions=False)


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def setup(tmp_path, bbc):
    store = tmp_path / "s.duckdb"
    parts = datasets.split(bbc, {"real": 200, "synth": 150}, seed=5)
    real = parts["real"].to_pylist()
    synth = [{"id": "syn-" + r["id"], "text": r["text"][:200], "label": r["label"]}
             for r in parts["synth"].to_pylist()]
    with Store(store) as s:
        s.ingest("news_real", real, origin="real", label_origin="real")
        s.ingest("news_synth", synth, origin="synthetic", label_origin="synthetic",
                 family="model", generator="llm:gpt-4o@2024-08-06")
    rng = np.random.default_rng(1)
    preds = [{"id": r["id"], "prediction": r["label"] if rng.random() < acc else "tech"}
             for rows, acc in ((real, 0.8), (synth, 0.95)) for r in rows]
    return store, _jsonl(tmp_path / "preds.jsonl", preds)


def test_eval_json_contract_and_saved_result(setup):
    store, preds = setup
    out = tether("eval", "--predictions", preds, "--suites", "news_real,news_synth",
                 "--model", "gpt-4o-mini", "--model-family", "gpt", "--threshold", "0.8",
                 "--metric", "accuracy", "--metric", "macro_f1", "--store", store, "--json")
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert [s["suite"] for s in d["real"]] == ["news_real"]
    assert [s["suite"] for s in d["synthetic"]] == ["news_synth"]
    assert d["synthetic"][0]["passed"] is True
    assert set(d["real"][0]["metrics"]) == {"accuracy", "macro_f1"}
    lo, hi = d["inflation"]["ci"]
    assert lo < d["inflation"]["gap"] < hi
    assert any("grading its own" in w for w in d["warnings"])
    with Store(store) as s:
        saved = s.latest_result("eval")
    assert saved.data == d and saved.params["model_family"] == "gpt"


def test_eval_fail_on_regression_exit_code_and_stored_threshold(setup, monkeypatch):
    store, preds = setup
    common = ("eval", "--predictions", preds, "--suites", "news_real,news_synth", "--store", store)
    assert tether(*common, "--threshold", "news_synth=0.99").exit_code == 0
    failed = tether(*common, "--threshold", "news_synth=0.99", "--fail-on-regression")
    assert failed.exit_code == 1
    monkeypatch.setattr(sys, "argv", ["tether", *map(str, common), "--threshold", "0.99",
                                      "--fail-on-regression"])
    with pytest.raises(SystemExit) as info:  # the console script passes the code on to CI
        main()
    assert info.value.code == 1
    assert "FAIL" in failed.output and "Real suites" in failed.output
    assert "inflation gap" in failed.output
    saved = tether(*common, "--threshold", "news_synth=0.5", "--save-thresholds",
                   "--fail-on-regression")
    assert saved.exit_code == 0
    later = tether(*common, "--fail-on-regression", "--json")
    assert later.exit_code == 0
    assert json.loads(later.output)["synthetic"][0]["threshold"] == 0.5


def test_eval_score_metrics_judge_family_and_human_intervals(setup, tmp_path):
    store, preds = setup
    with Store(store) as s:
        rows = [r for name in ("news_real", "news_synth")
                for r in s.table(name).select(["id", "label"]).to_pylist()]
    text = _jsonl(tmp_path / "text.jsonl", [{"id": r["id"], "prediction": r["label"] + " news",
                                             "judge": 3} for r in rows])
    common = ("eval", "--predictions", text, "--suites", "news_real,news_synth", "--store", store,
              "--metric", "rouge_l", "--metric", "token_f1", "--metric", "score:judge",
              "--model-family", "llama", "--judge-family", "gpt", "--threshold", "0.4")
    out = tether(*common, "--json")
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert list(d["real"][0]["metrics"]) == ["rouge_l", "token_f1", "score:judge"]
    assert d["real"][0]["metrics"]["rouge_l"]["estimate"] == pytest.approx(2 / 3)  # label + news
    assert d["inflation"]["metric"] == "rouge_l" and d["judge_family"] == "gpt"
    assert [o["roles"] for o in d["family_overlaps"]] == [["generator", "judge"]]
    human = tether(*common)
    assert "rouge_l" in human.output and "token_f1" in human.output
    assert "0.667 [0.667," in human.output and "mean rouge_l" in human.output
    assert "judge family 'gpt' wrote suite 'news_synth'" in " ".join(human.output.split())
    judged = ("eval", "--predictions", text, "--suites", "news_synth", "--store", store,
              "--metric", "score:judge", "--json")
    assert tether(*judged, "--threshold", "2.5", "--save-thresholds").exit_code == 0
    later = json.loads(tether(*judged, "--fail-on-regression").output)  # judge scale 1-5
    assert later["synthetic"][0]["threshold"] == 2.5 and later["synthetic"][0]["passed"] is True
    with pytest.raises(InputError, match="finite number"):
        tether(*judged, "--threshold", "inf")


def _estimate_files(tmp_path):
    rng = np.random.default_rng(2)
    y = rng.normal(size=120)
    gold = [{"label": float(a), "prediction": float(a + rng.normal(scale=0.2))} for a in y]
    rest = [{"prediction": float(v)} for v in rng.normal(size=3000)]
    return _jsonl(tmp_path / "gold.jsonl", gold), _jsonl(tmp_path / "rest.jsonl", rest)


def test_estimate_json_contract_and_optional_store(tmp_path):
    gold, rest = _estimate_files(tmp_path)
    store = tmp_path / "e.duckdb"
    out = tether("estimate", "--gold", gold, "--predicted", rest, "--metric", "mean",
                 "--alpha", "0.1", "--store", store, "--json")
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert d["n_gold"] == 120 and d["n_unlabelled"] == 3000 and d["alpha"] == 0.1
    for key in ("classical", "ppi", "ppi_pp"):
        lo, hi = d[key]["ci"]
        assert lo < d[key]["estimate"] < hi
    assert 0 <= d["ppi_pp"]["lambda"] <= 1
    assert d["effective_n"]["ppi_pp"] > d["n_gold"]
    with Store(store) as s:
        assert s.latest_result("estimate").data == d
    human = tether("estimate", "--gold", gold, "--predicted", rest)
    assert "PPI++" in human.output and "classical" in human.output


def test_bad_row_names_file_line_and_field_with_exit_code_2(tmp_path, monkeypatch, capsys):
    gold, rest = _estimate_files(tmp_path)
    lines = gold.read_text().splitlines()
    lines[4] = json.dumps({"label": "high", "prediction": 0.3})
    gold.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(sys, "argv", ["tether", "estimate", "--gold", str(gold),
                                      "--predicted", str(rest)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "gold.jsonl" in message and "line 5" in message and "field label" in message
