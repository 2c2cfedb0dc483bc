"""Every generated sample is capped at the ingest cap on one record: above it, one recorded
failure naming the size and the cap, nothing stored, and the run goes on."""

from __future__ import annotations

from tether.generate import run
from tether.generate.base import Generator, sample_bytes
from tether.io import MAX_RECORD_BYTES


class Fixed(Generator):
    """Yields the given samples, whatever the seeds."""

    name, version, family = "fixed", "1", "rule"

    def __init__(self, samples):
        self.samples = samples

    def generate(self, seeds, seed):
        yield from (dict(s) for s in self.samples)


def test_a_sample_over_the_cap_is_a_failure_and_the_run_goes_on(store):
    store.ingest("seeds", [{"id": "s1", "text": "seed"}], origin="real")
    over_one_string = {"text": "A" * (MAX_RECORD_BYTES + 1), "parents": ["s1"]}
    # no single string is over the cap, the JSON line is: measured as a whole, with non-ASCII
    over_as_json = {"text": "é" * (MAX_RECORD_BYTES // 3), "answer": "b" * (MAX_RECORD_BYTES // 3),
                    "parents": ["s1"]}
    good = [{"text": f"fine {i}", "parents": ["s1"]} for i in range(3)]
    result = run(store, Fixed([good[0], over_one_string, good[1], over_as_json, good[2]]),
                 "seeds", "out", seed=0, batch_size=2)
    assert (result.added, result.failed) == (3, 2)
    assert sorted(store.table("out").column("text").to_pylist()) == ["fine 0", "fine 1", "fine 2"]
    failures = store.failures(result.run_id)
    assert [f["parents"] for f in failures] == [["s1"], ["s1"]]
    for f in failures:
        assert "sample too large" in f["reason"] and "over the 16 MB cap" in f["reason"]
    assert "16.8 MB" in failures[0]["reason"]  # the size is named
    assert store.run(result.run_id)["status"] == "complete"


def test_sample_bytes_counts_utf8_json():
    assert sample_bytes({"text": "é"}) == len('{"text": "é"}'.encode())
    assert sample_bytes({"text": "abc"}, cap=2) == 3  # one string over the cap: its length
    just_under = {"text": "a" * (MAX_RECORD_BYTES - 20)}
    assert sample_bytes(just_under) <= MAX_RECORD_BYTES
