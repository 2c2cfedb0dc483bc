"""The LLM judge against the misbehaving fake server and against a real llama.cpp server."""

from __future__ import annotations

import json

import pytest
from fake_openai import FakeOpenAI

from tether import Store
from tether.errors import InputError
from tether.evaluate.ppi import estimate
from tether.generate.judge import (
    JudgeResult,
    Rubric,
    Unscored,
    failures_path,
    judge,
    model_family,
    parse_score,
)
from tether.generate.llm import LLMClient

FAST = {"timeout": 0.5, "max_attempts": 3, "backoff": 0.01, "max_backoff": 0.02,
        "concurrency": 4}
RUBRIC = Rubric("Is the answer correct and complete?", 1, 5)


@pytest.fixture
def server():
    with FakeOpenAI(delay=1.0) as s:
        yield s


def client(server, tmp_path, **options):
    return LLMClient(server.url, "fake-gpt-judge", **{**FAST, "cache": tmp_path / "llm.sqlite",
                                                       **options})


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# --------------------------------------------------------------------------------- parsing
@pytest.mark.parametrize("content, json_mode, expected", [
    ('{"score": 4, "reason": "right"}', True, (4, "right")),
    ('```json\n{"score": "2"}\n```', True, (2, None)),
    ('{"score": 3.5}', True, (3.5, None)),
    ("4", False, (4, None)),
    ("Score: 5/5", False, (5, None)),
    ("**3** out of 5", False, (3, None)),
    ('{"score": 1}', False, (1, None)),
])
def test_parse_score_accepts_scores_on_the_range(content, json_mode, expected):
    assert parse_score(content, RUBRIC, json_mode) == expected


@pytest.mark.parametrize("content, json_mode, kind", [
    ('{"score": 6}', True, "score out of range"),
    ('{"score": 0}', True, "score out of range"),
    ('{"score": "great"}', True, "not a score"),
    ('{"score": true}', True, "not a score"),
    ('{"score": NaN}', True, "not a score"),
    ('{"grade": 4}', True, "not a score"),
    ("4", True, "not a score"),
    ("I think it deserves a 4 because", False, "not a score"),
    ("Score: -1", False, "score out of range"),
])
def test_parse_score_refuses_anything_else_with_the_raw_reply(content, json_mode, kind):
    with pytest.raises(Unscored) as info:
        parse_score(content, RUBRIC, json_mode)
    assert str(info.value).startswith(kind) and info.value.raw == content


def test_rubric_scale_and_family():
    assert Rubric.parse("ok?", "0-1").scale == [0, 1]
    for bad in ("5-1", "1to5", "1-"):
        with pytest.raises(InputError) as info:
            Rubric.parse("ok?", bad)
        assert info.value.field == "scale"
    with pytest.raises(InputError, match="empty"):
        Rubric("  ")
    assert model_family("meta-llama/Llama-3-8B") == "llama"


# ---------------------------------------------------------------------- the fake server
ITEMS = [{"id": "q1", "question": "2+2?", "answer": "4 [score=5]"},
         {"id": "q2", "prompt": "capital of France?", "prediction": "Lyon [score=1]"},
         {"id": "q3", "question": "why?", "answer": "because [score=4]"},
         {"id": "q4", "question": "x?", "answer": "out of range [score=9]"},
         {"id": "q5", "question": "y?", "answer": "words [score=\"good\"]"},
         {"id": "q6", "question": "z?", "answer": "dead air [fail=500,500,500]"},
         {"id": "q7", "question": "no answer"}]


def test_judge_a_jsonl_file_scores_records_failures_and_reruns_from_the_cache(server, tmp_path):
    items = _jsonl(tmp_path / "answers.jsonl", ITEMS)
    out = tmp_path / "scores.jsonl"
    c = client(server, tmp_path)
    result = judge(items, RUBRIC, c, out=out, family="gpt")
    assert result.scored == 3 and result.failed == 4
    assert result.mean_score == pytest.approx((5 + 1 + 4) / 3)
    scores = [json.loads(line) for line in out.read_text().splitlines()]
    assert {s["id"]: s["prediction"] for s in scores} == {"q1": 5, "q2": 1, "q3": 4}
    assert all(s["judge_model"] == "fake-gpt-judge" and s["judge_family"] == "gpt"
               for s in scores)
    assert all(s["judge_reason"].startswith("judged") for s in scores)
    failures = {f["id"]: f for f in map(json.loads, failures_path(out).read_text().splitlines())}
    assert set(failures) == {"q4", "q5", "q6", "q7"}  # never among the scores
    assert failures["q4"]["reason"].startswith("score out of range")
    assert json.loads(failures["q4"]["raw"])["score"] == 9  # the raw reply, whole
    assert json.loads(failures["q5"]["raw"])["score"] == "good"
    assert failures["q6"]["raw"] is None and "gave up" in failures["q6"]["reason"]
    assert "no answer" in failures["q7"]["reason"]
    assert JudgeResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    # the prompt names the rubric, the question and the answer, and asks for JSON
    prompt = next(p for p in server.prompts.values() if "2+2?" in p)
    assert RUBRIC.criteria in prompt and "4 [score=5]" in prompt and '{"score"' in prompt

    c.close()
    # a rerun reads every complete answer from the cache, unparseable ones too; only the item
    # that got no answer (three HTTP 500s) is sent again, and now it is answered
    c2 = client(server, tmp_path)
    again = judge(items, RUBRIC, c2, out=tmp_path / "again.jsonl", family="gpt")
    assert (again.scored, again.failed, c2.sent, c2.hits) == (4, 3, 1, 5)
    assert server.sent_for("dead air") == 4
    c2.close()


