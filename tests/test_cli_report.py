"""``tether report``, ``tether check`` and ``tether init``'s starter policy, through the CLI."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from tether import Store
from tether.cli import app, main
from tether.policy import starter_policy
from tether.results import KINDS


def tether(*args):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def store(tmp_path, save_json):
    """A store with a real and a synthetic dataset and a mirage result of the pair."""
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        s.ingest("real", [{"text": f"real article number {i} about rates", "label": "business"}
                          for i in range(20)], origin="real", label_origin="real",
                 generator="news@1", domain="news")
        s.ingest("syn", [{"text": "generated article", "label": "business"}], origin="synthetic",
                 label_origin="synthetic", family="model", generator="llm@1")
        save_json(s, "mirage", {"c2st_auc": 0.9, "auc_ci": [0.85, 0.95]},
                  {"real": "real", "synthetic": "syn"})
    return path


def test_report_writes_html_and_json_twin(tmp_path, store):
    html, twin = tmp_path / "r.html", tmp_path / "r.json"
    out = tether("report", "--out", str(html), "--json-out", str(twin), "--store", str(store),
                 "--json")
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    assert summary["html"] == str(html) and summary["bytes"] == html.stat().st_size
    assert summary["sections"] == {"ok": 3, "not_run": len(KINDS) - 1, "incomplete": 0, "empty": 0}
    data = json.loads(twin.read_text())
    assert [s["key"] for s in data["sections"]][:3] == ["summary", "provenance", "mirage"]
    assert data["sections"][2]["data"]["c2st_auc"] == 0.9
    assert "C2ST AUC" in html.read_text()
    human = tether("report", "--out", str(html), "--store", str(store))
    assert human.exit_code == 0 and f"3 sections with results, {len(KINDS) - 1} not run" in human.output


def test_check_exit_codes_and_json_contract(tmp_path, store):
    keeps = tmp_path / "keeps.toml"
    keeps.write_text('max_synthetic_share = 1.0\nrequired_fields = ["generator"]\n')
    out = tether("check", "--policy", str(keeps), "--store", str(store), "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["passed"] is True
    breaks = tmp_path / "breaks.toml"
    breaks.write_text('max_mirage_auc = 0.8\nrequired_fields = ["domain"]\n')
    out = tether("check", "--policy", str(breaks), "--store", str(store), "--json")
    assert out.exit_code == 1
    data = json.loads(out.output)
    assert data["passed"] is False
    assert [(r["rule"], r["passed"], r["value"]) for r in data["rules"]] == [
        ("required_field", False, 1), ("max_mirage_auc", False, 0.9)]
    human = tether("check", "--policy", str(breaks), "--store", str(store))
    assert human.exit_code == 1
    assert "FAIL" in human.output and "2 of 2 rules failed" in human.output


def test_malformed_policy_exits_2_naming_file_and_key(tmp_path, capsys, monkeypatch, store):
    bad = tmp_path / "bad.toml"
    bad.write_text("max_synthetic_share = 'lots'\n")
    monkeypatch.setattr(sys, "argv", ["tether", "check", "--policy", str(bad), "--store",
                                      str(store)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    assert f"{bad}, key max_synthetic_share" in capsys.readouterr().err.replace("\n", "")


def test_init_writes_the_starter_policy_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tether("init", "--store", "s.duckdb", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {"store": "s.duckdb", "policy": "tether.toml"}
    assert (tmp_path / "tether.toml").read_text() == starter_policy()
    (tmp_path / "tether.toml").write_text("max_mirage_auc = 0.7\n")
    again = tether("init", "--store", "s.duckdb", "--json")
    assert json.loads(again.output)["policy"] is None
    assert (tmp_path / "tether.toml").read_text() == "max_mirage_auc = 0.7\n"
