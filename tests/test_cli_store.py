"""The store commands through the real console script: JSON contracts and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tether.cli import app


def tether(*args, store):
    result = CliRunner().invoke(app, [*args, "--store", str(store)], catch_exceptions=False)
    return result


@pytest.fixture
def files(tmp_path):
    real = tmp_path / "real.jsonl"
    real.write_text("\n".join(json.dumps({"id": f"r{i}", "text": f"article {i}", "label": "x"})
                              for i in range(3)) + "\n")
    syn = tmp_path / "syn.csv"
    syn.write_text("body,label,parents\nparaphrase one,x,\"[\"\"r0\"\"]\"\nparaphrase two,x,\"[\"\"r1\"\"]\"\n")
    return real, syn


def test_ingest_show_lineage_export_contracts(tmp_path, files):
    real, syn = files
    store = tmp_path / "s.duckdb"
    out = tether("ingest", str(real), "--dataset", "news", "--origin", "real",
                 "--label-origin", "real", "--json", store=store)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {"dataset": "news", "added": 3, "skipped_duplicates": 0}
    out = tether("ingest", str(syn), "--dataset", "news", "--origin", "synthetic",
                 "--label-origin", "synthetic", "--family", "model", "--generator", "llm@1",
                 "--text-field", "body", "--config", "temperature=0.7", "--json", store=store)
    assert json.loads(out.output)["added"] == 2
    shown = json.loads(tether("show", "news", "--json", store=store).output)
    assert shown["count"] == 5 and shown["by_origin"] == {"real": 3, "synthetic": 2}
    assert shown["by_generator"] == {"": 3, "llm@1": 2} and shown["by_generation"] == {"0": 3, "1": 2}
    assert set(shown) >= {"name", "by_family", "by_label_origin"}
    listed = json.loads(tether("datasets", "--json", store=store).output)
    assert listed[0]["name"] == "news" and listed[0]["synthetic"] == 2
    lineage = json.loads(tether("lineage", "r0", "--json", store=store).output)
    assert lineage["id"] == "r0" and len(lineage["descendants"]) == 1 and lineage["ancestors"] == []
    exported = json.loads(tether("export", "news", "--format", "parquet", "--out",
                                 str(tmp_path / "n.parquet"), "--json", store=store).output)
    assert exported["count"] == 5 and (tmp_path / "n.card.md").exists()


def test_bad_input_exits_non_zero_with_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "origin": "real"}\n{"text": "b", "origin": "imagined"}\n')
    proc = subprocess.run([sys.executable, "-c", "from tether.cli import main; main()", "ingest",
                           str(bad), "--dataset", "d", "--store", str(tmp_path / "s.duckdb")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert f"{bad}, line 2, field origin: unknown origin 'imagined'" in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr


def test_missing_dataset_message_lists_what_exists(tmp_path, files):
    real, _ = files
    store = tmp_path / "s.duckdb"
    tether("ingest", str(real), "--dataset", "news", "--origin", "real", "--label-origin", "real",
           store=store)
    proc = subprocess.run([sys.executable, "-m", "tether", "show", "nope", "--store", str(store)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "datasets here: news" in proc.stderr