def test_judge_a_store_dataset_writes_scores_as_synthetic_labels(server, tmp_path):
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        s.ingest("qa", ITEMS[:5], origin="real", text_field=None)
        c = client(server, tmp_path)
        result = judge(s, RUBRIC, c, dataset="qa", into="qa-judged", out=tmp_path / "s.jsonl",
                       run_id="j1")
        assert (result.dataset, result.run_id, result.added, result.scored) == \
            ("qa-judged", "j1", 3, 3)
        judged = {r["parents"][0]: r for r in s.records("qa-judged")}
        assert set(judged) == {"q1", "q2", "q3"}
        q1 = judged["q1"]
        assert q1["label"] == "5" and q1["label_origin"] == "synthetic" and q1["origin"] == "real"
        assert q1["generator"] == "judge:fake-gpt-judge@fake-gpt-judge"
        assert q1["family"] == "model" and q1["judge_family"] == "fake"
        assert q1["judge_model"] == "fake-gpt-judge" and q1["answer"] == "4 [score=5]"
        run = s.run("j1")
        assert json.loads(run["summary"])["failed"] == {"not a score": 1, "score out of range": 1}
        assert s.summary("qa").count == 5  # the judged dataset is left as it was
        # resuming the run writes nothing twice and sends nothing again
        sent = server.snapshot()
        again = judge(s, RUBRIC, c, dataset="qa", into="qa-judged", run_id="j1")
        assert again.added == 0 and again.scored == 3 and server.snapshot() == sent
        c.close()


def test_judge_scores_feed_estimate(server, tmp_path):
    """Judge scores joined to a few human scores give a prediction-powered mean."""
    items = [{"id": f"a{i}", "question": f"q{i}", "answer": f"a [score={1 + i % 5}]"}
             for i in range(40)]
    out = tmp_path / "scores.jsonl"
    c = client(server, tmp_path)
    judge(items, RUBRIC, c, out=out)
    c.close()
    scores = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    gold = [{"label": min(5, scores[f"a{i}"]["prediction"] + i % 2),
             "prediction": scores[f"a{i}"]["prediction"]} for i in range(10)]
    rest = [scores[f"a{i}"] for i in range(10, 40)]
    r = estimate(gold, rest, metric="mean")
    assert r.n_unlabelled == 30 and r.classical.estimate == pytest.approx(
        sum(g["label"] for g in gold) / 10)


@pytest.mark.parametrize("rows, field", [
    ([{"question": "q", "answer": "a"}], "id"),
    ([{"id": "a", "answer": "x"}, {"id": "a", "answer": "y"}], "id"),
])
def test_bad_item_files_name_line_and_field(server, tmp_path, rows, field):
    path = _jsonl(tmp_path / "items.jsonl", rows)
    c = client(server, tmp_path)
    with pytest.raises(InputError) as info:
        judge(path, RUBRIC, c, out=tmp_path / "o.jsonl")
    assert info.value.field == field and info.value.path == str(path)
    assert info.value.line == len(rows)
    with pytest.raises(InputError, match="--out"):
        judge(path, RUBRIC, c)
    with pytest.raises(InputError, match="ingest"):
        judge(path, RUBRIC, c, into="x")
    assert not (tmp_path / "o.jsonl").exists()
    c.close()


