"""Coverage on real BBC News: a disjoint real sample covers the real data; a synthetic side drawn
from some topics only loses recall and leaves the other topics' modes uncovered."""

from __future__ import annotations

import numpy as np
import pytest

from tether.audit.coverage import audit_coverage, coverage, coverage_points
from tether.audit.features import svd_embedding


@pytest.fixture(scope="module")
def halves(bbc):
    texts, labels, ids = (bbc.column(c).to_pylist() for c in ("text", "label", "id"))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(texts))
    a, b = order[: len(texts) // 2], order[len(texts) // 2:]
    pick = lambda idx, col: [col[i] for i in idx]  # noqa: E731
    return {"real": (pick(a, texts), pick(a, labels), pick(a, ids)),
            "other": (pick(b, texts), pick(b, labels), pick(b, ids))}


def test_a_disjoint_real_sample_has_high_precision_and_recall(halves):
    (rt, rl, ri), (st, sl, _) = halves["real"], halves["other"]
    r = coverage(rt, st, real_ids=ri, real_labels=rl, synthetic_labels=sl)
    assert r.precision > 0.9 and r.recall > 0.9
    assert r.precision_ci[0] < r.precision < r.precision_ci[1]
    assert r.uncovered_real == []
    assert all(v["recall"] > 0.8 for v in r.by_label.values())
    assert "Kynkaenniemi" in r.method and "Wilson" in r.method


def test_missing_topics_lower_recall_and_show_as_uncovered_modes(halves):
    (rt, rl, ri), (st, sl, _) = halves["real"], halves["other"]
    kept = {"business", "tech"}
    syn = [(t, lab) for t, lab in zip(st, sl) if lab in kept]
    r = coverage(rt, [t for t, _ in syn], real_ids=ri, real_labels=rl,
                 synthetic_labels=[lab for _, lab in syn])
    assert r.recall < 0.6 and r.recall_ci[1] < 0.7
    assert r.precision > 0.9  # what there is lies where real data lives
    assert r.uncovered_real, "the missing topics' clusters are reported"
    assert all(m.label not in kept for m in r.uncovered_real)
    missing = {m.label for m in r.uncovered_real}
    assert len(missing & {"entertainment", "politics", "sports"}) >= 2
    assert r.by_label["politics"]["recall"] == 0.0 and r.by_label["business"]["recall"] > 0.8
    members = set(ri)
    assert all(set(m.examples) <= members and m.size > 0 for m in r.uncovered_real)


def test_points_inside_and_outside_the_real_support():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(400, 2))
    far = coverage_points(real, rng.normal(size=(200, 2)) + 10)
    assert far.precision == 0.0 and far.recall == 0.0
    assert len(far.uncovered_real) == len(far.modes)


def test_audit_coverage_saves_its_result(store, bbc):
    rows = bbc.slice(0, 400).to_pylist()[::2]
    store.ingest("real", rows[:100], origin="real", label_origin="real")
    store.ingest("syn", [{**r, "id": "s" + r["id"]} for r in rows[100:]], origin="synthetic",
                 label_origin="real", family="rule", generator="copy@1")
    r = audit_coverage(store, "real", "syn", clusters=4)
    saved = store.latest_result("coverage")
    assert saved.data["recall"] == pytest.approx(r.recall)
    assert set(saved.data) >= {"precision", "recall", "by_label", "uncovered_real"}
    assert saved.params["clusters"] == 4


def test_the_sample_cap_applies_before_the_embedding(halves):
    """With ``max_n`` below the sizes, the audit equals the audit of the sampled texts alone
    (nothing outside the sample is featurized), reports the full sizes, and its results have
    the distribution of the previous path (SVD fitted on all texts, then sampled)."""
    (rt, rl, ri), (st, sl, _) = halves["real"], halves["other"]
    capped = coverage(rt, st, real_ids=ri, real_labels=rl, synthetic_labels=sl, max_n=300)
    rng = np.random.default_rng(0)  # the draws the audit makes for seed 0
    keep_r = np.sort(rng.choice(len(rt), 300, replace=False))
    keep_s = np.sort(rng.choice(len(st), 300, replace=False))
    alone = coverage([rt[i] for i in keep_r], [st[i] for i in keep_s],
                     real_ids=[ri[i] for i in keep_r], real_labels=[rl[i] for i in keep_r],
                     synthetic_labels=[sl[i] for i in keep_s])
    assert capped.n_used == [300, 300] and [capped.n_real, capped.n_synthetic] == [len(rt),
                                                                                   len(st)]
    for key in ("precision", "recall", "by_label", "modes"):
        assert getattr(capped, key) == getattr(alone, key)
    Z = svd_embedding(rt + st)
    new, old = [], []
    for seed in range(6):
        r = coverage(rt, st, max_n=300, seed=seed)
        o = coverage_points(Z[:len(rt)], Z[len(rt):], max_n=300, seed=seed)
        new.append([r.precision, r.recall])
        old.append([o.precision, o.recall])
    assert np.abs(np.mean(new, axis=0) - np.mean(old, axis=0)).max() < 0.05
