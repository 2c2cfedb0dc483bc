"""An LLM judge: scores answers against a rubric through the OpenAI-compatible client.

Each item — a prompt (or question) and the answer to grade — is sent once to the judge model
with the rubric and its declared range (``1-5``, ``0-1`` for pass/fail...); the reply must be a
number on that range (``{"score": 4, "reason": "..."}`` in JSON mode, the bare number
otherwise). A reply that is not a score or lies outside the range is a failure, recorded with
the raw reply, never a score. Every score carries the judge's model and model family
(``judge_model``, ``judge_family``), so that a judge sharing a family with the suite's generator
or the evaluated model can be warned about.

The requests go through :class:`~tether.generate.llm.LLMClient`: cached on disk (a rerun sends
only what got no answer), retried with backoff, capped in size, credentials redacted.

Where the scores go, and why:

* a **store dataset** (``into``): the judged items are copied as new samples whose ``label`` is
  the judge's score (the store keeps a label as its text), ``label_origin=synthetic``, the judge
  as ``generator`` (``judge:MODEL@VERSION``, family ``model``) and ``parents`` = the judged
  sample. A score is a label made by a model, exactly like a teacher's label, so it takes the
  same provenance: ``origin`` stays the judged input's origin. The run is recorded like any
  generator run (configuration with the rubric's hash, failures with their reasons and raw
  replies, resumable by ``run_id``). The source dataset, and a person's score in its ``label``,
  is left as it is.
* a **JSONL file** (``out``): one ``{id, prediction, judge_model, judge_family, judge_reason}``
  line per scored item — the score is the ``prediction``, tether's name for a model's per-item
  output (``score`` means a probability to :func:`tether.evaluate.ppi.estimate`), so the file is
  ``estimate --predicted`` as it is — and the failures beside it in ``OUT.failures.jsonl``
  (``{id, reason, raw}``). It is the only output for items read from a JSONL file: a bare file
  carries no provenance to store.

Example:
    >>> from tether.generate.llm import LLMClient
    >>> client = LLMClient("http://localhost:8000/v1", "qwen2.5-7b", cache=":memory:")
    >>> j = Judge(client, Rubric("Is the answer correct and complete?", 1, 5))
    >>> j.ref, j.judge_family, j.config()["scale"]
    ('judge:qwen2.5-7b@qwen2.5-7b', 'qwen', [1, 5])
    >>> client.close()  # with a server: judge(rows, rubric, client, out="scores.jsonl")
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jinja2

from tether.errors import GenerationError, InputError
from tether.generate.base import Failure, Generator, row_rng, run
from tether.generate.llm import LLMClient, RequestFailed, failure_kind, request_params
from tether.generate.templates import render_bounded, sandbox
from tether.io import iter_records
from tether.provenance import PROVENANCE_FIELDS
from tether.results import Result
from tether.store import Store

#: Fields read, in this order, for the prompt and for the answer when none is named.
PROMPT_FIELDS = ("prompt", "question", "text")
ANSWER_FIELDS = ("answer", "prediction", "response")
#: The judge's reason is kept up to this many characters.
MAX_REASON = 2000
#: A failed reply is kept whole in the result and the failures file; on the run record (the
#: store) up to this many characters.
MAX_RAW = 4000

SYSTEM_PROMPT = ("You grade answers against a rubric, strictly and fairly. Reply with one JSON "
                 "object and nothing else: no prose, no code fences.")
PLAIN_SYSTEM_PROMPT = ("You grade answers against a rubric, strictly and fairly. Reply with the "
                       "score only: one number, nothing else.")
TEMPLATE = """\
Grade the answer below against this rubric.

Rubric:
{{ rubric }}

{% if prompt %}Question:
{{ prompt }}

{% endif %}Answer:
{{ answer }}

