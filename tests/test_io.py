"""Bad input: one message naming the file, the line (or row) and the field; the store unchanged."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tether import InputError
from tether.io import detect_format, locate

from test_store import snapshot

GOOD = [{"id": f"r{i}", "text": f"text {i}", "label": "x"} for i in range(5)]


def write_jsonl(path, rows, raw_lines=None):
    lines = [json.dumps(r) for r in rows]
    for index, raw in (raw_lines or {}).items():
        lines.insert(index, raw)
    path.write_bytes(("\n".join(lines) + "\n").encode() if isinstance(lines[0], str) else b"")
    return path


@pytest.fixture
def seeded(store):
    store.ingest("existing", GOOD, origin="real", label_origin="real")
    return store


def check_rejected(store, path, *, line=None, row=None, field=None, match, **kwargs):
    before = snapshot(store)
    kwargs = {"origin": "real", "label_origin": "real"} | kwargs
    with pytest.raises(InputError, match=match) as err:
        store.ingest("new", path, **kwargs)
    assert err.value.path == str(path)
    assert err.value.line == line and err.value.row == row and err.value.field == field
    assert str(path) in str(err.value)
    assert snapshot(store) == before
    return err.value


def test_malformed_json_line_in_the_middle(seeded, tmp_path):
    lines = [json.dumps(r) for r in GOOD]
    lines.insert(3, '{"id": "bad", "text": "unterminated}')
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(lines) + "\n")
    check_rejected(seeded, path, line=4, match="malformed JSON")


def test_invalid_utf8(seeded, tmp_path):
    path = tmp_path / "a.jsonl"
    body = "\n".join(json.dumps(r) for r in GOOD).encode()
    path.write_bytes(body + b'\n{"id": "z", "text": "caf\xe9"}\n')
    check_rejected(seeded, path, line=6, match="invalid UTF-8")


def test_empty_file(seeded, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    check_rejected(seeded, path, match="empty")


def test_row_missing_the_text_field(seeded, tmp_path):
    rows = GOOD[:2] + [{"id": "r9", "label": "x"}] + GOOD[2:]
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    check_rejected(seeded, path, line=3, field="text", match="text is missing")


def test_file_without_the_text_field_names_the_option(seeded, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "body": "x"}])
    check_rejected(seeded, path, field="text", match="--text-field")


def test_synthetic_row_without_generator(seeded, tmp_path):
    rows = [dict(r) for r in GOOD]
    rows[1].update(origin="synthetic", family="rule")
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    check_rejected(seeded, path, line=2, field="generator", match="must name its generator")


def test_unknown_origin_in_file(seeded, tmp_path):
    rows = [dict(r) for r in GOOD]
    rows[4]["origin"] = "scraped"
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    err = check_rejected(seeded, path, line=5, field="origin", match="unknown origin 'scraped'")
    assert "real or synthetic" in str(err)


def test_duplicate_ids_inside_one_file(seeded, tmp_path):
    rows = GOOD + [{"id": "r1", "text": "different text", "label": "x"}]
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    err = check_rejected(seeded, path, line=6, field="id", match="duplicate id 'r1'")
    assert "line 2" in str(err)


def test_a_50_mb_line(seeded, tmp_path):
    path = tmp_path / "big.jsonl"
    with path.open("w") as fh:
        fh.write(json.dumps(GOOD[0]) + "\n")
        fh.write(json.dumps({"id": "huge", "text": "x" * 50_000_000, "label": "x"}) + "\n")
        fh.write(json.dumps(GOOD[1]) + "\n")
    check_rejected(seeded, path, line=2, match="over the 16 MB limit")


def test_parquet_with_wrong_column_types(seeded, tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": [1, 2], "label": ["x", "y"]}), path)
    check_rejected(seeded, path, field="text", match="column type BIGINT, expected text")
    pq.write_table(pa.table({"id": ["a"], "text": ["t"], "parents": [3.5]}), path)
    check_rejected(seeded, path, field="parents", match="expected a list of ids")


def test_path_that_does_not_exist(seeded, tmp_path):
    check_rejected(seeded, tmp_path / "missing.jsonl", match="no such file")


def test_csv_error_names_the_line_of_a_multiline_record(seeded, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('id,text,label,origin\na,"two\nlines",x,real\nb,fine,x,alien\n')
    check_rejected(seeded, path, line=4, field="origin", match="unknown origin")


def test_detect_format():
    assert detect_format("x.ndjson") == "jsonl" and detect_format("x.pq") == "parquet"
    with pytest.raises(InputError, match="--format"):
        detect_format("x.txt")


def test_locate_skips_blank_lines(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a":1}\n\n{"a":2}\n')
    assert locate(path, "jsonl", 2) == {"line": 3}


def test_a_ragged_csv_row_is_named(seeded, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("text,label\na,x\nb,x,extra\nc,x\n")
    check_rejected(seeded, path, line=3, match="3 fields where the header has 2")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_type_that_changes_after_the_inferred_sample_is_read_not_rejected(store, tmp_path, fmt):
    path = tmp_path / f"drift.{fmt}"
    rows = [{"text": f"t{i}", "score": i} for i in range(25_000)] + [{"text": "late", "score": "high"}]
    if fmt == "jsonl":
        write_jsonl(path, rows)
    else:
        path.write_text("text,score\n" + "".join(f"{r['text']},{r['score']}\n" for r in rows))
    assert store.ingest("d", path, origin="real").added == 25_001
    late = store.table("d", where="text = 'late'").column("fields").to_pylist()
    assert json.loads(late[0]) == {"score": "high"}
