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
        assert s.latest_result("mirage").data["c2st_auc"] == out["c2st_auc"]


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
        assert {k: s.latest_result(k) is not None for k in ("coverage", "diversity",
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


@pytest.fixture
def qa_store(tmp_path, bbc):
    """Headline/answer pairs: real answers as written, synthetic ones "Certainly!" and doubled."""
    path = tmp_path / "qa.duckdb"
    rows = bbc.to_pylist()[::10][:200]
    pairs = [(r["id"], *r["text"].split("\n", 1)) for r in rows]
    with Store(path) as s:
        s.ingest("qa", [{"id": i, "prompt": h, "response": b.strip(), "label": r["label"],
                         "messages": [{"role": "user", "content": h},
                                      {"role": "assistant", "content": b.strip()}]}
                        for (i, h, b), r in zip(pairs[:120], rows)],
                 origin="real", label_origin="real", text_field=None)
        s.ingest("llm_qa", [{"id": "s" + i, "prompt": h, "label": "x",
                             "response": f"Certainly! {b.strip()} {b.strip()}",
                             "messages": [{"role": "user", "content": h},
                                          {"role": "assistant",
                                           "content": f"Certainly! {b.strip()} {b.strip()}"}]}
                            for i, h, b in pairs[120:]],
                 origin="synthetic", label_origin="synthetic", family="model",
                 generator="llm@1", text_field=None)
    return str(path)


def test_style_json_human_and_saved(qa_store):
    out = json.loads(_run(["audit", "style", "--real", "qa", "--synthetic", "llm_qa", "--field",
                           "response", "--prompt-field", "prompt", "--json"], qa_store).stdout)
    assert out["field"] == "response" and out["prompt_field"] == "prompt"
    assert {"chars", "opener_certainly", "length_vs_prompt"} <= set(out["flagged"])
    chars = out["features"]["chars"]
    assert chars["ratio_ci"][0] < 2 < chars["ratio_ci"][1] and chars["cliffs_delta"] > 0
    assert all(e.startswith("s") for e in chars["examples"])
    with Store(qa_store) as s:
        assert s.latest_result("style").data["flagged"] == out["flagged"]
    human = _run(["audit", "style", "--real", "qa", "--synthetic", "llm_qa", "--field",
                  "messages", "--turns", "assistant"], qa_store).stdout
    assert "messages[assistant]" in human and "synthetic answers are 2" in human
    assert "longer" in human


def test_field_and_turns_on_the_audits(qa_store):
    mir = json.loads(_run(["audit", "mirage", "--real", "qa", "--synthetic", "llm_qa",
                           "--field", "response", "--permutations", "5", "--json"],
                          qa_store).stdout)
    assert mir["field"] == "response" and mir["c2st_auc"] > 0.9
    cov = json.loads(_run(["audit", "coverage", "--real", "qa", "--synthetic", "llm_qa",
                           "--field", "messages", "--turns", "user", "--clusters", "4",
                           "--json"], qa_store).stdout)
    assert cov["field"] == "messages[user]"
    div = json.loads(_run(["audit", "diversity", "--dataset", "llm_qa", "--field", "prompt",
                           "--draws", "3", "--json"], qa_store).stdout)
    assert div["field"] == "prompt"
    ov = json.loads(_run(["audit", "overlap", "--train", "llm_qa", "--eval", "qa", "--field",
                          "response", "--json"], qa_store).stdout)
    assert ov["field"] == "response" and ov["contaminated_eval"] == 0
    lab = json.loads(_run(["audit", "labels", "--dataset", "qa", "--field", "response",
                           "--folds", "3", "--json"], qa_store).stdout)
    assert lab["field"] == "response" and lab["n"] == 120


def test_missing_field_is_one_error_line(qa_store, monkeypatch, capsys):
    from tether.cli import main

    def error(*args):
        monkeypatch.setattr("sys.argv", ["tether", "audit", *args, "--store", qa_store])
        with pytest.raises(SystemExit) as info:
            main()
        err = capsys.readouterr().err.strip()
        assert info.value.code == 2 and len(err.splitlines()) == 1, err
        return err

    assert "no field 'answer'; its fields are: label, messages, prompt, response" in \
        error("style", "--real", "qa", "--synthetic", "llm_qa", "--field", "answer")
    assert "--turns applies only to messages" in \
        error("mirage", "--real", "qa", "--synthetic", "llm_qa", "--field", "response",
              "--turns", "user")
