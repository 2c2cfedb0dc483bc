"""Per-item text scores against the rouge-score reference on real BBC News pairs."""

from __future__ import annotations

import numpy as np
import pytest

from tether.evaluate.intervals import bootstrap_mean_interval
from tether.evaluate.scores import exact_match, rouge_l, score_many, token_f1


def _pairs(n=3000, seed=0):
    from tether import datasets
    texts = datasets.load("bbcnews").column("text").to_pylist()
    rng = np.random.default_rng(seed)
    preds, refs = [], []
    for i in range(n):
        words = texts[i % len(texts)].split()[:60]
        ref = " ".join(words[: rng.integers(5, 40)])
        kept = [w for w in words if rng.random() > 0.3]
        rng.shuffle(kept[: len(kept) // 4])
        preds.append(" ".join(kept[: rng.integers(0, 50)]))
        refs.append(ref)
    return preds, refs


def test_rouge_l_matches_rouge_score():
    rs = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rs.RougeScorer(["rougeL"])
    preds, refs = _pairs()
    ours = score_many(preds, refs, "rouge_l")
    theirs = np.array([scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(preds, refs)])
    np.testing.assert_allclose(ours, theirs, atol=1e-9, rtol=0)
    assert ours.std() > 0.05


def test_token_f1_and_exact_match():
    assert exact_match("The  Cat.", "cat") == 1.0
    assert exact_match("a dog", "cat") == 0.0
    assert token_f1("a big red cat", "the red cat") == pytest.approx(0.8)
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0
    assert rouge_l("", "x") == 0.0
    preds, refs = _pairs(200)
    f1 = score_many(preds, refs, "token_f1")
    assert np.array_equal(f1, [token_f1(p, r) for p, r in zip(preds, refs)])
    assert ((0 <= f1) & (f1 <= 1)).all()
    with pytest.raises(ValueError):
        score_many(["a"], ["b"], "bleu")


def test_mean_interval_covers_mean():
    x = np.random.default_rng(1).uniform(size=400)
    lo, hi = bootstrap_mean_interval(x)
    assert lo < x.mean() < hi and hi - lo < 0.1


def test_ascii_and_unicode_texts_tokenize_as_rouge_score():
    rs = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rs.RougeScorer(["rougeL"])
    pairs = [("Café au LAIT, 42 cups!", "cafe au lait 42"), ("Straße NAÏVE déjà-vu", "naive deja vu"),
             ("K-9 (Kelvin sign) unit", "k 9 unit"), ("ZÜRICH zurich", "Zürich"),
             ("Tab\tnew\nline", "tab new line")]
    for pred, ref in pairs:
        assert rouge_l(pred, ref) == pytest.approx(scorer.score(ref, pred)["rougeL"].fmeasure,
                                                   abs=1e-12), (pred, ref)
    assert token_f1("The Café, isn't it?", "café isnt it") == 1.0  # SQuAD keeps accents
    assert token_f1("The Café, isn't it?", "cafe isnt it") == pytest.approx(2 / 3)
