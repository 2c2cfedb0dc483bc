"""The local engine and the batch transforms: streaming over Parquet folders, results that do not
depend on batch boundaries, provenance that ingests into the store with the same hashes."""

from __future__ import annotations

import sys

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tether.audit.minhash import signatures
from tether.audit.profile import text_profile
from tether.engines import open_input, run_aggregate, run_transform
from tether.engines.transforms import (
    BATCH_STATS,
    GeneratorTransform,
    MinHashTransform,
    ProfileAggregate,
    perturb_transform,
    simulate_users_transform,
)
from tether.errors import InputError, NotFoundError, TetherError
from tether.generate.base import Failure, Generator
from tether.generate.perturb import Pipeline, perturb_texts
from tether.generate.simulate import fit_user_profile
from tether.store import content_hashes


@pytest.fixture
def folder(tmp_path, bbc):
    """300 real BBC articles in three Parquet files of one folder."""
    src = tmp_path / "in"
    src.mkdir()
    for k in range(3):
        pq.write_table(bbc.slice(100 * k, 100), src / f"part-{k}.parquet")
    return src


def read(out) -> pa.Table:
    return ds.dataset(out, format="parquet").to_table().sort_by("id")


def test_perturb_streams_a_folder_and_matches_the_pure_function(folder, tmp_path, bbc):
    fn = perturb_transform("typos=0.05,casing=0.1", seed=7)
    result = run_transform(fn, folder, tmp_path / "out", batch_size=64)
    assert (result.rows_in, result.rows_out) == (300, 300)
    out = ds.dataset(tmp_path / "out").to_table()
    seeds = bbc.slice(0, 300)
    by_parent = {p[0]: t for p, t in zip(out.column("parents").to_pylist(),
                                        out.column("text").to_pylist())}
    expected = perturb_texts(seeds.column("text").to_pylist(), seeds.column("id").to_pylist(),
                             Pipeline.parse("typos=0.05,casing=0.1"), seed=7)
    assert [by_parent[i] for i in seeds.column("id").to_pylist()] == expected
    assert sum(a != b for a, b in zip(expected, seeds.column("text").to_pylist())) > 290
    assert set(out.column("origin").to_pylist()) == {"synthetic"}
    assert set(out.column("family").to_pylist()) == {"rule"}
    assert set(out.column("generation").to_pylist()) == {1}
    assert set(out.column("label_origin").to_pylist()) == {"real"}
    assert out.column("label").to_pylist() == [
        dict(zip(seeds.column("id").to_pylist(), seeds.column("label").to_pylist()))[p[0]]
        for p in out.column("parents").to_pylist()]


def test_output_does_not_depend_on_batch_boundaries(folder, tmp_path):
    fn = perturb_transform("drops=0.02,whitespace=0.1", seed=3)
    run_transform(fn, folder, tmp_path / "a", batch_size=7)
    run_transform(fn, folder, tmp_path / "b", batch_size=1000)
    assert read(tmp_path / "a").equals(read(tmp_path / "b"))


def test_output_ingests_with_the_hashes_and_ids_the_store_derives(store, bbc, tmp_path):
    seeds = bbc.slice(0, 300).append_column("source", pa.array(["wire"] * 300))
    store.ingest("real", seeds, origin="real", label_origin="real", domain="news")
    fn = perturb_transform("typos=0.05", seed=1)
    result = run_transform(fn, "real", tmp_path / "out", store=store, batch_size=50)
    run = store.run(result.run_id)
    assert (run["kind"], run["status"], run["generator"], run["seed"]) == (
        "engine", "complete", "perturb@1", 1)
    assert str(tmp_path / "out") in run["params"]
    written = read(tmp_path / "out")
    assert set(written.column("domain").to_pylist()) == {"news"}
    assert set(written.column("run_id").to_pylist()) == {result.run_id}
    n = store.summary("real").count  # BBC News holds a few duplicate articles
    assert result.rows_out == n
    added = store.ingest("noisy", result.files[0])  # generation, content_hash given: checked
    assert added.added == n
    stored = store.table("noisy").sort_by("id")
    for col in ("id", "content_hash", "config_hash", "generation", "parents", "text"):
        assert stored.column(col).to_pylist() == written.column(col).to_pylist(), col
    # a second generation from the Parquet output: generation 2, and it ingests too
    again = run_transform(perturb_transform("casing=0.2", seed=2), tmp_path / "out",
                          tmp_path / "out2")
    assert set(read(tmp_path / "out2").column("generation").to_pylist()) == {2}
    assert store.ingest("noisier", again.files[0]).added == n


