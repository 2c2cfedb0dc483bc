"""Evaluation by scores on a question/answer store: free-text predictions scored with ROUGE-L and
token F1 (checked against rouge-score item by item), a user score column, bootstrap intervals
checked by simulation, real and synthetic suites apart, bad input, and the family check of the
three roles (generator, judge, evaluated model)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tether import Store
from tether.errors import InputError
from tether.evaluate.intervals import bootstrap_mean_interval
from tether.evaluate.suites import EvalResult, evaluate_suites
from tether.report.views import view

GENERATOR = "llm:gpt-4o@2024-08-06"
QA = dict(fields=("question", "answer"), text_field=None)


def _words(bbc) -> list[str]:
    """Lowercase ASCII words without articles: SQuAD and rouge-score tokenize them alike."""
    text = " ".join(bbc.column("text").to_pylist()[:200]).lower().split()
    return [w for w in text if w.isascii() and w.isalpha() and w not in {"a", "an", "the"}]


def _perturb(rng, words: list[str], keep: float) -> str:
    kept = [w for w in words if rng.random() < keep]
    rng.shuffle(kept[: len(kept) // 3])
    return " ".join(kept or words[:1])


@pytest.fixture(scope="module")
def qa(bbc, tmp_path_factory):
    """A real and a synthetic QA suite (label = reference answer) and free-text predictions,
    closer to the reference on the synthetic suite (the inflation a crisp synthetic set makes)."""
    rng = np.random.default_rng(3)
    vocab = _words(bbc)
    store = Store(tmp_path_factory.mktemp("qa") / "qa.duckdb")
    suites, preds = {}, []
    for name, keep, n in (("qa_real", 0.5, 150), ("qa_synth", 0.85, 120)):
        rows = []
        for i in range(n):
            start = int(rng.integers(0, len(vocab) - 40))
            answer = vocab[start: start + int(rng.integers(3, 25))]
            rows.append({"id": f"{name}-{i}", "question": f"what happened in story {i}?",
                         "answer": " ".join(answer), "label": " ".join(answer)})
            preds.append({"id": f"{name}-{i}", "prediction": _perturb(rng, answer, keep),
                          "judge": int(rng.integers(1, 6)), "judge_family": "claude"})
        synthetic = name == "qa_synth"
        store.ingest(name, rows, **QA, origin="synthetic" if synthetic else "real",
                     label_origin="synthetic" if synthetic else "real",
                     **(dict(family="model", generator=GENERATOR) if synthetic else {}))
        suites[name] = rows
    yield store, suites, preds
    store.close()


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rouge_l_and_token_f1_equal_rouge_score_item_by_item(qa):
    rs = pytest.importorskip("rouge_score.rouge_scorer")
    store, suites, preds = qa
    by_id = {p["id"]: p["prediction"] for p in preds}
    scorer = rs.RougeScorer(["rougeL", "rouge1"])
    r = evaluate_suites(store, preds, ["qa_real", "qa_synth"], metrics=("rouge_l", "token_f1"),
                        thresholds=0.6)
    from tether.evaluate.scores import score_many
    for result in (*r.real, *r.synthetic):
        rows = suites[result.suite]
        p, ref = [by_id[x["id"]] for x in rows], [x["label"] for x in rows]
        theirs = [scorer.score(t, q) for q, t in zip(p, ref)]
        rouge_l = np.array([s["rougeL"].fmeasure for s in theirs])
        unigram = np.array([s["rouge1"].fmeasure for s in theirs])
        np.testing.assert_allclose(score_many(p, ref, "rouge_l"), rouge_l, atol=1e-9, rtol=0)
        np.testing.assert_allclose(score_many(p, ref, "token_f1"), unigram, atol=1e-9, rtol=0)
        assert result.metrics["rouge_l"].estimate == pytest.approx(rouge_l.mean(), abs=1e-12)
        assert result.metrics["token_f1"].estimate == pytest.approx(unigram.mean(), abs=1e-12)
        assert rouge_l.std() > 0.05
        for m in result.metrics.values():
            assert m.ci.lo < m.estimate < m.ci.hi and m.ci.hi - m.ci.lo < 0.15
            assert m.method.startswith("bootstrap-bca")


def test_real_and_synthetic_kept_apart_with_a_score_inflation_gap(qa):
    store, suites, preds = qa
    r = evaluate_suites(store, preds, ["qa_real", "qa_synth"], metrics=("rouge_l", "token_f1"),
                        thresholds=0.6)
    assert [s.suite for s in r.real] == ["qa_real"] and [s.suite for s in r.synthetic] == ["qa_synth"]
    real, synth = r.real[0].metrics["rouge_l"].estimate, r.synthetic[0].metrics["rouge_l"].estimate
    assert synth > real + 0.1  # the synthetic suite is easier
    alone = evaluate_suites(store, preds, ["qa_real"], metrics=("rouge_l",))
    assert alone.real[0].metrics["rouge_l"].estimate == real  # never pooled with synthetic
    gap = r.inflation
    assert gap.metric == "rouge_l" and gap.gap == pytest.approx(synth - real)
    assert (gap.n_real, gap.n_synthetic) == (150, 120)
    assert 0 < gap.ci.lo < gap.gap < gap.ci.hi and "independent" in gap.method
    assert r.synthetic[0].passed is (synth >= 0.6) and r.synthetic[0].threshold == 0.6
    # the result round-trips through JSON and renders in the report
    d = json.loads(json.dumps(r.to_dict()))
    assert EvalResult.from_dict(d).to_dict() == r.to_dict()
    assert any("rouge_l" in str(b) for b in view("eval")(d))


def test_score_column_needs_no_prediction_text_and_reads_the_judge_family(qa, tmp_path):
    store, _, preds = qa
    path = _jsonl(tmp_path / "judge.jsonl",
                  [{"id": p["id"], "judge": p["judge"], "judge_family": "claude"} for p in preds])
    r = evaluate_suites(store, path, ["qa_real", "qa_synth"], metrics=("score:judge",),
                        thresholds=2.5)
    real = [p["judge"] for p in preds if p["id"].startswith("qa_real")]
    m = r.real[0].metrics["score:judge"]
    assert m.estimate == pytest.approx(np.mean(real)) and m.ci.lo < m.estimate < m.ci.hi
    assert r.real[0].correct is None  # no prediction text, no label comparison
    assert r.judge_family == "claude" and r.inflation.metric == "score:judge"
    assert r.synthetic[0].threshold == 2.5  # a score on its own scale takes any threshold
    # tether judge's own file: the score is the prediction column
    judged = _jsonl(tmp_path / "judged.jsonl",
                    [{"id": p["id"], "prediction": p["judge"], "judge_model": "claude-3-haiku",
                      "judge_family": "claude"} for p in preds])
    again = evaluate_suites(store, judged, ["qa_real", "qa_synth"],
                            metrics=("score:prediction",), model_family="claude")
    assert again.real[0].metrics["score:prediction"].estimate == m.estimate
    assert [o["roles"] for o in again.family_overlaps] == [["judge", "model"]]


def test_bootstrap_interval_of_a_mean_score_covers_the_true_mean():
    """Beta(2, 5) scores (bounded, skewed; true mean 2/7), n = 60, 300 simulations."""
    rng = np.random.default_rng(11)
    truth, sims = 2 / 7, 300
    hits = diff_hits = 0
    for k in range(sims):
        x, y = rng.beta(2, 5, size=60), rng.beta(2, 5, size=80) + 0.1
        ci = bootstrap_mean_interval(x, n_boot=999, seed=k)
        hits += ci.lo <= truth <= ci.hi
        d = bootstrap_mean_interval(x, y, n_boot=999, seed=k)
        diff_hits += d.lo <= -0.1 <= d.hi
    # nominal 0.95; 300 simulations have a standard error of 0.013
    assert 0.91 <= hits / sims <= 0.985
    assert 0.91 <= diff_hits / sims <= 0.985


def test_bad_prediction_files_name_file_line_and_field(qa, tmp_path):
    store, _, preds = qa
    rows = [dict(p) for p in preds]
    rows[4]["judge"] = "four"
    path = _jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(InputError) as info:
        evaluate_suites(store, path, ["qa_real"], metrics=("score:judge",))
    assert (info.value.line, info.value.field) == (5, "judge")
    assert str(path) in str(info.value) and "finite number" in str(info.value)

    rows = [dict(p) for p in preds]
    del rows[2]["prediction"]
    path = _jsonl(tmp_path / "missing.jsonl", rows)
    with pytest.raises(InputError) as info:
        evaluate_suites(store, path, ["qa_real"], metrics=("rouge_l",))
    assert (info.value.line, info.value.field) == (3, "prediction") and str(path) in str(info.value)

    rows = [dict(p) for p in preds]
    rows[0]["prediction"] = ["not", "text"]
    with pytest.raises(InputError, match="text or a number") as info:
        evaluate_suites(store, _jsonl(tmp_path / "list.jsonl", rows), ["qa_real"],
                        metrics=("rouge_l",))
    assert (info.value.line, info.value.field) == (1, "prediction")

    path = _jsonl(tmp_path / "other.jsonl", [{"id": f"x{i}", "prediction": "y"} for i in range(9)])
    with pytest.raises(InputError, match="no prediction id matches an item") as info:
        evaluate_suites(store, path, ["qa_real", "qa_synth"], metrics=("token_f1",))
    assert info.value.path == str(path) and str(path) in str(info.value)

    with pytest.raises(InputError) as info:
        evaluate_suites(store, preds, ["qa_real"], metrics=("rouge_l",), reference="context")
    assert info.value.field == "context"
    with pytest.raises(InputError, match="unknown metric bleu"):
        evaluate_suites(store, preds, ["qa_real"], metrics=("bleu",))


def test_the_reference_may_be_a_declared_field(qa):
    store, suites, preds = qa
    by_label = evaluate_suites(store, preds, ["qa_real"], metrics=("rouge_l",))
    by_field = evaluate_suites(store, preds, ["qa_real"], metrics=("rouge_l",), reference="answer")
    assert by_field.real[0].metrics["rouge_l"] == by_label.real[0].metrics["rouge_l"]
    question = evaluate_suites(store, preds, ["qa_real"], metrics=("rouge_l",),
                               reference="question")
    assert question.real[0].metrics["rouge_l"].estimate < 0.2


@pytest.mark.parametrize("model_family, judge_family, pairs", [
    ("gpt", None, [["generator", "model"]]),
    ("llama", "gpt", [["generator", "judge"]]),
    ("claude", None, [["judge", "model"]]),  # the judge family read from the file: claude
    ("gpt", "gpt", [["generator", "model"], ["generator", "judge"], ["judge", "model"]]),
    ("llama", "mistral", []),
])
def test_each_pair_of_roles_sharing_a_family_is_warned(qa, model_family, judge_family, pairs):
    store, _, preds = qa
    r = evaluate_suites(store, preds, ["qa_real", "qa_synth"], metrics=("rouge_l",),
                        model_family=model_family, judge_family=judge_family, thresholds=0.5)
    assert sorted(o["roles"] for o in r.family_overlaps) == sorted(pairs)
    for o in r.family_overlaps:
        assert o["family"] in (model_family, judge_family or "claude")
        if "generator" in o["roles"]:
            assert (o["suite"], o["generator"]) == ("qa_synth", GENERATOR)
    family_warnings = [w for w in r.warnings if "family" in w]
    assert len(family_warnings) == len(pairs)
    d = r.to_dict()
    assert [o["roles"] for o in d["family_overlaps"]] == [o["roles"] for o in r.family_overlaps]
    blocks = view("eval")(d)
    assert any(b.get("title", "").startswith("Roles sharing") for b in blocks) is bool(pairs)
