"""The cards export writes, read by the standards' own readers: the Hugging Face Hub's
``DatasetCard`` for the dataset card and ``mlcroissant`` for the Croissant JSON-LD."""

from __future__ import annotations

import json

import pytest

from tether import Store
from tether.cards import size_category, tags


def fill(store: Store) -> None:
    store.ingest("real", [{"id": f"r{i}", "text": f"real text {i}", "label": "a"} for i in range(3)],
                 origin="real", label_origin="real", generator="bbc@1")
    store.ingest("syn", [{"id": "s1", "text": "typo text 0", "label": "a", "parents": ["r0"]},
                         {"id": "s2", "text": "typo text 1", "label": "a", "parents": ["r1"]}],
                 origin="synthetic", label_origin="synthetic", family="rule",
                 generator="typos@1.0", generator_config={"rate": 0.1})
    store.ingest("syn", [{"id": "r9", "text": "a real one mixed in", "label": "b"}],
                 origin="real", label_origin="real")


def test_size_categories_and_tags_follow_the_hub():
    assert [size_category(n) for n in (0, 999, 1000, 99_999, 100_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M"]
    real = {"by_origin": {"real": 5, "synthetic": 0}, "by_label_origin": {"real": 5},
            "by_family": {"": 5}}
    assert tags(real) == ["tether"]
    relabelled = {"by_origin": {"real": 5}, "by_label_origin": {"synthetic": 5},
                  "by_family": {"model": 5}}
    assert tags(relabelled) == ["tether", "synthetic-labels", "synthetic-model"]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_hf_dataset_card_header_parses_with_tags_and_provenance(store, tmp_path, fmt):
    hub = pytest.importorskip("huggingface_hub", reason="the cards extra is not installed")
    fill(store)
    out = store.export("syn", tmp_path / f"syn.{fmt}")
    card = hub.DatasetCard.load(out.card)
    data = card.data.to_dict()
    assert data["pretty_name"] == "syn"
    assert data["tags"] == ["tether", "synthetic", "synthetic-labels", "synthetic-rule"]
    assert data["size_categories"] == ["n<1K"]
    assert data["configs"] == [{"config_name": "default", "data_files": f"syn.{fmt}"}]
    prov = data["provenance"]
    assert prov["count"] == 3 and prov["by_origin"] == {"real": 1, "synthetic": 2}
    assert prov["by_generator"] == {"typos@1.0": 2, "": 1}
    assert abs(prov["synthetic_share"] - 2 / 3) < 1e-6
    assert "| synthetic | 2 |" in card.text  # the body keeps the breakdown as tables


def test_real_only_card_has_no_synthetic_tag(store, tmp_path):
    hub = pytest.importorskip("huggingface_hub", reason="the cards extra is not installed")
    fill(store)
    card = hub.DatasetCard.load(store.export("real", tmp_path / "real.jsonl").card)
    assert card.data.tags == ["tether"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_croissant_loads_validates_and_reads_per_record_provenance(store, tmp_path, fmt):
    mlc = pytest.importorskip("mlcroissant", reason="the cards extra is not installed")
    fill(store)
    out = store.export("syn", tmp_path / f"syn.{fmt}")
    assert out.croissant == str(tmp_path / "syn.croissant.json")
    dataset = mlc.Dataset(jsonld=out.croissant)  # raises ValidationError on any error
    meta = dataset.metadata
    assert meta.name == "syn"
    real = "Real data (how it was collected is not recorded by tether)"
    assert meta.data_collection_type == [real, "Synthetic data generation (rule)"]
    raw = json.loads((tmp_path / "syn.croissant.json").read_text())
    assert raw["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert raw["rai:hasSyntheticData"] is True
    assert meta.extra_properties["rai:hasSyntheticData"] is True
    assert raw["prov:wasDerivedFrom"] == [{"@type": "prov:Entity", "name": "real"}]
    assert [g["name"] for g in raw["prov:wasGeneratedBy"]] == ["typos@1.0"]
    records = list(dataset.records("samples"))
    got = {r["samples/id"].decode(): (r["samples/origin"].decode(),
                                      r["samples/label_origin"].decode()) for r in records}
    want = {r["id"]: (r["origin"], r["label_origin"]) for r in store.records("syn")}
    assert got == want == {"s1": ("synthetic", "synthetic"), "s2": ("synthetic", "synthetic"),
                           "r9": ("real", "real")}


def test_croissant_validation_is_real(store, tmp_path):
    """The same file with its record set pointing at a missing file object fails to load."""
    mlc = pytest.importorskip("mlcroissant", reason="the cards extra is not installed")
    fill(store)
    out = store.export("syn", tmp_path / "syn.jsonl")
    raw = json.loads((tmp_path / "syn.croissant.json").read_text())
    raw["recordSet"][0]["field"][0]["source"]["fileObject"]["@id"] = "missing"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(raw))
    mlc.Dataset(jsonld=out.croissant)
    with pytest.raises(mlc.ValidationError):
        mlc.Dataset(jsonld=broken)
