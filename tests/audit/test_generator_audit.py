"""Generator audit on real BBC labels: planted systematic confusions, planted uniform noise,
bias slices planted inside one class of a two-class task."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import fisher_exact
from statsmodels.stats.contingency_tables import SquareTable
from statsmodels.stats.multitest import multipletests

from tether.audit.features import svd_embedding
from tether.audit.generator import _slice_fit, audit_generator, candidate_slices, generator_audit
from tether.datasets import split
from tether.errors import InputError


@pytest.fixture(scope="module")
def gold(bbc):
    return bbc.column("label").to_pylist()


def uniform_noise(labels, rate, rng):
    classes = sorted(set(labels))
    return [str(rng.choice([c for c in classes if c != x])) if rng.random() < rate else x
            for x in labels]


def confuse(labels, rate, rng, source="business", target="politics"):
    return [target if x == source and rng.random() < rate else x for x in labels]


def test_recovers_a_planted_systematic_confusion(gold):
    made = confuse(gold, 0.3, np.random.default_rng(0))
    r = generator_audit(gold, made, n_boot=300)
    assert r.systematic_share >= 0.9 and r.systematic_share_ci[0] >= 0.8
    assert [(c["gold"], c["generated"]) for c in r.systematic_cells] == [("business", "politics")]
    top = r.top_confusions[0]
    assert (top["gold"], top["generated"]) == ("business", "politics")
    assert top["count"] == r.errors and top["count"] > 5 * top["expected_uniform"]
    assert r.uniformity_test["p_value"] < 0.01
    lo, hi = r.per_class["business"]["recall_ci"]
    assert lo <= 0.7 <= hi
    assert r.label_skew["p_value"] < 1e-6 and r.label_skew["tvd_ci"][0] > 0
    assert "Wilson" in r.method


def test_recovers_a_planted_uniform_noise_rate(gold):
    """Over repetitions: the accuracy interval covers 1 − rate about 95% of the time, the
    hard-mistake rate is the planted rate, and the systematic share stays near zero."""
    rate, reps = 0.15, 40
    covered, hard_covered, shares = 0, 0, []
    for rep in range(reps):
        r = generator_audit(gold, uniform_noise(gold, rate, np.random.default_rng(rep)),
                            n_boot=200, n_sim=200, seed=rep)
        covered += r.accuracy_ci[0] <= 1 - rate <= r.accuracy_ci[1]
        hard_covered += r.hard_error_rate_ci[0] <= rate <= r.hard_error_rate_ci[1]
        shares.append(r.systematic_share)
    assert covered >= 34 and hard_covered >= 32
    assert np.mean(shares) < 0.05 and np.max(shares) < 0.3


def test_splits_a_mixture_of_noise_and_bias(gold):
    rng = np.random.default_rng(3)
    noisy = uniform_noise(gold, 0.1, rng)
    made = confuse(noisy, 0.25, rng)
    errors = sum(a != b for a, b in zip(gold, made))
    planted = sum(a != b for a, b in zip(noisy, made)) / errors  # errors the bias added
    r = generator_audit(gold, made, n_boot=300)
    assert r.systematic_share == pytest.approx(planted, abs=0.1)
    assert r.systematic_share_ci[0] <= planted <= r.systematic_share_ci[1]
    assert r.hard_error_rate == pytest.approx(0.1, abs=0.025)


def test_label_skew_flags_balance_where_reality_is_skewed(bbc):
    parts = split(bbc, {"a": 600}, seed=1)["a"]
    labels = parts.column("label").to_pylist()
    keep = [i for i, x in enumerate(labels) if x == "sports" or i % 5 == 0]  # mostly sports
    gold = [labels[i] for i in keep]
    rng = np.random.default_rng(4)
    classes = sorted(set(gold))
    made = [str(rng.choice(classes)) if x == "sports" and rng.random() < 0.5 else x for x in gold]
    skew = generator_audit(gold, made, n_boot=300).label_skew
    assert skew["balance_generated"] > skew["balance_real"]
    assert skew["balance_difference_ci"][0] > 0 and skew["p_value"] < 1e-6
    conf = np.array(generator_audit(gold, made, n_boot=10).confusion["matrix"])
    reference = SquareTable(conf, shift_zeros=False).homogeneity()  # Stuart–Maxwell
    assert skew["statistic"] == pytest.approx(reference.statistic)
    assert skew["p_value"] == pytest.approx(reference.pvalue)


def test_answers_verbosity(bbc):
    texts = bbc.column("text").to_pylist()[::11]
    labels = bbc.column("label").to_pylist()[::11]
    real = [[p for p in t.split("\n") if p.strip()][1] for t in texts]  # first paragraph
    verbose = [f"{a} Moreover, this matters. It is worth noting, too." for a in real]
    r = generator_audit(labels, labels, gold_answers=real, generated_answers=verbose, n_boot=300)
    assert r.answers["length_ratio_ci"][0] > 1 and r.answers["sentences"]["difference"] > 1.5
    same = generator_audit(labels, labels, gold_answers=real, generated_answers=real, n_boot=50)
    assert same.answers["length_ratio"] == 1.0 and same.accuracy == 1.0
    assert same.systematic_share == 0.0 and same.errors == 0
    assert generator_audit(labels, labels).answers is None


def test_audit_generator_matches_by_lineage_and_saves(store, bbc):
    part = split(bbc, {"a": 300}, seed=2)["a"]
    store.ingest("gold", part, origin="real", label_origin="real")
    ids = store.table("gold").column("id").to_pylist()
    gold = store.table("gold").column("label").to_pylist()
    made = confuse(gold, 0.5, np.random.default_rng(5))
    store.ingest("teacher", [{"id": f"t-{i}", "text": f"copy {i}", "label": m, "parents": [i],
                              "answer": "a b"} for i, m in zip(ids, made)],
                 origin="real", label_origin="synthetic", family="model", generator="teacher@1")
    r = audit_generator(store, "gold", "teacher", n_boot=100)
    assert r.matched_by == {"id": 0, "lineage": len(ids)} and r.n == len(ids)
    assert r.accuracy == pytest.approx(np.mean([a == b for a, b in zip(gold, made)]))
    assert r.answers is None  # the gold side has no answers
    saved = store.latest_result("generator")
    assert saved.data["accuracy"] == r.accuracy and saved.params["gold"] == "gold"
    assert set(saved.data) >= {"accuracy", "accuracy_ci", "confusion", "label_skew",
                                    "systematic_share", "method"}
    with pytest.raises(InputError, match="matches"):
        audit_generator(store, "teacher", "gold")


def test_bad_input_is_named():
    with pytest.raises(InputError, match="gold labels"):
        generator_audit(["a"], ["a", "b"])
    with pytest.raises(InputError, match="two distinct"):
        generator_audit(["a", "a"], ["a", "a"])


# Bias slices: two-class data (business vs tech) built from BBC, a planted sub-population bias.

@pytest.fixture(scope="module")
def two_class(bbc):
    labels, texts = bbc.column("label").to_pylist(), bbc.column("text").to_pylist()
    keep = [i for i, x in enumerate(labels) if x in ("business", "tech")]
    gold = [labels[i] for i in keep]
    texts = [texts[i] for i in keep]
    return gold, texts, svd_embedding(texts)


def flip(labels, wrong):
    return [("tech" if x == "business" else "business") if w else x
            for x, w in zip(labels, wrong)]


def plant(gold, sub, seed):
    """60% of the sub-population mislabelled, 3% uniform elsewhere; the true systematic share
    is the errors in the sub-population beyond the 3% a constant rate puts there."""
    rng = np.random.default_rng(seed)
    wrong = np.where(sub, rng.random(len(gold)) < 0.6, rng.random(len(gold)) < 0.03)
    return flip(gold, wrong), (wrong[sub].sum() - 0.03 * sub.sum()) / wrong.sum()


def test_finds_a_topic_bias_inside_one_class_of_a_two_class_task(two_class):
    """The airline articles: 33 of the 510 business articles (6.5%), found by k-means clusters
    of the texts; the systematic share's interval covers the truth."""
    gold, texts, Z = two_class
    sub = np.array([g == "business" and re.search(r"\bairlines?\b", t.lower()) is not None
                    for g, t in zip(gold, texts)])
    assert 0.05 <= sub.sum() / gold.count("business") <= 0.07
    covered = 0
    for seed in range(5):
        made, truth = plant(gold, sub, seed)
        r = generator_audit(gold, made, texts=texts, embedding=Z, n_boot=300, seed=seed)
        top = r.slices[0]
        assert top["kind"] == "cluster" and "airline" in top["definition"]
        assert top["p_adjusted"] < 1e-6 and top["error_rate_ci"][0] > 0.3
        assert r.confusion_share == 0.0  # two classes: the confusion matrix cannot see it
        assert r.systematic_share == r.slice_share >= 0.15
        covered += r.systematic_share_ci[0] <= truth <= r.systematic_share_ci[1]
    assert covered >= 4


