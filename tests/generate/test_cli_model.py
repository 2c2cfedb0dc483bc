"""``tether generate llm|label`` and ``tether review export|import``: JSON contracts, exit codes."""

from __future__ import annotations

import csv
import json
import sys

import pytest
from fake_openai import FakeOpenAI
from typer.testing import CliRunner

from tether import Store
from tether.cli import app, main


def tether(*args, store):
    result = CliRunner().invoke(app, [*args, "--store", str(store)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        yield s


def test_generate_llm_json_contract_and_retry_by_run_id(server, tmp_path):
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        s.ingest("seeds", [{"id": f"s{i}", "text": f"seed {i}", "label": "x"} for i in range(3)]
                 + [{"id": "bad", "text": "seed [fail=malformed]", "label": "x"}],
                 origin="real", label_origin="real")
    args = ["generate", "llm", "--from", "seeds", "--into", "para", "--endpoint", server.url,
            "--model", "fake-model", "--task", "paraphrase", "--seed", "0", "--run-id", "cli1",
            "--concurrency", "2", "--json"]
    first = tether(*args, store=db)
    summary = first.pop("summary")  # the quality summary rides along, as on the run record
    assert first == {"run_id": "cli1", "dataset": "para", "added": 3, "failed": 1}
    assert (summary["requests"], summary["stored"], summary["failed"]) == \
        (4, 3, {"malformed response body": 1})
    assert (tmp_path / ".tether-cache" / "llm.sqlite").exists()  # the cache sits beside the store
    before = server.snapshot()
    again = tether(*args, store=db)
    assert again.pop("summary")["stored"] == 4  # three from the cache, one answered now
    assert again == {"run_id": "cli1", "dataset": "para", "added": 1, "failed": 0}
    assert sum((server.snapshot() - before).values()) == 1


def test_generate_label_with_sklearn_teacher(tmp_path):
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        s.ingest("gold", [{"text": t, "label": lab} for t, lab in [
            ("the striker scored a goal", "sport"), ("the team won the match", "sport"),
            ("shares fell on the market", "business"), ("the bank raised profits", "business")]],
            origin="real", label_origin="real")
        s.ingest("inbox", [{"text": "a late goal won the match"},
                           {"text": "profits lifted bank shares"}], origin="real")
    out = tether("generate", "label", "--teacher", "sklearn", "--train", "gold", "--from", "inbox",
                 "--into", "inbox-labelled", "--seed", "0", "--json", store=db)
    assert out == {"run_id": out["run_id"], "dataset": "inbox-labelled", "added": 2, "failed": 0}
    with Store(db) as s:
        table = s.table("inbox-labelled")
        assert table.column("label").to_pylist() == ["sport", "business"]
        assert set(table.column("label_origin").to_pylist()) == {"synthetic"}
    bad = CliRunner().invoke(app, ["generate", "label", "--teacher", "zero-shot", "--describe",
                                   "sport", "--from", "inbox", "--into", "x", "--store", str(db)])
    assert "expected LABEL=DESCRIPTION" in str(bad.exception)


def test_review_export_and_import(tmp_path):
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        s.ingest("seeds", [{"id": "q", "text": "a question"}], origin="real")
        s.ingest("pool", [{"id": "a", "text": "answer one", "parents": ["q"]},
                          {"id": "b", "text": "answer two", "parents": ["q"]}],
                 origin="synthetic", family="model", generator="llm:m@1")
    exported = tether("review", "export", "pool", "--out", str(tmp_path / "r.csv"), "--json",
                      store=db)
    assert exported == {"dataset": "pool", "path": str(tmp_path / "r.csv"), "count": 2}
    with open(tmp_path / "r.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[0]["chosen"], rows[1]["chosen"] = "true", "false"
    with open(tmp_path / "r.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tether("review", "import", str(tmp_path / "r.csv"), "--from", "pool", "--into", "kept",
                 "--reviewer", "alice", "--pairs", str(tmp_path / "pairs.jsonl"), "--json",
                 store=db)
    assert {k: out[k] for k in ("dataset", "reviewed", "chosen", "added", "pairs")} == \
        {"dataset": "kept", "reviewed": 2, "chosen": 1, "added": 1, "pairs": 1}
    pair = json.loads((tmp_path / "pairs.jsonl").read_text())
    assert (pair["prompt"], pair["chosen"], pair["rejected"]) == ("a question", "answer one",
                                                                  "answer two")


def test_bad_rating_file_exits_2_naming_file_line_and_field(tmp_path, monkeypatch, capsys):
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        s.ingest("seeds", [{"id": "q", "text": "a question"}], origin="real")
        s.ingest("pool", [{"id": "a", "text": "answer", "parents": ["q"]}],
                 origin="synthetic", family="model", generator="llm:m@1")
    bad = tmp_path / "r.csv"
    bad.write_text("id,chosen\na,perhaps\n")
    monkeypatch.setattr(sys, "argv", ["tether", "review", "import", str(bad), "--from", "pool",
                                      "--into", "k", "--store", str(db)])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    message = " ".join(capsys.readouterr().err.split())
    assert f"{bad}, line 2, field chosen: chosen must be true or false" in message
