"""The LLM generator against a real OpenAI-compatible server: llama.cpp with SmolLM2-135M.

A 135M model writes poor paraphrases; what is tested is that the run stores only what passed
the output checks (no placeholders, no copies of the seed, plain text in plain-text mode),
records every rejected reply with its reason, keeps the quality summary with the run, and
re-runs from the cache alone. Skipped without the ``local-llm`` extra (see ``conftest.py``);
the caching decision, the summary and the warning are also tested against the fake server.
"""

from __future__ import annotations

import json
import re

import pytest

from tether.generate import GenerateResult, run
from tether.generate.llm import LLMGenerator, failure_kind, quality_warning, tokens

N_SEEDS = 8
PLACEHOLDER = re.compile(r"<[^<>]*>|^\s*\.\.\.\s*$")


def _first_sentence(text: str) -> str:
    body = [line for line in text.splitlines() if line.strip()][1]
    return body.split(". ")[0].rstrip(".") + "."


@pytest.fixture(scope="module")
def bbc_seeds(bbc):
    rows = bbc.to_pylist()
    step = len(rows) // N_SEEDS
    # the first sentence of each article: a paraphrase then fits in max_tokens=64
    return [{"id": rows[i]["id"], "text": _first_sentence(rows[i]["text"]),
             "label": rows[i]["label"]} for i in range(0, step * N_SEEDS, step)]


def _unanswered(quality):
    """Failures without a complete answer, which the cache does not keep."""
    return sum(n for kind, n in quality["failed"].items()
               if kind in ("output cut off at max_tokens", "gave up after 2 attempts",
                           "malformed response body"))


def _run(store, url, tmp_path, json_mode, into):
    gen = LLMGenerator(url, "smollm2-135m", task="paraphrase", json_mode=json_mode,
                       max_tokens=64, temperature=0.7, concurrency=2, timeout=60,
                       max_attempts=2, cache=tmp_path / "llm.sqlite")
    with gen:
        result = run(store, gen, "seeds", into, seed=0)
        return result, gen.quality_summary(), gen.client.sent, len(gen.client.cache)


@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "plain"])
def test_paraphrases_from_a_real_model_are_checked(llama_server, store, tmp_path, bbc_seeds,
                                                   json_mode):
    store.ingest("seeds", bbc_seeds, origin="real", label_origin="real")
    result, quality, sent, cached = _run(store, llama_server, tmp_path, json_mode, "para")
    assert sent >= N_SEEDS  # one request per seed (plus retries of transport errors)
    # every complete answer is cached, parsed or not (bad JSON, a label outside the set, a
    # placeholder echo); what is not an answer (cut off at max_tokens, transport errors) is not
    unanswered = _unanswered(quality)
    assert cached == N_SEEDS - unanswered
    print(f"json_mode={json_mode}: {quality}")
    assert result.added + result.failed == N_SEEDS
    assert quality["requests"] == N_SEEDS and quality["stored"] == result.added
    assert sum(quality["failed"].values()) == result.failed
    # the quality summary is the run's: on the result, in --json and on the run record
    assert result.summary == quality == result.to_dict()["summary"]
    assert json.loads(store.run(result.run_id)["summary"]) == quality

    seeds = {row["id"]: row["text"] for row in bbc_seeds}
    samples = store.records("para") if result.added else []
    for sample in samples:
        text = sample["text"]
        assert text.strip() and not PLACEHOLDER.search(text), text
        parent = seeds[sample["parents"][0]]
        assert tokens(text) != tokens(parent), text
        if not json_mode:  # plain text stays plain text
            assert not text.lstrip().startswith("{"), text
            with pytest.raises(ValueError):
                json.loads(text)
    failures = store.failures(result.run_id)
    assert len(failures) == result.failed
    for failure in failures:
        assert failure["reason"] and failure_kind(failure["reason"]), failure
        assert failure["parents"][0] in seeds

    # the same run again: every answer comes from the cache; only unanswered requests are sent
    again, quality2, sent2, cached2 = _run(store, llama_server, tmp_path, json_mode, "para2")
    assert sent2 == N_SEEDS - cached == unanswered
    # a re-sent request may come back complete this time (llama.cpp does not repeat a seeded
    # sample exactly once its prompt cache has changed): it is cached now, the rest stay out
    assert cached2 == cached + unanswered - _unanswered(quality2)
    assert again.added + again.failed == N_SEEDS
    if unanswered == 0:
        assert quality2 == quality


# ------------------------------------------------------------------ without the extra: the fake
# server stands in for the model, so these run everywhere


@pytest.fixture
def fake():
    from fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


def _labeller(url, tmp_path):
    return LLMGenerator(url, "fake-model", task="label", labels=["business", "sport"],
                        cache=tmp_path / "llm.sqlite", max_attempts=2, backoff=0.01)


