"""The model family's LLM generator: any OpenAI-compatible chat endpoint, cached on disk.

Every request goes to ``POST {endpoint}/chat/completions`` and asks for one JSON object; the
reply is parsed and validated against the task's shape (``{"text": ...}``, ``{"answer": ...}``
or ``{"label": <one of the allowed labels>}``). A reply that fails validation — malformed JSON,
an output cut off at ``max_tokens``, a label outside the set — becomes a
:class:`~tether.generate.base.Failure`, never data.

Each answered request is written to a SQLite cache (WAL mode, one row per request key) the
moment it arrives, keyed by endpoint, model, messages and parameters. Prompts and the per-request
``seed`` parameter come from the seed row and ``row_rng(seed, row_id)`` only, so running again
(or resuming an interrupted run with the same ``run_id``) sends exactly the requests that were
not answered yet; failures are not cached and are retried.

Concurrency is a thread pool over one synchronous ``httpx.Client``: ``generate`` is a plain
iterator called by :func:`tether.generate.base.run`, and threads work the same inside a notebook
or any program that already runs an event loop (where ``asyncio.run`` would fail); at the
concurrency an LLM endpoint admits (a few to a few dozen requests in flight) a thread per
request costs nothing next to the request's latency.

Example:
    >>> gen = LLMGenerator("http://localhost:8000/v1", "qwen2.5-7b", task="paraphrase",
    ...                    n_per_seed=2, cache=":memory:")
    >>> gen.ref, gen.config()["task"]
    ('llm:qwen2.5-7b@qwen2.5-7b', 'paraphrase')
    >>> gen.close()
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import jinja2

from tether.errors import GenerationError
from tether.generate.base import Failure, Generator, row_rng
from tether.generate.teacher import labelled_sample
from tether.provenance import canonical_json

#: Where the CLI keeps the cache, relative to the folder of the store.
DEFAULT_CACHE = ".tether-cache/llm.sqlite"
TASKS = ("paraphrase", "write", "answer", "label")

SYSTEM_PROMPT = ("You write data for machine-learning datasets. Reply with one JSON object and "
                 "nothing else: no prose, no code fences.")

#: One Jinja2 template per task. Variables: text, label, labels, domain, task, row (the seed).
TEMPLATES = {
    "paraphrase": """\
Paraphrase the text below. Keep its meaning\
{% if label %} (it is labelled "{{ label }}"){% endif %}, its language and roughly its length; \
change the wording and the sentence structure.

Text:
{{ text }}

Reply with a JSON object only, of the form {"text": "<the paraphrase>"}.""",
    "write": """\
Write one new, realistic text{% if domain %} about {{ domain }}{% endif %} that belongs to the \
class "{{ label }}". Do not copy the example below: change the subject, the details and the \
wording, but keep the kind of text and its length.

Example of the class "{{ label }}":
{{ text }}

Reply with a JSON object only, of the form {"text": "<the new text>"}.""",
    "answer": """\
Answer the question below{% if domain %} (domain: {{ domain }}){% endif %} correctly and concisely.

Question:
{{ text }}

Reply with a JSON object only, of the form {"answer": "<the answer>"}.""",
    "label": """\
Classify the text below into exactly one of these labels: {{ labels | join(", ") }}.

Text:
{{ text }}

