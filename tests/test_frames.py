"""DataFrames and Hugging Face datasets in and out of the store, with the user's column names.

A notebook-style round trip for each library: ingest the user's own frame (their column names,
their types), read it back with ``to_pandas``/``to_polars``/``to_hf`` and export it, and find the
same columns and values with the provenance columns beside them.
"""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from tether import InputError, NotFoundError
from tether.cli import app

PROVENANCE = ["origin", "label_origin", "family", "generator", "parents", "generation",
              "content_hash"]


def user_rows():
    return {"body": ["rates rise again", "cup final tonight", "new phone out"],
            "topic": ["business", "sport", "tech"], "words": [3, 3, 3],
            "score": [0.5, 0.25, 0.125], "tags": [["a"], [], ["b", "c"]]}


def ingest_kwargs():
    return {"origin": "real", "label_origin": "real", "text_field": "body", "label_field": "topic"}


def test_pandas_round_trip_keeps_names_types_and_values(store):
    pd = pytest.importorskip("pandas", reason="the frames extra is not installed")
    frame = pd.DataFrame(user_rows())
    r = store.ingest("news", frame, **ingest_kwargs())
    assert r.added == 3
    back = store.to_pandas("news")
    # text and label first, the other fields in name order (the store keeps no column order)
    assert list(back.columns[:5]) == ["id", "body", "topic", "score", "tags"]
    assert set(PROVENANCE) <= set(back.columns) and "fields" not in back.columns
    assert "text" not in back.columns and "label" not in back.columns
    for col in ("body", "topic", "words", "score"):
        assert back[col].tolist() == frame[col].tolist(), col
    assert [list(t) for t in back["tags"]] == frame["tags"].tolist()
    assert str(back["words"].dtype) == "int64" and str(back["score"].dtype) == "float64"
    assert back["origin"].tolist() == ["real"] * 3
    assert back["generation"].tolist() == [0, 0, 0]


def test_pandas_named_index_becomes_a_column_and_bad_frames_write_nothing(store):
    pd = pytest.importorskip("pandas", reason="the frames extra is not installed")
    frame = pd.DataFrame({"text": ["a", "b"]}, index=pd.Index(["x1", "x2"], name="doc"))
    store.ingest("d", frame, origin="real")
    assert store.to_pandas("d")["doc"].tolist() == ["x1", "x2"]
    before = store._con.execute("SELECT count(*) FROM samples").fetchone()[0]
    mixed = pd.DataFrame({"text": ["a", "b"], "odd": [1, "one"]})
    with pytest.raises(InputError, match="DataFrame cannot be converted"):
        store.ingest("d2", mixed, origin="real")
    assert store._con.execute("SELECT count(*) FROM samples").fetchone()[0] == before
    assert not store.has_dataset("d2")


def test_polars_round_trip(store):
    pl = pytest.importorskip("polars", reason="the frames extra is not installed")
    frame = pl.DataFrame(user_rows())
    store.ingest("news", frame, **ingest_kwargs())
    back = store.to_polars("news")
    assert isinstance(back, pl.DataFrame)
    user = ["body", "topic", "words", "score", "tags"]
    assert back.select(user).to_dicts() == frame.to_dicts()
    assert back.schema["words"] == pl.Int64 and back.schema["score"] == pl.Float64
    assert back["label_origin"].to_list() == ["real"] * 3


def test_hf_dataset_round_trip_with_class_labels_by_name(store):
    datasets = pytest.importorskip("datasets", reason="the frames extra is not installed")
    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["neg", "pos"]),
                                  "n": datasets.Value("int64")})
    ds = datasets.Dataset.from_dict({"sentence": ["good", "bad", "fine"], "label": [1, 0, 1],
                                     "n": [1, 2, 3]}, features=features)
    store.ingest("sst", ds.select([2, 0]), origin="real", label_origin="real",
                 text_field="sentence")
    back = store.to_hf("sst")
    assert isinstance(back, datasets.Dataset)
    assert back["sentence"] == ["fine", "good"]  # the selection, in its order
    assert back["label"] == ["pos", "pos"] and back["n"] == [3, 1]
    assert back["origin"] == ["real", "real"] and "parents" in back.column_names


