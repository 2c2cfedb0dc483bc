"""The ``simulation`` family: simulated users, simulated sensors and the user's own simulator.

*Simulated users* make clean text as messy as the real users it stands for: a
:class:`UserProfile` is fitted on real texts (typo rate against an English word list, casing
habits, length distribution, abbreviations, final punctuation) and applied to clean texts.

*Simulated sensors* make numeric series: a linear trend (level and drift) plus AR(1) noise,
with dropouts (missing values) and stuck-value episodes, all fitted from a real series.

*CallableSimulator* wraps a user's Python callable as a generator.

The word list is the English frequency dictionary that ships with the PyPI package
``pyspellchecker`` (about 160,000 words with their inflections, built from public subtitle and
web text): it is independent of the user's data and of tether's own test data.

Example:
    >>> profile = fit_user_profile(["pls send teh report", "thx, see u tmrw"])
    >>> profile.lowercase_share
    1.0
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import lfilter

from tether import io
from tether.errors import InputError
from tether.generate.base import Failure, Generator, row_rng
from tether.generate.perturb import NEIGHBOURS, bernoulli_positions, user_fields
from tether.store import Store

#: Common abbreviations of real users: full word → short form.
ABBREVIATIONS: dict[str, str] = {
    "you": "u", "your": "ur", "are": "r", "please": "pls", "thanks": "thx", "because": "cuz",
    "tomorrow": "tmrw", "people": "ppl", "message": "msg", "before": "b4", "really": "rly",
    "about": "abt", "something": "sth", "information": "info", "government": "govt",
    "okay": "ok", "with": "w/", "without": "w/o", "probably": "prob", "tonight": "2nite",
}
_SHORT = {v: k for k, v in ABBREVIATIONS.items()}
_WORD = re.compile(r"\b[a-z]{3,}\b")  # lower-case words: names and acronyms are not typos
_NAME = re.compile(r"(?<=[a-z,;:] )[A-Z][A-Za-z]+")  # a capital in mid-sentence
_TOKEN = re.compile(r"\S+")
_LONG_RE = re.compile(r"\b(" + "|".join(ABBREVIATIONS) + r")\b", re.IGNORECASE)
_SHORT_RE = re.compile(r"(?<!\S)(" + "|".join(re.escape(s) for s in _SHORT) + r")(?=[\s,.!?]|$)",
                       re.IGNORECASE)
_STARTS = re.compile(r"(?:^|[.!?]\s+)([A-Za-z])")
_ENDS = ".!?…"
QUANTILES = tuple(np.round(np.linspace(0, 1, 21), 2).tolist())


@functools.lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The English word list (lower case) shipped by ``pyspellchecker``."""
    from spellchecker import SpellChecker

    return frozenset(SpellChecker(language="en", distance=1).word_frequency.keys())


def word_list_name() -> str:
    return f"pyspellchecker-en@{importlib.metadata.version('pyspellchecker')}"


# ------------------------------------------------------------------ measures (pure functions)
def typo_rate(texts: Sequence[str]) -> float:
    """Share of lower-case words (3+ letters) not in the word list.

    Known abbreviations are not typos, nor are names: words that the same texts write with a
    capital in mid-sentence (so ``yukos`` in a text typed all in lower case is not a typo when
    another text writes ``Yukos``).

    >>> typo_rate(["the cat sat", "teh cat sat", "so Yukos said", "yukos fell"])
    0.125
    """
    words = english_words()
    names = {m.lower() for text in texts for m in _NAME.findall(text)} - words
    total = bad = 0
    for text in texts:
        for w in _WORD.findall(text):
            if w in _SHORT or w in names:
                continue
            total += 1
            bad += w not in words
    return bad / total if total else 0.0


def word_counts(texts: Sequence[str]) -> np.ndarray:
    """Number of whitespace-separated words in each text."""
    return np.array([len(t.split()) for t in texts], dtype=float)


def lowercase_share(texts: Sequence[str]) -> float:
    """Share of texts (with letters) that have no upper-case letter."""
    lettered = [t for t in texts if any(c.isalpha() for c in t)]
    return sum(t == t.lower() for t in lettered) / len(lettered) if lettered else 0.0


def capitalised_share(texts: Sequence[str]) -> float:
    """Share of sentence starts written with a capital, in texts that use capitals at all."""
    starts = [s for t in texts if t != t.lower() for s in _STARTS.findall(t)]
    return sum(s.isupper() for s in starts) / len(starts) if starts else 1.0


def abbreviation_rate(texts: Sequence[str]) -> float:
    """Share of abbreviable words written short (``u`` for ``you``…), over both forms."""
    short = sum(len(_SHORT_RE.findall(t)) for t in texts)
    long = sum(len(_LONG_RE.findall(t)) for t in texts)
    return short / (short + long) if short + long else 0.0


