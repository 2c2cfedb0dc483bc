"""Faithfulness on real BBC News: children made by light character noise keep their parent's
label; children replaced by text from another topic flip."""

from __future__ import annotations

import pytest

from tether.audit.faithfulness import audit_faithfulness, faithfulness
from tether.datasets import split
from tether.generate.perturb import Pipeline, perturb_texts
from tether.students import default_text_classifier


@pytest.fixture(scope="module")
def parts(bbc):
    return split(bbc, {"train": 600, "parents": 100}, seed=3)


@pytest.fixture(scope="module")
def student(parts):
    t = parts["train"]
    return default_text_classifier().fit(t.column("text").to_pylist(), t.column("label").to_pylist())


def test_light_character_noise_rarely_flips(parts, student):
    parents = parts["parents"].column("text").to_pylist()
    ids = parts["parents"].column("id").to_pylist()
    children = perturb_texts(parents, ids, Pipeline.parse("typos=0.02"), seed=0)
    r = faithfulness(parents, children, student, operations=["typos=0.02"] * len(parents))
    assert r.flip_rate <= 0.1 and r.flip_ci[1] < 0.2
    assert r.similarity > 0.6
    assert r.by_operation["typos=0.02"].n == len(parents)


def test_text_from_another_topic_flips(parts, student):
    parents = parts["parents"].column("text").to_pylist()
    labels = parts["parents"].column("label").to_pylist()
    other = {lab: next(t for t, l2 in zip(parents, labels) if l2 != lab) for lab in set(labels)}
    children = [other[lab] for lab in labels]
    r = faithfulness(parents, children, student, worst=5)
    assert r.flip_rate >= 0.8 and r.flip_ci[0] > 0.7
    assert r.similarity < 0.3
    assert all(w["flipped"] for w in r.worst)
    sims = [w["similarity"] for w in r.worst]
    assert sims == sorted(sims)


def test_audit_faithfulness_per_generator_and_operation(store, parts):
    train, par = parts["train"].to_pylist(), parts["parents"].to_pylist()[:40]
    store.ingest("real", train, origin="real", label_origin="real")
    store.ingest("seeds", par, origin="real", label_origin="real")
    noisy = perturb_texts([r["text"] for r in par], [r["id"] for r in par],
                          Pipeline.parse("typos=0.02"), seed=1)
    store.ingest("aug", [{"id": "n-" + r["id"], "text": t, "label": r["label"],
                          "parents": [r["id"]], "operations": ["typos=0.02"]}
                         for r, t in zip(par, noisy)],
                 origin="synthetic", label_origin="real", family="rule", generator="noise@1")
    swapped = par[1:] + par[:1]
    store.ingest("aug", [{"id": "w-" + r["id"], "text": s["text"] + " ", "label": r["label"],
                          "parents": [r["id"]], "attack_type": "swap"}
                         for r, s in zip(par, swapped) if r["label"] != s["label"]],
                 origin="synthetic", label_origin="real", family="rule", generator="swap@1")
    r = audit_faithfulness(store, "aug")
    assert r.by_generator["noise@1"].flip_rate < 0.15
    assert r.by_generator["swap@1"].flip_rate > 0.7
    assert set(r.by_operation) == {"typos=0.02", "swap"}
    assert r.worst[0]["generator"] == "swap@1"
    # trained on the "real" dataset only: the seeds are parents, the augmented rows children
    assert f"store's {store.summary('real').count} real" in r.classifier
    saved = store.latest_result("faithfulness")
    assert saved.data["n_children"] == r.n_children
