"""Dataset removal and renaming, runs and their status, names vs paths, and the store's lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tether import Store
from tether import store as store_module
from tether.cli import app
from tether.engines.base import open_input
from tether.errors import NotFoundError, StoreError
from tether.store import is_path

CLI = [sys.executable, "-c", "from tether.cli import main; main()"]


def tether(store, *args):
    return CliRunner().invoke(app, [*args, "--store", str(store)])


def lineage_store(path):
    """``real`` (3 seeds), ``syn`` (children of r0 and r1) and an unrelated ``other``."""
    with Store(path) as s:
        s.ingest("real", [{"id": f"r{i}", "text": f"seed {i}"} for i in range(3)], origin="real")
        s.ingest("syn", [{"text": "child 0", "parents": ["r0"]},
                         {"text": "child 1", "parents": ["r1"]}],
                 origin="synthetic", family="rule", generator="g@1")
        s.ingest("other", [{"text": "alone"}], origin="real")
    return path


def snapshot(s: Store) -> tuple:
    return (s._con.execute("SELECT dataset, id, parents FROM samples ORDER BY ALL").fetchall(),
            s._con.execute("SELECT name FROM datasets ORDER BY 1").fetchall(),
            s._con.execute("SELECT run_id, dataset FROM runs ORDER BY 1").fetchall())


# ------------------------------------------------------------------------------ rm / mv
def test_remove_refuses_when_other_datasets_descend_and_changes_nothing(tmp_path):
    with Store(lineage_store(tmp_path / "s.duckdb")) as s:
        before = snapshot(s)
        with pytest.raises(StoreError, match=r"samples in syn \(2 samples\) descend from it.*--force"):
            s.remove("real")
        assert snapshot(s) == before
        done = s.remove("real", force=True)
        assert done.to_dict() == {"action": "removed", "dataset": "real", "new_name": None,
                                  "samples": 3, "dependents": ["syn"]}
        assert not s.has_dataset("real") and s.summary("syn").count == 2
        assert [r["dataset"] for r in s.runs()] == ["syn", "other"]  # its run went with it
        assert s._con.execute("SELECT count(*) FROM samples WHERE dataset = 'real'").fetchone()[0] == 0


def test_remove_a_leaf_and_unknown_names(tmp_path):
    with Store(lineage_store(tmp_path / "s.duckdb")) as s:
        assert s.remove("syn").samples == 2  # nothing descends from syn
        assert [d.name for d in s.datasets()] == ["other", "real"]
        with pytest.raises(NotFoundError, match="no dataset 'nope'.*other, real"):
            s.remove("nope")
        with pytest.raises(NotFoundError):
            s.rename("nope", "x")


def test_rename_moves_samples_runs_and_qualified_parents(tmp_path):
    with Store(lineage_store(tmp_path / "s.duckdb")) as s:
        with pytest.raises(StoreError, match="already exists"):
            s.rename("real", "other")
        before = snapshot(s)
        with pytest.raises(StoreError, match=r"cannot rename dataset 'real': samples in syn"):
            s.rename("real", "seeds")
        assert snapshot(s) == before
        assert s.rename("real", "seeds", force=True).dependents == ["syn"]
        assert s.summary("seeds").count == 3 and not s.has_dataset("real")
        assert [r["dataset"] for r in s.runs()].count("seeds") == 1
        assert s.lineage("r0").descendants  # bare parent ids still resolve
        assert s.dependents("seeds") == {"syn": 2}
        # a parent qualified as dataset:id follows the rename
        s._con.execute("UPDATE samples SET parents = ['other:' || (SELECT id FROM samples "
                      "WHERE dataset = 'other')] WHERE text = 'child 1'")
        assert s.dependents("other") == {"syn": 1}
        s.rename("other", "alone", force=True)
        assert s.records("syn")[1]["parents"][0].startswith("alone:")
        assert s.dependents("alone") == {"syn": 1} and s.dependents("other") == {}


def test_cli_rm_mv_json_and_refusal(tmp_path):
    store = lineage_store(tmp_path / "s.duckdb")
    out = tether(store, "mv", "other", "solo", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {"action": "renamed", "dataset": "other", "new_name": "solo",
                                      "samples": 1, "dependents": []}
    proc = subprocess.run([*CLI, "rm", "real", "--store", str(store)], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error: cannot remove dataset 'real'")
    assert len(proc.stderr.strip().splitlines()) == 1
    out = tether(store, "rm", "real", "--force", "--json")
    assert out.exit_code == 0 and json.loads(out.stdout)["dependents"] == ["syn"]
    names = [d["name"] for d in json.loads(tether(store, "datasets", "--json").stdout)]
    assert names == ["solo", "syn"]


# ---------------------------------------------------------------------------------- runs
KILLED_RUN = textwrap.dedent("""
    import os, sys
    from tether.generate.perturb import PerturbGenerator
    original = PerturbGenerator.generate
    calls = []
    def generate(self, seeds, seed):
        calls.append(1)
        if len(calls) == 2:  # the second batch: die as kill -9 would, mid-run
            os._exit(9)
        yield from original(self, seeds, seed)
    PerturbGenerator.generate = generate
    import tether.generate.base as base
    sys.argv = ["tether", *sys.argv[1:]]
    from tether.cli import main
    main()