Give a score from {{ low }} (worst) to {{ high }} (best).
{% if json_mode %}Reply with one JSON object whose "score" field is the number and whose \
"reason" field says why in one sentence, like {"score": {{ high }}, "reason": "..."}.\
{% else %}Reply with the score only, one number from {{ low }} to {{ high }}.{% endif %}"""

_ENV = sandbox()
_TEMPLATE = _ENV.from_string(TEMPLATE)
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_BARE = re.compile(r"^[^\w-]*(?:score[^\w-]*)?(-?\d+(?:\.\d+)?)\W*"
                   r"(?:(?:/|out of)\s*\d+(?:\.\d+)?)?\W*$", re.IGNORECASE)
_FAMILY = re.compile(r"[a-z]+")
_UNSAFE = re.compile(r"[@\s]+")


@dataclass(frozen=True)
class Rubric:
    """What the judge grades by: the criteria in words and the declared range of a score.

    >>> Rubric.parse("Correct?", "0-1").to_dict()
    {'criteria': 'Correct?', 'low': 0.0, 'high': 1.0}
    """

    criteria: str
    low: float = 1.0
    high: float = 5.0

    def __post_init__(self) -> None:
        if not self.criteria.strip():
            raise InputError("the rubric is empty; say what a good answer is", field="rubric")
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise InputError(f"the score range must be LOW-HIGH with LOW < HIGH, got "
                             f"{self.low}-{self.high}", field="scale")

    @classmethod
    def parse(cls, criteria: str, scale: str) -> Rubric:
        """A rubric from its text and a range written ``LOW-HIGH`` (``1-5``, ``0-1``)."""
        match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*", scale)
        if not match:
            raise InputError(f"expected a score range LOW-HIGH such as 1-5, got {scale!r}",
                             field="scale")
        return cls(criteria, float(match.group(1)), float(match.group(2)))

    @property
    def scale(self) -> list[float | int]:
        return [_plain(self.low), _plain(self.high)]

    def to_dict(self) -> dict[str, Any]:
        return {"criteria": self.criteria, "low": self.low, "high": self.high}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rubric:
        return cls(data["criteria"], float(data["low"]), float(data["high"]))


def _plain(value: float) -> float | int:
    """``4.0`` → ``4``: a whole-number score reads as one."""
    return int(value) if float(value).is_integer() else float(value)


class Unscored(RequestFailed):
    """A complete reply of the judge that is not a score on the rubric's range."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.raw = raw


def parse_score(content: str, rubric: Rubric, json_mode: bool = True
                ) -> tuple[float | int, str | None]:
    """``(score, reason)`` of a judge's reply; raises :class:`Unscored` with the raw reply.

    JSON mode wants ``{"score": N}`` (a number, or a string holding one; ``reason`` optional);
    plain mode also takes a bare number (``4``, ``Score: 4``, ``4/5``).

    >>> parse_score('{"score": 4, "reason": "mostly right"}', Rubric("ok?"))
    (4, 'mostly right')
    >>> parse_score("Score: 3/5", Rubric("ok?"), json_mode=False)
    (3, None)
    >>> parse_score('{"score": 9}', Rubric("ok?"))
    Traceback (most recent call last):
    ...
    tether.generate.judge.Unscored: score out of range: 9 is not in 1-5: '{"score": 9}'
    """
    fenced = _FENCE.match(content)
    text = (fenced.group(1) if fenced else content).strip()
    value: Any = None
    reason = None
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, dict) and "score" in parsed:
        value = parsed["score"]
        reason = parsed.get("reason")
        reason = (reason.strip()[:MAX_REASON] or None) if isinstance(reason, str) else None
    elif not json_mode and (bare := _BARE.match(text)):
        value = bare.group(1)
    elif not json_mode and isinstance(parsed, (int, float)):
        value = parsed
    else:
        what = "a JSON object with a score" if json_mode else "a score"
        raise Unscored(f"not a score: the reply is not {what}: {content[:80]!r}", content)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise Unscored(f"not a score: {value!r} is not a finite number: {content[:80]!r}",
                       content)
    if not rubric.low <= value <= rubric.high:
        raise Unscored(f"score out of range: {_plain(value)} is not in "
                       f"{_plain(rubric.low)}-{_plain(rubric.high)}: {content[:80]!r}", content)
    return _plain(value), reason


