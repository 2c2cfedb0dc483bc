"""Shared fixtures: a fresh store per test and the package-shipped real data."""

from __future__ import annotations

import pytest

from tether import Store, datasets


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "t.duckdb") as s:
        yield s


@pytest.fixture(scope="session")
def bbc():
    """BBC News (2,225 real, human-labelled articles) as an Arrow table: id, text, label."""
    return datasets.load("bbcnews")