def test_content_hashes_match_the_store_for_typed_and_nested_fields(store):
    table = pa.table({"text": ["a", "b", "c"], "label": ["x", None, ""], "n": [1, None, 3],
                      "tags": [["p", "q"], [], None], "score": [0.5, 1.25, None]})
    store.ingest("d", table, origin="real", label_origin="real")
    assert store.table("d").column("content_hash").to_pylist() == \
        content_hashes(table).to_pylist()


def test_inputs_without_provenance_take_label_origin_from_the_option(tmp_path):
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["one two", "three"],
                             "label": ["x", None]}), tmp_path / "in.parquet")
    fn = perturb_transform("typos=0.1", seed=0, label_origin="synthetic")
    run_transform(fn, tmp_path / "in.parquet", tmp_path / "out")
    out = read(tmp_path / "out")
    by_parent = dict(zip([p[0] for p in out.column("parents").to_pylist()],
                         out.column("label_origin").to_pylist()))
    assert by_parent == {"a": "synthetic", "b": None}


def test_simulated_users_transform_matches_its_generator(folder, tmp_path, bbc):
    profile = fit_user_profile(["pls send teh report", "thx, see u tmrw", "ok"] * 5)
    fn = simulate_users_transform(profile, seed=4)
    run_transform(fn, folder, tmp_path / "out", batch_size=100)
    out = read(tmp_path / "out")
    rows = bbc.slice(0, 300).to_pylist()
    made = {r["parents"][0]: r["text"] for r in fn.generator.generate(rows, 4)}
    assert {p[0]: t for p, t in zip(out.column("parents").to_pylist(),
                                    out.column("text").to_pylist())} == made
    assert set(out.column("family").to_pylist()) == {"simulation"}


def test_minhash_transform_equals_signatures_of_the_whole_input(folder, tmp_path, bbc):
    run_transform(MinHashTransform(num_perm=64, ngram=5, seed=2), folder, tmp_path / "sig",
                  batch_size=50)
    out = read(tmp_path / "sig")
    seeds = bbc.slice(0, 300).sort_by("id")
    expected = signatures(seeds.column("text").to_pylist(), num_perm=64, ngram=5, seed=2)
    assert out.column("id").to_pylist() == seeds.column("id").to_pylist()
    assert np.array_equal(np.array(out.column("signature").to_pylist(), dtype=np.uint32), expected)


def test_profile_aggregate_pools_batches_exactly(folder, bbc):
    result = run_aggregate(ProfileAggregate(), folder, batch_size=37).result
    seeds = bbc.slice(0, 300)
    whole = text_profile(seeds.column("text").to_pylist())
    for stat in BATCH_STATS:
        v = whole[stat][np.isfinite(whole[stat])]
        got = result.stats[stat]
        assert got.n == v.size
        assert got.mean == pytest.approx(v.mean(), rel=1e-9)
        assert got.std == pytest.approx(v.std(ddof=1), rel=1e-9)
        assert (got.min, got.max) == (v.min(), v.max())
        assert got.mean_ci[0] <= got.mean <= got.mean_ci[1]
    labels = seeds.column("label").to_pylist()
    assert result.labels == {k: labels.count(k) for k in set(labels)}
    assert result.count == 300
    assert "normal" in result.to_dict()["method"]


def test_open_input_paths_urls_and_store_names(store, folder, tmp_path):
    assert open_input(None, folder).count_rows() == 300
    assert open_input(None, folder / "part-1.parquet").count_rows() == 100
    assert open_input(None, (folder / "part-1.parquet").as_uri()).count_rows() == 100
    store.ingest("news", [{"text": "Rates rise", "label": "b"}], origin="real",
                 label_origin="real")
    assert open_input(store, "news").to_table().column("text").to_pylist() == ["Rates rise"]
    with pytest.raises(NotFoundError, match="--store"):
        open_input(None, "news")
    with pytest.raises(NotFoundError, match="datasets here: news"):
        open_input(store, "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no Parquet"):
        open_input(None, tmp_path / "empty")


