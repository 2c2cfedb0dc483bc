"""A small OpenAI-compatible chat server on 127.0.0.1 that misbehaves on cue, deterministically.

A request's user message may carry a cue ``[fail=a,b,...]``: the k-th request with that exact
body behaves as the k-th entry, and every later one answers well, so a client's retries (or a
later run) can succeed. Entries:

    429        HTTP 429 with Retry-After: 0
    500        HTTP 500
    401        HTTP 401
    timeout    answers only after ``delay`` seconds (past the client's timeout)
    malformed  HTTP 200 whose body is not JSON
    truncated  HTTP 200 whose body stops half way (Content-Length promises more)
    cutoff     HTTP 200, finish_reason=length and the JSON reply cut off
    badlabel   HTTP 200 with a label outside any allowed set
    slow       answers well once ``gate`` is set
    huge       HTTP 200 whose reply text is ``huge`` bytes (sent in 1 MB chunks, never built
               whole), with a Content-Length
    hugestream the same without a Content-Length: the body ends when the connection closes
    deep       HTTP 200 whose reply content is a JSON array nested 100,000 deep

HTTP errors echo the request's path and Authorization header in their body, as careless
servers do. ``paths`` and ``authorizations`` list what each request carried.

A good answer echoes the task: ``{"label": X}`` (X from a ``[label=X]`` cue, else the first label
offered), ``{"score": X, "reason": ...}`` (X from a ``[score=X]`` cue, read as JSON, else 3),
``{"answer": ...}`` or ``{"text": ...}``, made unique by the request's ``seed``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_FAIL = re.compile(r"\[fail=([a-z0-9,]+)\]")
_LABEL = re.compile(r"\[label=([^\]]+)\]")
_SCORE = re.compile(r"\[score=([^\]]+)\]")
_OFFERED = re.compile(r"one of these labels: ([^.\n]+)\.")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # clients that gave up: expected here
        pass


class FakeOpenAI:
    """Start with ``with FakeOpenAI() as server:``; ``server.url`` is the endpoint."""

    def __init__(self, delay: float = 1.0, huge: int = 50_000_000) -> None:
        self.delay = delay
        self.huge = huge
        self.paths: list[str] = []
        self.authorizations: list[str | None] = []
        self.gate = threading.Event()
        self.counts: Counter[str] = Counter()  # request key -> requests received
        self.prompts: dict[str, str] = {}      # request key -> user message
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)

    def sent_for(self, marker: str, since: Counter[str] | None = None) -> int:
        """Requests received whose user message contains ``marker`` (after ``since``)."""
        now = self.snapshot()
        return sum(n - (since or Counter())[k] for k, n in now.items()
                   if marker in self.prompts[k])

    def _reply(self, body: dict, behaviour: str, key: str) -> bytes:
        user = body["messages"][-1]["content"]
        seed = body.get("seed")
        finish = "stop"
        if '{"label"' in user:
            cue = _LABEL.search(user)
            label = cue.group(1) if cue else _OFFERED.search(user).group(1).split(", ")[0]
            content = json.dumps({"label": "not-a-label" if behaviour == "badlabel" else label})
        elif '{"score"' in user:  # a judge: the score of a [score=X] cue (X as JSON), else 3
            cue = _SCORE.search(user)
            try:
                score = json.loads(cue.group(1)) if cue else 3
            except json.JSONDecodeError:
                score = cue.group(1)
            content = json.dumps({"score": score, "reason": f"judged {key[:10]}"})
        elif '{"answer"' in user:
            content = json.dumps({"answer": f"answer {seed} to {key[:10]}"})
        else:
            content = json.dumps({"text": f"text {seed} for {key[:10]}"})
        if behaviour == "deep":
            content = '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}"
        if behaviour == "cutoff":
            content, finish = content[: len(content) // 2], "length"
        payload = {"id": "chatcmpl-" + key[:12], "object": "chat.completion",
                   "model": body.get("model"),
                   "choices": [{"index": 0, "finish_reason": finish,
                                "message": {"role": "assistant", "content": content}}]}
        return json.dumps(payload).encode()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw)
                key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
                user = body["messages"][-1]["content"]
                with server._lock:
                    server.paths.append(self.path)
                    server.authorizations.append(self.headers.get("Authorization"))
                    server.counts[key] += 1
                    server.prompts[key] = user
                    attempt = server.counts[key]
                cue = _FAIL.search(user)
                plan = cue.group(1).split(",") if cue else []
                behaviour = plan[attempt - 1] if attempt <= len(plan) else "ok"
                if behaviour in ("429", "500", "401"):
                    data = json.dumps({"error": {"message": behaviour, "path": self.path,
                                                 "auth": self.headers.get("Authorization")}}
                                      ).encode()
                    self.send_response(int(behaviour))
                    if behaviour == "429":
                        self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if behaviour == "timeout":
                    time.sleep(server.delay)
                if behaviour == "slow":
                    server.gate.wait(30)
                if behaviour in ("huge", "hugestream"):
                    self._send_huge(server.huge, declared=behaviour == "huge")
                    return
                data = (b'{"choices": [{"message": oops' if behaviour == "malformed"
                        else server._reply(body, behaviour, key))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if behaviour == "truncated":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def _send_huge(self, size, declared):
                head = b'{"choices": [{"finish_reason": "stop", "message": {"content": "{\\"text\\": \\"'
                tail = b'\\"}"}}]}'
                chunk = b"A" * 2**20
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if declared:
                    self.send_header("Content-Length", str(len(head) + size + len(tail)))
                self.end_headers()
                self.wfile.write(head)
                for start in range(0, size, len(chunk)):
                    self.wfile.write(chunk[: min(len(chunk), size - start)])
                self.wfile.write(tail)
                self.close_connection = True

        return Handler
