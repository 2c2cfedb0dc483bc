"""The provenance store: validation, derived fields, dedupe, transactions, lineage, export."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tether import InputError, NotFoundError, Store, StoreError
from tether import store as store_module


def snapshot(store: Store) -> tuple:
    """Everything the store holds, to compare before and after a failed write."""
    return tuple(
        tuple(sorted(map(str, store._con.execute(f"SELECT * FROM {t}").fetchall())))
        for t in ("datasets", "samples", "runs", "failures", "audits")
    )


def real_rows(n=3):
    return [{"id": f"r{i}", "text": f"real text number {i}", "label": "a" if i % 2 else "b"}
            for i in range(n)]


def test_ingest_records_provenance_and_derives_fields(store):
    r = store.ingest("real", real_rows(), origin="real", label_origin="real", domain="news",
                     task="topic", generator="bbc@1")
    assert r.to_dict() == {"dataset": "real", "added": 3, "skipped_duplicates": 0}
    rows = store.table("real").to_pylist()
    assert [row["id"] for row in rows] == ["r0", "r1", "r2"]
    assert {row["origin"] for row in rows} == {"real"}
    assert {row["generation"] for row in rows} == {0}
    assert all(len(row["content_hash"]) == 32 for row in rows)
    assert rows[0]["domain"] == "news" and rows[0]["task"] == "topic"
    run = store.run(r.run_id)
    assert run["kind"] == "ingest" and run["status"] == "complete" and run["added"] == 3


def test_reingest_same_content_adds_nothing(store):
    store.ingest("real", real_rows(), origin="real", label_origin="real")
    before = snapshot(store)[1]
    again = store.ingest("real", real_rows(), origin="real", label_origin="real")
    assert (again.added, again.skipped_duplicates) == (0, 3)
    assert snapshot(store)[1] == before


def test_generation_is_derived_from_parents_across_datasets(store):
    store.ingest("real", real_rows(), origin="real", label_origin="real")
    store.ingest("gen1", [{"id": "s1", "text": "synthetic one", "parents": ["r0", "r1"]}],
                 origin="synthetic", family="rule", generator="typos@1")
    store.ingest("gen2", [{"id": "s2", "text": "synthetic two", "parents": ["s1"]},
                          {"id": "s3", "text": "synthetic three", "parents": ["s2", "r2"]}],
                 origin="synthetic", family="model", generator="llm@1")
    gens = {r["id"]: r["generation"] for r in store.table("gen2").to_pylist()}
    assert gens == {"s2": 2, "s3": 3}
    lineage = store.lineage("s3")
    assert lineage.ancestors[:2] == ["r2", "s2"] and set(lineage.ancestors) == {"s2", "r2", "s1", "r0", "r1"}
    assert lineage.real_seeds == ["r0", "r1", "r2"]
    assert store.lineage("r0").descendants == ["s1", "s2", "s3"]
    assert set(store.lineage("r0").to_dict()) == {"id", "ancestors", "descendants", "real_seeds"}


def test_typed_generation_must_agree(store):
    store.ingest("real", real_rows(1), origin="real", label_origin="real")
    with pytest.raises(InputError, match="generation is derived"):
        store.ingest("s", [{"text": "x", "parents": ["r0"], "generation": 5}],
                     origin="synthetic", family="rule", generator="g@1")


def test_missing_parent_is_rejected(store):
    with pytest.raises(InputError, match="parent 'nope' is not in the store") as err:
        store.ingest("s", [{"text": "x", "parents": ["nope"]}], origin="synthetic",
                     family="rule", generator="g@1")
    assert err.value.field == "parents" and err.value.row == 1


@pytest.mark.parametrize("kwargs, field, message", [
    ({"origin": "fake"}, "origin", "unknown origin"),
    ({"origin": "real", "family": "rule"}, "family", "no generator family"),
    ({"origin": "synthetic", "generator": "g@1"}, "family", "must name its family"),
    ({"origin": "synthetic", "family": "rule"}, "generator", "must name its generator"),
    ({"origin": "synthetic", "family": "rule", "generator": "noversion"}, "generator", "name@version"),
    ({"origin": "real", "label_origin": "teacher"}, "label_origin", "unknown label_origin"),
    ({"origin": "real", "label_origin": "synthetic"}, "family", "synthetic label must name"),
])
def test_bad_default_provenance_is_rejected(store, kwargs, field, message):
    before = snapshot(store)
    with pytest.raises(InputError, match=message) as err:
        store.ingest("d", [{"text": "t", "label": "x"}], **kwargs)
    assert err.value.field == field
    assert snapshot(store) == before


def test_label_needs_label_origin_and_default_applies_only_to_labelled_rows(store):
    with pytest.raises(InputError, match="no label_origin") as err:
        store.ingest("d", [{"text": "t", "label": "x"}], origin="real")
    assert err.value.field == "label_origin"
    store.ingest("d", [{"text": "t", "label": "x"}, {"text": "u"}], origin="real",
                 label_origin="real")
    assert [r["label_origin"] for r in store.table("d").to_pylist()] == ["real", None]


def test_teacher_label_on_real_input(store):
    store.ingest("d", [{"text": "t", "label": "x"}], origin="real", label_origin="synthetic",
                 family="model", generator="teacher@1")
    assert store.summary("d").by_label_origin == {"synthetic": 1}


def test_id_conflicts(store):
    store.ingest("d", real_rows(2), origin="real", label_origin="real")
    with pytest.raises(InputError, match="already in dataset") as err:
        store.ingest("d", [{"id": "r0", "text": "other", "label": "a"}], origin="real",
                     label_origin="real")
    assert err.value.field == "id"
    with pytest.raises(InputError, match="duplicate id 'x'"):
        store.ingest("e", [{"id": "x", "text": "1"}, {"id": "x", "text": "2"}], origin="real")


def test_failed_write_leaves_store_unchanged_even_late_in_the_transaction(store):
    store.ingest("d", real_rows(2), origin="real", label_origin="real")
    before = snapshot(store)
    rows = real_rows(5)[2:] + [{"id": "r0", "text": "clash", "label": "a"}]
    with pytest.raises(InputError):
        store.ingest("d", rows, origin="real", label_origin="real")
    assert snapshot(store) == before


def test_summary_contract(store):
    store.ingest("mix", real_rows(), origin="real", label_origin="real")
    store.ingest("mix", [{"text": "s", "label": "a", "parents": ["r0"]}], origin="synthetic",
                 label_origin="synthetic", family="rule", generator="typos@1")
    d = store.summary("mix").to_dict()
    assert d["count"] == 4 and d["by_origin"] == {"real": 3, "synthetic": 1}
    assert d["by_family"] == {"": 3, "rule": 1}
    assert d["by_generation"] == {"0": 3, "1": 1}
    assert d["synthetic_share"] == pytest.approx(0.25)
    for key in ("name", "by_generator", "by_label_origin"):
        assert key in d
    with pytest.raises(NotFoundError, match="no dataset 'nope'"):
        store.summary("nope")


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_round_trip_keeps_every_field(store, tmp_path, fmt):
    store.ingest("real", real_rows(2), origin="real", label_origin="real")
    rows = [{"id": "s1", "text": "hello, world", "label": "a", "parents": ["r0"], "score": 0.5,
             "operations": ["typos"]},
            {"id": "s2", "text": "line\nbreak \"quoted\"", "label": "b", "parents": ["r0", "r1"]}]
    store.ingest("syn", rows, origin="synthetic", label_origin="synthetic", family="rule",
                 generator="typos@1.0", generator_config={"rate": 0.1}, domain="news")
    out = store.export("syn", tmp_path / f"syn.{fmt}")
    assert out.count == 2
    card = (tmp_path / "syn.card.md").read_text()
    assert "typos@1.0" in card and "| synthetic | 2 |" in card
    again = store.ingest("copy", tmp_path / f"syn.{fmt}")
    assert again.added == 2
    a, b = store.table("syn").to_pylist(), store.table("copy").to_pylist()
    for x, y in zip(a, b):
        for key in ("id", "text", "label", "origin", "label_origin", "family", "generator",
                    "config_hash", "domain", "parents", "generation", "content_hash"):
            assert x[key] == y[key], key
        assert json.loads(x["generator_config"]) == json.loads(y["generator_config"])


def test_start_run_resumes_only_unfinished_runs(store):
    run_id = store.start_run("generate", "d", generator="g@1", config={"a": 1}, seed=3)
    assert store.start_run("generate", "d", generator="g@1", config={"a": 1}, run_id=run_id) == run_id
    with pytest.raises(StoreError, match="another configuration"):
        store.start_run("generate", "d", generator="g@1", config={"a": 2}, run_id=run_id)
    store.finish_run(run_id)
    with pytest.raises(StoreError, match="already complete"):
        store.start_run("generate", "d", generator="g@1", config={"a": 1}, run_id=run_id)


def test_store_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TETHER_STORE", str(tmp_path / "env.duckdb"))
    with Store() as s:
        assert s.path == str(tmp_path / "env.duckdb")
    assert (tmp_path / "env.duckdb").exists()


def test_results_are_saved_and_latest_is_returned(store):
    from tether.evaluate.ppi import estimate

    gold = [{"label": float(i % 2), "prediction": float(i % 3 > 0)} for i in range(12)]
    first = estimate(gold, [{"prediction": 1.0}] * 20)
    second = estimate(gold[:8], [{"prediction": 0.0}] * 20)
    assert store.latest_result("estimate") is None
    store.save_result(first)
    rid = store.save_result(second, {"gold": "a"})
    latest = store.latest_result("estimate")
    assert latest.id == rid and latest.params == {"gold": "a"}
    assert latest.data == json.loads(json.dumps(second.to_dict()))
    assert latest.result.n_gold == 8 and first.n_gold == 12


def test_tabular_rows_without_text(store, tmp_path):
    table = pa.table({"t": [0, 1, 2], "value": [1.5, 2.5, None]})
    pq.write_table(table, tmp_path / "sensor.parquet")
    r = store.ingest("sensor", tmp_path / "sensor.parquet", origin="real", text_field=None)
    assert r.added == 3
    fields = [json.loads(x) for x in store.table("sensor").column("fields").to_pylist()]
    assert fields == [{"t": 0, "value": 1.5}, {"t": 1, "value": 2.5}, {"t": 2}]


def test_label_origin_without_a_label_field_is_an_error_and_writes_nothing(tmp_path):
    """A forgotten --label-field used to store every row unlabelled and drop label_origin."""
    import pytest

    from tether import Store
    from tether.errors import InputError

    path = tmp_path / "topics.jsonl"
    path.write_text('{"text": "Rates rise", "topic": "business"}\n')
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(InputError, match="--label-field") as info:
            store.ingest("news", path, origin="real", label_origin="real")
        assert info.value.field == "label" and info.value.path == str(path)
        assert store.datasets() == []
        store.ingest("news", path, origin="real", label_origin="real", label_field="topic")
        assert store.summary("news").count == 1


# ------------------------------------------------------------------------- identity (#16)
TWINS = ["caf\u00e9 au lait", "cafe\u0301 au lait", "caf\u00e9\u200b au lait",
         "caf\u00e9 au\u200c lait", "\ufeffcaf\u00e9 au lait", "caf\u00e9 au\u2060 lait",
         "caf\u00e9\u200d au lait"]


def test_unicode_twins_are_duplicates_but_keep_exact_content_hashes(store):
    r = store.ingest("d", [{"text": TWINS[0], "label": "x"}], origin="real", label_origin="real")
    again = store.ingest("d", [{"text": t, "label": "x"} for t in TWINS[1:]], origin="real",
                         label_origin="real")
    assert (r.added, again.added, again.skipped_duplicates) == (1, 0, len(TWINS) - 1)
    within = store.ingest("e", [{"text": t} for t in TWINS], origin="real")
    assert (within.added, within.skipped_duplicates) == (1, len(TWINS) - 1)
    # the stored text and its content hash stay exactly what was given
    store.ingest("f", [{"text": TWINS[1]}], origin="real")
    nfc, nfd = (store.table(n).to_pylist()[0] for n in ("e", "f"))
    assert nfd["text"] == TWINS[1] and nfc["content_hash"] != nfd["content_hash"]


def test_dedup_key_is_the_content_hash_for_content_normalising_leaves_alone(store):
    store.ingest("d", [{"text": "plain", "n": 1}, {"text": "d\u00e9j\u00e0 vu"},
                       {"text": "cafe\u0301"}], origin="real")
    rows = store._con.execute("SELECT content_hash, dedup_key FROM samples "
                             "ORDER BY rowid").fetchall()
    # stored as '' (the content hash) unless normalising changes the content
    assert [k for _, k in rows[:2]] == ["", ""]
    assert len(rows[2][1]) == 32 and rows[2][1] != rows[2][0]


def test_keys_written_in_full_by_earlier_versions_still_dedup(store):
    store.ingest("d", [{"text": "plain"}, {"text": "cafe\u0301"}], origin="real")
    store._con.execute("UPDATE samples SET dedup_key = content_hash WHERE dedup_key = ''")
    again = store.ingest("d", [{"text": "plain"}, {"text": "caf\u00e9"}, {"text": "new"}],
                         origin="real")
    assert (again.added, again.skipped_duplicates) == (1, 2)
    store.ingest("e", [{"text": "plain"}], origin="real")
    assert len(store.exact_copies("e", "d")) == 1


def test_a_store_written_before_dedup_keys_opens_and_gets_them(tmp_path):
    path = tmp_path / "old.duckdb"
    with Store(path) as s:
        s.ingest("d", [{"text": "plain", "n": 1.5, "tags": ["a"]}, {"text": "cafe\u0301"}],
                 origin="real")
        keys = s._con.execute("SELECT dedup_key FROM samples ORDER BY rowid").fetchall()
        s._con.execute("ALTER TABLE samples DROP COLUMN dedup_key")
    with Store(path) as s:
        assert s._con.execute("SELECT dedup_key FROM samples ORDER BY rowid").fetchall() == keys
        assert s.ingest("d", [{"text": "caf\u00e9"}], origin="real").added == 0


def _two_datasets_with_id_x(store):
    store.ingest("a", [{"id": "x", "text": "alpha"}], origin="real")
    store.ingest("b", [{"id": "x", "text": "beta"}], origin="real")


def test_a_parent_id_held_by_different_samples_in_two_datasets_must_be_qualified(store):
    _two_datasets_with_id_x(store)
    before = snapshot(store)
    syn = {"origin": "synthetic", "family": "rule", "generator": "g@1"}
    with pytest.raises(InputError, match="qualify it as dataset:id") as err:
        store.ingest("s", [{"id": "c", "text": "child", "parents": ["x"]}], **syn)
    assert err.value.field == "parents" and err.value.row == 1 and "a, b" in str(err.value)
    assert snapshot(store) == before
    store.ingest("s", [{"id": "c", "text": "child", "parents": ["b:x"]},
                       {"id": "g", "text": "grandchild", "parents": ["s:c"]}], **syn)
    assert {r["id"]: r["generation"] for r in store.table("s").to_pylist()} == {"c": 1, "g": 2}
    assert store.lineage("g").ancestors == ["c", "x"]
    assert store.lineage("x", "b").descendants == ["c", "g"]
    with pytest.raises(InputError, match="'a:nope' is not in the store"):
        store.ingest("t", [{"text": "t", "parents": ["a:nope"]}], **syn)


def test_copies_of_one_sample_in_several_datasets_are_one_parent(store):
    store.ingest("a", [{"id": "x", "text": "same"}], origin="real")
    store.ingest("b", [{"id": "x", "text": "same"}], origin="real")
    store.ingest("s", [{"text": "child", "parents": ["x"]}], origin="synthetic", family="rule",
                 generator="g@1")
    assert store.table("s").column("generation").to_pylist() == [1]


def test_parents_in_a_cycle_are_an_input_error(store):
    with pytest.raises(InputError, match="cycle") as err:
        store.ingest("s", [{"id": "p", "text": "1", "parents": ["q"]},
                           {"id": "q", "text": "2", "parents": ["p"]}],
                     origin="synthetic", family="rule", generator="g@1")
    assert err.value.field == "parents"


def test_the_store_draws_no_duckdb_progress_bar(tmp_path):
    # DuckDB draws one on stdout for any statement over 2 s: a long ingest must not, nor the
    # hashing of a large batch outside a store
    setting = "SELECT current_setting('enable_progress_bar')"
    with Store(tmp_path / "s.duckdb") as s:
        assert s._con.execute(setting).fetchone()[0] is False
    with store_module._scratch().cursor() as cur:
        assert cur.execute(setting).fetchone()[0] is False
