"""Generator sensitivity on real BBC News: label noise costs accuracy, and a generator's labels
cost what noise in its own confusion pattern at its own error rate costs."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import make_pipeline

from tether import datasets
from tether.errors import InputError
from tether.evaluate.sensitivity import inject_noise, match, sensitivity

FAST = make_pipeline(TfidfVectorizer(), ComplementNB())
SWAPS = {"business": "tech", "sport": "entertainment"}


@pytest.fixture(scope="module")
def parts(bbc):
    p = datasets.split(bbc, {"gold": 400, "holdout": 300}, seed=1)
    return p["gold"].to_pylist(), p["holdout"].to_pylist()


def teacher_labels(gold, share=0.3):
    """A deterministic 'teacher' that files a share of business as tech and of sport as
    entertainment (systematic confusions), writing its own rows with parents = the gold ids."""
    out = []
    for i, r in enumerate(gold):
        wrong = r["label"] in SWAPS and (i * 7919) % 100 < share * 100
        out.append({"id": f"teacher-{r['id']}", "parents": [r["id"]],
                    "label": SWAPS[r["label"]] if wrong else r["label"]})
    return out


def test_slopes_negative_and_generator_on_its_confusion_curve(parts, store):
    gold, holdout = parts
    store.ingest("gold", gold, origin="real", label_origin="real")
    store.ingest("teacher", [{**t, "text": g["text"]} for t, g in zip(teacher_labels(gold), gold)],
                 origin="real", label_origin="synthetic", family="model", generator="teacher@1")
    store.ingest("holdout", holdout, origin="real", label_origin="real")
    steps = []
    r = sensitivity(store, "gold", "teacher", "holdout", rates=(0.1, 0.2, 0.3, 0.45), repeats=2,
                    estimator=FAST, progress=lambda done, total: steps.append((done, total)))
    assert r.n_matched == store.summary("gold").count
    assert 0.04 < r.generator_error_rate < 0.15
    for kind in ("uniform", "confusion"):
        assert r.trends[kind].slope < 0 and r.trends[kind].slope_ci[1] < 0, kind
    # the generator's systematic confusions hurt more than the same amount of uniform noise
    assert r.trends["confusion"].slope < r.trends["uniform"].slope
    at = r.at_generator
    assert at.rate == pytest.approx(r.generator_error_rate)
    assert np.mean(at.realised) == pytest.approx(r.generator_error_rate)
    assert abs(r.generated.accuracy - at.scores.accuracy) < 0.05
    assert r.gold.accuracy > r.generated.accuracy + 0.03
    assert steps[-1] == (2 + 9 * 2, 20)
    d = r.to_dict()
    err = d["generator_error"]
    assert err["ci"][0] < err["rate"] < err["ci"][1]
    assert d["classes"] == sorted({g["label"] for g in gold})
    cm = np.array(d["confusion"])
    assert cm.sum() == r.n_matched and cm.trace() == r.n_matched - r.generator_errors
    assert store.latest_result("sensitivity").params["generated"] == "teacher"
    json.dumps(d)


def test_inject_noise_uniform_is_exact_and_spread():
    y = np.array(["a", "b", "c", "d"] * 250)
    noisy = inject_noise(y, ["a", "b", "c", "d"], 0.3, np.random.default_rng(1))
    flipped = noisy != y
    assert flipped.mean() == 0.3
    targets = Counter(noisy[flipped & (y == "a")])
    assert set(targets) == {"b", "c", "d"} and min(targets.values()) > 12


def test_inject_noise_follows_the_confusion_pattern():
    classes = ["a", "b", "c"]
    # the generator errs only on a (→ b three times as often as → c) and never on b or c
    confusion = np.array([[60, 30, 10], [0, 100, 0], [0, 0, 100]])
    y = np.array(classes * 300)
    noisy = inject_noise(y, classes, 0.2, np.random.default_rng(2), confusion)
    flipped = noisy != y
    assert flipped.sum() == 180 and set(y[flipped]) == {"a"}
    to_b = np.mean(noisy[flipped] == "b")
    assert abs(to_b - 0.75) < 0.08
    # more noise than the pattern can place: only the erring class is flipped, all of it
    capped = inject_noise(y, classes, 0.5, np.random.default_rng(2), confusion)
    assert (capped != y).sum() == 300


def test_match_by_id_or_parents_and_refusals(parts):
    gold, holdout = parts
    generated = [{"id": gold[0]["id"], "label": "x"},
                 {"id": "t1", "parents": json.dumps([gold[2]["id"]]), "label": "y"}]
    g, labels = match(gold[:3], generated)
    assert g.ids.tolist() == [gold[0]["id"], gold[2]["id"]] and labels.tolist() == ["x", "y"]
    with pytest.raises(InputError, match="no generated row matches"):
        match(gold[:3], [{"id": "zz", "label": "x"}])
    with pytest.raises(InputError, match="shares 1 ids"):
        sensitivity(None, gold[:50], teacher_labels(gold[:50]), holdout[:20] + gold[:1],
                    estimator=FAST)


def test_a_perfect_generator_leaves_no_pattern(parts):
    gold, holdout = parts
    few = gold[::3]  # rows come sorted by label
    perfect = [{"id": r["id"], "label": r["label"]} for r in few]
    r = sensitivity(None, few, perfect, holdout[::3], rates=(0.2, 0.4), repeats=1,
                    estimator=FAST)
    assert r.generator_errors == 0 and r.at_generator is None and "confusion" not in r.trends
    assert r.warnings and r.gold.accuracy == r.generated.accuracy
