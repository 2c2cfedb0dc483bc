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
    late = [r["fields"] for r in store.table("d").to_pylist() if r["text"] == "late"]
    assert json.loads(late[0]) == {"score": "high"}


# ---------------------------------------------------------------- stored wrong, silently (#16)
def test_a_label_of_another_type_early_is_refused_with_line_and_field(seeded, tmp_path):
    """One number among string labels used to make every good label be stored as '"x"'."""
    rows = [dict(r) for r in GOOD]
    rows[2]["label"] = 7
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    err = check_rejected(seeded, path, line=3, field="label", match="expected a string like")
    assert "got a number (7)" in str(err)


@pytest.mark.parametrize("value, kind", [(["b"], "a list"), ({"k": 1}, "an object"), (3, "a number")])
def test_text_of_another_type_is_refused(seeded, tmp_path, value, kind):
    rows = [dict(r) for r in GOOD]
    rows[1]["text"] = value
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    err = check_rejected(seeded, path, line=2, field="text", match="expected a string")
    assert f"got {kind}" in str(err)


def test_a_nested_label_in_jsonl_is_refused(seeded, tmp_path):
    rows = [dict(r, label=["x"]) for r in GOOD]
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    check_rejected(seeded, path, line=1, field="label", match="a label is one value")


def test_labels_of_one_non_string_type_are_kept_as_their_text(store, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"text": f"t{i}", "label": i % 2} for i in range(4)])
    assert store.ingest("d", path, origin="real", label_origin="real").added == 4
    assert store.table("d").column("label").to_pylist() == ["0", "1", "0", "1"]
    again = store.ingest("d", path, origin="real", label_origin="real")
    assert (again.added, again.skipped_duplicates) == (0, 4)


def test_a_label_of_another_type_late_in_a_million_rows_is_refused(store, tmp_path):
    path = tmp_path / "big.jsonl"
    n = 1_000_000
    with path.open("w") as fh:
        fh.writelines(f'{{"text": "t{i}", "label": "{"ab"[i % 2]}"}}\n' for i in range(n - 2))
        fh.write('{"text": "late", "label": 7}\n{"text": "last", "label": "a"}\n')
    before = snapshot(store)
    with pytest.raises(InputError, match="expected a string like the other rows") as err:
        store.ingest("d", path, origin="real", label_origin="real")
    assert (err.value.line, err.value.field) == (n - 1, "label")
    assert snapshot(store) == before


def test_reingesting_a_clean_file_stores_labels_without_quotes_and_adds_nothing(store, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", GOOD)
    store.ingest("d", path, origin="real", label_origin="real")
    assert set(store.table("d").column("label").to_pylist()) == {"x"}
    again = store.ingest("d", path, origin="real", label_origin="real")
    assert (again.added, again.skipped_duplicates) == (0, len(GOOD))


def test_mixed_types_in_records_name_the_row_and_field(seeded):
    before = snapshot(seeded)
    with pytest.raises(InputError, match="expected a string like the other rows, got a number") as err:
        seeded.ingest("new", [{"text": "a", "label": "x"}, {"text": "b", "label": 7}],
                      origin="real", label_origin="real")
    assert (err.value.row, err.value.field) == (2, "label")
    assert snapshot(seeded) == before


@pytest.mark.parametrize("label", [[{"k": 1}, {"k": 2}], [["k"], ["j"]]])
def test_a_parquet_struct_or_list_label_is_refused_not_stored_as_a_repr(seeded, tmp_path, label):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "label": label}), path)
    check_rejected(seeded, path, field="label", match="expected text or a number")