# ------------------------------------------------------------------- a real llama.cpp server
@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "plain"])
def test_a_real_model_judges_or_fails_never_stores_junk(llama_server, tmp_path, json_mode):
    """SmolLM2-135M is a poor judge; what is tested is that every reply becomes a score on the
    range or a failure with its raw reply, and that a rerun comes from the cache. Skipped
    without the ``local-llm`` extra (see ``conftest.py``)."""
    items = [{"id": f"i{k}", "question": q, "answer": a} for k, (q, a) in enumerate([
        ("What is the capital of France?", "Paris."), ("What is 2 + 2?", "5"),
        ("Who wrote Hamlet?", "William Shakespeare."), ("What colour is the sky?", "Green."),
    ])]
    rubric = Rubric("1 means wrong, 5 means correct.", 1, 5)
    options = {"timeout": 60, "max_attempts": 2, "concurrency": 2,
               "cache": tmp_path / "llm.sqlite"}
    c = LLMClient(llama_server, "smollm2-135m", **options)
    out = tmp_path / "scores.jsonl"
    result = judge(items, rubric, c, out=out, json_mode=json_mode, max_tokens=48)
    c.close()
    print(result.to_dict())
    assert result.scored + result.failed == len(items)
    assert result.judge_model == "smollm2-135m" and result.judge_family == "smollm"
    for line in out.read_text().splitlines():
        score = json.loads(line)
        assert 1 <= score["prediction"] <= 5 and score["judge_family"] == "smollm"
    for failure in result.failures:  # a reply that was not a score keeps its raw text
        assert failure.raw is not None or not failure.reason.startswith(("not a score",
                                                                         "score out of range"))
    c2 = LLMClient(llama_server, "smollm2-135m", **options)
    again = judge(items, rubric, c2, out=tmp_path / "again.jsonl", json_mode=json_mode,
                  max_tokens=48)
    unanswered = sum(f.raw is None for f in result.failures)
    assert c2.sent <= 2 * unanswered  # everything answered came from the cache
    assert again.scored >= result.scored - unanswered
    c2.close()


# ---------------------------------------------------------------------------- tether judge
def _cli(*args):
    from typer.testing import CliRunner

    from tether.cli import app
    return CliRunner().invoke(app, list(map(str, args)), catch_exceptions=False)