def no_final_punctuation_share(texts: Sequence[str]) -> float:
    """Share of non-empty texts that do not end with ``.``, ``!``, ``?`` or ``…``."""
    ends = [t.rstrip()[-1] for t in texts if t.strip()]
    return sum(e not in _ENDS for e in ends) / len(ends) if ends else 0.0


def dataset_texts(store: Store, dataset: str) -> list[str]:
    """The non-empty texts of ``dataset``, in insertion order."""
    return [t for t in store.table(dataset).column("text").to_pylist() if t]


def dataset_series(store: Store, dataset: str, field: str = "value") -> list[float | None]:
    """The numeric user field ``field`` of ``dataset`` as a series, ordered by the field ``t``
    when the samples have one (else in insertion order)."""
    rows = [json.loads(f or "{}") for f in store.table(dataset).column("fields").to_pylist()]
    if not any(field in r for r in rows):
        raise InputError(f"no numeric field {field!r} in dataset {dataset!r}", field=field)
    if all("t" in r for r in rows):
        rows.sort(key=lambda r: r["t"])
    try:
        return [None if r.get(field) is None else float(r[field]) for r in rows]
    except (TypeError, ValueError):
        raise InputError(f"field {field!r} of dataset {dataset!r} is not numeric",
                         field=field) from None


