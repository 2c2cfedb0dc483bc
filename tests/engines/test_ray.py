"""The ray engine on a local two-CPU Ray cluster (started and stopped here): the same transforms
give the same rows as the local engine for the same seed."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tether.engines import run_aggregate, run_transform
from tether.engines.transforms import (
    BATCH_STATS,
    MinHashTransform,
    ProfileAggregate,
    perturb_transform,
)
from tether.errors import InputError

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install "
                                        "'tether[ray]')")


@pytest.fixture(scope="module")
def cluster():
    os.environ["RAY_DEDUP_LOGS"] = "0"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def folder(tmp_path_factory, bbc):
    """900 real BBC articles in three Parquet files."""
    src = tmp_path_factory.mktemp("ray") / "in"
    src.mkdir()
    for k in range(3):
        pq.write_table(bbc.slice(300 * k, 300), src / f"part-{k}.parquet")
    return src


def both(fn, folder, tmp_path, batch_size):
    local = run_transform(fn, folder, tmp_path / "local", engine="local", batch_size=batch_size)
    on_ray = run_transform(fn, folder, tmp_path / "ray", engine="ray", batch_size=batch_size)
    assert (local.rows_in, on_ray.rows_in) == (900, 900)
    return (ds.dataset(tmp_path / "local").to_table().sort_by("id"),
            ds.dataset(tmp_path / "ray").to_table().sort_by("id"))


def test_perturb_is_identical_on_both_engines(cluster, folder, tmp_path):
    fn = perturb_transform("typos=0.05,swaps=0.02,casing=0.1", seed=11)
    local, on_ray = both(fn, folder, tmp_path, batch_size=256)
    assert local.num_rows == 900
    assert on_ray.equals(local)


def test_minhash_is_identical_on_both_engines(cluster, folder, tmp_path):
    local, on_ray = both(MinHashTransform(num_perm=32), folder, tmp_path, batch_size=300)
    assert local.num_rows == 900
    assert on_ray.equals(local)
    assert np.array(local.column("signature").to_pylist()).shape == (900, 32)


def test_profile_aggregate_agrees_on_both_engines(cluster, folder):
    local = run_aggregate(ProfileAggregate(), folder, engine="local", batch_size=200).result
    on_ray = run_aggregate(ProfileAggregate(), folder, engine="ray", batch_size=200).result
    assert on_ray.count == local.count == 900
    assert on_ray.labels == local.labels
    for stat in BATCH_STATS:
        a, b = local.stats[stat], on_ray.stats[stat]
        assert (a.n, a.min, a.max) == (b.n, b.min, b.max)
        assert b.mean == pytest.approx(a.mean, rel=1e-9)
        assert b.std == pytest.approx(a.std, rel=1e-9)


def test_input_errors_surface_as_themselves_not_as_worker_errors(cluster, tmp_path):
    pq.write_table(pa.table({"id": ["a"], "body": ["x"]}), tmp_path / "in.parquet")
    with pytest.raises(InputError, match="no 'text' column"):
        run_transform(perturb_transform("typos=0.1", seed=0), tmp_path / "in.parquet",
                      tmp_path / "out", engine="ray")
