"""Engines for data past one machine: the same batch functions run ``local`` (streaming,
bounded memory) or on ``ray`` (Ray Data), from Parquet to Parquet with provenance."""

from tether.engines.base import (
    ENGINES,
    Aggregate,
    AggregateResult,
    Transform,
    TransformResult,
    open_input,
    run_aggregate,
    run_transform,
)

__all__ = ["ENGINES", "Aggregate", "AggregateResult", "Transform", "TransformResult",
           "open_input", "run_aggregate", "run_transform"]
