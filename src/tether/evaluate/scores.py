"""Per-item scores for free-text predictions: exact match, token F1 and ROUGE-L.

``exact_match`` and ``token_f1`` follow the SQuAD evaluation script (lowercase, strip
punctuation and the articles a/an/the, split on whitespace). ``rouge_l`` follows the
``rouge-score`` package's default tokenizer (lowercase, non-alphanumerics to spaces, no
stemming) and its F-measure; the longest common subsequence is computed bit-parallel on
Python integers (Hyyrö's algorithm), which is exact and much faster than a dynamic program.

>>> exact_match("The Cat!", "cat")
1.0
>>> round(token_f1("a big red cat", "the red cat"), 3)
0.8
>>> rouge_l("police killed the gunman", "police kill the gunman")
0.75
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Callable, Hashable, Sequence

import numpy as np


__all__ = ["METRICS", "exact_match", "token_f1", "rouge_l", "score_many"]

_DROP_PUNCT = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
#: ASCII bytes to rouge-score's tokens: A-Z lowercased, a-z and 0-9 kept, the rest a space.
_ASCII_ROUGE = bytes(c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 or 48 <= c <= 57 else 32
                     for c in range(256))


def _squad_tokens(text: str) -> list[str]:
    return _ARTICLES.sub(" ", str(text).lower().translate(_DROP_PUNCT)).split()


def _rouge_tokens(text: str) -> list[bytes]:
    """rouge-score's tokens as ASCII bytes (a fast table lookup for ASCII text, else a regex)."""
    text = str(text)
    if text.isascii():
        return text.encode().translate(_ASCII_ROUGE).split()
    return _NON_ALNUM.sub(" ", text.lower()).encode().split()


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the SQuAD-normalized texts are equal, else 0.0."""
    return float(_squad_tokens(prediction) == _squad_tokens(reference))


def _f1_tokens(pred: Sequence[Hashable], ref: Sequence[Hashable]) -> float:
    if not pred or not ref:
        return float(pred == ref)
    get = Counter(ref).get
    same = 0
    for tok, n in Counter(pred).items():
        c = get(tok)
        if c:
            same += n if n < c else c
    return _f_measure(same, len(pred), len(ref))


def _f_measure(matches: int, n_pred: int, n_ref: int) -> float:
    """Harmonic mean of precision ``matches/n_pred`` and recall ``matches/n_ref``."""
    return 2 * matches / (n_pred + n_ref) if matches else 0.0


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 (bag of normalized tokens); 1.0 when both are empty."""
    return _f1_tokens(_squad_tokens(prediction), _squad_tokens(reference))


def _lcs(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Length of the longest common subsequence, bit-parallel over ``b``."""
    if len(a) < len(b):
        a, b = b, a
    masks: dict[Hashable, int] = {}
    for i, tok in enumerate(b):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(b)) - 1
    s = full
    get = masks.get
    for tok in a:
        u = s & get(tok, 0)
        if u:
            s = ((s + u) | (s - u)) & full
    return len(b) - bin(s).count("1")


def _rouge_l_tokens(pred: Sequence[Hashable], ref: Sequence[Hashable]) -> float:
    if not pred or not ref:
        return 0.0
    return _f_measure(_lcs(ref, pred), len(pred), len(ref))


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure as ``rouge_score.rouge_scorer.RougeScorer(["rougeL"])`` gives it."""
    return _rouge_l_tokens(_rouge_tokens(prediction), _rouge_tokens(reference))


METRICS: dict[str, Callable[[str, str], float]] = {
    "exact_match": exact_match, "token_f1": token_f1, "rouge_l": rouge_l}


def score_many(predictions: Sequence[str], references: Sequence[str],
               metric: str = "token_f1") -> np.ndarray:
    """One score per (prediction, reference) pair as a float array."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    if len(predictions) != len(references):
        raise ValueError("predictions and references need the same length")
    if metric == "rouge_l":
        tok, fn = _rouge_tokens, _rouge_l_tokens
    elif metric == "token_f1":
        tok, fn = _squad_tokens, _f1_tokens
    else:
        return np.fromiter((exact_match(p, r) for p, r in zip(predictions, references)),
                           dtype=float, count=len(predictions))
    return np.fromiter((fn(tok(p), tok(r)) for p, r in zip(predictions, references)),
                       dtype=float, count=len(predictions))
