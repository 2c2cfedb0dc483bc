"""Shared fixtures: a fresh store per test, the package-shipped real data, and a store populated
with real BBC data, a simple synthetic variant and every result that the real audit and
evaluation functions produce (the report tests and the result registry's battery use it)."""

from __future__ import annotations

import re

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import make_pipeline

from tether import Store, datasets
from tether.audit.coverage import audit_coverage
from tether.audit.diversity import audit_diversity
from tether.audit.faithfulness import audit_faithfulness
from tether.audit.generator import audit_generator
from tether.audit.labels import audit_labels
from tether.audit.mirage import audit_mirage
from tether.audit.overlap import audit_overlap
from tether.audit.style import audit_style
from tether.evaluate.ppi import estimate
from tether.evaluate.sensitivity import sensitivity
from tether.evaluate.suites import evaluate_suites
from tether.evaluate.sweep import sweep
from tether.results import kind


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "t.duckdb") as s:
        yield s


@pytest.fixture
def save_json():
    """``save(store, kind, data, params=None)``: save ``data`` as the JSON of a ``kind`` result,
    through a stand-in of the kind's result type whose ``to_dict()`` is ``data`` (a partial or
    malformed result, as an older tether or a hand edit can leave in a store)."""
    def save(store: Store, kind_name: str, data: dict, params: dict | None = None) -> str:
        module, _, name = kind(kind_name).result.partition(":")
        stand_in = type(name, (), {"__module__": module, "__qualname__": name,
                                   "to_dict": lambda self: data})
        return store.save_result(stand_in(), params)

    return save


@pytest.fixture(scope="session")
def bbc():
    """BBC News (2,225 real, human-labelled articles) as an Arrow table: id, text, label."""
    return datasets.load("bbcnews")


SOURCE = dict(origin="real", label_origin="real", domain="news", task="topic")


def _degrade(text: str) -> str:
    """A 'synthetic variant': lower case, no punctuation, first 60 words (cleaner, shorter)."""
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split()[:60])


def fast_student():
    """A quick student for the sweep and sensitivity runs (the test is about the report)."""
    return make_pipeline(TfidfVectorizer(max_features=3000), ComplementNB())


def populate(store: Store, bbc) -> None:
    """Real train/holdout/gold sets, a synthetic variant, a teacher's labels, and the results
    of the real audit and evaluation functions run on them."""
    parts = datasets.split(bbc, {"train": 300, "holdout": 300, "gold": 150}, seed=3)
    source = datasets.source("bbcnews")
    for name, table in parts.items():
        store.ingest(name, table, generator=source, **SOURCE)
    train = store.table("train").to_pylist()
    store.ingest("synthetic", [{"id": f"syn-{r['id']}", "text": _degrade(r["text"]),
                                "label": r["label"], "parents": [r["id"]]} for r in train],
                 origin="synthetic", label_origin="real", family="rule",
                 generator="degrade@1", generator_config={"words": 60}, domain="news",
                 task="topic")
    # a feedback loop: real articles, then each generation a shorter copy of the one before
    store.ingest("loop", train[:120], **{**SOURCE, "generator": source})
    previous = train[:120]
    for gen, words in ((1, 80), (2, 40)):
        rows = [{"id": f"g{gen}-{r['id']}", "text": " ".join(_degrade(r["text"]).split()[:words]),
                 "label": r["label"], "parents": [r["id"]]} for r in previous]
        store.ingest("loop", rows, origin="synthetic", label_origin="real", family="rule",
                     generator=f"shorten@{gen}", domain="news", task="topic")
        previous = rows
    student = fast_student().fit([r["text"] for r in train],
                                             [r["label"] for r in train])
    gold = store.table("gold").to_pylist()
    teacher = student.predict([r["text"] for r in gold])
    store.ingest("teacher", [{"id": r["id"], "text": r["text"], "label": str(p)}
                             for r, p in zip(gold, teacher)],
                 origin="real", label_origin="synthetic", family="model", generator="student@1",
                 domain="news", task="topic")
    audit_mirage(store, "train", "synthetic", permutations=20, folds=3)
    audit_overlap(store, "synthetic", "train", holdout="holdout")
    audit_coverage(store, "train", "synthetic", clusters=6)
    audit_diversity(store, "loop", draws=5, budget=5000)
    audit_faithfulness(store, "synthetic", classifier_train="holdout")
    audit_labels(store, "teacher", estimator=fast_student(), folds=3)
    audit_generator(store, "gold", "teacher")
    audit_style(store, "train", "synthetic")
    sweep(store, "train", "synthetic", "holdout", ratios=(0, 0.5, 0.9), repeats=2,
          estimator=fast_student())
    sensitivity(store, "gold", "teacher", "holdout", rates=(0.1, 0.3), repeats=2,
                estimator=fast_student())
    suites = {n: store.table(n).to_pylist() for n in ("holdout", "synthetic")}
    preds = [{"id": r["id"], "prediction": str(p)} for rows in suites.values()
             for r, p in zip(rows, student.predict([r["text"] for r in rows]))]
    evaluate_suites(store, preds, ["holdout", "synthetic"], model="student@1",
                    thresholds={"synthetic": 0.6}, n_boot=200)
    hold = suites["holdout"]
    proba = student.predict_proba([r["text"] for r in hold + gold]).max(axis=1)
    predicted = student.predict([r["text"] for r in hold + gold])
    gold_rows = [{"label": r["label"], "prediction": str(p), "score": float(s)}
                 for r, p, s in zip(gold, predicted[len(hold):], proba[len(hold):])]
    unlabelled = [{"prediction": str(p), "score": float(s)}
                  for p, s in zip(predicted[:len(hold)], proba[:len(hold)])]
    estimate(gold_rows, unlabelled, metric="accuracy", store=store)


@pytest.fixture(scope="session")
def report_store(tmp_path_factory, bbc):
    """Path of a populated store file (open it with ``Store(path)``)."""
    path = tmp_path_factory.mktemp("report") / "report.duckdb"
    with Store(path) as store:
        populate(store, bbc)
    return path
