"""The n-gram generator: a maximum-likelihood word model, sampled reproducibly per seed row."""

from __future__ import annotations

import math

import pytest

from tether.errors import GenerationError
from tether.generate import run
from tether.generate.base import Failure
from tether.generate.ngram import NgramGenerator, NgramModel

CORPUS = ["the bank raised its rates on monday", "the bank cut its costs again",
          "shares in the bank fell on monday", "the team won its match on sunday",
          "the striker scored again on sunday"]


def _rows(texts, label="x"):
    return [{"id": f"r{i}", "text": t, "label": label} for i, t in enumerate(texts)]


def _ngrams(words, n):
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


@pytest.mark.parametrize("order", [2, 3])
def test_samples_only_use_ngrams_of_the_training_texts(order):
    gen = NgramGenerator.fit(_rows(CORPUS), order=order)
    seen = set().union(*(_ngrams(["<s>"] * (order - 1) + t.split() + ["</s>"], order)
                         for t in CORPUS))
    seeds = [{"id": f"s{i}", "label": "x"} for i in range(200)]
    out = [s for s in gen.generate(seeds, seed=0)]
    assert len(out) == 200 and all(not isinstance(s, Failure) for s in out)
    for sample in out:
        words = ["<s>"] * (order - 1) + sample["text"].split() + ["</s>"]
        assert _ngrams(words, order) <= seen, sample["text"]
        assert (sample["label"], sample["label_origin"]) == ("x", "synthetic")
    # the model mixes its training texts: some samples are none of them
    assert {s["text"] for s in out} - set(CORPUS)


def test_successor_frequencies_match_the_counts():
    # after "a": "b" 3 times, "c" once -> P(a b) = 0.75 (order 2, every text is two words)
    gen = NgramGenerator.fit(_rows(["a b", "a b", "a b", "a c"]), order=2)
    n = 4000
    out = list(gen.generate([{"id": f"s{i}", "label": "x"} for i in range(n)], seed=3))
    share = sum(s["text"] == "a b" for s in out) / n
    assert abs(share - 0.75) < 4 * math.sqrt(0.75 * 0.25 / n)
    assert {s["text"] for s in out} == {"a b", "a c"}


def test_same_seed_same_texts_and_per_row_independence():
    gen = NgramGenerator.fit(_rows(CORPUS), order=2)
    seeds = [{"id": f"s{i}", "label": "x"} for i in range(30)]
    a = [s["text"] for s in gen.generate(seeds, seed=1)]
    assert a == [s["text"] for s in gen.generate(seeds, seed=1)]
    assert a != [s["text"] for s in gen.generate(seeds, seed=2)]
    # a row's text does not depend on which other rows are in the batch
    assert [s["text"] for s in gen.generate(seeds[10:], seed=1)] == a[10:]


def test_one_model_per_label_and_unknown_labels_fail():
    rows = _rows(CORPUS[:3], "business") + [{"id": f"t{i}", "text": t, "label": "sport"}
                                            for i, t in enumerate(CORPUS[3:])]
    gen = NgramGenerator.fit(rows, order=2)
    sport_words = set(" ".join(CORPUS[3:]).split())
    out = list(gen.generate([{"id": "a", "label": "sport"}, {"id": "b", "label": "tech"}], 0))
    assert set(out[0]["text"].split()) <= sport_words
    assert isinstance(out[1], Failure) and "'tech'" in out[1].reason


def test_max_words_caps_a_text():
    model = NgramModel.fit(["a a a a a a a a a a a a"], order=2)  # "a" then "a" or the end
    gen = NgramGenerator({"x": model}, fitted_on="t", max_words=5)
    out = list(gen.generate([{"id": f"s{i}", "label": "x"} for i in range(50)], 0))
    assert max(len(s["text"].split()) for s in out) == 5


def test_bad_options_are_refused():
    with pytest.raises(GenerationError, match="order"):
        NgramGenerator.fit(_rows(CORPUS), order=4)
    with pytest.raises(GenerationError, match="no texts"):
        NgramGenerator.fit([{"id": "a", "text": "", "label": None}])


def test_through_the_store_lineage_and_config(store):
    store.ingest("seeds", _rows(CORPUS), origin="real", label_origin="real")
    gen = NgramGenerator.fit(store.records("seeds"), order=2)
    result = run(store, gen, "seeds", "gen1", seed=0)
    rows = store.records("gen1")
    assert result.added == len(rows) >= 3 and result.failed == 0
    assert {r["generation"] for r in rows} == {1} and {r["family"] for r in rows} == {"model"}
    assert {r["parents"][0] for r in rows} <= {f"r{i}" for i in range(len(CORPUS))}
    # refitted on its own output: the next generation is generation 2
    run(store, NgramGenerator.fit(rows, order=2), "gen1", "gen2", seed=1)
    assert {r["generation"] for r in store.records("gen2")} == {2}
    # the configuration names the training texts: another corpus, another config hash
    assert gen.config()["fitted_on"] != NgramGenerator.fit(_rows(CORPUS[:2])).config()["fitted_on"]