def test_csv_unterminated_quote_names_the_line(seeded, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('text,label\na,x\n"b,x\nc,x\n')
    check_rejected(seeded, path, line=3, match="closing quote")


def test_csv_text_and_ids_are_kept_as_written(store, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('id,text,label\n007,0012,01\n008,"a ""q""",x\n')
    store.ingest("d", path, origin="real", label_origin="real")
    rows = store.table("d").to_pylist()
    assert [(r["id"], r["text"], r["label"]) for r in rows] == [("007", "0012", "01"),
                                                                ("008", 'a "q"', "x")]


def test_csv_dates_and_times_are_kept_as_written(store, tmp_path):
    """DuckDB sniffs these columns as TIMESTAMP, DATE and TIME and writes them back in its own
    format (2024-01-01 10:00:00); they are stored as the file has them."""
    path = tmp_path / "a.csv"
    path.write_text("id,text,when,day,at\na,hello,2024-01-01T10:00:00,2024-01-02,10:00\n"
                    "b,world,2024-02-01T11:30:00,2024-02-03,11:30\n")
    store.ingest("d", path, origin="real")
    fields = [json.loads(r["fields"]) for r in store.table("d").to_pylist()]
    assert fields == [{"when": "2024-01-01T10:00:00", "day": "2024-01-02", "at": "10:00"},
                      {"when": "2024-02-01T11:30:00", "day": "2024-02-03", "at": "11:30"}]


def test_jsonl_strings_duckdb_types_as_dates_times_or_uuids_are_kept_as_written(store, tmp_path):
    """DuckDB's JSON reader types these strings (at any depth, and an id) as TIMESTAMP, DATE,
    TIME and UUID and writes them back in its own format; they are stored as written."""
    uid = "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"
    record = {"id": uid, "text": "2024-01-02", "when": "2024-01-01T10:00:00", "at": ["10:00"],
              "nested": {"DATE": "2024-02-03", "u": uid}}
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(record) + "\n")
    store.ingest("d", path, origin="real")
    row = store.table("d").to_pylist()[0]
    assert (row["id"], row["text"]) == (uid, "2024-01-02")
    assert json.loads(row["fields"]) == {k: record[k] for k in ("when", "at", "nested")}


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e999", "[1, NaN]"])
def test_non_finite_numbers_in_json_are_refused(seeded, tmp_path, raw):
    lines = [json.dumps(r) for r in GOOD]
    lines.insert(3, '{"id": "n", "text": "t", "label": "x", "score": %s}' % raw)
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(lines) + "\n")
    check_rejected(seeded, path, line=4, field="score", match="no JSON form")


def test_a_large_finite_exponent_is_kept(store, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"text": "t", "score": 1e300}, {"text": "u", "s": "NaN"}])
    assert store.ingest("d", path, origin="real").added == 2
    fields = [json.loads(f) for f in store.table("d").column("fields").to_pylist()]
    assert fields == [{"score": 1e300}, {"s": "NaN"}]


def test_nan_in_parquet_names_the_row_and_field(seeded, tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "score": [1.0, float("nan")]}), path)
    check_rejected(seeded, path, row=2, field="score", match="no JSON form", label_origin=None)


@pytest.mark.parametrize("depth", [200, 1000, 100_000])
def test_deeply_nested_json_is_refused_with_the_line(seeded, tmp_path, depth):
    lines = [json.dumps(r) for r in GOOD]
    lines.insert(2, '{"text": "t", "deep": ' + "[" * depth + "]" * depth + "}")
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(lines) + "\n")
    check_rejected(seeded, path, line=3, match="more than 128 deep")


def test_iter_records_maps_deep_nesting_to_an_input_error(tmp_path):
    from tether.io import iter_records

    path = tmp_path / "p.jsonl"
    path.write_text('{"a": 1}\n{"a": ' + "[" * 5000 + "]" * 5000 + "}\n")
    with pytest.raises(InputError, match="deep") as err:
        list(iter_records(path))
    assert err.value.line == 2


def test_a_key_first_seen_after_the_type_sample_is_kept(store, tmp_path):
    rows = [{"text": f"t{i}"} for i in range(25_000)] + [{"text": "late", "extra": "kept"}]
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    store.ingest("d", path, origin="real")
    late = [r["fields"] for r in store.table("d").to_pylist() if r["text"] == "late"]
    assert json.loads(late[0]) == {"extra": "kept"}


def test_dedup_text_normalises_unicode_and_drops_zero_width():
    from tether.io import dedup_text

    base = "caf\u00e9 na\u00efve"
    variants = ["cafe\u0301 nai\u0308ve", *(f"caf\u00e9{z} na\u00efve" for z in
                                            "\u200b\u200c\u200d\u2060\ufeff"), "ｃａｆé naïve"]
    assert {dedup_text(v) for v in variants} == {dedup_text(base)} == {base}
    ascii_text = "plain"
    assert dedup_text(ascii_text) is ascii_text


def test_jsonl_strings_read_as_text_store_and_hash_as_the_same_records_given_in_python(store,
                                                                                        tmp_path):
    """A JSONL column of strings only is read as text, not as JSON values: escapes, Unicode,
    empty and missing values must come out as they do from the same records in Python."""
    texts = ['he said "hi"\\', "tab\there\nnew", "caf\u00e9 \U0001f600", "a\x00b", "/x", "  "]
    rows = [{"id": f"r{i}", "text": t, "label": ["", "x", None][i % 3]} for i, t in enumerate(texts)]
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    store.ingest("file", path, origin="real", label_origin="real")
    store.ingest("py", [{k: v for k, v in r.items() if v is not None} for r in rows],
                 origin="real", label_origin="real")
    stored = {name: [(r["id"], r["text"], r["label"], r["content_hash"])
                     for r in store.records(name)] for name in ("file", "py")}
    assert stored["file"] == stored["py"]
    assert [t for _, t, _, _ in stored["file"]] == texts