def model_family(model: str) -> str:
    """A model's family guessed from its name: the leading letters of its last path part.

    >>> model_family("openai/gpt-4o-mini"), model_family("Qwen2.5-7B"), model_family("smollm2-135m")
    ('gpt', 'qwen', 'smollm')
    """
    base = model.rsplit("/", 1)[-1].lower()
    found = _FAMILY.search(base)
    return found.group(0) if found else base or "unknown"


def _first(row: Mapping[str, Any], named: str | None, fields: Sequence[str]) -> Any:
    if named is not None:
        return row.get(named)
    return next((row[f] for f in fields if row.get(f) not in (None, "")), None)


class Judge(Generator):
    """The judge as a generator: a judged item in, the same item with ``label`` = its score out.

    Args:
        client: the :class:`~tether.generate.llm.LLMClient` of the judge model (not closed here).
        rubric: the criteria and the range of a score.
        family: the judge's model family (default: :func:`model_family` of the model name).
        model_version: the version recorded in provenance (default: the model name).
        prompt_field, answer_field: the fields to grade (default: the first present of
            :data:`PROMPT_FIELDS` and of :data:`ANSWER_FIELDS`).
        json_mode, temperature, max_tokens: as for :class:`~tether.generate.llm.LLMGenerator`;
            temperature 0 by default, a judge should not be creative.

    ``scores`` and ``failures`` collect what :meth:`generate` made (for the JSONL output).
    """

    family = "model"

    def __init__(self, client: LLMClient, rubric: Rubric, *, family: str | None = None,
                 model_version: str | None = None, prompt_field: str | None = None,
                 answer_field: str | None = None, json_mode: bool = True,
                 temperature: float = 0.0, max_tokens: int = 256) -> None:
        self.client, self.rubric = client, rubric
        self.judge_family = (family or model_family(client.model)).strip().lower()
        self.name = f"judge:{_safe(client.model)}"
        self.version = _safe(model_version or client.model)
        self.prompt_field, self.answer_field = prompt_field, answer_field
        self.json_mode, self.temperature, self.max_tokens = json_mode, float(temperature), max_tokens
        self.system_prompt = SYSTEM_PROMPT if json_mode else PLAIN_SYSTEM_PROMPT
        self.scores: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []

    def config(self) -> dict[str, Any]:
        rubric_hash = hashlib.sha256(
            f"{self.system_prompt}\0{TEMPLATE}\0{self.rubric.criteria}".encode()).hexdigest()
        return {"role": "judge", "endpoint": self.client.endpoint, "model": self.client.model,
                "judge_family": self.judge_family, "rubric_hash": rubric_hash[:16],
                "scale": self.rubric.scale, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "json_mode": self.json_mode,
                "prompt_field": self.prompt_field, "answer_field": self.answer_field}

    def messages(self, prompt: Any, answer: Any) -> list[dict[str, str]]:
        """The chat messages that ask for the score of ``answer`` to ``prompt``."""
        values = {"rubric": self.rubric.criteria, "prompt": prompt, "answer": answer,
                  "low": _plain(self.rubric.low), "high": _plain(self.rubric.high),
                  "json_mode": self.json_mode}
        try:
            user = render_bounded(_TEMPLATE, values)
        except (jinja2.TemplateError, OverflowError) as exc:  # the size caps
            raise GenerationError(f"the judge's prompt failed: {exc}") from None
        return [{"role": "system", "content": self.system_prompt},
                {"role": "user", "content": user}]

    def _params(self, request_seed: int) -> dict[str, Any]:
        return request_params(self.temperature, self.max_tokens, request_seed, self.json_mode)

    def _fail(self, row: Mapping[str, Any], reason: str, raw: str | None = None) -> Failure:
        """Collect the failure; the run records it with the raw reply (up to
        :data:`MAX_RAW` characters) after the reason."""
        self.failures.append({"id": row["id"], "reason": reason, "raw": raw})
        return Failure([row["id"]], reason if raw is None
                       else f"{reason}; raw reply: {json.dumps(raw[:MAX_RAW], ensure_ascii=False)}")

    def generate(self, seeds: list[dict[str, Any]],
                 seed: int) -> Iterator[dict[str, Any] | Failure]:
        jobs = []
        for row in seeds:
            answer = _first(row, self.answer_field, ANSWER_FIELDS)
            if answer in (None, ""):
                wanted = self.answer_field or " or ".join(ANSWER_FIELDS)
                yield self._fail(row, f"no answer to judge: the item has no {wanted}")
                continue
            try:
                messages = self.messages(_first(row, self.prompt_field, PROMPT_FIELDS), answer)
            except GenerationError as exc:  # an item too large to ask about
                yield self._fail(row, str(exc))
                continue
            request_seed = int(row_rng(seed, row["id"]).integers(0, 2**31 - 1))
            jobs.append((row, messages, self._params(request_seed)))
        parse = partial(parse_score, rubric=self.rubric, json_mode=self.json_mode)
        replies = self.client.ask_many([(m, p) for _, m, p in jobs], parse)
        for (row, _, _), reply in zip(jobs, replies):
            if isinstance(reply, RequestFailed):
                yield self._fail(row, str(reply), getattr(reply, "raw", None))
                continue
            score, reason = reply
            judged = {"judge_model": self.client.model, "judge_family": self.judge_family,
                      "judge_reason": reason}
            self.scores.append({"id": row["id"], "prediction": score, **judged})
            yield self._sample(row, score, judged)

    def _sample(self, row: Mapping[str, Any], score: float,
                judged: Mapping[str, Any]) -> dict[str, Any]:
        user = {k: v for k, v in row.items()
                if k not in PROVENANCE_FIELDS and k not in ("text", "label")}
        return {**user, **judged, "text": row.get("text"), "label": score,
                "origin": row.get("origin") or "real", "label_origin": "synthetic",
                "parents": [row["id"]], "domain": row.get("domain"), "task": row.get("task")}

    def summary(self) -> dict[str, Any]:
        """Items scored and failed (by kind) and the mean score, kept on the run record."""
        kinds: dict[str, int] = {}
        for failure in self.failures:
            kind = failure_kind(failure["reason"])
            kinds[kind] = kinds.get(kind, 0) + 1
        values = [s["prediction"] for s in self.scores]
        return {"scored": len(values), "failed": dict(sorted(kinds.items())),
                "mean_score": sum(values) / len(values) if values else None}


