"""mix, sweep and sensitivity through the command line: JSON contracts, refusals, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from tether import Store, datasets
from tether.cli import app

# a user's own 'fine-tune': learns the most common label; the predictor always answers it
TRAIN = """
    import collections, json, sys
    labels = collections.Counter(json.loads(l)["label"] for l in open(sys.argv[1]))
    open(sys.argv[2], "w").write(labels.most_common(1)[0][0])
"""
PREDICT = """
    import json, sys
    label = open(sys.argv[1]).read()
    with open(sys.argv[3], "w") as out:
        for line in open(sys.argv[2]):
            out.write(json.dumps({"id": json.loads(line)["id"], "prediction": label}) + "\\n")
"""


def tether(*args, store):
    return CliRunner().invoke(app, [*args, "--store", str(store)], catch_exceptions=False)


@pytest.fixture
def path(tmp_path, bbc):
    parts = datasets.split(bbc, {"train": 100, "holdout": 60}, seed=2)
    train = parts["train"].to_pylist()
    # shapes the majority of the synthetic set so that the scripted student flips with the share
    syn = [{"id": f"s{i}", "text": f"sport story {i}", "label": "sport", "parents": [r["id"]]}
           for i, r in enumerate(train)]
    file = tmp_path / "s.duckdb"
    with Store(file) as s:
        s.ingest("train", train, origin="real", label_origin="real")
        s.ingest("syn", syn, origin="synthetic", label_origin="synthetic", family="rule",
                 generator="sport@1")
        s.ingest("holdout", parts["holdout"], origin="real", label_origin="real")
        teacher = [{"id": f"t-{r['id']}", "parents": [r["id"]], "text": r["text"],
                    "label": "tech" if i % 5 == 0 else r["label"]} for i, r in enumerate(train)]
        s.ingest("teacher", teacher, origin="real", label_origin="synthetic", family="model",
                 generator="teacher@1")
    (tmp_path / "train.py").write_text(textwrap.dedent(TRAIN))
    (tmp_path / "predict.py").write_text(textwrap.dedent(PREDICT))
    return file


def commands(store):
    py, folder = sys.executable, store.parent
    return ["--train-cmd", f"{py} {folder / 'train.py'} {{train}} {{model}}",
            "--predict-cmd", f"{py} {folder / 'predict.py'} {{model}} {{input}} {{output}}"]


def test_mix_and_show_report_the_share(path):
    out = tether("mix", "--real", "train", "--synthetic", "syn", "--ratio", "0.2",
                 "--into", "mixed", "--seed", "3", "--json", store=path)
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["share"] == 0.2 and result["exact"] and result["size"] == result["real"] * 5 / 4
    shown = json.loads(tether("show", "mixed", "--json", store=path).stdout)
    assert shown["synthetic_share"] == 0.2 and shown["count"] == result["size"]
    human = tether("mix", "--real", "train", "--synthetic", "syn", "--ratio", "0.5",
                   "--into", "half", store=path)
    assert "synthetic share 0.5 (exactly as asked)" in " ".join(human.stdout.split())


def test_mix_refusal_exits_2_and_writes_nothing(path):
    proc = subprocess.run([sys.executable, "-c", "from tether.cli import main; main()", "mix",
                           "--real", "train", "--synthetic", "syn", "--ratio", "0.5", "--into",
                           "m", "--by", "label", "--store", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "needs at least 1 real and 1 synthetic" in proc.stderr and "error" in proc.stderr
    with Store(path, read_only=True) as s:
        assert not s.has_dataset("m")


def test_sweep_with_commands(path):
    out = tether("sweep", "--real", "train", "--synthetic", "syn", "--holdout", "holdout",
                 "--ratios", "0,0.75", "--repeats", "1", *commands(path), "--json", store=path)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [p["ratio"] for p in data["points"]] == [0.0, 0.75]
    assert data["points"][1]["n_synthetic"] == 75 and data["student"].startswith("command:")
    # at share 0.75 the majority label is sport: the scripted student answers sport for all
    sport = sum(1 for r in Store(path, read_only=True).table("holdout").column("label").to_pylist()
                if r == "sport") / 60
    assert data["points"][1]["accuracy"]["mean"] == pytest.approx(sport)
    assert set(data) >= {"best", "trend", "audit_id", "mode"}
    with Store(path, read_only=True) as s:
        assert s.latest_result("sweep").data["points"][1]["ratio"] == 0.75


def test_sensitivity_contract(path):
    out = tether("sensitivity", "--gold", "train", "--generated", "teacher", "--holdout",
                 "holdout", "--rates", "0.1,0.3", "--repeats", "1", *commands(path), "--json",
                 store=path)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["n_matched"] == 100 and 0.1 < data["generator_error"]["rate"] < 0.25
    assert set(data["trends"]) == {"uniform", "confusion"} and len(data["noise"]) == 5
    assert data["noise"][-1]["at_generator"]
    with Store(path, read_only=True) as s:
        assert s.latest_result("sensitivity").data["n_matched"] == 100