Reply with a JSON object only, of the form {"label": "<one of: {{ labels | join(", ") }}>"}.""",
}
#: The JSON field each task's reply must carry.
OUTPUT_FIELD = {"paraphrase": "text", "write": "text", "answer": "answer", "label": "label"}

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_UNSAFE = re.compile(r"[@\s]+")


class RequestFailed(Exception):
    """One request that ended without a valid answer; its message is the recorded reason."""


def request_key(endpoint: str, model: str, messages: Sequence[Mapping[str, str]],
                params: Mapping[str, Any]) -> str:
    """The cache key of one chat request (sha256 of its canonical JSON).

    >>> msgs = [{"role": "user", "content": "hi"}]
    >>> a = request_key("http://h/v1/", "m", msgs, {"seed": 1})
    >>> a == request_key("http://h/v1", "m", msgs, {"seed": 1})
    True
    >>> a == request_key("http://h/v1", "m", msgs, {"seed": 2})
    False
    """
    payload = {"endpoint": endpoint.rstrip("/"), "model": model, "messages": list(messages),
               "params": dict(params)}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def parse_output(content: str, field: str, labels: Sequence[str] | None = None) -> str:
    """The value of ``field`` in a JSON reply, validated; raises :class:`RequestFailed`.

    A reply wrapped in a Markdown code fence is accepted. With ``labels``, the value must be one
    of them (compared after stripping, then case-insensitively) and is returned as spelled there.

    >>> parse_output('{"label": " Sport"}', "label", ["business", "sport"])
    'sport'
    """
    fenced = _FENCE.match(content)
    try:
        value = json.loads(fenced.group(1) if fenced else content)
    except json.JSONDecodeError as exc:
        raise RequestFailed(f"reply is not valid JSON ({exc.msg} at char {exc.pos}): "
                            f"{content[:80]!r}") from None
    if not isinstance(value, dict) or not isinstance(value.get(field), str) \
            or not value[field].strip():
        raise RequestFailed(f"reply lacks a non-empty string field {field!r}: {content[:80]!r}")
    text = value[field].strip()
    if labels is None:
        return text
    if text in labels:
        return text
    folded = [lab for lab in labels if lab.casefold() == text.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise RequestFailed(f"label {text!r} is not one of {', '.join(labels)}")


class LLMCache:
    """Answered requests in one SQLite file (WAL mode), one row per request key.

    Each answer is committed as it arrives, so killing the process loses at most the requests in
    flight. ``":memory:"`` keeps the cache for the life of the object only.

    >>> cache = LLMCache(":memory:")
    >>> cache.put("k", "http://h/v1", "m", {"messages": []}, '{"text": "x"}')
    >>> cache.get("k"), len(cache)
    ('{"text": "x"}', 1)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                        check_same_thread=False)
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process
            self._con.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, "
                              "endpoint TEXT NOT NULL, model TEXT NOT NULL, request TEXT NOT NULL, "
                              "response TEXT NOT NULL, created_at TEXT NOT NULL)")
        except sqlite3.Error as exc:
            raise GenerationError(f"cannot open the LLM cache {self.path}: {exc}") from exc
        self._lock = threading.Lock()  # one connection shared by the worker threads

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._con.execute("SELECT response FROM responses WHERE key = ?",
                                    [key]).fetchone()
        return row[0] if row else None

    def put(self, key: str, endpoint: str, model: str, request: Mapping[str, Any],
            response: str) -> None:
        with self._lock:
            self._con.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                              [key, endpoint, model, canonical_json(dict(request)), response,
                               datetime.now(timezone.utc).isoformat(timespec="seconds")])

    def __len__(self) -> int:
        with self._lock:
            return self._con.execute("SELECT count(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._con.close()


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds a 429/503 asks the client to wait (``Retry-After``: seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _content(response: httpx.Response) -> str:
    """``choices[0].message.content`` of a 200 reply; raises :class:`RequestFailed`."""
    try:
        choice = response.json()["choices"][0]
        content = choice["message"]["content"]
    except ValueError:
        raise RequestFailed(f"malformed response body (not JSON): {response.text[:80]!r}") from None
    except (KeyError, IndexError, TypeError):
        raise RequestFailed(f"response without choices[0].message.content: "
                            f"{response.text[:80]!r}") from None
    if choice.get("finish_reason") == "length":
        raise RequestFailed("output cut off at max_tokens (finish_reason=length)")
    if not isinstance(content, str):
        raise RequestFailed(f"message content is {type(content).__name__}, not text")
    return content


class LLMClient:
    """A client for one model behind an OpenAI-compatible chat endpoint, with retries and cache.

    Args:
        endpoint: base URL, e.g. ``http://localhost:8000/v1`` (requests go to
            ``{endpoint}/chat/completions``).
        model: the model name the endpoint serves.
        api_key_env: environment variable holding the API key (optional; sent as a bearer token).
        concurrency: requests in flight at once.
        timeout: seconds for connecting and for each read.
        max_attempts: attempts per request; 429, 408, 5xx, timeouts and connection errors
            (including a truncated body) are retried with exponential backoff and full jitter,
            waiting at least what ``Retry-After`` asks.
        backoff, max_backoff: the first backoff ceiling and its cap, in seconds.
        cache: the cache file (or an :class:`LLMCache`).

    Example:
        >>> client = LLMClient("http://localhost:8000/v1", "m", cache=":memory:")
        >>> client.url
        'http://localhost:8000/v1/chat/completions'
        >>> client.close()
    """

    def __init__(self, endpoint: str, model: str, *, api_key_env: str | None = "OPENAI_API_KEY",
                 concurrency: int = 4, timeout: float = 60.0, max_attempts: int = 5,
                 backoff: float = 0.5, max_backoff: float = 30.0,
                 cache: str | Path | LLMCache = DEFAULT_CACHE) -> None:
        if concurrency < 1 or max_attempts < 1:
            raise GenerationError("concurrency and max_attempts must be at least 1")
        self.endpoint = endpoint.rstrip("/")
        self.model = model
        self.url = f"{self.endpoint}/chat/completions"
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.api_key_env = api_key_env
        key = os.environ.get(api_key_env) if api_key_env else None
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers={"Authorization": f"Bearer {key}"} if key else {},
            limits=httpx.Limits(max_connections=concurrency,
                                max_keepalive_connections=concurrency))
        self.cache = cache if isinstance(cache, LLMCache) else LLMCache(cache)

    def ask(self, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any],
            parse: Callable[[str], Any]) -> Any:
        """``parse`` of the reply to one request, from the cache when it was answered before.

        Raises :class:`RequestFailed` when the request fails for good or the reply does not
        validate, and :class:`~tether.errors.GenerationError` when the endpoint refuses the
        client itself (401, 403, 404).
        """
        key = request_key(self.endpoint, self.model, messages, params)
        cached = self.cache.get(key)
        if cached is not None:
            return parse(cached)
        request = {"model": self.model, "messages": list(messages), **params}
        content = self._send(request)
        value = parse(content)  # only valid replies are cached: failures are asked again
        self.cache.put(key, self.endpoint, self.model, request, content)
        return value

    def ask_many(self, requests: Sequence[tuple[Sequence[Mapping[str, str]], Mapping[str, Any]]],
                 parse: Callable[[str], Any]) -> Iterator[Any]:
        """Ask ``(messages, params)`` requests with bounded concurrency; yield, in order, each
        parsed reply or the :class:`RequestFailed` it ended with."""
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="tether-llm")
        try:
            futures = [pool.submit(self._ask_or_fail, messages, params, parse)
                       for messages, params in requests]
            for future in futures:
                yield future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _ask_or_fail(self, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any],
                     parse: Callable[[str], Any]) -> Any:
        try:
            return self.ask(messages, params, parse)
        except RequestFailed as exc:
            return exc

    def _delay(self, attempt: int) -> float:
        # exponential backoff with full jitter (uniform in [0, ceiling]); spreads out clients
        # that were throttled together
        return random.uniform(0.0, min(self.max_backoff, self.backoff * 2 ** attempt))

    def _send(self, request: Mapping[str, Any]) -> str:
        reason = ""
        for attempt in range(self.max_attempts):
            wait = self._delay(attempt)
            try:
                response = self._http.post(self.url, json=request)
            except httpx.TimeoutException as exc:
                reason = f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:  # refused, reset, or a body cut short
                reason = f"connection error ({type(exc).__name__}: {exc})"
            else:
                status = response.status_code
                if status == 200:
                    return _content(response)
                if status in (401, 403, 404):
                    raise GenerationError(
                        f"{self.url} answered HTTP {status} ({response.text[:120]!r}); check "
                        f"--endpoint, --model and the API key in ${self.api_key_env}")
                if status not in (408, 429) and status < 500:
                    raise RequestFailed(f"HTTP {status}: {response.text[:120]!r}")
                reason = f"HTTP {status}"
                wait = max(wait, _retry_after(response) or 0.0)
            if attempt + 1 < self.max_attempts:
                time.sleep(wait)
        raise RequestFailed(f"gave up after {self.max_attempts} attempts; last: {reason}")

    def close(self) -> None:
        self._http.close()
        self.cache.close()


