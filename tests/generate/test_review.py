"""Human shaping: export model-made candidates, import choices and ratings, preference pairs."""

from __future__ import annotations

import csv
import json

import pytest

from tether.errors import InputError
from tether.generate.review import export_candidates, import_reviews, read_reviews

CONFIG = {"task": "answer", "temperature": 0.7}


@pytest.fixture
def pool(store):
    """Two real questions and five model-made answers to them (plus one rule-made sample)."""
    store.ingest("questions", [{"id": "q1", "text": "Why is the sky blue?"},
                               {"id": "q2", "text": "What is 2 + 2?"}], origin="real")
    answers = [("c1", "q1", "Rayleigh scattering."), ("c2", "q1", "Because of the sea."),
               ("c3", "q1", "It is not."), ("c4", "q2", "4"), ("c5", "q2", "5")]
    store.ingest("pool", [{"id": cid, "text": store.table("questions", ids=[q])
                           .column("text")[0].as_py(), "answer": a, "parents": [q]}
                          for cid, q, a in answers],
                 origin="synthetic", family="model", generator="llm:m@1", generator_config=CONFIG)
    store.ingest("pool", [{"id": "r1", "text": "WHY IS THE SKY BLUE?", "parents": ["q1"]}],
                 origin="synthetic", family="rule", generator="casing@1")
    return "pool"


def write_csv(path, rows, columns=("id", "chosen", "rating")):
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(dict(zip(columns, row)))
    return path


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_export_writes_one_row_per_model_made_candidate(store, pool, tmp_path, suffix):
    result = export_candidates(store, pool, tmp_path / f"review.{suffix}")
    if suffix == "csv":
        with open(result.path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        parents = [json.loads(r["parents"]) for r in rows]
    else:
        rows = [json.loads(line) for line in open(result.path)]
        parents = [r["parents"] for r in rows]
    assert result.count == 5 and [r["id"] for r in rows] == ["c1", "c2", "c3", "c4", "c5"]
    assert list(rows[0]) == ["id", "prompt", "text", "answer", "label", "generator", "parents",
                             "chosen", "rating"]
    assert rows[0]["prompt"] == "Why is the sky blue?" and rows[3]["answer"] == "4"
    assert {r["generator"] for r in rows} == {"llm:m@1"}
    assert parents[0] == ["q1"]


def test_import_keeps_provenance_marks_the_choice_and_writes_pairs(store, pool, tmp_path):
    export_candidates(store, pool, tmp_path / "review.csv")
    rated = write_csv(tmp_path / "rated.csv", [("c1", "true", ""), ("c2", "false", ""),
                                               ("c3", "no", "1"), ("c4", "", "5"),
                                               ("c5", "", "2")])
    result = import_reviews(store, rated, pool, "chosen", reviewer="alice",
                            pairs=tmp_path / "pairs.jsonl")
    assert (result.reviewed, result.chosen, result.added, result.pairs) == (5, 2, 2, 3)
    rows = {r["id"]: r for r in store.table("chosen").to_pylist()}
    original = {r["id"]: r for r in store.table("pool").to_pylist()}
    assert set(rows) == {"c1", "c4"}
    for cid, row in rows.items():
        for kept in ("origin", "family", "generator", "config_hash", "parents", "generation",
                     "text", "created_at"):
            assert row[kept] == original[cid][kept], kept
        assert json.loads(row["generator_config"]) == CONFIG
    assert json.loads(rows["c1"]["fields"]) == {"answer": "Rayleigh scattering.",
                                                 "review": "chosen", "reviewed_by": "alice"}
    assert json.loads(rows["c4"]["fields"])["rating"] == 5
    assert store.run(result.run_id)["kind"] == "review"
    pairs = [json.loads(line) for line in open(tmp_path / "pairs.jsonl")]
    assert {(p["chosen_id"], p["rejected_id"]) for p in pairs} == {("c1", "c2"), ("c1", "c3"),
                                                                   ("c4", "c5")}
    c4 = next(p for p in pairs if p["chosen_id"] == "c4")
    assert (c4["prompt"], c4["chosen"], c4["rejected"]) == ("What is 2 + 2?", "4", "5")


def test_min_rating_chooses_every_candidate_rated_high_enough(store, pool, tmp_path):
    rated = tmp_path / "rated.jsonl"
    rated.write_text("\n".join(json.dumps(r) for r in [
        {"id": "c1", "rating": 4, "reviewer": "bob"}, {"id": "c2", "rating": 3},
        {"id": "c3", "rating": 1}, {"id": "c4"}]) + "\n")
    result = import_reviews(store, rated, pool, "chosen", min_rating=3, reviewer="alice")
    rows = {r["id"]: json.loads(r["fields"]) for r in store.table("chosen").to_pylist()}
    assert (result.reviewed, result.chosen) == (3, 2)
    assert {k: v["reviewed_by"] for k, v in rows.items()} == {"c1": "bob", "c2": "alice"}


@pytest.mark.parametrize("rows, line, field, message", [
    ([("c1", "true", ""), ("c2", "maybe", "")], 3, "chosen", "true or false"),
    ([("c1", "", "4.5")], 2, "rating", "integer"),
    ([("c1", "", "good")], 2, "rating", "integer"),
    ([("c1", "true", ""), ("", "true", "")], 3, "id", "missing"),
    ([("c1", "true", ""), ("c1", "false", "")], 3, "id", "twice"),
    ([("c1", "true", ""), ("zz", "true", "")], 3, "id", "no model-made candidate 'zz'"),
    ([("r1", "true", "")], 2, "id", "no model-made candidate 'r1'"),
])
def test_bad_rating_files_name_the_file_line_and_field(store, pool, tmp_path, rows, line, field,
                                                       message):
    path = write_csv(tmp_path / "rated.csv", rows)
    with pytest.raises(InputError, match=message) as err:
        import_reviews(store, path, pool, "chosen")
    assert (err.value.path, err.value.line, err.value.field) == (str(path), line, field)
    assert not store.has_dataset("chosen")


def test_other_bad_inputs(store, pool, tmp_path):
    bad_json = tmp_path / "rated.jsonl"
    bad_json.write_text('{"id": "c1", "chosen": true}\n{"id": "c2", chosen}\n')
    with pytest.raises(InputError, match="malformed JSON") as err:
        read_reviews(bad_json)
    assert err.value.line == 2
    with pytest.raises(InputError, match="no candidate has a chosen or rating"):
        read_reviews(write_csv(tmp_path / "empty.csv", [("c1", "", "")]))
    with pytest.raises(InputError, match=".csv or .jsonl"):
        read_reviews(tmp_path / "rated.parquet")
    with pytest.raises(InputError, match="no model-made samples"):
        export_candidates(store, "questions", tmp_path / "x.csv")
