"""``tether audit overlap|labels|generator``: JSON contracts, human output, saved results."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from rich.console import Console

from tether import Store
from tether.audit.generator import GeneratorAuditResult
from tether.audit.labels import LabelIssuesResult
from tether.cli import app
from tether.cli.audit import _generator_human, _labels_human
from tether.datasets import split


def tether(*args, store):
    return CliRunner().invoke(app, [*args, "--store", str(store)], catch_exceptions=False)


@pytest.fixture
def path(tmp_path, bbc):
    """A store with 60 real articles, 20 edited copies of them and 30 unseen articles."""
    parts = split(bbc, {"real": 60, "heldout": 30}, seed=8)
    path = tmp_path / "s.duckdb"
    rng = np.random.default_rng(0)
    real = parts["real"]
    with Store(path) as s:
        s.ingest("real", real, origin="real", label_origin="real")
        s.ingest("heldout", parts["heldout"], origin="real", label_origin="real")
        ids, texts = real.column("id").to_pylist(), real.column("text").to_pylist()
        labels = real.column("label").to_pylist()
        copies = []
        for i in range(20):
            words = texts[i].split()
            words[int(rng.integers(len(words)))] = "edited"
            copies.append({"text": " ".join(words), "parents": [ids[i]],
                           "label": "politics" if labels[i] == "business" else labels[i]})
        s.ingest("syn", copies, origin="synthetic", label_origin="synthetic", family="rule",
                 generator="edit@1")
    return path


def test_overlap_json_and_memorization(path):
    out = tether("audit", "overlap", "--train", "syn", "--eval", "real", "--holdout", "heldout",
                 "--json", store=path)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["contaminated_eval"] == 20 and data["eval_count"] == 60
    assert {"train_id", "eval_id", "jaccard"} <= set(data["pairs"][0])
    assert data["memorization"]["copied"] is True and "method" in data
    with Store(path, read_only=True) as s:
        assert s.latest_result("overlap").data == data
    human = tether("audit", "overlap", "--train", "syn", "--eval", "real", store=path)
    assert human.exit_code == 0 and "20 of 60 eval samples contaminated" in human.output


def test_labels_json(path):
    out = tether("audit", "labels", "--dataset", "real", "--folds", "3", "--json", store=path)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["n"] == 60 and set(data["by_label_origin"]) == {"real"}
    assert data["issue_count"] == len(data["issues"])
    console = Console(record=True, width=120)  # the human view of the same result
    console.print(_labels_human(LabelIssuesResult.from_dict(data)))
    assert "likely label issues in 60 samples" in console.export_text()


def test_generator_json(path):
    out = tether("audit", "generator", "--gold", "real", "--generated", "syn", "--json",
                 store=path)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["n"] == 20 and data["matched_by"] == {"id": 0, "lineage": 20}
    assert {"accuracy", "accuracy_ci", "confusion", "label_skew", "systematic_share",
            "method"} <= set(data)
    human = tether("audit", "generator", "--gold", "real", "--generated", "syn", store=path)
    assert human.exit_code == 0 and "accuracy" in human.output


def test_unknown_dataset_exits_2(path, capsys):
    import sys

    from tether.cli import main

    argv = sys.argv
    sys.argv = ["tether", "audit", "labels", "--dataset", "nope", "--store", str(path)]
    try:
        with pytest.raises(SystemExit) as exc:
            main()
    finally:
        sys.argv = argv
    assert exc.value.code == 2 and "nope" in capsys.readouterr().err


def test_generator_shows_the_bias_slices(tmp_path, bbc):
    """A user field ``desk`` whose value ``syndicated`` marks 20 business articles, 15 of them
    mislabelled by the generator: the slice is in the JSON and in the human table."""
    rows = bbc.to_pylist()
    rows = ([r for r in rows if r["label"] == "business"][:150]
            + [r for r in rows if r["label"] == "tech"][:150])
    business = [i for i, r in enumerate(rows) if r["label"] == "business"][:20]
    for i, r in enumerate(rows):
        r["desk"] = "syndicated" if i in business else ["staff", "wire"][i % 2]
    made = [{"id": r["id"], "text": r["text"],
             "label": "tech" if i in business[:15] else r["label"]} for i, r in enumerate(rows)]
    path = tmp_path / "g.duckdb"
    with Store(path) as s:
        s.ingest("gold", rows, origin="real", label_origin="real")
        s.ingest("made", made, origin="real", label_origin="synthetic", family="model",
                 generator="teacher@1")
    out = tether("audit", "generator", "--gold", "gold", "--generated", "made", "--json",
                 store=path)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["slices"][0]["definition"] == "desk = syndicated"
    assert data["slices"][0]["errors"] == 15 and data["slice_share"] == pytest.approx(1.0)
    human = tether("audit", "generator", "--gold", "gold", "--generated", "made", store=path)
    assert human.exit_code == 0 and "bias slices (error rate above the rest)" in human.output
    console = Console(record=True, width=160)  # the same view, wide enough for the table
    console.print(_generator_human(GeneratorAuditResult.from_dict(data)))
    text = console.export_text()
    assert "desk = syndicated" in text and "0.750" in text
