"""Faithfulness: does each derived sample (perturbation, paraphrase) keep its parent's meaning?

A classifier trained on real data labels parent and child; the audit reports the share of
children whose predicted label differs from their parent's (Wilson interval) and their TF-IDF
cosine similarity to the parent (mean with a normal interval), overall, per generator and per
operation (the user field ``operations``, ``operation`` or ``attack_type``), with the worst
cases: flipped children first, least similar first. An augmentation that changes what "correct"
means is not augmentation.

Example:
    >>> from tether.students import default_text_classifier
    >>> clf = default_text_classifier().fit(["goal match win", "tax rate bank"] * 5,
    ...                                     ["sport", "business"] * 5)
    >>> r = faithfulness(["goal match", "bank tax"], ["goal mtach", "win match"], clf)
    >>> r.flips, r.worst[0]["child_id"]
    (1, 'child-1')
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from tether.audit._load import (
    field_name,
    field_params,
    field_table,
    field_texts,
    from_json,
    made_by,
    plain,
    stored_field,
)
from tether.errors import InputError
from tether.results import Result
from tether.stats import Interval, finite, mean_interval, wilson
from tether.store import Store
from tether.students import default_text_classifier

OPERATION_FIELDS = ("operations", "operation", "attack_type")


@dataclass(frozen=True)
class FlipStats:
    """Label flips and parent similarity of one group of children."""

    n: int
    flips: int
    flip_rate: float
    flip_ci: Interval = field(metadata=made_by("wilson"))
    similarity: float | None
    similarity_ci: Interval = field(metadata=made_by("normal"))

    from_dict = classmethod(from_json)


@dataclass(frozen=True)
class FaithfulnessResult(Result):
    """The faithfulness audit. ``to_dict()`` is the ``tether audit faithfulness --json``
    contract."""

    n_children: int
    flips: int
    flip_rate: float
    flip_ci: Interval = field(metadata=made_by("wilson"))
    similarity: float | None
    similarity_ci: Interval = field(metadata=made_by("normal"))
    by_generator: dict[str, FlipStats]
    by_operation: dict[str, FlipStats]
    worst: list[dict[str, Any]]
    classifier: str
    method: str
    field: str = "text"

    from_dict = classmethod(from_json)

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


def _stats(flipped: np.ndarray, sim: np.ndarray) -> FlipStats:
    mean, ci = mean_interval(sim)
    return FlipStats(n=int(flipped.size), flips=int(flipped.sum()),
                     flip_rate=float(flipped.mean()) if flipped.size else float("nan"),
                     flip_ci=wilson(int(flipped.sum()), flipped.size), similarity=finite(mean),
                     similarity_ci=ci)


def _by(keys: Sequence[str], flipped: np.ndarray, sim: np.ndarray) -> dict[str, FlipStats]:
    arr = np.array(keys, dtype=object)
    return {k: _stats(flipped[arr == k], sim[arr == k]) for k in sorted(set(keys))}


def faithfulness(parents: Sequence[str], children: Sequence[str], classifier: Any, *,
                 child_ids: Sequence[str] | None = None,
                 parent_ids: Sequence[str] | None = None,
                 generators: Sequence[str | None] | None = None,
                 operations: Sequence[str | None] | None = None, worst: int = 10,
                 classifier_name: str = "given classifier") -> FaithfulnessResult:
    """Label flips between ``parents[i]`` and ``children[i]`` under a fitted ``classifier``
    (anything with ``predict(texts)``), with TF-IDF cosine similarity of each pair."""
    parents, children = [p or "" for p in parents], [c or "" for c in children]
    n = len(children)
    if n == 0 or len(parents) != n:
        raise InputError(f"faithfulness needs one parent per child (got {len(parents)} parents "
                         f"for {n} children)")
    cid = list(child_ids) if child_ids is not None else [f"child-{i}" for i in range(n)]
    pid = list(parent_ids) if parent_ids is not None else [f"parent-{i}" for i in range(n)]
    gens = [g or "(none)" for g in generators] if generators is not None else ["(none)"] * n
    ops = [o or "(none)" for o in operations] if operations is not None else ["(none)"] * n
    p_pred = np.asarray(classifier.predict(parents), dtype=object)
    c_pred = np.asarray(classifier.predict(children), dtype=object)
    flipped = p_pred != c_pred
    V = TfidfVectorizer(sublinear_tf=True).fit(parents + children)
    sim = np.asarray(V.transform(parents).multiply(V.transform(children)).sum(axis=1)).ravel()
    overall = _stats(flipped, sim)
    order = np.lexsort((sim, ~flipped))[:worst]
    return FaithfulnessResult(
        n_children=n, flips=overall.flips, flip_rate=overall.flip_rate, flip_ci=overall.flip_ci,
        similarity=overall.similarity, similarity_ci=overall.similarity_ci,
        by_generator=_by(gens, flipped, sim), by_operation=_by(ops, flipped, sim),
        worst=[{"child_id": cid[i], "parent_id": pid[i], "parent_label": str(p_pred[i]),
                "child_label": str(c_pred[i]), "flipped": bool(flipped[i]),
                "similarity": float(sim[i]), "generator": gens[i], "operation": ops[i]}
               for i in order],
        classifier=classifier_name,
        method=("predicted labels of parent and child under a classifier trained on real data; "
                "flip rate with Wilson interval; TF-IDF cosine similarity to the parent, mean "
                "with normal interval; worst: flipped first, then least similar"))


def _operation(fields_json: str | None) -> str | None:
    fields = json.loads(fields_json) if fields_json else {}
    for key in OPERATION_FIELDS:
        value = fields.get(key)
        if value:
            return "+".join(map(str, value)) if isinstance(value, list) else str(value)
    return None


def audit_faithfulness(store: Store, dataset: str, *, classifier_train: str | None = None,
                       worst: int = 10, seed: int = 0, field: str = "text",
                       turns: str | None = None) -> FaithfulnessResult:
    """Run :func:`faithfulness` on the derived samples of ``dataset`` (those with parents; the
    first parent is compared, found in any dataset of the store) and save the result (kind
    ``faithfulness``). The default student is trained on ``classifier_train``, or else on every
    real, human-labelled sample of the store that is neither a parent nor a child here.
    ``field`` (``turns`` of a ``messages`` field) is the text compared, on children, parents
    and the student's training data alike."""
    kids = field_table(store, dataset, field, turns, derived=True)
    if kids.num_rows == 0:
        raise InputError(f"dataset {dataset!r} has no derived samples (none has parents)")
    child_ids = kids.column("id").to_pylist()
    first = [p[0] for p in kids.column("parents").to_pylist()]
    found = store.samples_by_id(first)
    parent_text = dict(zip(found.column("id").to_pylist(),
                           field_texts(found, stored_field(store, dataset, field), turns,
                                       dataset="the parents")
                           if found.num_rows else []))
    keep = [i for i, p in enumerate(first) if p in parent_text]
    if not keep:
        raise InputError(f"none of the parents of {dataset!r} is in the store")
    if classifier_train is not None:
        train = field_table(store, classifier_train, field, turns, labelled=True)
        source = f"default student trained on {classifier_train} ({train.num_rows} samples)"
    else:
        train = store.real_labelled(excluding=[*first, *child_ids])
        if train.num_rows and (field != "text" or turns is not None):
            texts = field_texts(train, stored_field(store, dataset, field), turns,
                                dataset="the real labelled data")
            train = train.set_column(0, "text", [texts])
        source = (f"default student trained on the store's {train.num_rows} real, human-labelled "
                  "samples that are neither parents nor children here")
    if len(set(train.column("label").to_pylist())) < 2:
        raise InputError("no real labelled data (two labels or more) to train the classifier; "
                         "pass --classifier-train DATASET")
    clf = default_text_classifier(seed).fit(train.column("text").to_pylist(),
                                            train.column("label").to_pylist())
    texts, gens = kids.column("text").to_pylist(), kids.column("generator").to_pylist()
    fields = kids.column("fields").to_pylist()
    result = faithfulness([parent_text[first[i]] for i in keep], [texts[i] for i in keep], clf,
                          child_ids=[child_ids[i] for i in keep],
                          parent_ids=[first[i] for i in keep], generators=[gens[i] for i in keep],
                          operations=[_operation(fields[i]) for i in keep], worst=worst,
                          classifier_name=source)
    result = replace(result, field=field_name(field, turns))
    store.save_result(result,
                     {"dataset": dataset, "classifier_train": classifier_train, "seed": seed,
                      **field_params(field, turns)})
    return result
