"""tether's LLM client vs a bare httpx loop: the overhead of cache, validation and store writes.

Both sides send the same chat requests (the ones tether's paraphrase task builds for BBC News
first sentences: same messages, same ``max_tokens``, ``temperature`` and per-request ``seed``)
to the same server, at the same concurrency. tether's side is ``run(store, LLMGenerator(...))``
on an empty cache: every request is sent, every reply is cached, parsed, checked and written to
a DuckDB store. The bare side is the loop a user writes in ten lines (a thread pool over one
``httpx.Client``, ``choices[0].message.content`` kept in a list). The bare side's bodies are
built with tether's prompts and checked against the requests in tether's cache, so both sides
send the same bodies. Each side runs in a fresh
process (peak memory is its peak RSS, ``VmHWM``); the sides alternate, best of ``REPEATS``.

The server is llama.cpp serving SmolLM2-135M when the ``local-llm`` extra is installed (then
requests/s and completion tokens/s at concurrency 1, 2 and 4), else the fake server of the
tests (concurrency 4; tokens are not counted there). ``TETHER_BENCH_N`` sets the requests per
side (default 12 against llama.cpp, 2,000 against the fake).

Run: ``python benchmarks/run.py llm_client``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from tether import datasets
from tether.generate.base import row_rng
from tether.generate.llm import LLMGenerator, local_model_path, local_server

REPEATS = 2
MAX_TOKENS = 32

# VmHWM, not ru_maxrss: ru_maxrss survives exec and would report the parent's peak
PEAK = r"""
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

TETHER_SIDE = PEAK + r"""
import json, sys, time
from tether import Store
from tether.generate import run
from tether.generate.llm import LLMGenerator
url, model, concurrency, workdir, seeds = sys.argv[1:6]
rows = json.loads(open(seeds).read())
with Store(f"{workdir}/s.duckdb") as store:
    store.ingest("seeds", rows, origin="real", label_origin="real")
    gen = LLMGenerator(url, model, task="paraphrase", json_mode=False, max_tokens=MAX_TOKENS,
                       concurrency=int(concurrency), max_attempts=1, timeout=300,
                       cache=f"{workdir}/llm.sqlite")
    t0 = time.perf_counter()
    result = run(store, gen, "seeds", "para", seed=0)
    elapsed = time.perf_counter() - t0
    sent, tokens = gen.client.sent, gen.client.tokens
    gen.close()
print(json.dumps({"elapsed": elapsed, "sent": sent, "tokens": tokens, "added": result.added,
                  "rss_mb": peak_mb()}))
""".replace("MAX_TOKENS", str(MAX_TOKENS))

BARE_SIDE = PEAK + r"""
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
import httpx
url, concurrency, bodies = sys.argv[1], int(sys.argv[2]), json.loads(open(sys.argv[3]).read())
t0 = time.perf_counter()
# the loop a user writes
with httpx.Client(timeout=300) as client, ThreadPoolExecutor(concurrency) as pool:
    def ask(body):
        r = client.post(f"{url}/chat/completions", json=body)
        r.raise_for_status()
        data = r.json()
        return data["choices"][0]["message"]["content"], data.get("usage", {})
    replies = list(pool.map(ask, bodies))
elapsed = time.perf_counter() - t0
tokens = sum(u.get("completion_tokens") or 0 for _, u in replies)
print(json.dumps({"elapsed": elapsed, "sent": len(replies), "tokens": tokens,
                  "rss_mb": peak_mb()}))
"""


def seeds(n: int) -> list[dict]:
    rows = datasets.load("bbcnews").to_pylist()
    out = []
    for row in rows[:n]:
        body = [line for line in row["text"].splitlines() if line.strip()][1]
        out.append({"id": row["id"], "text": body.split(". ")[0].rstrip(".") + ".",
                    "label": row["label"]})
    return out


def requests(url: str, model: str, rows: list[dict]) -> list[dict]:
    """The request bodies tether's paraphrase task sends for ``rows`` with ``seed=0``."""
    gen = LLMGenerator(url, model, task="paraphrase", json_mode=False, max_tokens=MAX_TOKENS,
                       cache=":memory:")
    with gen:
        return [{"model": model, "messages": gen.messages(row),
                 **gen._params(int(row_rng(0, row["id"]).integers(0, 2**31 - 1, size=1)[0]))}
                for row in rows]


def child(script: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", script, *args], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    real = local_model_path() is not None
    n = int(os.environ.get("TETHER_BENCH_N") or (12 if real else 2000))
    levels = (1, 2, 4) if real else (4,)
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        if real:
            url, model, server = stack.enter_context(local_server()), "smollm2-135m", "llama.cpp"
        else:
            sys.path.insert(0, str(Path(__file__).parent.parent / "tests" / "generate"))
            from fake_openai import FakeOpenAI

            url = stack.enter_context(FakeOpenAI()).url
            model, server = "fake-model", "fake server"
        seeds_file = Path(tmp) / "seeds.json"
        seeds_file.write_text(json.dumps(seeds(n)))
        bodies_file = Path(tmp) / "bodies.json"
        print(f"{n} paraphrase requests per side, max_tokens={MAX_TOKENS}, {server}")
        for concurrency in levels:
            best: dict[str, dict] = {}
            for rep in range(REPEATS):
                work = Path(tmp) / f"c{concurrency}-{rep}"
                work.mkdir()
                ours = child(TETHER_SIDE, url, model, str(concurrency), str(work),
                             str(seeds_file))
                if not bodies_file.exists():
                    bodies = requests(url, model, json.loads(seeds_file.read_text()))
                    with sqlite3.connect(work / "llm.sqlite") as con:  # what tether sent
                        sent = [json.loads(r) for (r,) in con.execute(
                            "SELECT request FROM responses")]
                    assert ours["sent"] == n and all(b in bodies for b in sent)
                    bodies_file.write_text(json.dumps(bodies))
                bare = child(BARE_SIDE, url, str(concurrency), str(bodies_file))
                for side, r in (("tether", ours), ("bare", bare)):
                    if side not in best or r["elapsed"] < best[side]["elapsed"]:
                        best[side] = r
            line = [f"concurrency {concurrency}:"]
            for side in ("tether", "bare"):
                r = best[side]
                tps = f", {r['tokens'] / r['elapsed']:,.1f} tokens/s" if r["tokens"] else ""
                line.append(f"{side} {r['sent'] / r['elapsed']:,.1f} requests/s{tps}, "
                            f"peak {r['rss_mb']:,.0f} MB;")
            ratio = best["bare"]["elapsed"] / best["tether"]["elapsed"]
            line.append(f"tether/bare throughput {ratio:.2f} "
                        f"(tether stored {best['tether']['added']} of {n})")
            print(" ".join(line), flush=True)


if __name__ == "__main__":
    main()
