"""The style audit: features, power on planted shifts, level on real halves, intervals, store."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tether.audit.style import (
    FEATURES,
    StyleResult,
    audit_style,
    compare_style,
    style,
    style_features,
)
from tether.errors import InputError, NotFoundError


@pytest.fixture(scope="module")
def qa(bbc):
    """BBC News as question/answer pairs: the headline is the prompt, the body the answer."""
    rows = bbc.to_pylist()
    return ([r["text"].split("\n", 1)[0] for r in rows],
            [r["text"].split("\n", 1)[1].strip() for r in rows],
            [r["id"] for r in rows])


@pytest.fixture(scope="module")
def feats(qa):
    prompts, answers, _ = qa
    return style_features(answers, prompts)


def _take(f, idx):
    return {k: v[idx] for k, v in f.items()}


def test_features_on_known_texts():
    f = style_features([("Certainly! I'd be happy to help. Please see:\n1. one\n2. two\n"
                         "Use `x` — **bold**. Why? Hope this helps!"),
                        "As an AI, I can’t do that.", "", "Привет, world"],
                       prompts=["q", "a b", "", "x"])
    assert f["opener_certainly"].tolist() == [1, 0, 0, 0]
    assert f["opener_as_an_ai"].tolist() == [0, 1, 0, 0]
    assert f["refusal"].tolist() == [0, 1, 0, 0]
    assert f["list_items"].tolist() == [2, 0, 0, 0]
    assert f["code"].tolist() == [1, 0, 0, 0] and f["markdown"][0] == 1
    assert f["question_marks"][0] == 1 and f["exclamations"][0] == 2
    # "certainly", "i'd be happy", "please", "hope this helps": 4 markers in 21 words
    assert f["politeness"][0] == pytest.approx(100 * 4 / f["words"][0])
    assert f["words"].tolist()[1:] == [7, 0, 2]
    assert f["length_vs_prompt"][1] == 3.5 and np.isnan(f["length_vs_prompt"][2])
    assert f["scripts"].tolist() == [1, 1, 0, 2]
    assert f["non_latin"][3] == pytest.approx(6 / 11)
    assert f["sentences"].tolist()[1:] == [1, 0, 1]
    assert set(f) == set(FEATURES)


def test_flesch_matches_hand_count():
    # "The cat sat on the mat." 6 words, 6 syllables, 1 sentence
    # "Education is a complicated institution." 5 words, 4+1+1+4+4 = 14 syllables
    f = style_features(["The cat sat on the mat.", "Education is a complicated institution.",
                        "Make a table."])
    assert f["readability"][0] == pytest.approx(206.835 - 1.015 * 6 - 84.6 * 1)
    assert f["readability"][1] == pytest.approx(206.835 - 1.015 * 5 - 84.6 * 14 / 5)
    # make = 1 (silent e), a = 1, table = 2 (final -le is spoken)
    assert f["readability"][2] == pytest.approx(206.835 - 1.015 * 3 - 84.6 * 4 / 3)


def test_verbose_polite_answers_flagged_with_sign(qa, feats):
    prompts, answers, ids = qa
    rng = np.random.default_rng(0)
    order = rng.permutation(len(answers))
    real, syn = order[:1000], order[1000:2000]
    verbose = [f"Certainly! {answers[i]} {answers[i]} {answers[i]} I hope this helps!"
               for i in syn]
    r = compare_style(_take(feats, real), style_features(verbose, [prompts[i] for i in syn]),
                      synthetic_ids=[f"syn-{ids[i]}" for i in syn])
    for name in ("chars", "words", "sentences", "length_vs_prompt", "opener_certainly",
                 "politeness", "exclamations"):
        assert name in r.flagged, name
        assert r.features[name].cliffs_delta > 0, name
    chars = r.features["chars"]
    assert chars.ratio_ci[0] < chars.ratio < chars.ratio_ci[1] and 2.8 < chars.ratio < 3.2
    assert chars.ratio_ci[1] - chars.ratio_ci[0] < 0.5
    assert chars.finding.startswith("synthetic answers are 3")
    assert "longer" in chars.finding
    assert r.features["opener_certainly"].finding == \
        "100% of synthetic answers vs 0% of real ones start with 'Certainly'"
    # examples are synthetic ids, the longest answers first
    longest = np.argsort([-len(t) for t in verbose], kind="stable")[:3]
    assert chars.examples == [f"syn-{ids[syn[i]]}" for i in longest]
    assert "opener_as_an_ai" not in r.flagged and "refusal" not in r.flagged
    assert r.flagged == sorted(r.flagged, key=lambda k: -abs(r.features[k].cliffs_delta))


def test_planted_2x_verbosity_found(qa, feats):
    _, answers, _ = qa
    rng = np.random.default_rng(1)
    order = rng.permutation(len(answers))
    real, syn, pad = order[:700], order[700:1400], order[1400:2100]
    doubled = [answers[i] + "\n\n" + answers[j] for i, j in zip(syn, pad)]
    r = compare_style(_take(feats, real), style_features(doubled))
    assert "chars" in r.flagged and "words" in r.flagged
    lo, hi = r.features["chars"].ratio_ci
    assert lo < 2 < hi and 1.8 < r.features["chars"].ratio < 2.2
    assert not {"opener_certainly", "politeness", "refusal"} & set(r.flagged)


def test_real_halves_flag_nothing_at_the_nominal_level(feats):
    n = len(feats["chars"])
    rng = np.random.default_rng(2)
    any_rejected = 0
    splits = 100
    for k in range(splits):
        order = rng.permutation(n)
        r = compare_style(_take(feats, order[: n // 2]), _take(feats, order[n // 2:]))
        if k == 0:
            assert r.flagged == [] and r.findings == []
        any_rejected += any(f.p_adjusted is not None and f.p_adjusted < 0.05
                            for f in r.features.values())
    # BH controls the family-wise error at 5% under the global null; P(X >= 12 | 5%) < 0.5%
    assert any_rejected < 12


def test_ratio_interval_coverage_by_simulation():
    rng = np.random.default_rng(3)
    hits = 0
    sims = 500
    for _ in range(sims):
        a = rng.exponential(100.0, 300)
        b = rng.exponential(240.0, 200)
        f = compare_style({"chars": a}, {"chars": b}).features["chars"]
        hits += f.ratio_ci[0] <= 2.4 <= f.ratio_ci[1]
    assert abs(hits / sims - 0.95) <= 0.025


def test_round_trip_and_errors(qa):
    prompts, answers, _ = qa
    r = style(answers[:50], ["Sure! " + a for a in answers[50:100]], real_prompts=prompts[:50],
              synthetic_prompts=prompts[50:100], field="response", prompt_field="prompt")
    d = json.loads(json.dumps(r.to_dict()))
    assert StyleResult.from_dict(d) == r
    assert d["field"] == "response" and "opener_sure" in d["flagged"]
    with pytest.raises(InputError, match="both sides"):
        style([], ["x"])
    with pytest.raises(InputError, match="2 prompts for 1"):
        style_features(["x"], ["a", "b"])


def test_audit_style_on_a_store_field(store, qa):
    prompts, answers, ids = qa
    store.ingest("real_qa", [{"id": ids[i], "prompt": prompts[i], "response": answers[i]}
                             for i in range(300)], origin="real", text_field=None)
    store.ingest("syn_qa", [{"id": "s" + ids[i], "prompt": prompts[i],
                             "response": "Certainly! " + answers[i] + " " + answers[i]}
                            for i in range(300, 600)],
                 origin="synthetic", family="model", generator="gpt-x@1", text_field=None)
    r = audit_style(store, "real_qa", "syn_qa", field="response", prompt_field="prompt")
    assert r.field == "response" and r.prompt_field == "prompt"
    assert {"chars", "opener_certainly", "length_vs_prompt"} <= set(r.flagged)
    assert r.features["chars"].examples[0].startswith("s")
    saved = store.latest_result("style")
    assert saved.data["flagged"] == r.flagged and saved.params["field"] == "response"
    with pytest.raises(NotFoundError, match="no field 'answer'; its fields are: prompt, "
                                            "response"):
        audit_style(store, "real_qa", "syn_qa", field="answer")