def test_wrong_answers_are_cached_cut_off_ones_are_not(fake, store, tmp_path):
    """The caching decision (see the module docstring of tether.generate.llm): a complete
    answer that fails validation is cached and comes back the same; a reply cut off at
    max_tokens is not an answer, is not cached, and is asked again."""
    store.ingest("inbox", [{"id": "ok", "text": "a match"},
                           {"id": "bad", "text": "odd [fail=badlabel]"},
                           {"id": "cut", "text": "long [fail=cutoff]"}], origin="real")
    with _labeller(fake.url, tmp_path) as gen:
        first = run(store, gen, "inbox", "l1", seed=0)
        assert (first.added, first.failed, gen.client.sent, len(gen.client.cache)) == (1, 2, 3, 2)
    reasons = {f["parents"][0]: f["reason"] for f in store.failures(first.run_id)}
    assert "not one of business, sport" in reasons["bad"]
    assert reasons["cut"].startswith("output cut off")
    before = fake.snapshot()
    with _labeller(fake.url, tmp_path) as gen:
        again = run(store, gen, "inbox", "l2", seed=0)
        assert (gen.client.sent, gen.client.hits) == (1, 2)
    assert fake.sent_for("[fail=cutoff]", since=before) == 1
    assert fake.sent_for("[fail=badlabel]", since=before) == 0
    # the wrong label comes back from the cache as the same failure; the cut-off one, asked
    # again, was answered this time
    assert (again.added, again.failed) == (2, 1)
    assert [f["reason"] for f in store.failures(again.run_id)] == [reasons["bad"]]


def test_the_quality_summary_is_kept_with_the_run(fake, store, tmp_path):
    store.ingest("seeds", [{"id": f"s{i}", "text": f"seed {i}", "label": "x"} for i in range(4)],
                 origin="real", label_origin="real")
    seen = []
    with LLMGenerator(fake.url, "fake-model", cache=tmp_path / "c.sqlite") as gen:
        gen.on_reply = lambda g: seen.append(g.quality_summary()["requests"])
        result = run(store, gen, "seeds", "para", seed=0)
    assert seen == [1, 2, 3, 4]  # the progress hook sees every reply
    summary = result.summary
    assert (summary["requests"], summary["stored"], summary["failed"], summary["warning"]) == \
        (4, 4, {}, None)
    assert result.to_dict()["summary"] == summary
    assert json.loads(store.run(result.run_id)["summary"]) == summary
    assert GenerateResult.from_dict(result.to_dict()).summary == summary