def _safe(value: str) -> str:
    return _UNSAFE.sub("-", value.strip()) or "unknown"


@dataclass(frozen=True)
class JudgeFailure(Result):
    """An item the judge gave no score: why, and its raw reply (``None`` without a reply)."""

    id: str
    reason: str
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "reason": self.reason, "raw": self.raw}


@dataclass(frozen=True)
class JudgeResult(Result):
    """What one judging pass made. ``to_dict()`` is the ``tether judge --json`` contract.

    Not a registered kind and never saved with :meth:`~tether.store.Store.save_result`: what a
    judging pass keeps is its scores (dataset ``into``, with the run record, and/or the file
    ``out``), and a report reads those through ``estimate`` and ``eval``.
    """

    judge_model: str
    judge_family: str
    rubric: Rubric
    scored: int
    mean_score: float | None
    failures: tuple[JudgeFailure, ...] = ()
    out: str | None = None
    dataset: str | None = None
    run_id: str | None = None
    added: int = 0

    @property
    def failed(self) -> int:
        return len(self.failures)

    def to_dict(self) -> dict[str, Any]:
        return {"judge_model": self.judge_model, "judge_family": self.judge_family,
                "rubric": self.rubric.to_dict(), "scored": self.scored, "failed": self.failed,
                "mean_score": self.mean_score, "failures": [f.to_dict() for f in self.failures],
                "out": self.out, "dataset": self.dataset, "run_id": self.run_id,
                "added": self.added}


