"""`tether estimate` for a judge's scores: --metric pass_rate|win_rate, the inferred default."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from tether.cli import app, main
from tether.evaluate.ppi import estimate


def tether(*args):
    return CliRunner().invoke(app, list(map(str, args)), catch_exceptions=False)


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def scores(tmp_path):
    """People's 1-5 scores on 100 answers, a judge's on those and on 2,000 more."""
    rng = np.random.default_rng(4)
    human = rng.integers(1, 6, size=100)
    judge = np.clip(human + rng.integers(-1, 2, size=100), 1, 5)
    gold = [{"label": int(a), "prediction": int(b)} for a, b in zip(human, judge)]
    rest = [{"prediction": int(v)} for v in rng.integers(1, 6, size=2000)]
    return _jsonl(tmp_path / "gold.jsonl", gold), _jsonl(tmp_path / "rest.jsonl", rest), gold, rest


def test_pass_rate_json_equals_the_library(scores):
    gold, rest, gold_rows, rest_rows = scores
    out = tether("estimate", "--gold", gold, "--predicted", rest, "--metric", "pass_rate",
                 "--threshold", "4", "--json")
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert d["metric"] == "pass_rate" and d["threshold"] == 4.0 and d["metric_inferred"] is False
    assert d == estimate(gold_rows, rest_rows, metric="pass_rate", threshold=4).to_dict()
    share = np.mean([r["label"] >= 4 for r in gold_rows])
    assert d["classical"]["estimate"] == pytest.approx(share)
    human = tether("estimate", "--gold", gold, "--predicted", rest, "--threshold", "4")
    assert "pass_rate at >= 4" in human.output and "inferred: --threshold was given" in human.output


def test_win_rate_from_preferences(tmp_path):
    rng = np.random.default_rng(5)
    prefs = rng.choice(["A", "B", "tie"], size=60, p=[0.5, 0.3, 0.2])
    gold = _jsonl(tmp_path / "g.jsonl", [{"label": p, "prediction": p} for p in prefs])
    rest = _jsonl(tmp_path / "r.jsonl", [{"prediction": "A"}] * 30 + [{"prediction": "B"}] * 10)
    d = json.loads(tether("estimate", "--gold", gold, "--predicted", rest, "--metric",
                          "win_rate", "--json").output)
    truth = np.mean([{"A": 1, "B": 0, "tie": 0.5}[p] for p in prefs])
    assert d["classical"]["estimate"] == pytest.approx(truth)
    assert d["ppi"]["estimate"] == pytest.approx(0.75)  # a perfect judge: its mean, uncorrected


def test_default_metric_is_mean_for_numbers_and_says_so(scores):
    gold, rest, *_ = scores
    d = json.loads(tether("estimate", "--gold", gold, "--predicted", rest, "--json").output)
    assert d["metric"] == "mean" and d["metric_inferred"] is True
    human = tether("estimate", "--gold", gold, "--predicted", rest)
    assert "metric: mean (inferred" in human.output


def test_class_labels_without_positive_name_the_option(tmp_path, monkeypatch, capsys):
    gold = _jsonl(tmp_path / "g.jsonl", [{"label": "sport", "prediction": "sport"},
                                         {"label": "tech", "prediction": "sport"}])
    monkeypatch.setattr(sys, "argv", ["tether", "estimate", "--gold", str(gold),
                                      "--predicted", str(gold)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    message = " ".join(capsys.readouterr().err.split())
    assert message.startswith("error:") and "--positive sport" in message and "g.jsonl" in message
    assert "add a 'score'" in message  # or what accuracy needs
    ok = tether("estimate", "--gold", gold, "--predicted", gold, "--positive", "sport", "--json")
    assert json.loads(ok.output)["metric"] == "prevalence"


def test_default_metric_is_accuracy_for_scored_class_labels_and_says_so(tmp_path):
    rng = np.random.default_rng(6)
    right = rng.random(300) < 0.7
    p_right = np.clip(0.5 + 0.3 * right + rng.normal(0, 0.1, 300), 0, 1)
    rows = [{"label": "sport", "prediction": "sport" if r else "tech", "score": float(p)}
            for r, p in zip(right, p_right)]
    gold = _jsonl(tmp_path / "g.jsonl", rows[:60])
    rest = _jsonl(tmp_path / "r.jsonl", [{k: v for k, v in r.items() if k != "label"}
                                         for r in rows[60:]])
    d = json.loads(tether("estimate", "--gold", gold, "--predicted", rest, "--json").output)
    assert d["metric"] == "accuracy" and d["metric_inferred"] is True
    assert d["classical"]["estimate"] == pytest.approx(right[:60].mean())
    assert d == estimate(rows[:60], [{k: v for k, v in r.items() if k != "label"}
                                     for r in rows[60:]], metric="accuracy").to_dict() | {
        "metric_inferred": True}
    human = tether("estimate", "--gold", gold, "--predicted", rest)
    assert "metric: accuracy (inferred: the gold labels are classes and every row has a score" \
        in " ".join(human.output.split())
