"""``tether audit mirage|coverage|diversity|faithfulness``: JSON contracts, saved results, errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tether import Store
from tether.cli import app

runner = CliRunner()


@pytest.fixture
def store_path(tmp_path, bbc):
    path = tmp_path / "s.duckdb"
    rows = [{**r, "text": r["text"][:300]} for r in bbc.to_pylist()[::8]]
    with Store(path) as s:
        s.ingest("real", rows[:150], origin="real", label_origin="real")
        s.ingest("syn", [{"id": "s-" + r["id"], "text": r["text"].lower(), "label": r["label"],
                          "parents": [r["id"]], "operations": ["casing=1"]} for r in rows[:80]],
                 origin="synthetic", label_origin="real", family="rule", generator="lower@1")
    return str(path)


def _run(args, store_path):
    result = runner.invoke(app, [*args, "--store", store_path])
    assert result.exit_code == 0, result.output
    return result


def test_mirage_json_contract_and_saved(store_path):
    out = json.loads(_run(["audit", "mirage", "--real", "real", "--synthetic", "syn",
                           "--permutations", "20", "--json"], store_path).stdout)
    assert set(out) >= {"c2st_auc", "auc_ci", "p_value", "n_real", "n_synthetic", "top_features",
                        "most_synthetic", "least_covered_real", "profile", "method"}
    assert out["n_real"] == 150 and out["n_synthetic"] == 80
    assert out["c2st_auc"] > 0.9 and out["p_value"] == pytest.approx(1 / 21)
    assert out["profile"]["flags"]["upper_share"] == "differs"
    with Store(store_path) as s:
        assert s.latest_audit("mirage")["result"]["c2st_auc"] == out["c2st_auc"]


def test_coverage_diversity_faithfulness_json(store_path):
    cov = json.loads(_run(["audit", "coverage", "--real", "real", "--synthetic", "syn",
                           "--clusters", "5", "--json"], store_path).stdout)
    assert set(cov) >= {"precision", "recall", "by_label", "uncovered_real", "precision_ci"}
    div = json.loads(_run(["audit", "diversity", "--dataset", "syn", "--draws", "5", "--json"],
                          store_path).stdout)
    assert [g["group"] for g in div["by_generation"]] == ["1"]
    faith = json.loads(_run(["audit", "faithfulness", "--dataset", "syn", "--classifier-train",
                             "real", "--json"], store_path).stdout)
    assert faith["n_children"] == 80 and 0 <= faith["flip_ci"][0] <= faith["flip_rate"]
    assert list(faith["by_operation"]) == ["casing=1"]
    with Store(store_path) as s:
        assert {k: s.latest_audit(k) is not None for k in ("coverage", "diversity",
                                                           "faithfulness")} == \
            {"coverage": True, "diversity": True, "faithfulness": True}


def test_human_output_and_errors(store_path):
    out = _run(["audit", "faithfulness", "--dataset", "syn"], store_path).stdout
    assert "label flips" in out and "worst cases" in out
    bad = runner.invoke(app, ["audit", "faithfulness", "--dataset", "real", "--store", store_path])
    assert bad.exit_code != 0
    missing = runner.invoke(app, ["audit", "coverage", "--real", "nope", "--synthetic", "syn",
                                  "--store", store_path])
    assert missing.exit_code != 0
