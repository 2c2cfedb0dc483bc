"""Perturbations: rate 0 is the identity, the effect grows with the rate, labels survive,
and the output depends only on the seed and the row id."""

from __future__ import annotations

import difflib

import numpy as np
import pytest

from tether.errors import InputError
from tether.generate import run
from tether.generate.perturb import (
    NEIGHBOURS,
    OPS,
    Casing,
    Drops,
    PerturbGenerator,
    Pipeline,
    Typos,
    bernoulli_positions,
    perturb_texts,
)


@pytest.fixture(scope="module")
def articles(bbc):
    """40 real articles: title, paragraphs and sentences."""
    return bbc.column("text").to_pylist()[::50][:40]


@pytest.fixture(scope="module")
def texts(articles):
    return [t[:400] for t in articles]


def edit_share(before: list[str], after: list[str]) -> float:
    """Mean share of space-separated tokens changed or moved (1 - difflib similarity)."""
    return float(np.mean([1 - difflib.SequenceMatcher(None, a.split(" "), b.split(" "),
                                                      autojunk=False).ratio()
                          for a, b in zip(before, after)]))


@pytest.mark.parametrize("name", sorted(OPS))
def test_rate_zero_changes_nothing(name, texts):
    ids = [str(i) for i in range(len(texts))]
    assert perturb_texts(texts, ids, [OPS[name](0.0)], seed=3) == texts


@pytest.mark.parametrize("name", sorted(OPS))
def test_effect_grows_with_rate(name, articles):
    # shuffles need several sentences or pieces per text; character noise does not
    texts = [t[:1500] if name in ("sentences", "pieces") else t[:400] for t in articles]
    ids = [str(i) for i in range(len(texts))]
    effects = [edit_share(texts, perturb_texts(texts, ids, [OPS[name](rate)], seed=1))
               for rate in (0.0, 0.1, 0.3, 0.6)]
    assert effects[0] == 0.0
    assert all(a < b for a, b in zip(effects, effects[1:])), effects


@pytest.mark.parametrize("name", sorted(OPS))
def test_same_seed_same_output_other_seed_other_output(name, texts):
    ids = [str(i) for i in range(len(texts))]
    ops = [OPS[name](0.3)]
    first = perturb_texts(texts, ids, ops, seed=7)
    assert perturb_texts(texts, ids, ops, seed=7) == first
    assert perturb_texts(texts, ids, ops, seed=8) != first


def test_output_does_not_depend_on_batching(texts):
    ids = [f"r{i}" for i in range(len(texts))]
    pipe = Pipeline.parse("typos=0.05,swaps=0.02,casing=0.1,sentences=0.3")
    whole = perturb_texts(texts, ids, pipe, seed=5)
    halves = perturb_texts(texts[:13], ids[:13], pipe, seed=5) + \
        perturb_texts(texts[13:], ids[13:], pipe, seed=5)
    assert whole == halves
    assert perturb_texts(texts[::-1], ids[::-1], pipe, seed=5) == whole[::-1]


def test_typos_hit_the_stated_share_of_keys_with_neighbours(texts):
    # substitution keeps the length: count differing characters against the truth
    ids = [str(i) for i in range(len(texts))]
    rate = 0.1
    out = perturb_texts(texts, ids, [Typos(rate)], seed=2)
    keys = sum(c in NEIGHBOURS for t in texts for c in t)
    changed = sum(a != b for t, o in zip(texts, out) for a, b in zip(t, o))
    assert all(len(t) == len(o) for t, o in zip(texts, out))
    assert changed / keys == pytest.approx(rate, abs=0.015)
    # every substitution is a keyboard neighbour of the original key
    assert all(b in NEIGHBOURS[a] for t, o in zip(texts, out) for a, b in zip(t, o) if a != b)


def test_drops_remove_the_stated_share(texts):
    out = perturb_texts(texts, [str(i) for i in range(len(texts))], [Drops(0.2)], seed=4)
    removed = 1 - sum(map(len, out)) / sum(map(len, texts))
    assert removed == pytest.approx(0.2, abs=0.02)


def test_bernoulli_positions_match_binomial_counts():
    rng = np.random.default_rng(0)
    counts = [len(bernoulli_positions(rng, 1000, 0.03)[0]) for _ in range(2000)]
    assert np.mean(counts) == pytest.approx(30, rel=0.02)
    assert np.var(counts) == pytest.approx(1000 * 0.03 * 0.97, rel=0.1)
    pos, picks = bernoulli_positions(rng, 5000, 0.5)
    assert np.all(np.diff(pos) > 0) and min(pos) >= 0 and max(pos) < 5000
    # the pick uniforms are uniform on [0, 1)
    assert 0 <= min(picks) and max(picks) < 1 and np.mean(picks) == pytest.approx(0.5, abs=0.02)


def test_pipeline_parse_and_errors():
    pipe = Pipeline.parse("typos=0.05, casing=0.1")
    assert pipe == Pipeline([Typos(0.05), Casing(0.1)])
    assert pipe.spec == "typos=0.05,casing=0.1"
    with pytest.raises(InputError, match="unknown operation 'typo'"):
        Pipeline.parse("typo=0.1")
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        Pipeline.parse("typos=1.5")
    with pytest.raises(InputError, match="name=rate"):
        Pipeline.parse("typos")


def test_generator_keeps_labels_and_records_lineage(store, bbc):
    seeds = bbc.slice(0, 30)
    store.ingest("news", seeds, origin="real", label_origin="real", domain="news")
    gen = PerturbGenerator(Pipeline.parse("typos=0.05,casing=0.1"), n_per_seed=2)
    result = run(store, gen, "news", "noisy", seed=11)
    assert (result.added, result.failed) == (60, 0)
    out = store.table("noisy").to_pylist()
    real = {r["id"]: r for r in seeds.to_pylist()}
    for row in out:
        parent = real[row["parents"][0]]
        assert row["label"] == parent["label"]
        assert row["label_origin"] == "real"
        assert (row["origin"], row["family"], row["generation"]) == ("synthetic", "rule", 1)
        assert (row["generator"], row["domain"]) == ("perturb@1", "news")
        assert row["text"] != parent["text"]
        assert "typos=0.05" in row["fields"]
    # two different children per seed
    by_parent = {}
    for row in out:
        by_parent.setdefault(row["parents"][0], set()).add(row["text"])
    assert all(len(v) == 2 for v in by_parent.values())


def test_generator_is_reproducible(store, bbc):
    store.ingest("news", bbc.slice(0, 10), origin="real", label_origin="real")
    gen = PerturbGenerator(Pipeline.parse("swaps=0.05"))
    run(store, gen, "news", "a", seed=1)
    run(store, gen, "news", "b", seed=1)
    run(store, gen, "news", "c", seed=2)
    texts = {d: store.table(d).column("text").to_pylist() for d in "abc"}
    assert texts["a"] == texts["b"] != texts["c"]


def test_n_per_seed_must_be_positive():
    with pytest.raises(InputError, match="n_per_seed"):
        PerturbGenerator(Pipeline.parse("typos=0.1"), n_per_seed=0)
