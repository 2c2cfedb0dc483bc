"""Deliberate mixing on real BBC News: exact shares, refusals, provenance kept through the copy."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tether import datasets
from tether.errors import InputError
from tether.mix import allocate, mix, plan


def _synthetic_rows(real_rows, every=1):
    """A deterministic rule 'generator': the lead paragraph, lower-cased, tagged as a rewrite."""
    return [{"id": f"syn-{r['id']}", "text": r["text"][:300].lower() + " (rewritten)",
             "label": r["label"], "parents": [r["id"]], "style": "lower", "chars": 300}
            for r in real_rows[::every]]


@pytest.fixture
def mixed_store(store, bbc):
    real = datasets.split(bbc, {"real": 200}, seed=3)["real"].to_pylist()
    for r in real:
        r["source"] = "bbc"
    store.ingest("real", real, origin="real", label_origin="real", domain="news",
                 generator=datasets.source("bbcnews"))
    store.ingest("syn", _synthetic_rows(real), origin="synthetic", label_origin="real",
                 family="rule", generator="lower@1", generator_config={"max_chars": 300},
                 domain="news")
    return store


def test_allocate_is_exact_and_largest():
    assert allocate(0.3, 100, 100) == (98, 42)  # 140 rows: 14 units of 10, 3 of each synthetic
    assert allocate(0.3, 1000, 20) == (42, 18)  # synthetic-limited: 6 units
    assert allocate(0.0, 17, 0) == (17, 0) and allocate(1.0, 0, 9) == (0, 9)
    assert allocate(0.25, 10, 10, cap=7) == (3, 1)  # 8 rows would break the cap of 7
    assert allocate(0.3, 10, 10, size=15) == (10, 5)  # 4.5 rounds half up
    for ratio in (0.1, 0.125, 0.2, 0.37, 0.5, 0.9):
        real, syn = allocate(ratio, 500, 500)
        assert syn / (real + syn) == pytest.approx(ratio, abs=1e-12)


def test_mix_exact_overall_share(mixed_store):
    result = mixed_store and mix(mixed_store, "real", "syn", 0.3, "train", seed=1)
    assert result.share == pytest.approx(0.3, abs=1e-12) and result.exact
    assert result.size % 10 == 0 and result.real <= 200 and result.synthetic <= 200
    summary = mixed_store.summary("train")
    assert summary.count == result.size
    assert summary.synthetic_share == pytest.approx(0.3, abs=1e-12)
    run = mixed_store.run(result.run_id)
    assert run["kind"] == "mix" and run["status"] == "complete" and run["added"] == result.size


def test_mix_exact_share_within_each_label(mixed_store):
    result = mix(mixed_store, "real", "syn", 0.25, "train", by="label", seed=2)
    rows = mixed_store.table("train").to_pylist()
    per_label = Counter((r["label"], r["origin"]) for r in rows)
    labels = {r["label"] for r in rows}
    assert len(labels) == 5
    for label in labels:
        syn, real = per_label[(label, "synthetic")], per_label[(label, "real")]
        assert syn / (syn + real) == pytest.approx(0.25, abs=1e-12), label
    assert result.exact and result.groups[0].group == "*"
    assert {g.group for g in result.groups[1:]} == labels
    assert mixed_store.summary("train").synthetic_share == pytest.approx(0.25, abs=1e-12)


def test_cap_per_class_and_size(mixed_store):
    capped = mix(mixed_store, "real", "syn", 0.5, "capped", by="label", cap_per_class=10)
    counts = Counter(r["label"] for r in mixed_store.table("capped").to_pylist())
    assert set(counts.values()) == {10} and capped.share == 0.5
    sized = mix(mixed_store, "real", "syn", 0.2, "sized", size=55)
    assert (sized.real, sized.synthetic) == (44, 11)
    with pytest.raises(InputError, match="needs --by label"):
        mix(mixed_store, "real", "syn", 0.5, "bad", cap_per_class=10)


def test_refuses_when_data_is_short(mixed_store, bbc):
    few = _synthetic_rows(datasets.split(bbc, {"real": 200}, seed=3)["real"].to_pylist(), every=40)
    mixed_store.ingest("few", few, origin="synthetic", label_origin="real", family="rule",
                       generator="lower@1")
    with pytest.raises(InputError, match=r"needs 180 real and 20 synthetic rows, have 200 real "
                                         r"and 5 synthetic"):
        mix(mixed_store, "real", "few", 0.1, "short", size=200)
    # a label without any synthetic row cannot hold a share of 1/2
    labels = {r["label"] for r in mixed_store.table("real").to_pylist()}
    missing = labels - {r["label"] for r in few}
    with pytest.raises(InputError, match=r"label '.+'.*needs at least 1 real and 1 synthetic"):
        mix(mixed_store, "real", "few", 0.5, "short", by="label")
    assert missing  # the split leaves some labels without synthetic rows
    assert not mixed_store.has_dataset("short")
    assert not [r for r in mixed_store.runs() if r["kind"] == "mix"]


def test_refuses_wrong_origins_and_existing_target(mixed_store):
    with pytest.raises(InputError, match=r"holds \d+ synthetic rows"):
        mix(mixed_store, "syn", "syn", 0.5, "x")
    mix(mixed_store, "real", "syn", 0.5, "x")
    with pytest.raises(InputError, match="already exists"):
        mix(mixed_store, "real", "syn", 0.5, "x")


def test_provenance_intact(mixed_store):
    mix(mixed_store, "real", "syn", 0.4, "train", by="label", seed=5)
    fields = ("text", "label", "fields", "origin", "label_origin", "family", "generator",
              "generator_config", "config_hash", "created_at", "domain", "task", "parents",
              "generation", "content_hash")
    source = {r["id"]: r for name in ("real", "syn") for r in mixed_store.table(name).to_pylist()}
    mixed = mixed_store.table("train").to_pylist()
    assert {r["origin"] for r in mixed} == {"real", "synthetic"}
    for row in mixed:
        original = source[row["id"]]
        assert {f: row[f] for f in fields} == {f: original[f] for f in fields}, row["id"]
    syn = next(r for r in mixed if r["origin"] == "synthetic")
    assert json.loads(syn["fields"]) == {"chars": 300, "style": "lower"}
    assert syn["generation"] == 1 and syn["parents"] == [syn["id"].removeprefix("syn-")]
    assert mixed_store.lineage(syn["id"], "train").real_seeds == syn["parents"]


def test_sampling_is_deterministic_by_seed(mixed_store):
    rows = [{"label": "ab"[i % 2]} for i in range(100)]
    assert plan(rows, rows, 0.3, seed=4) == plan(rows, rows, 0.3, seed=4)
    assert plan(rows, rows, 0.3, seed=4)[0] != plan(rows, rows, 0.3, seed=5)[0]
    a = mix(mixed_store, "real", "syn", 0.3, "a", seed=9)
    b = mix(mixed_store, "real", "syn", 0.3, "b", seed=9)
    ids = [sorted(mixed_store.table(n).column("id").to_pylist()) for n in ("a", "b")]
    assert ids[0] == ids[1] and a.size == b.size


def test_by_domain(store):
    rows = [{"text": f"{d} text {i}", "label": "x", "domain": d} for d in ("web", "mail")
            for i in range(20 if d == "web" else 8)]
    store.ingest("r", rows, origin="real", label_origin="real")
    store.ingest("s", [{**r, "text": r["text"] + " v2"} for r in rows], origin="synthetic",
                 label_origin="synthetic", family="rule", generator="v2@1")
    result = mix(store, "r", "s", 0.5, "m", by="domain")
    assert {g.group: (g.real, g.synthetic) for g in result.groups} == {
        "*": (28, 28), "web": (20, 20), "mail": (8, 8)}