def test_finds_a_bias_on_one_value_of_a_user_field(two_class):
    gold, texts, _ = two_class
    rng = np.random.default_rng(11)
    business = np.flatnonzero(np.array(gold) == "business")
    sub = np.zeros(len(gold), dtype=bool)
    sub[rng.choice(business, 31, replace=False)] = True  # 6% of business, at random
    desk = np.where(sub, "syndicated", rng.choice(["staff", "wire", "agency"], len(gold)))
    made, truth = plant(gold, sub, 1)
    r = generator_audit(gold, made, fields={"desk": desk.tolist()}, n_boot=300)
    assert r.slices[0]["definition"] == "desk = syndicated" and r.slices[0]["kind"] == "field"
    assert r.slices[0]["size"] == 31
    assert r.systematic_share_ci[0] <= truth <= r.systematic_share_ci[1]
    assert r.systematic_share == pytest.approx(truth, abs=0.1)


def test_uniform_noise_reports_no_slice_at_the_nominal_level(two_class):
    """3% uniform noise, 20 seeds, ~64 slices each: Holm keeps the family-wise error ≤ 5%, so
    at most 3 runs may report a slice (P(Binomial(20, 0.05) ≥ 4) = 1.6%)."""
    gold, texts, Z = two_class
    flagged, shares = 0, []
    for seed in range(20):
        wrong = np.random.default_rng(100 + seed).random(len(gold)) < 0.03
        r = generator_audit(gold, flip(gold, wrong), texts=texts, embedding=Z, n_boot=20,
                            n_sim=100, seed=seed)
        assert r.slices_tested > 50
        flagged += bool(r.slices)
        shares.append(r.systematic_share)
    assert flagged <= 3 and np.mean(shares) < 0.05


