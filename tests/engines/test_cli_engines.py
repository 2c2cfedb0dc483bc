"""``tether run ...``: JSON contracts, store records, Parquet in and out, exit codes."""

from __future__ import annotations

import json
import sys

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tether import Store
from tether.cli import app, main
from tether.engines import run_transform
from tether.engines.transforms import perturb_transform
from tether.generate.simulate import fit_user_profile


def tether(*args):
    result = CliRunner().invoke(app, list(map(str, args)), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def folder(tmp_path, bbc):
    src = tmp_path / "in"
    src.mkdir()
    for k in range(2):
        pq.write_table(bbc.slice(100 * k, 100), src / f"part-{k}.parquet")
    return src


def test_run_perturb_json_and_output_equal_the_library(folder, tmp_path):
    out = tether("run", "perturb", "--input", folder, "--out", tmp_path / "cli", "--ops",
                 "typos=0.05,casing=0.1", "--seed", 5, "--batch-size", 64, "--json")
    assert set(out) == {"transform", "engine", "input", "out", "rows_in", "rows_out", "files",
                        "seconds", "run_id"}
    assert (out["transform"], out["engine"], out["rows_in"], out["rows_out"]) == (
        "perturb", "local", 200, 200)
    run_transform(perturb_transform("typos=0.05,casing=0.1", seed=5), folder,
                  tmp_path / "lib")
    cli_rows = ds.dataset(tmp_path / "cli").to_table().sort_by("id")
    lib_rows = ds.dataset(tmp_path / "lib").to_table().sort_by("id")
    for col in ("id", "text", "parents", "content_hash", "config_hash", "generation"):
        assert cli_rows.column(col).equals(lib_rows.column(col)), col
    assert set(cli_rows.column("run_id").to_pylist()) == {out["run_id"]}


def test_run_with_a_store_reads_a_dataset_name_and_records_the_run(tmp_path, bbc):
    store = tmp_path / "s.duckdb"
    with Store(store) as s:
        s.ingest("news", bbc.slice(0, 50), origin="real", label_origin="real")
    out = tether("run", "perturb", "--input", "news", "--out", tmp_path / "noisy", "--ops",
                 "drops=0.02", "--store", store, "--json")
    with Store(store) as s:
        run = s.run(out["run_id"])
        assert (run["kind"], run["status"], run["generator"]) == ("engine", "complete",
                                                                  "perturb@1")
        assert json.loads(run["params"])["out"] == str(tmp_path / "noisy")
        assert s.ingest("noisy", out["files"][0]).added == out["rows_out"] == 50


def test_run_simulate_users_minhash_and_profile(folder, tmp_path):
    profile = fit_user_profile(["pls send teh report", "thx see u"] * 5).save(tmp_path / "p.json")
    sim = tether("run", "simulate-users", "--input", folder, "--out", tmp_path / "sim",
                 "--profile", profile, "--seed", 1, "--json")
    assert sim["rows_out"] == 200
    assert set(ds.dataset(tmp_path / "sim").to_table().column("family").to_pylist()) == {
        "simulation"}
    sig = tether("run", "minhash", "--input", folder, "--out", tmp_path / "sig", "--num-perm",
                 16, "--json")
    table = ds.dataset(tmp_path / "sig").to_table()
    assert (sig["rows_out"], table.schema.field("signature").type.list_size) == (200, 16)
    prof = tether("run", "profile", "--input", folder, "--batch-size", 30, "--json")
    assert prof["rows_in"] == prof["result"]["count"] == 200
    assert sum(prof["result"]["labels"].values()) == 200
    words = prof["result"]["stats"]["words"]
    assert words["mean_ci"][0] < words["mean"] < words["mean_ci"][1]


def test_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["tether", "run", "perturb", "--input",
                                      str(tmp_path / "missing"), "--out", str(tmp_path / "o"),
                                      "--ops", "typos=0.1"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "no Parquet file or folder" in err and len(err.strip().splitlines()) <= 2
    assert not (tmp_path / "o").exists()