def test_refuses_a_used_output_folder_and_unknown_engines(folder, tmp_path):
    fn = perturb_transform("typos=0.1", seed=0)
    run_transform(fn, folder, tmp_path / "out")
    with pytest.raises(InputError, match="already holds Parquet"):
        run_transform(fn, folder, tmp_path / "out")
    with pytest.raises(InputError, match="unknown engine"):
        run_transform(fn, folder, tmp_path / "other", engine="spark")


def test_missing_column_names_the_field(tmp_path):
    pq.write_table(pa.table({"id": ["a"], "body": ["x"]}), tmp_path / "in.parquet")
    with pytest.raises(InputError, match="no 'text' column"):
        run_transform(perturb_transform("typos=0.1", seed=0), tmp_path / "in.parquet",
                      tmp_path / "out")


def test_ray_engine_without_ray_says_how_to_install(folder, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(TetherError, match=r"pip install 'tether\[ray\]'"):
        run_transform(perturb_transform("typos=0.1", seed=0), folder, tmp_path / "out",
                      engine="ray")


class _Halves(Generator):
    """Copies rows whose id ends in an even digit; the others fail."""

    name, version, family = "halves", "1", "rule"

    def generate(self, seeds, seed):
        for row in seeds:
            if int(row["id"][-1]) % 2:
                yield Failure([row["id"]], "odd")
            else:
                yield {"text": row["text"] + "!", "label": None, "parents": [row["id"]]}


def test_generator_failures_are_dropped_even_when_a_whole_batch_fails(tmp_path):
    ids = ["r1", "r3", "r5", "r0", "r2", "r7"]  # the first batch of 3 fails entirely
    pq.write_table(pa.table({"id": ids, "text": [f"t {i}" for i in ids]}), tmp_path / "in.parquet")
    result = run_transform(GeneratorTransform(_Halves(), seed=0), tmp_path / "in.parquet",
                           tmp_path / "out", batch_size=3)
    assert (result.rows_in, result.rows_out) == (6, 2)
    parents = read(tmp_path / "out").column("parents").to_pylist()
    assert sorted(p[0] for p in parents) == ["r0", "r2"]


def test_integer_ids_become_text_parents(tmp_path):
    pq.write_table(pa.table({"id": [10, 11], "text": ["one two", "three four"]}),
                   tmp_path / "in.parquet")
    run_transform(perturb_transform("typos=0.1", seed=0), tmp_path / "in.parquet",
                  tmp_path / "out")
    assert sorted(read(tmp_path / "out").column("parents").to_pylist()) == [["10"], ["11"]]


def test_parquet_output_is_audited_in_place_of_a_dataset(store, folder, tmp_path):
    """Data too large for the store keeps its provenance in Parquet columns; audits and
    evaluation take the path wherever they take a dataset name."""
    from tether.audit.diversity import audit_diversity
    from tether.audit.mirage import audit_mirage

    run_transform(perturb_transform("typos=0.05,casing=0.1", seed=5), folder, tmp_path / "out")
    table = store.table(str(tmp_path / "out"))
    assert table.num_rows == 300
    assert set(table.column("origin").to_pylist()) == {"synthetic"}
    assert set(table.column("generation").to_pylist()) == {1}
    assert all(len(p) == 1 for p in table.column("parents").to_pylist())
    assert '"operations"' in table.column("fields")[0].as_py()
    seeds = store.table(str(folder))
    assert seeds.num_rows == 300 and seeds.column("parents").to_pylist()[0] == []
    mirage = audit_mirage(store, str(folder), str(tmp_path / "out"), permutations=10)
    assert mirage.n_real == 300 and mirage.n_synthetic == 300 and mirage.c2st_auc > 0.8
    assert store.latest_result("mirage").params["synthetic"] == str(tmp_path / "out")
    assert audit_diversity(store, str(tmp_path / "out")).by_generation