""")


def test_killed_run_is_interrupted_and_resumes_by_its_id(tmp_path):
    store = tmp_path / "s.duckdb"
    with Store(store) as s:
        s.ingest("real", [{"id": f"r{i}", "text": f"seed number {i} of many"} for i in range(2500)],
                 origin="real")
    args = ["generate", "perturb", "--from", "real", "--into", "noisy", "--ops", "casing=0.5",
            "--seed", "1", "--store", str(store)]
    proc = subprocess.run([sys.executable, "-c", KILLED_RUN, *args], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    out = tether(store, "runs", "--dataset", "noisy", "--json")
    assert out.exit_code == 0, out.output
    (run,) = json.loads(out.stdout)
    assert (run["kind"], run["status"], run["added"]) == ("generate", "interrupted", 1000)
    assert set(run) == {"run_id", "kind", "dataset", "generator", "status", "added", "skipped",
                        "failed", "started_at", "ended_at"}
    human = tether(store, "runs")
    assert human.exit_code == 0 and "interrupted" in human.stdout and run["run_id"] in human.stdout
    resumed = tether(store, *args[:-2], "--run-id", run["run_id"], "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["added"] == 1500  # only what the first attempt had not made
    with Store(store, read_only=True) as s:
        assert s.run(run["run_id"])["status"] == "complete"
        assert s.summary("noisy").count == 2500
        assert s._con.execute("SELECT count(DISTINCT id) FROM samples WHERE dataset = 'noisy'"
                             ).fetchone()[0] == 2500


def test_running_run_of_a_live_process_stays_running(store):
    run_id = store.start_run("generate", "d", generator="g@1")
    row = store.run(run_id)
    assert (row["status"], row["pid"]) == ("running", os.getpid())
    store._con.execute("UPDATE runs SET pid = 2147483646 WHERE run_id = ?", [run_id])
    assert store.run(run_id)["status"] == "interrupted"
    store._con.execute("UPDATE runs SET host = 'elsewhere' WHERE run_id = ?", [run_id])
    assert store.run(run_id)["status"] == "running"  # another host's pid cannot be checked


def test_runs_of_an_unknown_dataset_name_the_datasets(store):
    store.ingest("d", [{"text": "x"}], origin="real")
    with pytest.raises(NotFoundError, match="no dataset 'e'.*datasets here: d"):
        store.runs("e")


def test_old_store_without_pid_columns_opens(tmp_path):
    path = tmp_path / "old.duckdb"
    with Store(path) as s:
        s.ingest("d", [{"text": "x"}], origin="real")
        s._con.execute("ALTER TABLE runs DROP COLUMN pid")
        s._con.execute("ALTER TABLE runs DROP COLUMN host")
    with Store(path, read_only=True) as s:  # read-only cannot migrate: reads without them
        assert [r["status"] for r in s.runs()] == ["complete"] and s.runs()[0]["pid"] is None
    with Store(path) as s:
        assert "pid" in {r[0] for r in s._con.execute("DESCRIBE runs").fetchall()}


# ------------------------------------------------------------------------ names vs paths
def test_a_name_is_a_dataset_even_when_a_folder_has_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    pq.write_table(pa.table({"text": ["from the folder"]}), tmp_path / "src" / "part.parquet")
    with Store(tmp_path / "s.duckdb") as s:
        s.ingest("src", [{"text": "from the dataset"}, {"text": "second"}], origin="real")
        assert s.table("src").column("text").to_pylist() == ["from the dataset", "second"]
        assert open_input(s, "src").count_rows() == 2
        assert s.table("./src").column("text").to_pylist() == ["from the folder"]
        assert open_input(s, "./src").count_rows() == 1
        with pytest.raises(NotFoundError, match="no dataset 'data'.*datasets here: src"):
            s.table("data")
        (tmp_path / "data").mkdir()
        with pytest.raises(NotFoundError, match="no dataset 'data'.*datasets here: src"):
            open_input(s, "data")


def test_cli_audit_reads_the_dataset_not_the_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.py").write_text("print('not data')\n")
    store = tmp_path / "s.duckdb"
    with Store(store) as s:
        s.ingest("src", [{"id": f"t{i}", "text": f"training sentence number {i} about rates"}
                         for i in range(5)], origin="real")
        s.ingest("eval", [{"id": "e0", "text": "training sentence number 3 about rates"}],
                 origin="real")
    out = tether(store, "audit", "overlap", "--train", "src", "--eval", "eval", "--json")
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["train_count"] == 5 and result["pairs"][0]["train_id"] == "t3"


@pytest.mark.parametrize("name, expected", [
    ("src", False), ("data", False), ("news-v1", False), ("a:b", False),
    ("./src", True), ("../x", True), ("/abs/path", True), ("~/x", True), ("out/", True),
    ("x.parquet", True), ("x.jsonl", True), ("x.csv", True), ("s3://bucket/key", True)])
def test_is_path(name, expected):
    assert is_path(name) is expected


# ------------------------------------------------------------------------------- locking
HOLD = textwrap.dedent("""
    import sys, time
    from tether import Store
    s = Store(sys.argv[1])
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    s.close()
""")


def hold(path, seconds):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_locked_store_names_its_holder_after_waiting(tmp_path):
    path = tmp_path / "s.duckdb"
    Store(path).close()
    holder = hold(path, 30)
    try:
        for read_only in (False, True):
            with pytest.raises(StoreError) as info:
                Store(path, read_only=read_only, wait=0.3)
            message = str(info.value)
            assert f"the store {path} is in use by process {holder.pid}" in message
            assert "--wait N" in message and "duckdb.org" not in message
            assert "\n" not in message and "import sys, time" in message  # its command line
        proc = subprocess.run([*CLI, "--wait", "0.2", "rm", "x", "--store", str(path)],
                              capture_output=True, text=True)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
        assert f"in use by process {holder.pid}" in proc.stderr
    finally:
        holder.kill()
        holder.wait()


def test_a_writer_waits_for_the_lock_to_be_released(tmp_path):
    path = tmp_path / "s.duckdb"
    Store(path).close()
    holder = hold(path, 1.0)
    try:
        with Store(path, wait=60) as s:  # opens once the holder lets go, well before 60 s
            s.ingest("d", [{"text": "x"}], origin="real")
        assert holder.wait(timeout=60) == 0
    finally:
        holder.kill()


def test_released_lets_another_process_in(tmp_path, monkeypatch):
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        s.ingest("d", [{"text": "x"}], origin="real")
        con = s._con
        with s.released():  # just opened: kept, reopening every few milliseconds would cost
            assert s._con is con
        monkeypatch.setattr(store_module, "RELEASE_EVERY", 0.0)
        with s.released():
            proc = subprocess.run([*CLI, "--wait", "0", "datasets", "--json", "--store", str(path)],
                                  capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)[0]["count"] == 1
        assert s.summary("d").count == 1  # the connection is back


def test_reading_commands_need_an_existing_store(tmp_path):
    proc = subprocess.run([*CLI, "show", "x", "--store", str(tmp_path / "none.duckdb")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "no store at" in proc.stderr
    assert not (tmp_path / "none.duckdb").exists()


def test_wait_must_be_a_number(monkeypatch, tmp_path):
    monkeypatch.setenv("TETHER_WAIT", "soon")
    with pytest.raises(StoreError, match="TETHER_WAIT must be a number"):
        Store(tmp_path / "s.duckdb")
    monkeypatch.setenv("TETHER_WAIT", "0")
    start = time.monotonic()
    Store(tmp_path / "s.duckdb").close()
    assert time.monotonic() - start < 60