def _safe(value: str) -> str:
    """``value`` usable inside ``name@version`` (no ``@``, no whitespace)."""
    return _UNSAFE.sub("-", value.strip()) or "unknown"


class LLMGenerator(Generator):
    """Samples written, rephrased, answered or labelled by an LLM (family ``model``).

    Tasks:
        * ``paraphrase`` — a rewording of each seed (``n_per_seed`` per seed), keeping its label
          (now ``label_origin=synthetic``: no person checked that the meaning survived);
        * ``write`` — a new text for the seed's label, the seed shown as an example;
        * ``answer`` — the seed's text is a question; the sample keeps it and adds ``answer``;
        * ``label`` — the real input kept, its label chosen by the model among ``labels``
          (``origin=real, label_origin=synthetic``).

    Every sample lists its seed in ``parents``. ``template`` replaces the task's prompt (a
    Jinja2 template; see :data:`TEMPLATES`); ``client_options`` go to :class:`LLMClient`
    (``concurrency``, ``timeout``, ``max_attempts``, ``backoff``, ``max_backoff``,
    ``api_key_env``, ``cache``).

    Example:
        >>> from tether import Store
        >>> from tether.generate import run
        >>> gen = LLMGenerator("http://localhost:8000/v1", "m", task="label",
        ...                    labels=["sport", "politics"], cache=":memory:")
        >>> gen.config()["labels"]
        ['sport', 'politics']
        >>> gen.close()  # with a server: run(store, gen, "unlabelled", "teacher-labels", seed=0)
    """

    family = "model"

    def __init__(self, endpoint: str, model: str, *, task: str = "paraphrase",
                 n_per_seed: int = 1, temperature: float = 0.7,
                 labels: Sequence[str] | None = None, model_version: str | None = None,
                 max_tokens: int = 512, json_mode: bool = True, template: str | None = None,
                 **client_options: Any) -> None:
        if task not in TASKS:
            raise GenerationError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
        if n_per_seed < 1:
            raise GenerationError("n_per_seed must be at least 1")
        if task == "label":
            if not labels or len(set(labels)) < 2:
                raise GenerationError("the label task needs at least two --labels to choose from")
            if n_per_seed != 1:
                raise GenerationError("the label task makes one label per input; use n_per_seed=1")
        self.task = task
        self.n_per_seed = n_per_seed
        self.temperature = float(temperature)
        self.labels = list(labels) if labels else None
        self.max_tokens = max_tokens
        self.json_mode = json_mode
        self.template = TEMPLATES[task] if template is None else template
        try:
            self._template = _ENV.from_string(self.template)
        except jinja2.TemplateSyntaxError as exc:
            raise GenerationError(f"the prompt template does not parse: {exc}") from None
        self.name = f"llm:{_safe(model)}"
        self.version = _safe(model_version or model)
        self.client = LLMClient(endpoint, model, **client_options)
        self._parse = partial(parse_output, field=OUTPUT_FIELD[task],
                              labels=self.labels if task == "label" else None)

    def config(self) -> dict[str, Any]:
        template_hash = hashlib.sha256(f"{SYSTEM_PROMPT}\0{self.template}".encode()).hexdigest()
        return {"endpoint": self.client.endpoint, "model": self.client.model, "task": self.task,
                "template_hash": template_hash[:16], "temperature": self.temperature,
                "n_per_seed": self.n_per_seed, "max_tokens": self.max_tokens,
                "json_mode": self.json_mode, "labels": self.labels}

    def messages(self, row: Mapping[str, Any]) -> list[dict[str, str]]:
        """The chat messages sent for seed ``row``."""
        try:
            prompt = self._template.render(text=row.get("text"), label=row.get("label"),
                                           labels=self.labels or [], domain=row.get("domain"),
                                           task=row.get("task"), row=row)
        except jinja2.UndefinedError as exc:
            raise GenerationError(f"the prompt template uses an undefined value: {exc}") from None
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]

    def _params(self, request_seed: int) -> dict[str, Any]:
        params: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens,
                                  "seed": request_seed}
        if self.json_mode:
            params["response_format"] = {"type": "json_object"}
        return params

    def generate(self, seeds: list[dict[str, Any]],
                 seed: int) -> Iterator[dict[str, Any] | Failure]:
        jobs: list[tuple[dict[str, Any], list[dict[str, str]], dict[str, Any]]] = []
        for row in seeds:
            if not row.get("text"):
                yield Failure([row["id"]], "the seed has no text")
                continue
            if self.task == "write" and row.get("label") is None:
                yield Failure([row["id"]], "the write task needs a labelled seed")
                continue
            messages = self.messages(row)
            request_seeds = row_rng(seed, row["id"]).integers(0, 2**31 - 1, size=self.n_per_seed)
            jobs.extend((row, messages, self._params(int(s))) for s in request_seeds)
        answers = self.client.ask_many([(messages, params) for _, messages, params in jobs],
                                       self._parse)
        for (row, _, _), answer in zip(jobs, answers):
            if isinstance(answer, RequestFailed):
                yield Failure([row["id"]], str(answer))
            else:
                yield self._sample(row, answer)

    def _sample(self, row: Mapping[str, Any], value: str) -> dict[str, Any]:
        if self.task == "label":
            return labelled_sample(row, value)
        keep = {"parents": [row["id"]], "domain": row.get("domain"), "task": row.get("task")}
        if self.task == "answer":
            return {"text": row["text"], "answer": value, **keep}
        label = row.get("label")
        return {"text": value, "label": label,
                "label_origin": "synthetic" if label is not None else None, **keep}

    def close(self) -> None:
        """Close the HTTP client and the cache."""
        self.client.close()

    def __enter__(self) -> LLMGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
