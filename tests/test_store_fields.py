"""Records with several text fields (issue 12 item 1): declared text fields, conversations in
the OpenAI chat format and score labels, each bad input one error naming file, line and field
with the store unchanged; export writes the user's own field names back."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from tether.cli import app
from tether.errors import InputError
from tether.provenance import PROVENANCE_FIELDS
from tether.store import Store

FIELDS = ("question", "context", "answer", "messages")
QA = [
    {"question": "Why is the sky blue?", "context": "Rayleigh scattering of sunlight.",
     "answer": "Short wavelengths scatter more.", "score": 4,
     "messages": [{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Why is the sky blue?"},
                  {"role": "assistant", "content": "Scattering."}]},
    {"question": "What is 2+2?", "context": "Arithmetic.", "answer": "4", "score": 5,
     "messages": [{"role": "user", "content": "2+2?"},
                  {"role": "assistant", "content": "4", "name": "calc"},
                  {"role": "tool", "content": "4"}]},
    {"question": "Capital of France?", "context": "Geography.", "answer": "Paris", "score": 1,
     "messages": [{"role": "user", "content": "Capital of France?"}]},
]
MESSAGES = json.dumps([{"role": "user", "content": "hi"}])
DECLARED = dict(text_field=None, label_field="score", fields=FIELDS, label_range=(1, 5))


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def snapshot(store: Store) -> tuple:
    """Everything an ingest may change: datasets, their records, the runs."""
    return ([(d.name, d.count) for d in store.datasets()],
            {d.name: store.records(d.name) for d in store.datasets()},
            [r["run_id"] for r in store.runs()])


@pytest.fixture
def qa_store(store, tmp_path):
    store.ingest("qa", write_jsonl(tmp_path / "qa.jsonl", QA[:1]), origin="real",
                 label_origin="real", **DECLARED)
    return store


def without(row: dict, key: str) -> dict:
    return {k: v for k, v in row.items() if k != key}


BAD = {
    "missing field": (without(QA[1], "context"), "context", "declared text field 'context' is "
                                                            "missing"),
    "messages a string": ({**QA[1], "messages": "hi"}, "messages",
                          "expected a list of {role, content}"),
    "turn without role": ({**QA[1], "messages": [{"content": "hi"}]}, "messages",
                          "turn 0 "),
    "turn a string": ({**QA[1], "messages": ["hi"]}, "messages", "turn 0 is not a"),
    "turn without content": ({**QA[1], "messages": [{"role": "user"}]}, "messages",
                             "turn 0 is not a {role, content} object"),
    "one turn, no list": ({**QA[1], "messages": {"role": "user", "content": "hi"}}, "messages",
                          "got an object (one turn: put it in a list)"),
    "empty conversation": ({**QA[1], "messages": []}, "messages", "the conversation is empty"),
    "unknown role": ({**QA[1], "messages": [{"role": "user", "content": "a"},
                                            {"role": "bot", "content": "b"}]},
                     "messages", "turn 1 has unknown role 'bot'"),
    "content not text": ({**QA[1], "messages": [{"role": "user", "content": 3}]}, "messages",
                         "turn 0 content is 3, expected a string"),
    "text field a number": ({**QA[1], "answer": 4}, "answer", "expected a string"),
    "score not a number": ({**QA[1], "score": "high"}, "score", "expected a number"),
    "score out of range": ({**QA[1], "score": 9}, "score", "outside the label range [1, 5]"),
    "score below range": ({**QA[1], "score": 0.5}, "score", "outside the label range [1, 5]"),
}


@pytest.mark.parametrize("case", list(BAD), ids=str)
def test_each_bad_record_is_one_error_at_its_line_and_field_and_changes_nothing(
        qa_store, tmp_path, case):
    bad, field, message = BAD[case]
    path = write_jsonl(tmp_path / "more.jsonl", [QA[2], bad])
    before = snapshot(qa_store)
    with pytest.raises(InputError) as caught:
        qa_store.ingest("qa", path, origin="real", label_origin="real", **DECLARED)
    err = caught.value
    assert (err.path, err.line, err.field) == (str(path), 2, field), str(err)
    assert message in err.message
    assert snapshot(qa_store) == before


CSV_BAD = {
    "missing field": (["q", "", MESSAGES, "3"], "answer", "'answer' is missing"),
    "messages not JSON": (["q", "a", "[{'role': 'user'", "3"], "messages",
                          "expected a list of {role, content}"),
    "unknown role": (["q", "a", json.dumps([{"role": "bot", "content": "x"}]), "3"], "messages",
                     "unknown role 'bot'"),
    "score not a number": (["q", "a", MESSAGES, "high"], "score", "expected a number in [1, 5]"),
    "score not finite": (["q", "a", MESSAGES, "nan"], "score", "expected a finite number"),
    "score out of range": (["q", "a", MESSAGES, "7"], "score", "7 is outside the label range"),
}


@pytest.mark.parametrize("case", list(CSV_BAD), ids=str)
def test_csv_records_are_checked_the_same(store, tmp_path, case):
    bad, field, message = CSV_BAD[case]
    path = tmp_path / "qa.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([["question", "answer", "messages", "score"],
                                  ["first", "one", MESSAGES, "4"], bad])
    declared = {**DECLARED, "fields": ("question", "answer", "messages")}
    with pytest.raises(InputError) as caught:
        store.ingest("qa", path, origin="real", label_origin="real", **declared)
    err = caught.value
    assert (err.path, err.line, err.field) == (str(path), 3, field), str(err)
    assert message in err.message
    assert store.datasets() == [] and store.runs() == []


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_score_that_is_not_finite_is_refused_at_its_line(qa_store, tmp_path, value):
    path = tmp_path / "nan.jsonl"
    line = json.dumps(QA[1]).replace('"score": 5', f'"score": {value}')
    path.write_text(json.dumps(QA[2]) + "\n" + line + "\n")
    before = snapshot(qa_store)
    with pytest.raises(InputError) as caught:
        qa_store.ingest("qa", path, origin="real", label_origin="real", **DECLARED)
    assert (caught.value.path, caught.value.line, caught.value.field) == (str(path), 2, "score")
    assert snapshot(qa_store) == before


def test_the_declaration_holds_for_later_ingests_and_a_different_one_is_refused(
        qa_store, tmp_path):
    path = write_jsonl(tmp_path / "more.jsonl", [QA[2], without(QA[1], "context")])
    before = snapshot(qa_store)
    # left out: the dataset's declaration still holds
    with pytest.raises(InputError, match="'context' is missing") as caught:
        qa_store.ingest("qa", path, origin="real", label_origin="real", text_field=None,
                        label_field="score")
    assert caught.value.line == 2
    good = write_jsonl(tmp_path / "good.jsonl", QA[1:])
    for changed, field in [({"fields": ("question", "answer")}, "fields"),
                           ({"label_range": (0, 10)}, "label_range")]:
        with pytest.raises(InputError, match="was ingested with") as caught:
            qa_store.ingest("qa", good, origin="real", label_origin="real",
                            **{**DECLARED, **changed})
        assert (caught.value.path, caught.value.field) == (str(good), field)
        assert snapshot(qa_store) == before
    assert qa_store.declarations("qa") == {"text_fields": list(FIELDS), "label_range": [1.0, 5.0]}
    assert qa_store.ingest("qa", good, origin="real", label_origin="real",
                           text_field=None, label_field="score").added == 2


@pytest.mark.parametrize("declaration", [{"fields": ("question", "question")},
                                         {"fields": ("question", "origin")},
                                         {"label_range": (5, 1)},
                                         {"label_range": (0, float("nan"))}])
def test_a_declaration_that_cannot_hold_is_refused(store, tmp_path, declaration):
    path = write_jsonl(tmp_path / "qa.jsonl", QA)
    with pytest.raises(InputError) as caught:
        store.ingest("qa", path, origin="real", label_origin="real",
                     **{**DECLARED, **declaration})
    assert caught.value.field in ("fields", "label_range")
    assert store.datasets() == []


def test_a_dataset_dict_is_one_transaction(store, tmp_path):
    datasets = pytest.importorskip("datasets", reason="the frames extra is not installed")
    bad = {**QA[2], "messages": [{"role": "bot", "content": "x"}]}
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(QA[:2]),
                               "test": datasets.Dataset.from_list([QA[2], bad])})
    kwargs = dict(origin="real", label_origin="real", **DECLARED)
    with pytest.raises(InputError) as caught:
        store.ingest("qa", dd, **kwargs)
    err = caught.value
    assert (err.path, err.row, err.field) == ("split test", 2, "messages"), str(err)
    assert store.datasets() == [] and store.runs() == []  # no train split left behind
    dd.save_to_disk(tmp_path / "dd")
    with pytest.raises(InputError) as caught:
        store.ingest("qa", tmp_path / "dd", **kwargs)
    assert caught.value.path == str(tmp_path / "dd" / "test") and caught.value.row == 2
    assert store.datasets() == []
    good = datasets.DatasetDict({"train": dd["train"], "test": dd["test"].select([0])})
    assert [(r.dataset, r.added) for r in store.ingest("qa", good, **kwargs)] == [
        ("qa-train", 2), ("qa-test", 1)]
    assert store.declarations("qa-test") == {"text_fields": list(FIELDS),
                                             "label_range": [1.0, 5.0]}


def user_fields(rows: list[dict]) -> list[dict]:
    """The fields a user wrote (``QA``'s keys) of exported records."""
    return [{k: r[k] for k in QA[0]} for r in rows]


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_records_round_trip_with_their_own_field_names(store, tmp_path, fmt):
    source = write_jsonl(tmp_path / "qa.jsonl", QA)
    store.ingest("qa", source, origin="real", label_origin="real", **DECLARED)
    out = tmp_path / f"out.{fmt}"
    store.export("qa", out)
    if fmt == "jsonl":
        exported = read_jsonl(out)
        assert user_fields(exported) == QA  # messages a JSON list, scores numbers
        assert set(exported[0]) == {*QA[0], *PROVENANCE_FIELDS}  # no text, label or fields
    # the export ingests again into the same content (the content hashes are checked)
    with Store(tmp_path / "again.duckdb") as again:
        assert again.ingest("qa", out, **DECLARED).added == 3
        again.export("qa", tmp_path / "again.jsonl")
    back = read_jsonl(tmp_path / "again.jsonl")
    assert user_fields(back) == QA
    assert [r["content_hash"] for r in back] == [r["content_hash"] for r in store.records("qa")]


def test_the_cli_ingests_with_fields_and_a_label_range_and_exports_the_same(tmp_path):
    source = write_jsonl(tmp_path / "qa.jsonl", QA)
    db = str(tmp_path / "cli.duckdb")
    runner = CliRunner()

    def tether(*args):
        return runner.invoke(app, [*args, "--store", db])  # main() prints errors, not app

    out = tether("ingest", str(source), "-d", "qa", "--origin", "real", "--label-origin",
                 "real", "--fields", "question, context,answer,messages", "--label-field",
                 "score", "--label-range", "1,5", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {"dataset": "qa", "added": 3, "skipped_duplicates": 0}
    assert tether("export", "qa", "--out", str(tmp_path / "out.jsonl"), "--json").exit_code == 0
    assert user_fields(read_jsonl(tmp_path / "out.jsonl")) == QA
    bad = write_jsonl(tmp_path / "bad.jsonl", [{**QA[0], "question": "new", "score": 6}])
    out = tether("ingest", str(bad), "-d", "qa", "--origin", "real", "--label-origin", "real",
                 "--label-field", "score")
    assert str(out.exception) == f"{bad}, line 1, field score: 6 is outside the label range " \
                                 "[1, 5]; fix the score or the range"
    for option, value in [("--label-range", "1"), ("--label-range", "1,x"), ("--fields", "a,,b")]:
        out = tether("ingest", str(source), "-d", "other", "--origin", "real", option, value)
        assert isinstance(out.exception, InputError)
        assert out.exception.field == option.lstrip("-").replace("-", "_")
    with Store(db, read_only=True) as s:
        assert [d.name for d in s.datasets()] == ["qa"] and s.summary("qa").count == 3


def test_names_no_ingest_recorded_come_from_the_caller_and_recorded_ones_win(store, tmp_path):
    run = store.start_run("generate", "made", generator="tmpl@1", config={"n": 1})
    store.ingest("made", [{"text": "a", "label": "x"}], origin="synthetic",
                 label_origin="synthetic", family="rule", generator="tmpl@1", run_id=run)
    store.export("made", tmp_path / "a.jsonl", names={"text": "body", "label": "topic"})
    row = read_jsonl(tmp_path / "a.jsonl")[0]
    assert (row["body"], row["topic"]) == ("a", "x") and "text" not in row
    store.ingest("news", [{"body": "b"}], origin="real", text_field="body")
    store.export("news", tmp_path / "b.jsonl", names={"text": "other"})
    assert read_jsonl(tmp_path / "b.jsonl")[0]["body"] == "b"


def test_a_turn_is_stored_and_hashed_the_same_whatever_keys_its_sibling_rows_have(tmp_path):
    alone, named = QA[2], QA[1]  # QA[1] has a turn with a "name"; QA[2] has none
    hashes = []
    for rows in ([alone], [named, alone]):
        with Store(tmp_path / f"s{len(rows)}.duckdb") as s:
            s.ingest("qa", write_jsonl(tmp_path / f"in{len(rows)}.jsonl", rows), origin="real",
                     label_origin="real", **DECLARED)
            record = s.records("qa")[-1]
            assert record["messages"] == alone["messages"]  # no "name": null added
            hashes.append(record["content_hash"])
            # the same record again is a duplicate, whichever file it comes in
            again = s.ingest("qa", write_jsonl(tmp_path / "again.jsonl", [alone]), origin="real",
                             label_origin="real", **DECLARED)
            assert (again.added, again.skipped_duplicates) == (0, 1)
    assert hashes[0] == hashes[1]