def test_dataset_dict_is_one_dataset_per_split_or_the_named_split(store):
    datasets = pytest.importorskip("datasets", reason="the frames extra is not installed")
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"text": ["a", "b", "c"], "label": ["x", "y", "x"]}),
        "test": datasets.Dataset.from_dict({"text": ["d"], "label": ["y"]})})
    results = store.ingest("news", dd, origin="real", label_origin="real")
    assert [(r.dataset, r.added) for r in results] == [("news-train", 3), ("news-test", 1)]
    only = store.ingest("held", dd, origin="real", label_origin="real", split="test")
    assert only.dataset == "held" and only.added == 1
    assert store.records("held")[0]["text"] == "d"
    with pytest.raises(InputError, match="no split 'dev'; the DatasetDict has train, test"):
        store.ingest("x", dd, origin="real", split="dev")
    with pytest.raises(InputError, match="DatasetDict only"):
        store.ingest("x", [{"text": "a"}], origin="real", split="train")


def test_save_to_disk_folders_through_the_api_and_the_cli(store, tmp_path):
    datasets = pytest.importorskip("datasets", reason="the frames extra is not installed")
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"body": ["a", "b"], "topic": ["x", "y"]}),
        "test": datasets.Dataset.from_dict({"body": ["c"], "topic": ["x"]})})
    dd.save_to_disk(tmp_path / "dd")
    dd["train"].save_to_disk(tmp_path / "one")
    r = store.ingest("one", tmp_path / "one", **ingest_kwargs())
    assert r.added == 2 and store.to_pandas("one")["body"].tolist() == ["a", "b"]
    store.close()
    path = tmp_path / "t.duckdb"
    runner = CliRunner()
    out = runner.invoke(app, ["ingest", str(tmp_path / "dd"), "--dataset", "news", "--origin",
                              "real", "--label-origin", "real", "--text-field", "body",
                              "--label-field", "topic", "--store", str(path), "--json"],
                        catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == [
        {"dataset": "news-train", "added": 2, "skipped_duplicates": 0},
        {"dataset": "news-test", "added": 1, "skipped_duplicates": 0}]
    out = runner.invoke(app, ["ingest", str(tmp_path / "dd"), "--dataset", "t", "--split", "test",
                              "--origin", "real", "--label-origin", "real", "--text-field",
                              "body", "--label-field", "topic", "--store", str(path), "--json"],
                        catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {"dataset": "t", "added": 1, "skipped_duplicates": 0}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_keeps_the_users_field_names_and_reingests_identically(store, tmp_path, fmt):
    rows = [{"doc": f"d{i}", "body": f"article {i}", "topic": "x", "lang": "en"} for i in range(3)]
    store.ingest("news", rows, **ingest_kwargs(), id_field="doc")
    assert store.field_names("news") == {"id": "doc", "text": "body", "label": "topic"}
    out = store.export("news", tmp_path / f"news.{fmt}")
    copy = store.ingest("copy", out.path, **ingest_kwargs(), id_field="doc")
    assert copy.added == 3
    if fmt == "jsonl":
        first = json.loads((tmp_path / "news.jsonl").read_text().splitlines()[0])
        assert {"doc", "body", "topic", "lang", "origin"} <= set(first)
        assert not {"id", "text", "label", "fields"} & set(first)
    a, b = store.table("news").to_pylist(), store.table("copy").to_pylist()
    assert [x["content_hash"] for x in a] == [y["content_hash"] for y in b]
    assert [x["id"] for x in a] == [y["id"] for y in b] == ["d0", "d1", "d2"]


def test_missing_library_says_what_to_install(store, monkeypatch):
    store.ingest("d", [{"text": "a"}], origin="real")
    monkeypatch.setitem(sys.modules, "polars", None)  # import polars now raises ImportError
    with pytest.raises(NotFoundError, match=r"polars is not installed; pip install 'tether\[frames\]'"):
        store.to_polars("d")


def test_polars_lazy_frame_and_pandas_series(store):
    pl = pytest.importorskip("polars", reason="the frames extra is not installed")
    pd = pytest.importorskip("pandas", reason="the frames extra is not installed")
    store.ingest("lazy", pl.DataFrame({"text": ["a", "b"]}).lazy(), origin="real")
    assert store.to_polars("lazy")["text"].to_list() == ["a", "b"]
    with pytest.raises(InputError, match=r"cannot ingest a pandas Series.*to_frame\(\)"):
        store.ingest("s", pd.Series(["a"], name="text"), origin="real")
    with pytest.raises(InputError, match="DatasetDict only"):
        store.ingest("s", pd.DataFrame({"text": ["a"]}), origin="real", split="train")
