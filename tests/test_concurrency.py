"""Two processes on one store: a generator writing batch after batch while two readers
(``tether show`` and ``tether datasets``) and a second writer (``tether ingest``) come and go.
Every command succeeds (waiting its turn for the lock) and the final counts are exact."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

from tether import Store

SEEDS = 1200
BATCH = 100

WRITER = textwrap.dedent(f"""
    import sys, time
    from tether import Store
    from tether.generate.base import Generator, run

    class SlowCopy(Generator):
        name, version, family = "slowcopy", "1", "rule"

        def generate(self, seeds, seed):
            time.sleep(0.3)  # a model at work: the store is released meanwhile
            for row in seeds:
                yield {{"text": row["text"] + " (copy)", "parents": [row["id"]]}}

    with Store(sys.argv[1]) as s:
        if len(sys.argv) > 2:  # check that the test can fail: hold the lock for the whole run
            import contextlib
            s.released = contextlib.nullcontext
        print("writing", flush=True)
        result = run(s, SlowCopy(), "seeds", "copies", batch_size={BATCH})
    print(result.added, flush=True)
""")
CLI = [sys.executable, "-c", "from tether.cli import main; main()"]


def reader(argv: list[str], writer: subprocess.Popen, results: list) -> None:
    """Run ``argv`` again and again until the writer ends (and once more after); note for each
    run whether it began and ended while the writer was running."""
    while True:
        alive = writer.poll() is None
        proc = subprocess.run(argv, capture_output=True, text=True)
        results.append((alive and writer.poll() is None, proc.returncode, proc.stdout,
                        proc.stderr))
        if not alive:
            return


def test_a_writer_two_readers_and_a_second_writer(tmp_path):
    store = tmp_path / "s.duckdb"
    with Store(store) as s:
        s.ingest("seeds", [{"id": f"s{i}", "text": f"seed {i}"} for i in range(SEEDS)],
                 origin="real")
    extra = tmp_path / "extra.jsonl"
    extra.write_text("".join(json.dumps({"text": f"extra {i}"}) + "\n" for i in range(50)))

    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(store)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    runs: dict[str, list] = {"show": [], "datasets": []}
    threads = [threading.Thread(target=reader, args=(
        [*CLI, "--wait", "60", *cmd, "--json", "--store", str(store)], writer, runs[cmd[0]]))
        for cmd in (["show", "seeds"], ["datasets"])]
    for t in threads:
        t.start()
    ingest = subprocess.run([*CLI, "--wait", "60", "ingest", str(extra), "--dataset", "extra",
                             "--origin", "real", "--json", "--store", str(store)],
                            capture_output=True, text=True)
    for t in threads:
        t.join(timeout=600)
    out, err = writer.communicate(timeout=600)

    assert writer.returncode == 0, err
    assert int(out.strip()) == SEEDS
    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout)["added"] == 50
    for name, results in runs.items():
        # the generator lets readers in between its batches: they need not wait for its end
        assert any(r[0] for r in results), f"{name} never got in while the writer was writing"
        for _, code, stdout, stderr in results:
            assert code == 0, (name, stderr)
            assert "Traceback" not in stderr and stdout.strip()
    shown = [json.loads(r[2])["count"] for r in runs["show"]]
    assert set(shown) == {SEEDS}  # a reader sees committed data only
    # each listing sees whole batches only: copies grow by BATCH at a time
    for r in runs["datasets"]:
        copies = {d["name"]: d["count"] for d in json.loads(r[2])}.get("copies", 0)
        assert copies % BATCH == 0

    with Store(store, read_only=True) as s:
        assert s.summary("copies").count == SEEDS and s.summary("extra").count == 50
        assert s._con.execute("SELECT count(DISTINCT id), count(DISTINCT content_hash) FROM "
                             "samples WHERE dataset = 'copies'").fetchone() == (SEEDS, SEEDS)
        (run,) = s.runs("copies")
        assert (run["status"], run["added"]) == ("complete", SEEDS)