def failures_path(out: str | Path) -> Path:
    """Where :func:`judge` writes the failures beside ``out``: ``scores.jsonl`` →
    ``scores.failures.jsonl``.

    >>> failures_path("runs/scores.jsonl").as_posix()
    'runs/scores.failures.jsonl'
    """
    out = Path(out)
    return out.with_name(f"{out.stem}.failures{out.suffix or '.jsonl'}")


def _write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write ``rows`` to ``path`` whole or not at all (a temporary file, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _items(source: str | Path | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows, seen = [], set()
    for where, record in iter_records(source):
        if record.get("id") in (None, ""):
            raise InputError("missing field 'id'", field="id", **where)
        key = str(record["id"])
        if key in seen:
            raise InputError(f"duplicate id {key!r}", field="id", **where)
        seen.add(key)
        rows.append({**record, "id": key})
    if not rows:
        raise InputError("no items to judge",
                         **({"path": str(source)} if isinstance(source, (str, Path)) else {}))
    return rows


def judge(source: Store | str | Path | Iterable[Mapping[str, Any]], rubric: Rubric,
          client: LLMClient, *, dataset: str | None = None, into: str | None = None,
          out: str | Path | None = None, seed: int = 0, run_id: str | None = None,
          batch_size: int = 64, **options: Any) -> JudgeResult:
    """Score every item of ``source`` against ``rubric`` with the judge model behind ``client``.

    ``source`` is a :class:`~tether.store.Store` (with ``dataset``, the items to judge) or a
    JSONL path / iterable of dicts ``{id, prompt|question, answer|prediction|response}``. The
    scores go to dataset ``into`` (a store source only; a recorded, resumable run) and/or to the
    JSONL file ``out`` (failures beside it, see :func:`failures_path`). ``options`` go to
    :class:`Judge` (``family``, ``prompt_field``, ``answer_field``, ``json_mode``,
    ``temperature``, ``max_tokens``, ``model_version``).

    Example:
        >>> client = LLMClient(url, "qwen2.5-7b", cache="llm.sqlite")  # doctest: +SKIP
        >>> r = judge("answers.jsonl", Rubric.parse(open("rubric.txt").read(), "1-5"),
        ...           client, out="scores.jsonl")  # doctest: +SKIP
    """
    if into is None and out is None:
        raise InputError("say where the scores go: into a dataset (--into) or a file (--out)",
                         field="out")
    if run_id is not None and into is None:
        raise InputError("--run-id resumes a run that writes --into a dataset; scores that go to "
                         "a file only resume from the request cache: run the same command again",
                         field="run_id")
    judge_ = Judge(client, rubric, **options)
    added, made_run = 0, None
    if isinstance(source, Store):
        if dataset is None:
            raise InputError("name the dataset to judge (--from DATASET)", field="from")
        rows = source.records(dataset)
        if not rows:
            raise InputError(f"dataset {dataset!r} holds no items to judge", field="from")
    else:
        if into is not None:
            raise InputError("scores of items read from a file go to a file (--out); ingest the "
                             "items first to keep the scores in the store", field="into")
        rows = _items(source)
    if into is not None:
        assert isinstance(source, Store)
        judge_.text_field = "text" if all(r.get("text") for r in rows) else None
        result = run(source, judge_, dataset, into, seed=seed, run_id=run_id,
                     batch_size=batch_size, seeds=rows)
        added, made_run = result.added, result.run_id
    else:
        for _ in judge_.generate(rows, seed):
            pass
    if out is not None:
        _write_jsonl(Path(out), judge_.scores)
        _write_jsonl(failures_path(out), judge_.failures)
    values = [s["prediction"] for s in judge_.scores]
    return JudgeResult(client.model, judge_.judge_family, rubric, len(values),
                       sum(values) / len(values) if values else None,
                       tuple(JudgeFailure(f["id"], f["reason"], f["raw"])
                             for f in judge_.failures),
                       None if out is None else str(out), into, made_run, added)
