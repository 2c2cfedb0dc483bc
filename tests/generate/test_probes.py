"""Adversarial probes: one per attack family per seed, label kept, attack type recorded."""

from __future__ import annotations

import json

import pytest

from tether.errors import InputError
from tether.generate import run
from tether.generate.probes import ATTACKS, ProbeGenerator


def test_probes_wrap_real_seeds(store, bbc):
    seeds = bbc.take(list(range(0, bbc.num_rows, 100)))
    store.ingest("news", seeds, origin="real", label_origin="real")
    labels = sorted(set(bbc.column("label").to_pylist()))
    result = run(store, ProbeGenerator(list(ATTACKS), labels), "news", "stress", seed=3)
    assert result.added == len(ATTACKS) * seeds.num_rows
    real = {r["id"]: r for r in seeds.to_pylist()}
    rows = store.table("stress").to_pylist()
    seen = set()
    for row in rows:
        fields = json.loads(row["fields"])
        parent = real[row["parents"][0]]
        seen.add((parent["id"], fields["attack_type"]))
        assert row["label"] == parent["label"] and row["label_origin"] == "real"
        assert parent["text"] in row["text"] and row["text"] != parent["text"]
        # the planted decoy is another label, never the right answer
        decoys = [x for x in labels if x in row["text"].replace(parent["text"], "")]
        assert parent["label"] not in decoys and len(decoys) >= 1
    assert len(seen) == len(rows)


def test_probes_are_seeded():
    seeds = [{"id": f"s{i}", "text": f"text {i}", "label": "a", "label_origin": "real"}
             for i in range(20)]
    gen = ProbeGenerator(["injection", "ambiguity"], ["a", "b", "c"])
    first = [p["text"] for p in gen.generate(seeds, seed=1)]
    assert first == [p["text"] for p in gen.generate(seeds, seed=1)]
    assert first != [p["text"] for p in gen.generate(seeds, seed=2)]
    assert [p["attack_type"] for p in gen.generate(seeds[:1], 0)] == ["injection", "ambiguity"]


def test_custom_families_and_errors():
    gen = ProbeGenerator(["shout"], families={"shout": ["{{ text | upper }}!"]})
    assert next(gen.generate([{"id": "x", "text": "hi"}], 0))["text"] == "HI!"
    with pytest.raises(InputError, match="unknown attack 'nope'"):
        ProbeGenerator(["nope"])
    with pytest.raises(InputError, match="no attacks"):
        ProbeGenerator([])
