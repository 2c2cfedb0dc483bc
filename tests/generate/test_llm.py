"""The LLM generator against a misbehaving OpenAI-compatible server on 127.0.0.1.

Every request the server sees is counted, so the tests can assert what a run re-sends.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from hashlib import sha256

import pytest
from fake_openai import FakeOpenAI

from tether import Store
from tether.errors import GenerationError, StoreError
from tether.generate import run
from tether.generate.llm import LLMCache, LLMGenerator, RequestFailed, parse_output

FAST = {"timeout": 0.5, "max_attempts": 3, "backoff": 0.01, "max_backoff": 0.02,
        "concurrency": 4}
RECOVER = ["[fail=429]", "[fail=500,500]", "[fail=timeout]", "[fail=truncated]", "[fail=429,500]"]
FAIL_ONCE = ["[fail=500,500,500]", "[fail=truncated,truncated,truncated]", "[fail=malformed]",
             "[fail=cutoff]"]


@pytest.fixture
def server():
    with FakeOpenAI(delay=1.0) as s:
        yield s


def generator(server, tmp_path, **options):
    return LLMGenerator(server.url, "fake-model", **{**FAST, "cache": tmp_path / "llm.sqlite",
                                                      **options})


def ingest_seeds(store, rows, labelled=True):
    store.ingest("seeds", rows, origin="real", label_origin="real" if labelled else None)


# ------------------------------------------------------------------ parsing and validation
@pytest.mark.parametrize("content, labels, expected", [
    ('{"text": " a paraphrase "}', None, "a paraphrase"),
    ('```json\n{"text": "fenced"}\n```', None, "fenced"),
    ('{"label": "sport"}', ["business", "sport"], "sport"),
    ('{"label": "SPORT"}', ["business", "sport"], "sport"),
])
def test_parse_output_accepts_valid_replies(content, labels, expected):
    field = "label" if labels else "text"
    assert parse_output(content, field, labels) == expected


@pytest.mark.parametrize("content, labels, reason", [
    ('{"text": "cut off', None, "not valid JSON"),
    ("[1, 2]", None, "non-empty string field"),
    ('{"text": ""}', None, "non-empty string field"),
    ('{"answer": "x"}', None, "non-empty string field"),
    ('{"label": "weather"}', ["business", "sport"], "not one of"),
])
def test_parse_output_rejects_invalid_replies(content, labels, reason):
    field = "label" if labels else "text"
    with pytest.raises(RequestFailed, match=reason):
        parse_output(content, field, labels)


@pytest.mark.parametrize("options, message", [
    ({"task": "summarise"}, "unknown task"),
    ({"task": "label"}, "at least two"),
    ({"task": "label", "labels": ["a", "b"], "n_per_seed": 2}, "one label per input"),
    ({"n_per_seed": 0}, "at least 1"),
    ({"template": "{% if %}"}, "does not parse"),
    ({"template": "{% include 'secrets.txt' %}"}, "cannot include other files"),
    ({"template": "{% extends 'base.j2' %}"}, "cannot include other files"),
])
def test_bad_configuration_is_a_generation_error(tmp_path, options, message):
    with pytest.raises(GenerationError, match=message):
        LLMGenerator("http://127.0.0.1:9/v1", "m", cache=":memory:", **options)


def test_config_names_what_determines_the_output(tmp_path):
    a = LLMGenerator("http://h/v1/", "gpt 4", cache=":memory:", temperature=0.2)
    b = LLMGenerator("http://h/v1", "gpt 4", cache=":memory:", temperature=0.2,
                     template="Rephrase: {{ text }}", model_version="2024-08")
    assert a.ref == "llm:gpt-4@gpt-4" and b.ref == "llm:gpt-4@2024-08"
    ca, cb = a.config(), b.config()
    assert {k: ca[k] for k in ("endpoint", "model", "task", "temperature")} == \
        {"endpoint": "http://h/v1", "model": "gpt 4", "task": "paraphrase", "temperature": 0.2}
    assert ca["template_hash"] != cb["template_hash"]
    a.close(), b.close()


# --------------------------------------------------------------- the run against the server
def test_every_item_is_stored_once_or_failed_and_a_rerun_sends_only_the_failures(
        server, tmp_path, store):
    rows = ([{"id": f"ok{i}", "text": f"plain article {i}", "label": "sport"} for i in range(4)]
            + [{"id": f"rec{i}", "text": f"article {cue}", "label": "business"}
               for i, cue in enumerate(RECOVER)]
            + [{"id": f"bad{i}", "text": f"article {cue}", "label": "business"}
               for i, cue in enumerate(FAIL_ONCE)])
    ingest_seeds(store, rows)
    with generator(server, tmp_path, n_per_seed=2) as gen:
        first = run(store, gen, "seeds", "para", seed=0, run_id="r1", batch_size=5)
        out = store.table("para").to_pylist()
        failures = store.failures("r1")
        stored = Counter(p for row in out for p in row["parents"])
        failed = Counter(p for f in failures for p in f["parents"])
        assert (first.added, first.failed) == (2 * 9, 2 * 4)
        assert all(stored[r["id"]] + failed[r["id"]] == 2 for r in rows)
        assert set(failed) == {f"bad{i}" for i in range(4)}
        assert len({row["text"] for row in out}) == len(out)
        reasons = " | ".join(f["reason"] for f in failures)
        for expected in ("gave up after 3 attempts; last: HTTP 500",
                         "gave up after 3 attempts; last: connection error",
                         "malformed response body", "finish_reason=length"):
            assert expected in reasons

        before = server.snapshot()
        second = run(store, gen, "seeds", "para", seed=0, run_id="r1", batch_size=5)
        sent = server.snapshot() - before
    assert (second.added, second.failed) == (8, 0)
    assert sum(sent.values()) == 8 and set(sent.values()) == {1}
    assert all(any(cue in server.prompts[k] for cue in FAIL_ONCE) for k in sent)
    out = store.table("para").to_pylist()
    assert Counter(p for row in out for p in row["parents"]) == {r["id"]: 2 for r in rows}
    assert store.run("r1")["status"] == "complete" and store.run("r1")["failed"] == 0
    with pytest.raises(StoreError, match="already complete"):
        with generator(server, tmp_path, n_per_seed=2) as gen:
            run(store, gen, "seeds", "para", seed=0, run_id="r1")

    sample = out[0]
    config = json.loads(sample["generator_config"])
    assert (sample["origin"], sample["family"], sample["generator"], sample["generation"]) == \
        ("synthetic", "model", "llm:fake-model@fake-model", 1)
    assert (sample["label"], sample["label_origin"]) == ("sport", "synthetic")
    assert config["task"] == "paraphrase" and config["n_per_seed"] == 2
    assert len(config["template_hash"]) == 16


def test_same_seed_sends_nothing_twice_and_another_seed_sends_new_requests(server, tmp_path):
    rows = [{"id": f"s{i}", "text": f"seed {i}", "label": "x"} for i in range(3)]
    texts = {}
    for name in ("a", "b"):
        with Store(tmp_path / f"{name}.duckdb") as s, \
                generator(server, tmp_path, n_per_seed=2) as gen:
            ingest_seeds(s, rows)
            before = server.snapshot()
            run(s, gen, "seeds", "para", seed=0)
            texts[name] = s.table("para").column("text").to_pylist()
            texts[name + "-sent"] = sum((server.snapshot() - before).values())
            if name == "b":
                run(s, gen, "seeds", "para-seed1", seed=1)
                texts["seed1"] = s.table("para-seed1").column("text").to_pylist()
    assert texts["a-sent"] == 6 and texts["b-sent"] == 0
    assert texts["a"] == texts["b"]
    assert not set(texts["seed1"]) & set(texts["a"])
    assert len(LLMCache(tmp_path / "llm.sqlite")) == 12


def test_label_task_keeps_the_real_input_and_makes_the_label_synthetic(server, tmp_path, store):
    rows = [{"id": "u1", "text": "match report [label=sport]", "lang": "en"},
            {"id": "u2", "text": "markets fell [label=business]"},
            {"id": "u3", "text": "shouty [label=SPORT]"},
            {"id": "u4", "text": "odd one [fail=badlabel]"}]
    ingest_seeds(store, rows, labelled=False)
    with generator(server, tmp_path, task="label", labels=["business", "sport"]) as gen:
        result = run(store, gen, "seeds", "labelled", seed=0)
    out = {row["parents"][0]: row for row in store.table("labelled").to_pylist()}
    assert (result.added, result.failed) == (3, 1)
    assert {k: v["label"] for k, v in out.items()} == {"u1": "sport", "u2": "business",
                                                       "u3": "sport"}
    assert {(v["origin"], v["label_origin"], v["family"], v["generation"]) for v in out.values()} \
        == {("real", "synthetic", "model", 0)}
    assert json.loads(out["u1"]["fields"]) == {"lang": "en"}
    assert "not one of business, sport" in store.failures(result.run_id)[0]["reason"]


def test_answer_and_write_tasks(server, tmp_path, store):
    ingest_seeds(store, [{"id": "q1", "text": "What is the capital of France?", "label": "geo"},
                         {"id": "q2", "text": "An unlabelled seed"}])
    with generator(server, tmp_path, task="answer") as gen:
        answered = run(store, gen, "seeds", "qa", seed=0)
    rows = store.table("qa").to_pylist()
    assert answered.added == 2
    assert {r["text"] for r in rows} == {"What is the capital of France?", "An unlabelled seed"}
    assert all(json.loads(r["fields"])["answer"].startswith("answer ") for r in rows)

    before = server.snapshot()
    with generator(server, tmp_path, task="write", n_per_seed=3) as gen:
        written = run(store, gen, "seeds", "written", seed=0)
    assert (written.added, written.failed) == (3, 1)
    assert server.sent_for("An unlabelled seed", since=before) == 0  # failed without a request
    assert set(store.table("written").column("label").to_pylist()) == {"geo"}
    assert "labelled seed" in store.failures(written.run_id)[0]["reason"]


def test_a_refused_client_stops_the_run(server, tmp_path, store):
    ingest_seeds(store, [{"id": "a", "text": "hello [fail=401]", "label": "x"}])
    with generator(server, tmp_path) as gen, pytest.raises(GenerationError, match="HTTP 401"):
        run(store, gen, "seeds", "para", seed=0, run_id="r401")
    assert store.run("r401")["status"] == "failed"


def test_api_key_is_sent_as_a_bearer_token(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-test")
    with LLMGenerator("http://h/v1", "m", api_key_env="MY_KEY", cache=":memory:") as gen:
        assert gen.client._http.headers["Authorization"] == "Bearer sk-test"
    with LLMGenerator("http://h/v1", "m", api_key_env="UNSET_KEY_VAR", cache=":memory:") as gen:
        assert "Authorization" not in gen.client._http.headers


# ------------------------------------------------------------------------ kill -9 and resume
KILLED_RUN = """
import sys
from tether import Store
from tether.generate import run
from tether.generate.llm import LLMGenerator
store_path, cache, url = sys.argv[1:4]
with Store(store_path) as s, LLMGenerator(url, "fake-model", cache=cache, concurrency=2,
                                          timeout=60, backoff=0.01) as gen:
    run(s, gen, "seeds", "out", seed=0, run_id="killed", batch_size=4)
