"""Random JSONL and CSV bytes fed to ingest: either a clear InputError (naming the line where one
is to blame) with the store unchanged, or every row stored exactly as given (#16)."""

from __future__ import annotations

import csv
import io as stdio
import itertools
import json
import re

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis (dev extra) is not installed")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tether import InputError, Store  # noqa: E402
from tether.io import dedup_text  # noqa: E402

from test_store import snapshot  # noqa: E402

# errors about the file as a whole, which no single line is to blame for
WHOLE_FILE = ("empty", "no 'text' field", "--label-field", "column type", "holds no records",
              "could not be read as csv")
SETTINGS = settings(max_examples=50, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

texts = st.text(max_size=12)
scalars = st.one_of(st.none(), texts, st.integers(-10**20, 10**20),
                    st.floats(allow_nan=True, allow_infinity=True), st.booleans())
nested = st.one_of(st.lists(scalars, max_size=2),
                   st.dictionaries(st.text(max_size=3), scalars, max_size=2))
# mostly one type of label per file (what a user writes), sometimes anything at all
label_kinds = st.sampled_from([texts, texts, st.integers(-10**20, 10**20), st.booleans(),
                               st.floats(allow_nan=True, allow_infinity=True),
                               st.one_of(scalars, nested)])
records = label_kinds.flatmap(lambda labels: st.lists(st.fixed_dictionaries(
    {"text": st.text(min_size=1, max_size=12), "label": st.one_of(st.none(), labels)}),
    min_size=1, max_size=6))
# now and then one record's text is something else (missing, empty, a number, a list...)
poison = st.one_of(st.none(), st.tuples(st.integers(0, 5), st.one_of(scalars, nested)))


def mutate(data: bytes, edits: list[tuple[int, bytes]]) -> bytes:
    """Insert (or, for an empty insert, delete one byte) at each position."""
    out = bytearray(data)
    for pos, insert in edits:
        pos = pos % (len(out) + 1)
        if insert:
            out[pos:pos] = insert
        elif pos < len(out):
            del out[pos]
    return bytes(out)


edits = st.one_of(st.just([]), st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(
    [b"", b"\n", b'"', b",", b"{", b"}", b"[", b"\\", b"NaN", b"\xff", b"\r", b"7", b" "])),
    min_size=1, max_size=2))


NAMES = itertools.count()
#: input that readers may fairly read two ways: either reading is fine, a traceback is not
AMBIGUOUS = object()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with Store(tmp_path_factory.mktemp("fuzz") / "fuzz.duckdb") as s:
        s.ingest("seed", [{"text": "already here", "label": "x"}], origin="real",
                 label_origin="real")
        yield s


def ingest_and_check(store, tmp_path, name: str, data: bytes, expected):
    """Ingest ``data``; ``expected`` parses it the careful way (None when it must fail)."""
    path = tmp_path / name
    path.write_bytes(data)
    before = snapshot(store)
    dataset = f"d{next(NAMES)}"
    try:
        store.ingest(dataset, path, origin="real", label_origin="real")
    except InputError as err:
        event("InputError")
        assert snapshot(store) == before
        assert err.path == str(path)
        if not any(k in err.message for k in WHOLE_FILE):
            assert err.line is not None, str(err)
        return
    event("stored")
    stored = [(r["text"], r["label"]) for r in store.records(dataset)]
    if expected is AMBIGUOUS:
        return
    assert expected is not None, f"ingested what does not parse: {data!r}"
    numeric = {i for i, (_, label) in enumerate(expected) if isinstance(label, float)}
    stored = [(t, float(lab) if i in numeric else lab) for i, (t, lab) in enumerate(stored)]
    assert stored == expected, data


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_jsonl(data: bytes):
    """What a careful reader makes of JSONL: (text, label) per record, None if it must fail."""
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    out, kinds = [], set()
    for line in lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            return None
        if not isinstance(row, dict):
            return None
        text, label = row.get("text"), row.get("label")
        if not isinstance(text, str) or not text or isinstance(label, (list, dict)):
            return None
        if isinstance(label, float) and label in (float("inf"), float("-inf")):
            return None
        if label is not None and label != "":
            kinds.add(type(label) if isinstance(label, (bool, str)) else float)
        out.append((text, label))
    return None if len(kinds) > 1 else out


def as_stored(rows):
    """Rows as the store keeps them: labels as text, empty as missing, later twins dropped."""
    seen, out = set(), []
    for text, label in rows:
        if isinstance(label, bool):
            label = "true" if label else "false"
        elif label is not None and not isinstance(label, str):
            label = float(label)  # numbers compare by value (1.50 is stored as 1.5)
        label = label if label != "" else None
        key = (dedup_text(text), dedup_text(label) if isinstance(label, str) else label)
        if key not in seen:
            seen.add(key)
            out.append((text, label))
    return out


@SETTINGS
@given(rows=records, ascii_only=st.booleans(), damage=edits, bad_text=poison)
def test_random_jsonl(store, tmp_path, rows, ascii_only, damage, bad_text):
    if bad_text is not None:
        rows[bad_text[0] % len(rows)]["text"] = bad_text[1]
    data = "".join(json.dumps(r, ensure_ascii=ascii_only) + "\n" for r in rows).encode()
    data = mutate(data, damage)
    parsed = parse_jsonl(data)
    ingest_and_check(store, tmp_path, "f.jsonl", data, None if parsed is None else as_stored(parsed))


def parse_csv(data: bytes):
    # a blank beside a quote (` "a"`): DuckDB drops the blank and the quotes, Python keeps both
    if re.search(rb'(^|,|\n)[ \t]+"|"[ \t]+(,|\n|$)', data):
        return AMBIGUOUS
    try:
        text = data.decode("utf-8")
        rows = list(csv.reader(stdio.StringIO(text, newline=""), strict=True))
    except (UnicodeDecodeError, csv.Error):
        return None
    # DuckDB trims the header's names (" text" names the column text), not the values, and
    # reads an empty cell past the header's width (a trailing comma) as no cell
    header = [name.strip() for name in rows[0]] if rows else []
    rows = [r[:2] if len(r) > 2 and not any(r[2:]) else r for r in rows]
    if header != ["text", "label"] or any(len(r) != 2 for r in rows[1:] if r):
        return None
    body = [r for r in rows[1:] if r]
    if not body or any(not t for t, _ in body):
        return None
    return as_stored([tuple(r) for r in body])


csv_cells = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"),
                    max_size=10)


@SETTINGS
@given(rows=st.lists(st.tuples(csv_cells.filter(str.strip), csv_cells), min_size=1, max_size=6),
       quote_all=st.booleans(), damage=edits)
def test_random_csv(store, tmp_path, rows, quote_all, damage):
    buf = stdio.StringIO()
    writer = csv.writer(buf, lineterminator="\n",
                        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    data = mutate(buf.getvalue().encode(), damage)
    ingest_and_check(store, tmp_path, "f.csv", data, parse_csv(data))
