"""Diversity on real BBC News: a simulated feedback loop (each generation resamples the last,
with a shrinking vocabulary) raises the warning; a stable process does not."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from tether.audit.diversity import audit_diversity, diversity
from tether.audit.profile import tokens


@pytest.fixture(scope="module")
def leads(bbc):
    return [t[:400] for t in bbc.column("text").to_pylist()]


def _feedback_loop(pool, rng, generations=4, n=150):
    """Generation 0 is real; each next one resamples the previous (duplicates) and replaces
    words outside a shrinking vocabulary by frequent ones."""
    texts, gens = [], []
    current = [pool[i] for i in rng.choice(len(pool), n, replace=False)]
    for g in range(generations):
        texts += current
        gens += [g] * n
        counts = Counter(w for t in current for w in tokens(t))
        vocab = [w for w, _ in counts.most_common(max(50, len(counts) // 2))]
        keep = set(vocab)
        current = [" ".join(w if w in keep else vocab[rng.integers(len(vocab))]
                            for w in tokens(current[i]))
                   for i in rng.integers(0, n, n)]
    return texts, gens


def test_a_feedback_loop_raises_the_warning(leads):
    texts, gens = _feedback_loop(leads, np.random.default_rng(0))
    r = diversity(texts, generations=gens, draws=10)
    assert [g.group for g in r.by_generation] == ["0", "1", "2", "3"]
    d1 = [g.metrics["distinct_1"]["value"] for g in r.by_generation]
    assert all(a > b for a, b in zip(d1, d1[1:]))
    assert any(w.startswith("distinct_1 falls generation after generation") for w in r.warnings)


def test_a_stable_process_raises_no_warning(leads):
    rng = np.random.default_rng(1)
    picks = rng.choice(len(leads), 600, replace=False)
    r = diversity([leads[i] for i in picks], generations=[0, 1, 2, 3] * 150, draws=10)
    assert r.warnings == []
    for g in r.by_generation:
        for m in g.metrics.values():
            assert m["ci"][0] <= m["value"] <= m["ci"][1]


def test_groups_by_generator_and_over_time(leads):
    stamps = [f"2026-01-0{1 + i // 100}T00:00:00" for i in range(300)]
    r = diversity(leads[:300], generators=["a@1"] * 150 + ["b@1"] * 150, created_at=stamps,
                  time_bins=3, draws=5)
    assert [g.group for g in r.by_generator] == ["a@1", "b@1"]
    assert [g.group for g in r.over_time] == [s for s in sorted(set(stamps))]
    assert r.to_dict()["by_generation"] == []


def test_audit_diversity_follows_lineage_in_the_store(store, leads):
    rng = np.random.default_rng(2)
    texts, gens = _feedback_loop(leads, rng, generations=3, n=100)
    ids = [f"g{g}-{i}" for g, i in zip(gens, list(range(100)) * 3)]
    for g in range(3):
        rows = [{"id": ids[j], "text": texts[j], "k": j,  # k: resampled duplicates stay apart
                 "parents": [ids[j - 100]] if g else []} for j in range(g * 100, g * 100 + 100)]
        store.ingest("loop", rows, origin="real" if g == 0 else "synthetic",
                     family=None if g == 0 else "rule", generator=f"loop@{g}")
    r = audit_diversity(store, "loop", draws=8)
    assert [g.group for g in r.by_generation] == ["0", "1", "2"]
    assert store.latest_result("diversity").data["warnings"] == r.warnings


def test_the_embedding_fitted_on_a_sample_gives_the_same_spreads(leads):
    """The spread embedding fitted on 1,500 of 2,825 texts (then applied to all in batches)
    reads the spreads of the one fitted on all of them, in the same order over generations,
    and the feedback loop still warns."""
    from tether.audit.features import svd_embedding

    assert np.array_equal(svd_embedding(leads[:300], fit_max=300), svd_embedding(leads[:300]))
    Z = svd_embedding(leads, fit_max=600, batch_size=500)
    assert Z.shape[0] == len(leads) and np.allclose(np.linalg.norm(Z, axis=1), 1, atol=1e-5)
    texts, gens = _feedback_loop(leads, np.random.default_rng(0))
    texts = leads + texts
    gens = [0] * len(leads) + [g + 1 for g in gens]
    full = diversity(texts, generations=gens, draws=10, fit_max=len(texts))
    sampled = diversity(texts, generations=gens, draws=10, fit_max=1500)
    spreads = [[g.metrics["spread"]["value"] for g in r.by_generation] for r in (full, sampled)]
    assert np.abs(np.subtract(*spreads)).max() < 0.05
    assert np.argsort(spreads[0]).tolist() == np.argsort(spreads[1]).tolist()
    assert [g.metrics["distinct_1"] for g in full.by_generation] == [
        g.metrics["distinct_1"] for g in sampled.by_generation]  # only the embedding differs
    assert any("spread" in w or "distinct" in w for w in sampled.warnings)


def test_the_tokens_diversity_counts_give_the_same_embedding(leads):
    """Diversity tokenizes once and hands its tokens to the embedding: the TF-IDF terms, and
    so the embedding, are those of scikit-learn's own tokenizer on the raw texts."""
    from tether.audit.features import svd_embedding

    texts = leads[:400] + ["Émile's  naïve, CAFÉ-au-lait x y 42", ""]
    direct = svd_embedding(texts, dims=20)
    shared = svd_embedding([tokens(t) for t in texts], dims=20, tokenized=True)
    assert np.array_equal(direct, shared)


def test_texts_without_content_words_are_an_input_error():
    from tether.errors import InputError
    with pytest.raises(InputError, match="hold no content words"):
        diversity(["the and of", "a to in", "it is"])