"""


def _cached_server_keys(cache_path):
    try:
        con = sqlite3.connect(f"file:{cache_path}?mode=ro", uri=True)
        try:
            requests = [r[0] for r in con.execute("SELECT request FROM responses")]
        finally:
            con.close()
    except sqlite3.OperationalError:  # the run has not created the file or its table yet
        requests = []
    return {sha256(json.dumps(json.loads(r), sort_keys=True).encode()).hexdigest()
            for r in requests}


def test_killed_run_resumes_without_duplicates_or_resending(server, tmp_path):
    db, cache = tmp_path / "s.duckdb", tmp_path / "llm.sqlite"
    rows = ([{"id": f"f{i}", "text": f"fast seed {i}", "label": "x"} for i in range(6)]
            + [{"id": f"w{i}", "text": f"slow seed {i} [fail=slow]", "label": "x"}
               for i in range(6)])
    with Store(db) as s:
        ingest_seeds(s, rows)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(db), str(cache), server.url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(_cached_server_keys(cache)) < 6:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the run never cached six answers"
        time.sleep(0.05)
    while server.sent_for("[fail=slow]") == 0:  # the run is stuck on a slow request
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    at_kill, cached = server.snapshot(), _cached_server_keys(cache)
    server.gate.set()

    with Store(db) as s, LLMGenerator(server.url, "fake-model", cache=cache, **FAST) as gen:
        assert s.run("killed")["status"] == "interrupted"  # its process is gone
        stored_before = s.table("out").num_rows if s.has_dataset("out") else 0
        result = run(s, gen, "seeds", "out", seed=0, run_id="killed", batch_size=4)
        out = s.table("out").to_pylist()
        status = s.run("killed")
    resent = server.snapshot() - at_kill
    assert cached and not cached & set(resent)
    assert set(resent) and all("[fail=slow]" in server.prompts[k] for k in resent)
    assert sorted(p for row in out for p in row["parents"]) == sorted(r["id"] for r in rows)
    assert stored_before + result.added == len(rows) and result.failed == 0
    assert (status["status"], status["failed"]) == ("complete", 0)


# ------------------------------------------------------------------ output checks (pure)
from tether.generate.llm import (  # noqa: E402
    check_output, failure_kind, is_degenerate, jaccard, local_model_path, parse_plain,
    strip_preamble)

SEED = "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn for the quarter."


@pytest.mark.parametrize("reply, kind", [
    ("<the paraphrase>", "placeholder"),
    ('The text: <the new text>', "placeholder"),
    ("...", "empty"),
    ("   ", "empty"),
    ("Reply with the rewritten text only.", "instruction echo"),
    ("Profits rose. Reply with one JSON object whose text field holds it.", "instruction echo"),
    ("news news news news news news", "degenerate"),
    ("the deal is off the deal is off the deal is off", "degenerate"),
    (SEED, "copy of the seed"),
    (SEED.upper() + "  ", "copy of the seed"),
    ("Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn for the quarter!!",
     "copy of the seed"),
    ("Quarterly profits at the US media giant TimeWarner jumped 76% to $1.13bn for the quarter.",
     "near-copy of the seed"),
])
def test_check_output_rejects_what_is_not_a_paraphrase(reply, kind):
    with pytest.raises(RequestFailed) as info:
        check_output(reply, SEED)
    assert failure_kind(str(info.value)) == kind


@pytest.mark.parametrize("reply, expected", [
    ("Translated into English, this phrase is: TimeWarner's profit grew by three quarters.",
     "TimeWarner's profit grew by three quarters."),
    ("Sure, here is the paraphrase:\nTimeWarner's profit grew by three quarters.",
     "TimeWarner's profit grew by three quarters."),
    ("Here's a paraphrase: \"TimeWarner's profit grew by three quarters.\"",
     "TimeWarner's profit grew by three quarters."),
    ("Here is the revised text:\nTimeWarner's profit grew by three quarters.",
     "TimeWarner's profit grew by three quarters."),
    ("TimeWarner's profit grew by three quarters.", "TimeWarner's profit grew by three quarters."),
])
def test_check_output_strips_a_preamble(reply, expected):
    assert check_output(reply, SEED) == expected


def test_a_preamble_with_nothing_after_it_is_not_stripped_to_nothing():
    assert strip_preamble("Here's a paraphrase:") == "Here's a paraphrase:"


def test_answers_are_not_checked_against_the_seed_as_copies():
    assert check_output("Paris", "Paris", copy_check=False) == "Paris"


def test_similarity_and_degeneracy_helpers():
    assert jaccard("a b c", "a b c") == 1.0
    assert jaccard("a b", "c d") == 0.0
    assert not is_degenerate("one two three four five six")
    assert is_degenerate("ok ok ok ok ok")


def test_plain_text_replies_are_not_parsed_as_json():
    assert parse_plain("Profits rose sharply.\n", "text") == "Profits rose sharply."
    assert parse_plain('"Profits rose."', "text") == "Profits rose."
    with pytest.raises(RequestFailed, match="empty"):
        parse_plain("  ", "text")
    with pytest.raises(RequestFailed, match="not one of"):
        parse_plain("weather", "label", ["sport", "tech"])


def test_local_model_path_is_a_gguf_or_none():
    path = local_model_path()
    assert path is None or (path.suffix == ".gguf" and path.is_file())


def test_a_dead_endpoint_stops_the_run_quickly(tmp_path, store):
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    ingest_seeds(store, [{"id": f"s{i}", "text": f"seed {i}", "label": "a"} for i in range(20)])
    gen = LLMGenerator(f"http://127.0.0.1:{port}/v1", "m", cache=tmp_path / "c.sqlite",
                       max_attempts=5, backoff=1.0)
    start = time.monotonic()
    with gen, pytest.raises(GenerationError, match="cannot connect"):
        run(store, gen, "seeds", "out", seed=0)
    assert time.monotonic() - start < 5
    assert gen.client.sent <= gen.client.concurrency


# ------------------------------------------------------------ hostile replies and secrets
@pytest.mark.parametrize("cue", ["[fail=huge]", "[fail=hugestream]"])
def test_a_huge_reply_is_one_failure_never_read_whole(server, tmp_path, store, cue):
    import tracemalloc

    from tether.io import MAX_RECORD_BYTES

    ingest_seeds(store, [{"id": "big", "text": f"article {cue}", "label": "x"},
                         {"id": "ok", "text": "a plain article", "label": "x"}])
    tracemalloc.start()
    try:
        with generator(server, tmp_path) as gen:
            result = run(store, gen, "seeds", "para", seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (result.added, result.failed) == (1, 1)
    (failure,) = store.failures(result.run_id)
    assert failure["parents"] == ["big"]
    assert failure["reason"] == f"reply larger than {MAX_RECORD_BYTES} bytes"
    assert server.huge == 50_000_000 and peak < 40_000_000  # at most the cap was held, once
    assert store.table("para").column("text").to_pylist()[0].startswith("text ")


def test_a_deeply_nested_reply_is_one_failure_not_the_end_of_the_run(server, tmp_path, store):
    ingest_seeds(store, [{"id": "deep", "text": "article [fail=deep]", "label": "x"}]
                 + [{"id": f"ok{i}", "text": f"plain article {i}", "label": "x"} for i in range(3)])
    with generator(server, tmp_path) as gen:
        result = run(store, gen, "seeds", "para", seed=0)
    assert (result.added, result.failed) == (3, 1)
    (failure,) = store.failures(result.run_id)
    assert failure["parents"] == ["deep"] and "nested too deeply" in failure["reason"]
    assert store.run(result.run_id)["status"] == "complete"


def test_deeply_nested_json_is_a_parse_failure():
    from tether.generate.llm import parse_plain

    deep = '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(RequestFailed, match="nested too deeply"):
        parse_output(deep, "text")
    assert parse_plain(deep, "text") == deep  # plain mode: not JSON, kept as the text


@pytest.mark.parametrize("url, expected", [
    ("http://user:sk-1@h:8000/v1", "http://***@h:8000/v1"),
    ("https://sk-1@h/v1/", "https://***@h/v1/"),
    ("http://h/v1?api-key=sk-1&api-version=2024-02&key=k2&token=t3&access_token=t4&sig=s5",
     "http://h/v1?api-key=***&api-version=2024-02&key=***&token=***&access_token=***&sig=***"),
    ("http://h/v1?API_KEY=x%20y", "http://h/v1?API_KEY=***"),
    ("http://localhost:8000/v1", "http://localhost:8000/v1"),
    ("http://h/v1?api-version=1&q=", "http://h/v1?api-version=1&q="),
])
def test_redact_url(url, expected):
    from tether.generate.llm import redact_url

    assert redact_url(url) == expected


SECRETS = ("u53rname", "pa55word-secret", "query-key-secret", "k2-secret", "tok3n-secret")


def secret_url(server):
    host = server.url.removeprefix("http://")
    return (f"http://{SECRETS[0]}:{SECRETS[1]}@{host}?api-key={SECRETS[2]}&api-version=7"
            f"&key={SECRETS[3]}&token={SECRETS[4]}")


def test_secrets_in_the_endpoint_are_used_but_never_stored_or_printed(server, tmp_path,
                                                                      monkeypatch):
    from typer.testing import CliRunner

    from tether.cli import app

    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-secret")
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        ingest_seeds(s, [{"id": f"s{i}", "text": f"seed {i}", "label": "x"} for i in range(3)])
    cli = CliRunner()
    out = cli.invoke(app, ["generate", "llm", "--from", "seeds", "--into", "para", "--endpoint",
                           secret_url(server), "--model", "fake-model", "--store", str(db)])
    assert out.exit_code == 0, out.output
    exported = cli.invoke(app, ["export", "para", "--out", str(tmp_path / "para.jsonl"),
                                "--store", str(db)])
    assert exported.exit_code == 0, exported.output
    # the real URL was used: the credentials reached the server
    assert server.paths[0] == (f"/v1/chat/completions?api-key={SECRETS[2]}&api-version=7"
                               f"&key={SECRETS[3]}&token={SECRETS[4]}")
    with Store(db) as s:
        (run_row,) = [r for r in s.runs() if r["kind"] == "generate"]
        stored = json.loads(run_row["generator_config"])["endpoint"]
        config = json.loads(s.table("para").column("generator_config").to_pylist()[0])
    assert stored == config["endpoint"] == (
        f"http://***@{server.url.removeprefix('http://')}?api-key=***&api-version=7"
        f"&key=***&token=***")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".sqlite" for p in files) and any(p.suffix == ".jsonl" for p in files)
    for secret in (*SECRETS, "sk-env-secret"):
        assert secret not in out.output + exported.output
        for path in files:
            assert secret.encode() not in path.read_bytes(), (secret, path)


def test_a_refusal_does_not_print_the_key(server, tmp_path, store, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-secret")
    ingest_seeds(store, [{"id": "a", "text": "hello [fail=401]", "label": "x"}])
    host = server.url.removeprefix("http://")
    url = f"http://{host}?api-key={SECRETS[2]}"
    with LLMGenerator(url, "fake-model", **{**FAST, "cache": tmp_path / "c.sqlite"}) as gen, \
            pytest.raises(GenerationError, match="HTTP 401") as err:
        run(store, gen, "seeds", "para", seed=0)
    assert server.authorizations[0] == "Bearer sk-env-secret"  # sent, and echoed back
    message = str(err.value)
    assert "sk-env-secret" not in message and SECRETS[2] not in message
    assert "Bearer ***" in message and "api-key=***" in message


def test_the_prompt_template_renders_in_the_bounded_sandbox(tmp_path):
    with LLMGenerator("http://127.0.0.1:9/v1", "m", cache=":memory:",
                      template="{{ row.__class__.__mro__ }}") as gen, \
            pytest.raises(GenerationError, match="prompt template"):
        gen.messages({"id": "a", "text": "x"})
    with LLMGenerator("http://127.0.0.1:9/v1", "m", cache=":memory:",
                      template="{{ text * 100000000 }}") as gen, \
            pytest.raises(GenerationError, match="over the 16 MB cap"):
        gen.messages({"id": "a", "text": "x"})
