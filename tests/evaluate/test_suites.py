"""Suites: real vs synthetic apart, intervals, thresholds, the inflation gap and warnings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tether import datasets
from tether.errors import InputError, NotFoundError
from tether.evaluate.intervals import encode_labels, macro_f1
from tether.stats import newcombe, wilson
from tether.evaluate.suites import (
    evaluate_suites,
    family_matches,
    read_predictions,
    save_suite_threshold,
)

GPT = "llm:gpt-4o@2024-08-06"


def _predict(rows, accuracy, rng, labels):
    """A prediction per row, right with probability ``accuracy`` (else another topic)."""
    out = []
    for r in rows:
        right = rng.random() < accuracy
        wrong = [lab for lab in labels if lab != r["label"]]
        out.append({"id": r["id"], "prediction": r["label"] if right else rng.choice(wrong)})
    return out


@pytest.fixture
def suites(store, bbc):
    """Real BBC suite, a GPT-written synthetic suite, a teacher-labelled one and a mixed one."""
    parts = datasets.split(bbc, {"real": 400, "synth": 300, "teacher": 100, "mixed": 60}, seed=2)
    rows = {k: v.to_pylist() for k, v in parts.items()}
    store.ingest("news_real", rows["real"], origin="real", label_origin="real",
                 generator=datasets.source("bbcnews"))
    synth = [{"id": "syn-" + r["id"], "text": r["text"].lower(), "label": r["label"]}
             for r in rows["synth"]]
    store.ingest("news_synth", synth, origin="synthetic", label_origin="synthetic", family="model",
                 generator=GPT)
    store.ingest("news_teacher", rows["teacher"], origin="real", label_origin="synthetic",
                 family="model", generator="teacher:meta-llama-3-8b@1")
    store.ingest("news_mixed", rows["mixed"][:40], origin="real", label_origin="real")
    store.ingest("news_mixed", [{"id": "mix-" + r["id"], "text": r["text"].upper(),
                                 "label": r["label"]} for r in rows["mixed"][40:]],
                 origin="synthetic", label_origin="synthetic", family="rule", generator="casing@1")
    labels = sorted(set(bbc.column("label").to_pylist()))
    rng = np.random.default_rng(0)
    preds = (_predict(rows["real"], 0.80, rng, labels) + _predict(synth, 0.95, rng, labels)
             + _predict(rows["teacher"], 0.9, rng, labels)
             + _predict(rows["mixed"][:40], 0.9, rng, labels)
             + _predict([{"id": "mix-" + r["id"], "label": r["label"]} for r in rows["mixed"][40:]],
                        0.9, rng, labels))
    truth = {r["id"]: r["label"] for r in rows["real"] + synth}
    return store, preds, truth


def test_real_and_synthetic_are_reported_apart_with_intervals(suites):
    store, preds, truth = suites
    r = evaluate_suites(store, preds, ["news_real", "news_synth"], model="student",
                        model_family="bert", thresholds=0.9)
    d = r.to_dict()
    json.dumps(d)
    assert [s["suite"] for s in d["real"]] == ["news_real"]
    assert [s["suite"] for s in d["synthetic"]] == ["news_synth"]
    real = r.real[0]
    by_id = {p["id"]: p["prediction"] for p in preds}
    ids = store.table("news_real").column("id").to_pylist()
    correct = sum(by_id[i] == truth[i] for i in ids)
    assert real.n == len(ids) > 390 and real.correct == correct  # ingest drops duplicate texts
    assert real.metrics["accuracy"].estimate == correct / len(ids)
    assert real.metrics["accuracy"].ci == wilson(correct, len(ids))
    t, p = encode_labels([truth[i] for i in ids], [by_id[i] for i in ids])
    f1 = real.metrics["macro_f1"]
    assert f1.estimate == pytest.approx(float(macro_f1(t, p)))
    assert f1.ci[0] < f1.estimate < f1.ci[1] and f1.method.startswith("bootstrap")
    assert "threshold" not in d["real"][0]  # real suites are acceptance, not unit tests
    synth = d["synthetic"][0]
    assert synth["threshold"] == 0.9 and synth["passed"] is True
    assert synth["generators"] == [GPT]
    # the only number joining the two kinds is the gap, with Newcombe's interval
    s = r.synthetic[0]
    assert d["inflation"]["gap"] == pytest.approx(s.correct / s.n - real.correct / real.n)
    expected = newcombe(s.correct, s.n, real.correct, real.n)
    assert d["inflation"]["ci"] == pytest.approx(expected)
    assert d["inflation"]["ci"][0] > 0  # 0.95 vs 0.80: synthetic flatters
    assert set(d) >= {"real", "synthetic", "inflation", "warnings"}
    assert not any("grading its own" in w for w in d["warnings"])


def test_family_of_the_generator_is_flagged(suites):
    store, preds, _ = suites
    r = evaluate_suites(store, preds, ["news_real", "news_synth", "news_teacher"],
                        model="gpt-4o-mini", model_family="gpt", thresholds=0.5)
    flagged = [w for w in r.warnings if "grading its own" in w]
    assert len(flagged) == 1 and "news_synth" in flagged[0]
    teacher = evaluate_suites(store, preds, ["news_teacher"], model_family="llama", thresholds=0.5)
    assert teacher.synthetic[0].origin == "synthetic"  # real inputs, teacher labels
    assert any("news_teacher" in w and "grading its own" in w for w in teacher.warnings)


@pytest.mark.parametrize("family,generator,expected", [
    ("gpt", GPT, True), ("GPT", "openai/gpt-4o-mini@1", True), ("llama", "meta-llama-3-8b@1", True),
    ("llama", "llama3@2", True), ("gpt", "chatgpt-clone@1", False), ("claude", GPT, False),
    ("gpt-4o", GPT, True), ("gpt", "casing@gpt", False),
])
def test_family_matching_rule(family, generator, expected):
    assert family_matches(family, generator) is expected


def test_mixed_suite_is_synthetic_and_warned(suites):
    store, preds, _ = suites
    r = evaluate_suites(store, preds, ["news_mixed"], thresholds=0.5)
    assert not r.real and r.synthetic[0].mixed and r.synthetic[0].origin == "synthetic"
    assert any("news_mixed' mixes real and synthetic" in w for w in r.warnings)
    assert r.inflation is None and r.to_dict()["inflation"] is None


def test_thresholds_fail_and_are_stored(suites):
    store, preds, _ = suites
    r = evaluate_suites(store, preds, ["news_real", "news_synth"], thresholds={"news_synth": 0.99})
    assert r.failed == ("news_synth",) and r.synthetic[0].passed is False
    real_limit = evaluate_suites(store, preds, ["news_real"], thresholds={"news_real": 0.9})
    assert any("real suite 'news_real' ignored" in w for w in real_limit.warnings)
    with pytest.raises(InputError, match="in \\[0, 1\\]"):
        evaluate_suites(store, preds, ["news_synth"], thresholds=80)
    none = evaluate_suites(store, preds, ["news_synth"])
    assert none.synthetic[0].passed is None
    assert any("no pass threshold" in w for w in none.warnings)
    save_suite_threshold(store, "news_synth", 0.97)
    save_suite_threshold(store, "news_synth", 0.5)
    assert store.suite_thresholds() == {"news_synth": 0.5}
    stored = evaluate_suites(store, preds, ["news_synth"])
    assert stored.synthetic[0].threshold == 0.5 and stored.synthetic[0].passed is True
    with pytest.raises(NotFoundError):
        save_suite_threshold(store, "nope", 0.5)
    # the pass metric is the first metric asked for
    by_f1 = evaluate_suites(store, preds, ["news_synth"], metrics=("macro_f1", "accuracy"),
                            thresholds=0.5)
    assert list(by_f1.synthetic[0].metrics) == ["macro_f1", "accuracy"]


def test_missing_and_duplicate_predictions_are_clear_errors(suites, tmp_path):
    store, preds, _ = suites
    n = store.table("news_real").num_rows
    with pytest.raises(InputError,
                       match=rf"3 of {n} samples of suite 'news_real' have no prediction"):
        evaluate_suites(store, preds[3:], ["news_real"])
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in preds[:5] + preds[:1]))
    with pytest.raises(InputError) as info:
        read_predictions(path)
    assert info.value.line == 6 and info.value.field == "id" and "line 1" in str(info.value)
    path.write_text(json.dumps({"id": "a"}) + "\n")
    with pytest.raises(InputError) as info:
        read_predictions(path)
    assert info.value.line == 1 and info.value.field == "prediction"
    with pytest.raises(InputError, match="unknown metric"):
        evaluate_suites(store, preds, ["news_real"], metrics=("auc",))
    with pytest.raises(NotFoundError):
        evaluate_suites(store, preds, ["nope"])