# ------------------------------------------------------------------------- simulated users
@dataclass(frozen=True)
class UserProfile:
    """How messy real users write, as fitted by :func:`fit_user_profile`."""

    typo_rate: float
    lowercase_share: float
    capitalised_share: float
    length_quantiles: list[float]
    abbreviation_rate: float
    no_final_punctuation_share: float
    n_texts: int
    word_list: str = field(default_factory=word_list_name)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "quantiles": list(QUANTILES)}

    def save(self, path: str | Path) -> Path:
        """Write the profile as JSON; returns the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> UserProfile:
        """Read a profile written by :meth:`save`."""
        path = io.check_readable(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data.pop("quantiles", None)
            return cls(**data)
        except (OSError, json.JSONDecodeError, TypeError) as exc:
            raise InputError(f"not a user profile: {exc}", path=path) from None


def fit_user_profile(real_texts: Sequence[str]) -> UserProfile:
    """Fit a :class:`UserProfile` on real users' texts.

    >>> fit_user_profile(["Hello there.", "ok thx"]).no_final_punctuation_share
    0.5
    """
    texts = [t for t in real_texts if t and t.strip()]
    if not texts:
        raise InputError("no texts to fit a user profile on")
    return UserProfile(
        typo_rate=typo_rate(texts), lowercase_share=lowercase_share(texts),
        capitalised_share=capitalised_share(texts),
        length_quantiles=np.quantile(word_counts(texts), QUANTILES).tolist(),
        abbreviation_rate=abbreviation_rate(texts),
        no_final_punctuation_share=no_final_punctuation_share(texts), n_texts=len(texts))


def _typo(word: str, rng: np.random.Generator) -> str:
    """One keyboard slip in ``word``: a neighbouring key, a dropped, swapped or doubled letter."""
    i = int(rng.integers(len(word)))
    kind = int(rng.integers(4))
    if kind == 0:
        near = NEIGHBOURS.get(word[i], word[i])
        return word[:i] + near[int(rng.integers(len(near)))] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    if kind == 2 and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + word[i] + word[i:]


def _edit_matches(text: str, pattern: re.Pattern[str], rate: float, rng: np.random.Generator,
                  edit: Callable[[str], str]) -> str:
    """Apply ``edit`` to each match of ``pattern`` with probability ``rate``."""
    if rate <= 0:
        return text
    matches = list(pattern.finditer(text))
    chosen, _ = bernoulli_positions(rng, len(matches), rate)
    if not chosen:
        return text
    pieces, prev = [], 0
    for i in chosen:
        m = matches[i]
        pieces += [text[prev:m.start()], edit(m.group())]
        prev = m.end()
    pieces.append(text[prev:])
    return "".join(pieces)


def _abbreviate(word: str) -> str:
    short = ABBREVIATIONS[word.lower()]
    return short.capitalize() if word[0].isupper() else short


def apply_profile(text: str, profile: UserProfile, rng: np.random.Generator) -> str:
    """Make one clean text as messy as the profile's users.

    In order: cut to a length drawn from the profile (a simulator does not invent content, so
    shorter texts stay as they are), abbreviate, add typos, set the casing, set the final
    punctuation.
    """
    target = max(1, int(round(np.interp(rng.random(), QUANTILES, profile.length_quantiles))))
    words = list(_TOKEN.finditer(text))
    if len(words) > target:
        text = text[:words[target - 1].end()]
    text = _edit_matches(text, _LONG_RE, profile.abbreviation_rate, rng, _abbreviate)
    text = _edit_matches(text, _WORD, profile.typo_rate, rng,
                         lambda w: w if w in _SHORT else _typo(w, rng))
    if rng.random() < profile.lowercase_share:
        text = text.lower()
    else:
        def case(m: re.Match[str]) -> str:
            letter = m.group(1)
            letter = letter.upper() if rng.random() < profile.capitalised_share else letter.lower()
            return m.group(0)[:-1] + letter

        text = _STARTS.sub(case, text)
    text = text.rstrip()
    if rng.random() < profile.no_final_punctuation_share:
        text = text.rstrip(_ENDS + ",;:")
    elif text and text[-1] not in _ENDS:
        text = text.rstrip(",;:") + "."
    return text


class SimulatedUsers(Generator):
    """The ``simulation`` generator that rewrites each seed text as the profile's users would.

    Children keep the seed's label, ``label_origin`` and user fields; ``parents=[seed id]``.

    Example:
        >>> gen = SimulatedUsers(fit_user_profile(["thx u rock"]))
        >>> next(gen.generate([{"id": "a", "text": "Thank you.", "label": None}], 0))["text"]
        'thank u'
    """

    name, version, family = "simulated-users", "1", "simulation"

    def __init__(self, profile: UserProfile, fitted_on: str | None = None) -> None:
        self.profile = profile
        self.fitted_on = fitted_on

    def config(self) -> dict[str, Any]:
        return {"profile": self.profile.to_dict(), "fitted_on": self.fitted_on}

    def generate(self, seeds: list[dict[str, Any]], seed: int) -> Iterator[dict[str, Any]]:
        for row in seeds:
            text = apply_profile(row["text"] or "", self.profile, row_rng(seed, row["id"]))
            yield {**user_fields(row), "text": text, "label": row.get("label"),
                   "label_origin": row.get("label_origin"), "parents": [row["id"]]}


# ----------------------------------------------------------------------- simulated sensors
@dataclass(frozen=True)
class SensorProfile:
    """A sensor series: ``level + drift·t + AR(1) noise`` with dropouts and stuck episodes.

    ``phi`` and ``noise_sd`` are the AR(1) coefficient and innovation sd; ``dropout_rate`` the
    share of missing readings; ``stuck_rate`` the chance per working step that the sensor gets
    stuck (repeats its last reading) for ``stuck_length`` steps on average.
    """

    level: float
    drift: float
    phi: float
    noise_sd: float
    dropout_rate: float
    stuck_rate: float
    stuck_length: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_sensor(series: Sequence[float | None]) -> SensorProfile:
    """Fit a :class:`SensorProfile` on a real numeric series (``None``/NaN = dropout).

    Stuck episodes are runs of readings exactly equal to the last observed one; they and the
    dropouts are left out of the trend (least squares) and AR(1) (lag-1 regression of the
    residuals) fits.

    >>> p = fit_sensor([float(t) for t in range(50)])
    >>> round(p.drift, 6), p.dropout_rate
    (1.0, 0.0)
    """
    x = np.array([np.nan if v is None else float(v) for v in series], dtype=float)
    n = len(x)
    observed = ~np.isnan(x)
    if observed.sum() < 10:
        raise InputError(f"a sensor profile needs at least 10 readings, got {int(observed.sum())}")
    # stuck: a reading equal to the previous observed one; dropouts inside an episode do not
    # end it, so runs are found on the observed readings and rescaled to time steps
    values = x[observed]
    repeat = np.zeros(values.size, dtype=bool)
    repeat[1:] = values[1:] == values[:-1]
    starts = int(np.sum(repeat[1:] & ~repeat[:-1]))
    kept = float(observed.mean())
    stuck = np.zeros(n, dtype=bool)
    stuck[observed] = repeat
    good = observed & ~stuck
    t = np.arange(n, dtype=float)
    drift, level = np.polyfit(t[good], x[good], 1)
    r = np.where(good, x - (level + drift * t), np.nan)
    pairs = good[1:] & good[:-1]
    prev, cur = r[:-1][pairs], r[1:][pairs]
    phi = float(prev @ cur / (prev @ prev)) if pairs.sum() > 2 and prev @ prev > 0 else 0.0
    innovations = cur - phi * prev
    noise_sd = float(np.std(innovations, ddof=1)) if innovations.size > 1 else 0.0
    return SensorProfile(level=float(level), drift=float(drift), phi=phi, noise_sd=noise_sd,
                         dropout_rate=float(1 - observed.mean()),
                         stuck_rate=starts * kept / max(int((~repeat).sum()), 1),
                         stuck_length=float(repeat.sum() / starts / kept) if starts else 0.0,
                         n=n)


def simulate_series(profile: SensorProfile, length: int, rng: np.random.Generator) -> np.ndarray:
    """A series of ``length`` readings from ``profile`` (NaN = dropout).

    >>> p = SensorProfile(5.0, 0.0, 0.5, 1.0, 0.0, 0.0, 0.0, 0)
    >>> simulate_series(p, 3, np.random.default_rng(0)).shape
    (3,)
    """
    phi = float(np.clip(profile.phi, -0.999, 0.999))
    e = rng.normal(0.0, profile.noise_sd, length)
    start = rng.normal(0.0, profile.noise_sd / math.sqrt(1 - phi * phi))
    noise, _ = lfilter([1.0], [1.0, -phi], e, zi=[phi * start])
    x = profile.level + profile.drift * np.arange(length) + noise
    end = 0
    for s in bernoulli_positions(rng, length, profile.stuck_rate)[0]:
        if s == 0 or s < end:
            continue
        end = s + int(rng.geometric(1.0 / max(profile.stuck_length, 1.0)))
        x[s:end] = x[s - 1]
    x[bernoulli_positions(rng, length, profile.dropout_rate)[0]] = np.nan
    return x


class SimulatedSensor(Generator):
    """The ``simulation`` generator of one sensor series: rows ``{"t": int, field: float|None}``,
    without text. It takes no seed rows: run it with ``source=None``.

    Example:
        >>> p = SensorProfile(5.0, 0.0, 0.5, 1.0, 0.0, 0.0, 0.0, 0)
        >>> len(list(SimulatedSensor(p, 4).generate([], seed=0)))
        4
    """

    name, version, family = "simulated-sensor", "1", "simulation"
    text_field = None

    def __init__(self, profile: SensorProfile, length: int, field: str = "value",
                 fitted_on: str | None = None) -> None:
        if length < 1:
            raise InputError(f"length must be at least 1, got {length}", field="length")
        self.profile, self.length, self.field, self.fitted_on = profile, length, field, fitted_on

    def config(self) -> dict[str, Any]:
        return {"profile": self.profile.to_dict(), "length": self.length, "field": self.field,
                "fitted_on": self.fitted_on}

    def generate(self, seeds: list[dict[str, Any]], seed: int) -> Iterator[dict[str, Any]]:
        if seeds:
            raise InputError("a simulated sensor takes no seed samples; run it without a source")
        x = simulate_series(self.profile, self.length, row_rng(seed, self.field))
        for t, value in enumerate(x.tolist()):
            yield {"t": t, self.field: None if math.isnan(value) else value}


# --------------------------------------------------------------------- user's own simulator
class CallableSimulator(Generator):
    """A user's simulator ``fn(seed_row: dict, rng) -> list[dict]`` as a ``simulation``
    generator.

    ``fn`` gets each seed row (or ``{}`` once, when run without seeds) and that row's own random
    generator; each dict it returns is a sample (user fields, optionally ``label`` and
    ``label_origin``, which defaults to ``synthetic`` for a label). ``parents`` defaults to the
    seed's id. An exception in ``fn`` or a malformed return value is recorded as a failure.

    Example:
        >>> sim = CallableSimulator(lambda row, rng: [{"text": row["text"] * 2}], "double", "1")
        >>> next(sim.generate([{"id": "a", "text": "ab"}], seed=0))
        {'text': 'abab', 'parents': ['a']}
    """

    family = "simulation"

    def __init__(self, fn: Callable[[dict[str, Any], np.random.Generator], list[dict[str, Any]]],
                 name: str, version: str, config: Mapping[str, Any] | None = None,
                 text_field: str | None = "text") -> None:
        self.fn, self.name, self.version = fn, name, version
        self._config = dict(config or {})
        self.text_field = text_field

    def config(self) -> dict[str, Any]:
        return self._config

    def generate(self, seeds: list[dict[str, Any]],
                 seed: int) -> Iterator[dict[str, Any] | Failure]:
        for row in seeds or [{}]:
            parents = [row["id"]] if "id" in row else []
            try:
                made = self.fn(dict(row), row_rng(seed, row.get("id", self.name)))
                if not isinstance(made, list) or not all(isinstance(m, dict) for m in made):
                    raise TypeError(f"returned {type(made).__name__}, expected a list of dicts")
            except Exception as exc:  # the user's code: any error is this seed's failure
                yield Failure(parents, f"{type(exc).__name__}: {exc}")
                continue
            for sample in made:
                sample = {**sample, "parents": sample.get("parents", parents)}
                if sample.get("label") is not None:
                    sample.setdefault("label_origin", "synthetic")
                yield sample