def test_most_replies_unusable_warns_in_the_cli(fake, tmp_path):
    from typer.testing import CliRunner

    from tether import Store
    from tether.cli import app

    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        s.ingest("inbox", [{"id": f"u{i}", "text": f"odd {i} [fail=badlabel]"} for i in range(3)]
                 + [{"id": "u9", "text": "fine"}], origin="real")
    args = ["generate", "llm", "--from", "inbox", "--into", "l", "--endpoint", fake.url,
            "--model", "fake-model", "--task", "label", "--labels", "business,sport",
            "--store", str(db)]
    out = CliRunner().invoke(app, args, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert "quality: 1 of 4 stored" in out.stdout
    assert "warning: 3 of 4 replies failed (label 'not-a-label' is not one of business, " \
           "sport); the model may be too small for JSON mode; try --no-json-mode" in out.stderr
    data = json.loads(CliRunner().invoke(app, [*args[:5], "l2", *args[6:], "--json"]).stdout)
    assert data["summary"]["failed"] == {"label 'not-a-label' is not one of business, sport": 3}


@pytest.mark.parametrize("failed_by, duplicates, expected", [
    ({"placeholder": 14, "degenerate": 2}, 0,
     "14 of 20 replies echoed the prompt's example; the model may be too small for JSON mode"),
    ({"placeholder": 6, "degenerate": 5}, 0,
     "11 of 20 replies were unusable (placeholder 6, degenerate 5)"),
    ({"degenerate": 4}, 8, "12 of 20 replies were unusable (duplicates 8, degenerate 4)"),
    ({"degenerate": 10}, 0, None),  # half is not most
    # requests without a reply are left out: 2 of 5 replies, then 3 of 5
    ({"gave up after 5 attempts": 15, "degenerate": 2}, 0, None),
    ({"gave up after 5 attempts": 15, "degenerate": 3}, 0, "3 of 5 replies repeated themselves"),
])
def test_quality_warning(failed_by, duplicates, expected):
    warning = quality_warning(failed_by, duplicates, 20, True)
    assert warning == expected if expected is None else warning.startswith(expected)


# --------------------------------------------------------------- tether judge, the real model
JUDGED = [("What is the capital of France?", "Paris."), ("What is 2 + 2?", "5"),
          ("Who wrote Hamlet?", "William Shakespeare."), ("What colour is the sky?", "Green."),
          ("How many legs has a spider?", "Eight."), ("What is water made of?", "Hydrogen.")]


def _cached_replies(cache):
    """The answer judged -> the judge's raw reply, read from the request cache (SQLite)."""
    import sqlite3

    con = sqlite3.connect(cache)
    try:
        rows = con.execute("SELECT request, response FROM responses").fetchall()
    finally:
        con.close()
    replies = {}
    for request, response in rows:
        user = json.loads(request)["messages"][-1]["content"]
        answer = user.split("Answer:\n", 1)[1].split("\n\nGive a score", 1)[0]
        replies[answer] = response
    return replies


@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "plain"])
def test_tether_judge_with_a_real_model_scores_or_fails_never_makes_a_score_up(
        llama_server, tmp_path, json_mode):
    """`tether judge --from --into --out --run-id` through llama.cpp: every reply ends as a
    score on the scale (the number the raw reply holds) or as a failure kept with its raw reply;
    the same --run-id again sends nothing answered and writes nothing twice."""
    from typer.testing import CliRunner

    from tether import Store
    from tether.cli import app
    from tether.errors import StoreError
    from tether.generate.judge import Rubric, Unscored, failures_path, parse_score

    db, cache, out = tmp_path / "s.duckdb", tmp_path / "llm.sqlite", tmp_path / "scores.jsonl"
    items = [{"id": f"i{k}", "question": q, "answer": a} for k, (q, a) in enumerate(JUDGED)]
    with Store(db) as s:
        s.ingest("qa", items, origin="real", text_field=None)
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("1 means wrong, 5 means correct.")
    args = ["judge", "--from", "qa", "--into", "qa-judged", "--out", out, "--run-id", "j1",
            "--rubric", rubric, "--scale", "1-5", "--endpoint", llama_server,
            "--model", "smollm2-135m", "--store", db, "--cache", cache, "--max-tokens", "48",
            "--timeout", "60", "--max-attempts", "2", "--concurrency", "2", "--json",
            *([] if json_mode else ["--no-json-mode"])]
    first = CliRunner().invoke(app, list(map(str, args)), catch_exceptions=False)
    assert first.exit_code == 0, first.output
    d = json.loads(first.stdout)
    print({k: d[k] for k in ("scored", "failed", "mean_score")}, d["failures"][:2])
    assert d["scored"] + d["failed"] == len(items) and d["judge_family"] == "smollm"

    rubric_ = Rubric("r", 1, 5)
    replies = _cached_replies(cache)
    answers = {item["id"]: item["answer"] for item in items}
    scores = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    for key, score in scores.items():  # the score is the one the raw reply holds, on the scale
        assert 1 <= score["prediction"] <= 5
        assert parse_score(replies[answers[key]], rubric_, json_mode)[0] == score["prediction"]
        assert (score["judge_model"], score["judge_family"]) == ("smollm2-135m", "smollm")
    failures = [json.loads(line) for line in failures_path(out).read_text().splitlines()]
    assert failures == d["failures"] and not set(scores) & {f["id"] for f in failures}
    for failure in failures:
        if failure["raw"] is not None:  # a reply that is no score on 1-5: kept whole, refused
            assert failure["raw"] == replies[answers[failure["id"]]]
            with pytest.raises(Unscored):
                parse_score(failure["raw"], rubric_, json_mode)
        else:  # no complete reply (cut off, transport): nothing cached, nothing scored
            assert answers[failure["id"]] not in replies
    with Store(db) as s:  # no score at all: no dataset either
        judged = s.records("qa-judged") if s.has_dataset("qa-judged") else []
        assert {r["parents"][0]: float(r["label"]) for r in judged} == {
            k: float(v["prediction"]) for k, v in scores.items()}
        assert len(s.failures("j1")) == len(failures)

    if not failures:  # a run complete without failures is not run again
        with pytest.raises(StoreError, match="already complete"):
            CliRunner().invoke(app, list(map(str, args)), catch_exceptions=False)
        return
    cached = len(replies)
    again = CliRunner().invoke(app, list(map(str, args)), catch_exceptions=False)
    assert again.exit_code == 0, again.output
    d2 = json.loads(again.stdout)
    unanswered = sum(f["raw"] is None for f in failures)
    assert len(_cached_replies(cache)) <= cached + unanswered  # only the unanswered were sent
    with Store(db) as s:
        parents = [r["parents"][0] for r in s.records("qa-judged")] \
            if s.has_dataset("qa-judged") else []
    assert len(parents) == len(set(parents)) == d2["scored"]  # nothing written twice
    if unanswered == 0:  # every reply came from the cache: the same outcome
        assert d2["failures"] == d["failures"] and d2["added"] == 0