def test_slice_p_values_match_fisher_and_holm_matches_statsmodels(two_class):
    gold, texts, _ = two_class
    rng = np.random.default_rng(2)
    lengths = np.array([len(t.split()) for t in texts])
    wrong = rng.random(len(gold)) < np.where(lengths > np.median(lengths), 0.08, 0.02)
    found = candidate_slices(gold, texts=texts, embedding=None)
    M = sp.csr_matrix(np.array([m for _, _, m in found], dtype=float))
    p, adjusted, _ = _slice_fit(M, wrong.astype(float), np.ones(len(gold)), 0.05)
    for (_, _, members), got in zip(found, p[0]):
        table = [[wrong[members].sum(), (~wrong[members]).sum()],
                 [wrong[~members].sum(), (~wrong[~members]).sum()]]
        assert got == pytest.approx(fisher_exact(table, alternative="greater").pvalue, rel=1e-9)
    assert adjusted[0] == pytest.approx(multipletests(p[0], method="holm")[1])
    r = generator_audit(gold, flip(gold, wrong), texts=texts, embedding=None, n_boot=50)
    assert r.slices and all(s["kind"] == "length" for s in r.slices)
    assert all(lo >= np.median(lengths) for lo in
               (float(s["definition"].split("[")[1].split(",")[0]) for s in r.slices))
