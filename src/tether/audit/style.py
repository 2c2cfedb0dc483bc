"""Style and objective audit: do synthetic answers read like real ones?

A generator tuned to please writes answers that are longer, politer, more hedged and more
formatted than the ones people need. This audit measures, per answer (any field, see
:mod:`tether.audit._load`), the features in :data:`FEATURES`, and compares each between the real
and the synthetic side with the comparison helpers of :mod:`tether.audit.profile`: means with
normal intervals, Cliff's delta (synthetic over real) with a DeLong interval and the
Mann–Whitney test, Benjamini–Hochberg adjusted across all features. Besides, each feature gets
the ratio of the synthetic to the real mean (delta-method interval on the log ratio) and the
difference of means (normal interval). A feature is *flagged* when its adjusted p-value is below
``alpha`` and its effect is at least small (|delta| ≥ 0.147); flagged features come with a
plain-language finding and the ids of the synthetic answers that show it most.

Readability is the Flesch reading ease, 206.835 − 1.015·(words/sentence) − 84.6·(syllables/word),
with syllables counted by a heuristic: groups of vowels (a, e, i, o, u, y), less one for a final
silent ``e`` after a consonant other than ``l`` in words of four letters or more, and one for
every word without a vowel. Sentences end at ``.``, ``!`` or ``?`` followed by space or the end
(a text that does not end so has one more). Scripts are Unicode scripts of letters (RE2
``\\p{Latin}`` ...).

Example:
    >>> real = [f"The answer is {i}." for i in range(60)]
    >>> synthetic = [f"Certainly! I'd be happy to help. The answer is {i}, I hope this helps!"
    ...              for i in range(60)]
    >>> r = style(real, synthetic)
    >>> "opener_certainly" in r.flagged, r.features["opener_certainly"].synthetic_mean
    (True, 1.0)
    >>> r.features["chars"].finding.split(" [")[0]
    'synthetic answers are 4.1× longer'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tether.audit._load import field_name, from_json, load_pair, made_by, plain
from tether.audit.profile import compare_arrays
from tether.errors import InputError
from tether.results import Result
from tether.stats import Z95, Interval, finite, normal
from tether.store import Store

_HEDGES = ("might", "may", "perhaps", "possibly", "probably", "likely", "unlikely", "it seems",
           "seems to", "appears to", "i think", "i believe", "generally", "typically", "usually",
           "it depends", "in some cases", "arguably", "could be", "somewhat")
_POLITE = ("please", "thank you", "thanks", "glad to", "happy to help", "i'd be happy",
           "i would be happy", "hope this helps", "great question", "good question",
           "feel free", "of course", "certainly", "absolutely", "sorry", "apologi[sz]e")
_REFUSALS = ("i can't", "i cannot", "i can not", "i'm unable", "i am unable", "i won't",
             "i will not", "i'm not able", "i am not able", "as an ai", "as a language model",
             "i'm sorry, but", "i am sorry, but", "not able to provide", "cannot help with",
             "can't help with", "cannot assist", "can't assist")
#: answer-start features: name -> regex on the beginning of the text
OPENERS = {
    "opener_sure": r"sure\b",
    "opener_certainly": r"certainly\b",
    "opener_of_course": r"of course\b",
    "opener_absolutely": r"absolutely\b",
    "opener_great_question": r"(what a |that's a |that is a )?(great|good|excellent) question",
    "opener_as_an_ai": r"as an ai\b|as a (large )?language model",
}
_SCRIPTS = ("Latin", "Cyrillic", "Greek", "Arabic", "Hebrew", "Han", "Hiragana", "Katakana",
            "Hangul", "Devanagari", "Thai")

#: feature -> (what it measures, kind): ``length`` and ``count`` are described by the ratio of
#: means, ``share`` (0/1 per answer; the description is what the answer does) by the two shares,
#: ``score`` by the difference of means
FEATURES: dict[str, tuple[str, str]] = {
    "chars": ("length in characters", "length"),
    "words": ("length in words", "length"),
    "sentences": ("sentences", "length"),
    "words_per_sentence": ("words per sentence", "count"),
    "length_vs_prompt": ("length relative to the prompt (words/prompt words)", "count"),
    "hedges": ("hedging markers per 100 words", "count"),
    "politeness": ("politeness markers per 100 words", "count"),
    "refusal": ("contain a refusal phrase", "share"),
    "list_items": ("list items (lines starting with -, *, • or 1.)", "count"),
    "markdown": ("markdown marks (headers, bold, links, tables)", "count"),
    "code": ("contain code (fences or inline)", "share"),
    "question_marks": ("question marks", "count"),
    "exclamations": ("exclamation marks", "count"),
    "readability": ("Flesch reading ease", "score"),
    "non_latin": ("share of letters outside the Latin script", "count"),
    "scripts": ("distinct scripts", "count"),
    "opener_sure": ("start with 'Sure'", "share"),
    "opener_certainly": ("start with 'Certainly'", "share"),
    "opener_of_course": ("start with 'Of course'", "share"),
    "opener_absolutely": ("start with 'Absolutely'", "share"),
    "opener_great_question": ("start with 'Great question'", "share"),
    "opener_as_an_ai": ("start with 'As an AI' or 'As a language model'", "share"),
}
_METHOD = ("per-answer style features; Cliff's delta (DeLong interval) and Mann-Whitney U, "
           "Benjamini-Hochberg adjusted over all features; ratio of means with a delta-method "
           "interval on the log ratio; difference of means with a normal interval; flagged: "
           "adjusted p < alpha and |delta| >= 0.147; Flesch reading ease with a vowel-group "
           "syllable heuristic")


def _count(arr: pa.Array, pattern: str) -> np.ndarray:
    return pc.count_substring_regex(arr, pattern).to_numpy(zero_copy_only=False).astype(float)


def _length(arr: pa.Array) -> np.ndarray:
    return pc.utf8_length(arr).to_numpy(zero_copy_only=False).astype(float)


def _has(arr: pa.Array, pattern: str) -> np.ndarray:
    return pc.match_substring_regex(arr, pattern).to_numpy(zero_copy_only=False).astype(float)


def _phrases(words: Sequence[str]) -> str:
    """One case-insensitive regex for whole phrases (any spacing, straight or curly quote)."""
    return r"(?i)\b(?:" + "|".join(w.replace(" ", r"\s+").replace("'", "['’]")
                                  for w in words) + r")\b"


def _per(num: np.ndarray, den: np.ndarray, scale: float = 1.0) -> np.ndarray:
    return np.divide(num * scale, den, out=np.full(num.shape, np.nan), where=den > 0)


def style_features(texts: Sequence[str | None],
                   prompts: Sequence[str | None] | None = None) -> dict[str, np.ndarray]:
    """Per-text style features (one float array per name in :data:`FEATURES`; nan where a
    feature is undefined, e.g. ``length_vs_prompt`` without prompts). Vectorised with Arrow
    (RE2) regular expressions.

    >>> f = style_features(["Sure! Here is a list:\\n- one\\n- two", "No."])
    >>> f["opener_sure"].tolist(), f["list_items"].tolist(), f["sentences"].tolist()
    ([1.0, 0.0], [2.0, 0.0], [2.0, 1.0])
    """
    if prompts is not None and len(prompts) != len(texts):
        raise InputError(f"{len(prompts)} prompts for {len(texts)} answers")
    arr = pa.array([t if isinstance(t, str) else "" for t in texts], type=pa.large_string())
    chars = _length(arr)
    words = _count(arr, r"\S+")
    ends = _has(arr, r"[.!?][\"')\]]*\s*$")
    sentences = np.where(chars > 0, _count(arr, r"[.!?]+[\"')\]]*(\s|$)") + (1 - ends), 0.0)
    sentences = np.where((chars > 0) & (sentences == 0), 1.0, sentences)
    syllables = (_count(arr, r"(?i)[aeiouy]+") - _count(arr, r"(?i)\b\w{2,}[^aeiouyl\W]e\b")
                 + _count(arr, r"(?i)\b[^\Waeiouy]+\b"))
    flesch = np.where((words > 0) & (sentences > 0),
                      206.835 - 1.015 * _per(words, sentences) - 84.6 * _per(syllables, words),
                      np.nan)
    # deleting runs is far faster than counting single characters one match at a time
    letters = _length(pc.replace_substring_regex(arr, r"\PL+", ""))
    foreign = pc.replace_substring_regex(arr, r"[\PL\p{Latin}]+", "")  # non-Latin letters only
    non_latin = _length(foreign)
    scripts = (letters > non_latin) + sum(_has(foreign, rf"\p{{{s}}}") for s in _SCRIPTS[1:])
    prompt_words = (_count(pa.array([p if isinstance(p, str) else "" for p in prompts],
                                    type=pa.large_string()), r"\S+")
                    if prompts is not None else np.zeros(len(arr)))
    head = pc.utf8_slice_codeunits(pc.utf8_ltrim_whitespace(arr), 0, 40)
    out = {
        "chars": chars,
        "words": words,
        "sentences": sentences,
        "words_per_sentence": _per(words, sentences),
        "length_vs_prompt": _per(words, prompt_words),
        "hedges": _per(_count(arr, _phrases(_HEDGES)), words, 100.0),
        "politeness": _per(_count(arr, _phrases(_POLITE)), words, 100.0),
        "refusal": _has(arr, _phrases(_REFUSALS)),
        "list_items": _count(arr, r"(?m)^\s*([-*•]|\d+[.)])\s+\S"),
        "markdown": (_count(arr, r"(?m)^#{1,6}\s") + _count(arr, r"\*\*[^*\n]+\*\*")
                     + _count(arr, r"\[[^\]\n]+\]\([^)\s]+\)") + _count(arr, r"(?m)^\|.*\|\s*$")),
        "code": _has(arr, r"```|`[^`\n]+`"),
        "question_marks": _count(arr, r"\?"),
        "exclamations": _count(arr, r"!"),
        "readability": flesch,
        "non_latin": _per(non_latin, letters),
        "scripts": scripts,
        **{k: _has(head, "(?i)^(" + p + ")") for k, p in OPENERS.items()},
    }
    return {k: out[k] for k in FEATURES}


RATIO_METHOD = "normal on the log scale (delta method)"


@dataclass(frozen=True)
class StyleFeature:
    """One feature on both sides: means with normal intervals, the synthetic/real ratio of means
    (None when a mean is not positive) and the difference of means with intervals, Cliff's delta
    (synthetic over real) with its DeLong interval, the Mann–Whitney p-value and its BH-adjusted
    value; ``flagged`` with a plain-language ``finding`` and ``examples`` (synthetic ids that
    show the shift most)."""

    description: str
    kind: str
    real_mean: float | None
    real_ci: Interval = field(metadata=made_by("normal"))
    synthetic_mean: float | None
    synthetic_ci: Interval = field(metadata=made_by("normal"))
    ratio: float | None
    ratio_ci: Interval = field(metadata=made_by(RATIO_METHOD))
    difference: float | None
    difference_ci: Interval = field(metadata=made_by("normal"))
    cliffs_delta: float | None
    delta_ci: Interval = field(metadata=made_by("delong"))
    p_value: float | None
    p_adjusted: float | None
    flagged: bool
    finding: str | None
    examples: list[str]

    from_dict = classmethod(from_json)


@dataclass(frozen=True)
class StyleResult(Result):
    """The style audit. ``to_dict()`` is the ``tether audit style --json`` contract.

    ``flagged`` lists the flagged features, the largest |Cliff's delta| first, and ``findings``
    their plain-language findings in the same order. ``from_dict`` (from :class:`Result`)
    inverts ``to_dict``.
    """

    features: dict[str, StyleFeature]
    flagged: list[str]
    findings: list[str]
    n_real: int
    n_synthetic: int
    field: str
    prompt_field: str | None
    alpha: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


def _moments(x: np.ndarray) -> tuple[float, float, int]:
    x = x[np.isfinite(x)]
    return (float(x.mean()) if x.size else np.nan,
            float(x.var(ddof=1)) if x.size > 1 else np.nan, int(x.size))


def _ratio_and_difference(real: np.ndarray, synthetic: np.ndarray) -> dict[str, Any]:
    (rm, rv, rn), (sm, sv, sn) = _moments(real), _moments(synthetic)
    diff, se = sm - rm, np.sqrt(sv / sn + rv / rn) if rn > 1 and sn > 1 else np.nan
    out = {"difference": finite(diff),
           "difference_ci": normal(diff, se), "ratio": None,
           "ratio_ci": Interval(np.nan, np.nan, 0.95, RATIO_METHOD)}
    if rm > 0 and sm > 0:
        log_se = np.sqrt(sv / (sn * sm ** 2) + rv / (rn * rm ** 2))
        out["ratio"] = finite(sm / rm)
        out["ratio_ci"] = Interval(float(sm / rm * np.exp(-Z95 * log_se)),
                                   float(sm / rm * np.exp(Z95 * log_se)), 0.95, RATIO_METHOD)
    return out


def _finding(name: str, f: dict[str, Any], noun: str) -> str:
    desc, kind = FEATURES[name]
    lo, hi = f["ratio_ci"]
    if kind == "share":
        return (f"{f['synthetic_mean']:.0%} of synthetic {noun} vs {f['real_mean']:.0%} of real "
                f"ones {desc}")
    if kind == "length" and f["ratio"] is not None:
        word = "longer" if f["ratio"] >= 1 else "shorter"
        times = f["ratio"] if f["ratio"] >= 1 else 1 / f["ratio"]
        bounds = (lo, hi) if f["ratio"] >= 1 else (1 / hi, 1 / lo)
        return (f"synthetic {noun} are {times:.2g}× {word} [{bounds[0]:.2g}, {bounds[1]:.2g}] "
                f"than real ones ({desc})")
    if kind != "score" and f["ratio"] is not None:
        return (f"synthetic {noun} have {f['ratio']:.2g}× the {desc} of real ones "
                f"[{lo:.2g}, {hi:.2g}]")
    d_lo, d_hi = f["difference_ci"]
    return (f"{desc}: {f['synthetic_mean']:.3g} synthetic vs {f['real_mean']:.3g} real "
            f"(difference {f['difference']:+.3g} [{d_lo:+.3g}, {d_hi:+.3g}])")


def compare_style(real: dict[str, np.ndarray], synthetic: dict[str, np.ndarray], *,
                  synthetic_ids: Sequence[str] | None = None, alpha: float = 0.05,
                  examples: int = 3, noun: str = "answers", field: str = "text",
                  prompt_field: str | None = None) -> StyleResult:
    """Compare feature arrays (from :func:`style_features`) of the two sides.

    >>> a = style_features(["ok."] * 30); b = style_features(["ok, fine."] * 30)
    >>> compare_style(a, b).flagged[:2]
    ['chars', 'words']
    """
    n_s = len(next(iter(synthetic.values())))
    sid = [str(i) for i in synthetic_ids] if synthetic_ids is not None else \
        [f"synthetic-{i}" for i in range(n_s)]
    cmp = compare_arrays(real, synthetic, alpha=alpha)
    rows: dict[str, StyleFeature] = {}
    for name, stat in cmp.stats.items():
        row = {**vars(stat), **_ratio_and_difference(np.asarray(real[name], dtype=float),
                                                       np.asarray(synthetic[name], dtype=float))}
        flagged = row.pop("flag") is not None
        values = np.asarray(synthetic[name], dtype=float)
        ex: list[str] = []
        if flagged:
            sign = 1.0 if row["cliffs_delta"] > 0 else -1.0
            order = np.argsort(-sign * np.where(np.isfinite(values), values, -sign * np.inf),
                               kind="stable")
            ex = [sid[i] for i in order[:examples]]
        rows[name] = StyleFeature(description=FEATURES.get(name, (name, "count"))[0],
                                  kind=FEATURES.get(name, (name, "count"))[1], **row,
                                  flagged=flagged,
                                  finding=_finding(name, row, noun) if flagged else None,
                                  examples=ex)
    order = sorted((k for k, v in rows.items() if v.flagged),
                   key=lambda k: -abs(rows[k].cliffs_delta or 0.0))
    n_r = len(next(iter(real.values())))
    return StyleResult(features=rows, flagged=order, findings=[rows[k].finding for k in order],
                       n_real=n_r, n_synthetic=n_s, field=field, prompt_field=prompt_field,
                       alpha=alpha, method=_METHOD)


def style(real: Sequence[str | None], synthetic: Sequence[str | None], *,
          real_prompts: Sequence[str | None] | None = None,
          synthetic_prompts: Sequence[str | None] | None = None,
          synthetic_ids: Sequence[str] | None = None, alpha: float = 0.05, examples: int = 3,
          field: str = "text", prompt_field: str | None = None) -> StyleResult:
    """Style features of real and synthetic answers compared (see the module docstring)."""
    if not real or not synthetic:
        raise InputError("the style audit needs answers on both sides")
    return compare_style(style_features(real, real_prompts),
                         style_features(synthetic, synthetic_prompts),
                         synthetic_ids=synthetic_ids, alpha=alpha, examples=examples,
                         field=field, prompt_field=prompt_field)


def audit_style(store: Store, real: str, synthetic: str, *, field: str = "text",
                turns: str | None = None, prompt_field: str | None = None, alpha: float = 0.05,
                examples: int = 3) -> StyleResult:
    """Run :func:`style` on ``field`` (``turns`` of a ``messages`` field) of two datasets of the
    store (split by ``origin`` when the names are the same), with ``prompt_field`` for the
    length relative to the prompt, and save the result (kind ``style``).

    >>> from tether import Store
    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("a", [{"q": f"q{i}", "response": f"It is {i}."} for i in range(20)],
    ...                  origin="real", text_field=None)
    ...     _ = s.ingest("b", [{"q": f"q{i}", "response": f"Sure! It is {i}."} for i in range(20)],
    ...                  origin="synthetic", family="model", generator="m@1", text_field=None)
    ...     r = audit_style(s, "a", "b", field="response", prompt_field="q")
    >>> r.field, "opener_sure" in r.flagged
    ('response', True)
    """
    r, s = load_pair(store, real, synthetic, field=field, turns=turns)
    prompts = (load_pair(store, real, synthetic, field=prompt_field) if prompt_field
               else (None, None))
    result = style(r.texts, s.texts, real_prompts=prompts[0] and prompts[0].texts,
                   synthetic_prompts=prompts[1] and prompts[1].texts, synthetic_ids=s.ids,
                   alpha=alpha, examples=examples, field=field_name(field, turns),
                   prompt_field=prompt_field)
    store.save_result(result,
                     {"real": real, "synthetic": synthetic, "field": field, "turns": turns,
                      "prompt_field": prompt_field, "alpha": alpha})
    return result
