"""The LLM generator against a real OpenAI-compatible server: llama.cpp with SmolLM2-135M.

A 135M model writes poor paraphrases; what is tested is that the run stores only what passed
the output checks (no placeholders, no copies of the seed, plain text in plain-text mode),
records every rejected reply with its reason, and re-runs from the cache alone.
Skipped without the ``local-llm`` extra (see ``conftest.py``).
"""

from __future__ import annotations

import json
import re

import pytest

from tether.generate import run
from tether.generate.llm import LLMGenerator, failure_kind, tokens

N_SEEDS = 8
PLACEHOLDER = re.compile(r"<[^<>]*>|^\s*\.\.\.\s*$")


def _first_sentence(text: str) -> str:
    body = [line for line in text.splitlines() if line.strip()][1]
    return body.split(". ")[0].rstrip(".") + "."


@pytest.fixture(scope="module")
def bbc_seeds(bbc):
    rows = bbc.to_pylist()
    step = len(rows) // N_SEEDS
    # the first sentence of each article: a paraphrase then fits in max_tokens=64
    return [{"id": rows[i]["id"], "text": _first_sentence(rows[i]["text"]),
             "label": rows[i]["label"]} for i in range(0, step * N_SEEDS, step)]


def _run(store, url, tmp_path, json_mode, into):
    gen = LLMGenerator(url, "smollm2-135m", task="paraphrase", json_mode=json_mode,
                       max_tokens=64, temperature=0.7, concurrency=2, timeout=60,
                       max_attempts=2, cache=tmp_path / "llm.sqlite")
    with gen:
        result = run(store, gen, "seeds", into, seed=0)
        return result, gen.quality_summary(), gen.client.sent, len(gen.client.cache)


@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "plain"])
def test_paraphrases_from_a_real_model_are_checked(llama_server, store, tmp_path, bbc_seeds,
                                                   json_mode):
    store.ingest("seeds", bbc_seeds, origin="real", label_origin="real")
    result, quality, sent, cached = _run(store, llama_server, tmp_path, json_mode, "para")
    assert sent >= N_SEEDS  # one request per seed (plus retries of invalid replies)
    # replies that fail the output checks are cached (they are valid replies); replies that do
    # not parse (bad JSON, cut off at max_tokens) are not, and are asked again by a rerun
    unparsed = sum(n for kind, n in quality["failed"].items()
                   if kind in ("reply is not valid JSON", "reply lacks a non-empty string field "
                               "'text'", "output cut off at max_tokens", "gave up after 2 attempts"))
    assert cached == N_SEEDS - unparsed
    print(f"json_mode={json_mode}: {quality}")
    assert result.added + result.failed == N_SEEDS
    assert quality["stored"] == result.added
    assert sum(quality["failed"].values()) == result.failed

    seeds = {row["id"]: row["text"] for row in bbc_seeds}
    samples = store.records("para") if result.added else []
    for sample in samples:
        text = sample["text"]
        assert text.strip() and not PLACEHOLDER.search(text), text
        parent = seeds[sample["parents"][0]]
        assert tokens(text) != tokens(parent), text
        if not json_mode:  # plain text stays plain text
            assert not text.lstrip().startswith("{"), text
            with pytest.raises(ValueError):
                json.loads(text)
    failures = store.failures(result.run_id)
    assert len(failures) == result.failed
    for failure in failures:
        assert failure["reason"] and failure_kind(failure["reason"]), failure
        assert failure["parents"][0] in seeds

    # the same run again: every cached reply comes from the cache; only unparsed ones are sent
    again, quality2, sent2, cached2 = _run(store, llama_server, tmp_path, json_mode, "para2")
    assert sent2 == N_SEEDS - cached
    if unparsed == 0:
        assert sent2 == 0
    assert cached2 == cached  # the same requests get the same (seeded) replies
    assert (again.added, again.failed) == (result.added, result.failed)
    assert quality2 == quality
