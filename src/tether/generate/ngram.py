"""A word n-gram language model as a generator (family ``model``): fitted in a second on CPU.

:class:`NgramGenerator` fits one maximum-likelihood word n-gram model (order 2 or 3, no
smoothing) per label on training texts, then writes one new text per seed row, sampled for the
seed's label with ``row_rng(seed, row_id)``; the sample lists the seed in ``parents``, so the
store derives its generation. A model that never saw a word cannot write it: refitted on its own
output (:func:`tether.audit.feedback.feedback_loop`), every word or n-gram that one generation happened not to sample is gone
for good, so the vocabulary and the n-gram variety shrink generation after generation — the
feedback loop that :mod:`tether.audit.diversity` watches for.

Example:
    >>> texts = ["the cat sat on the mat", "the dog sat on the rug", "a cat ran"]
    >>> gen = NgramGenerator.fit([{"text": t, "label": "pets"} for t in texts], order=2)
    >>> out = list(gen.generate([{"id": "s1", "label": "pets"}], seed=0))
    >>> set(out[0]["text"].split()) <= set(" ".join(texts).split()), out[0]["parents"]
    (True, ['s1'])
"""

from __future__ import annotations

import bisect
import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tether.errors import GenerationError
from tether.generate.base import Failure, Generator, row_rng
from tether.provenance import canonical_json

_START, _END = "<s>", "</s>"


@dataclass(frozen=True)
class NgramModel:
    """Successor counts of one label: context (``order - 1`` words) → (words, cumulative counts)."""

    order: int
    table: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[int, ...]]]

    @classmethod
    def fit(cls, texts: Iterable[str], order: int) -> NgramModel:
        counts: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
        for text in texts:
            words = [_START] * (order - 1) + text.split() + [_END]
            for i in range(order - 1, len(words)):
                counts[tuple(words[i - order + 1:i])][words[i]] += 1
        table = {}
        for context in sorted(counts):  # sorted: the same texts give the same draws
            successors = sorted(counts[context].items())
            table[context] = (tuple(w for w, _ in successors),
                              tuple(np.cumsum([c for _, c in successors]).tolist()))
        return cls(order, table)

    def sample(self, rng: np.random.Generator, max_words: int) -> str:
        """One text: words drawn from the successor counts until the end marker."""
        context = (_START,) * (self.order - 1)
        out: list[str] = []
        while len(out) < max_words:
            words, cumulative = self.table[context]
            word = words[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]
            if word == _END:
                break
            out.append(word)
            context = (context + (word,))[1:]
        return " ".join(out)


class NgramGenerator(Generator):
    """New texts sampled from word n-gram models fitted per label (family ``model``).

    Build it with :meth:`fit`; ``generate`` writes ``n_per_seed`` texts for each seed row's
    label (a label the model was not fitted on is a :class:`Failure`), at most ``max_words``
    words each. Texts are split on whitespace, so punctuation stays attached to its word.
    """

    name, version, family = "ngram", "1", "model"

    def __init__(self, models: Mapping[str | None, NgramModel], *, fitted_on: str,
                 n_per_seed: int = 1, max_words: int = 400) -> None:
        if n_per_seed < 1 or max_words < 1:
            raise GenerationError("n_per_seed and max_words must be at least 1")
        self.models = dict(models)
        self.fitted_on = fitted_on
        self.n_per_seed = n_per_seed
        self.max_words = max_words

    @classmethod
    def fit(cls, rows: Iterable[Mapping[str, Any]], *, order: int = 3,
            **options: Any) -> NgramGenerator:
        """Fit one model per label on ``rows`` (dicts with ``text`` and ``label``)."""
        if order not in (2, 3):
            raise GenerationError(f"order must be 2 or 3, got {order}")
        by_label: dict[str | None, list[str]] = defaultdict(list)
        for row in rows:
            if row.get("text"):
                by_label[row.get("label")].append(row["text"])
        if not by_label:
            raise GenerationError("no texts to fit the n-gram model on")
        texts = sorted(t for ts in by_label.values() for t in ts)
        digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()[:16]
        models = {label: NgramModel.fit(ts, order) for label, ts in by_label.items()}
        return cls(models, fitted_on=digest, **options)

    def config(self) -> dict[str, Any]:
        order = next(iter(self.models.values())).order
        return {"order": order, "fitted_on": self.fitted_on, "n_per_seed": self.n_per_seed,
                "max_words": self.max_words,
                "labels": sorted(canonical_json(k) for k in self.models)}

    def generate(self, seeds: list[dict[str, Any]],
                 seed: int) -> Iterator[dict[str, Any] | Failure]:
        for row in seeds:
            label = row.get("label")
            model = self.models.get(label)
            if model is None:
                yield Failure([row["id"]], f"no n-gram model for label {label!r}")
                continue
            rng = row_rng(seed, row["id"])
            for _ in range(self.n_per_seed):
                text = model.sample(rng, self.max_words)
                if not text:
                    yield Failure([row["id"]], "empty: the model ended the text at once")
                    continue
                yield {"text": text, "label": label,
                       "label_origin": "synthetic" if label is not None else None,
                       "parents": [row["id"]]}