def test_cli_judge_json_contract_store_and_file(server, tmp_path):
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        s.ingest("qa", ITEMS[:4], origin="real", text_field=None)
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("5: correct and complete. 1: wrong.")
    out = tmp_path / "scores.jsonl"
    args = ["judge", "--from", "qa", "--into", "qa-judged", "--out", out, "--rubric", rubric,
            "--endpoint", server.url, "--model", "gpt-4o-mini", "--store", db,
            "--cache", tmp_path / "llm.sqlite", "--max-attempts", "2"]
    result = _cli(*args, "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert (d["judge_model"], d["judge_family"], d["scored"], d["failed"], d["added"]) == \
        ("gpt-4o-mini", "gpt", 3, 1, 3)
    assert d["rubric"] == {"criteria": rubric.read_text(), "low": 1.0, "high": 5.0}
    assert d["failures"][0]["id"] == "q4" and '"score": 9' in d["failures"][0]["raw"]
    assert len(out.read_text().splitlines()) == 3
    with Store(db) as s:
        assert sorted(r["label"] for r in s.records("qa-judged")) == ["1", "4", "5"]
    human = _cli(*args[:3], "--into", "qa-judged-2", *args[5:])
    assert "3 scored" in human.output and "1 failed" in human.output


def test_cli_judge_bad_input_exits_2(server, tmp_path, monkeypatch, capsys):
    import sys

    from tether.cli import main
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("ok?")
    items = _jsonl(tmp_path / "items.jsonl", [{"id": "a", "answer": "x"}])
    for extra, needle in ((["--scale", "5-1"], "LOW < HIGH"), ([], "--from DATASET or --items")):
        base = ["tether", "judge", "--rubric", str(rubric), "--endpoint", server.url,
                "--model", "m", "--out", str(tmp_path / "o.jsonl"), *extra]
        if extra:
            base += ["--items", str(items)]
        monkeypatch.setattr(sys, "argv", base)
        with pytest.raises(SystemExit) as info:
            main()
        assert info.value.code == 2
        message = " ".join(capsys.readouterr().err.split())
        assert message.startswith("error:") and needle in message
    assert not (tmp_path / "o.jsonl").exists()


def test_judge_result_is_a_result_kept_as_scores_not_as_a_saved_kind():
    from tether.errors import NotFoundError
    from tether.results import Result, kind_of
    assert issubclass(JudgeResult, Result)
    with pytest.raises(NotFoundError):  # never saved with save_result: the scores are the output
        kind_of(JudgeResult)


def test_cli_judge_items_file_reruns_without_resending_or_duplicating(server, tmp_path):
    items = _jsonl(tmp_path / "answers.jsonl", ITEMS)
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("5: correct. 1: wrong.")
    out = tmp_path / "scores.jsonl"
    args = ["judge", "--items", items, "--out", out, "--rubric", rubric, "--endpoint", server.url,
            "--model", "fake-gpt-judge", "--family", "gpt", "--cache", tmp_path / "llm.sqlite",
            "--max-attempts", "3", "--json"]
    first = json.loads(_cli(*args).stdout)
    assert (first["scored"], first["failed"], first["out"]) == (3, 4, str(out))
    assert first["run_id"] is None and first["dataset"] is None  # nothing in any store
    sent = server.snapshot()
    again = json.loads(_cli(*args).stdout)
    # every answered item came from the cache; the one that got no answer (HTTP 500 three
    # times) is asked once more, and answered now
    assert server.sent_for("[", since=sent) == 1 and server.sent_for("dead air", since=sent) == 1
    assert (again["scored"], again["failed"]) == (4, 3)
    scores = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(s["id"] for s in scores) == ["q1", "q2", "q3", "q6"]  # rewritten, not appended
    assert all((s["judge_model"], s["judge_family"]) == ("fake-gpt-judge", "gpt") for s in scores)
    failures = [json.loads(line) for line in failures_path(out).read_text().splitlines()]
    assert sorted(f["id"] for f in failures) == ["q4", "q5", "q7"]
    c = client(server, tmp_path)
    with pytest.raises(InputError, match="--run-id resumes a run that writes --into") as info:
        judge(items, RUBRIC, c, out=out, run_id="r1")
    assert info.value.field == "run_id"
    c.close()


def test_cli_judge_resumes_a_store_run_by_run_id(server, tmp_path):
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        s.ingest("qa", ITEMS[:6], origin="real", text_field=None)
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("5: correct. 1: wrong.")
    args = ["judge", "--from", "qa", "--into", "qa-judged", "--run-id", "j1", "--rubric", rubric,
            "--endpoint", server.url, "--model", "fake-gpt-judge", "--store", db,
            "--cache", tmp_path / "llm.sqlite", "--max-attempts", "2", "--json"]
    first = json.loads(_cli(*args).stdout)
    assert (first["run_id"], first["added"], first["scored"], first["failed"]) == ("j1", 3, 3, 3)
    with Store(db) as s:
        recorded = {f["parents"][0]: f["reason"] for f in s.failures("j1")}
    assert set(recorded) == {"q4", "q5", "q6"}
    # a reply that is not a score is kept whole on the run record, after its reason
    assert recorded["q4"].startswith("score out of range")
    raw = json.loads(recorded["q4"].split("; raw reply: ", 1)[1])
    assert json.loads(raw)["score"] == 9 and json.loads(raw)["reason"].startswith("judged")
    assert "raw reply" not in recorded["q6"]  # HTTP 500 twice: no reply to keep

    sent = server.snapshot()
    again = json.loads(_cli(*args).stdout)
    # only q6, which had no answer, is asked again (twice: one more HTTP 500, then a reply)
    assert server.sent_for("[", since=sent) == server.sent_for("dead air", since=sent) == 2
    assert (again["run_id"], again["added"], again["scored"]) == ("j1", 1, 4)
    with Store(db) as s:
        judged = s.records("qa-judged")
        assert sorted(r["parents"][0] for r in judged) == ["q1", "q2", "q3", "q6"]  # no duplicates
        assert {(r["judge_model"], r["judge_family"]) for r in judged} == {("fake-gpt-judge",
                                                                            "fake")}
        assert {f["parents"][0] for f in s.failures("j1")} == {"q4", "q5"}


def test_workflow_judge_then_estimate_reads_the_judge_file_as_it_is(server, tmp_path):
    """`tether judge --out` scores 60 answers; 15 carry a person's score; `tether estimate
    --predicted` takes the judge's file unchanged (the gold rows are the file's rows joined to
    the people's scores)."""
    items = [{"id": f"a{i}", "question": f"q{i}", "answer": f"a{i} [score={1 + (i * 7) % 5}]"}
             for i in range(60)]
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("5: correct. 1: wrong.")
    out = tmp_path / "scores.jsonl"
    judged = _cli("judge", "--items", _jsonl(tmp_path / "items.jsonl", items), "--out", out,
                  "--rubric", rubric, "--endpoint", server.url, "--model", "fake-judge",
                  "--cache", tmp_path / "llm.sqlite", "--json")
    assert json.loads(judged.stdout)["scored"] == 60
    scores = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    human = {f"a{i}": max(1, scores[f"a{i}"]["prediction"] - i % 2) for i in range(15)}
    gold = _jsonl(tmp_path / "gold.jsonl", [{**scores[k], "label": v} for k, v in human.items()])
    result = _cli("estimate", "--gold", gold, "--predicted", out, "--metric", "mean", "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert (d["n_gold"], d["n_unlabelled"], d["metric"]) == (15, 60, "mean")
    judge_mean = sum(s["prediction"] for s in scores.values()) / 60
    bias = sum(scores[k]["prediction"] - v for k, v in human.items()) / 15
    assert d["classical"]["estimate"] == pytest.approx(sum(human.values()) / 15)
    assert d["ppi"]["estimate"] == pytest.approx(judge_mean - bias)  # the judge, corrected
    assert d["ppi"]["estimate"] < judge_mean
