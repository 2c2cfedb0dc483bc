"""tether: keep synthetic data honest.

Label every synthetic sample with its provenance, mix it with real data at a stated ratio,
measure how far it drifts from reality, audit the generator, and report evaluation on real
data apart from synthetic suites, with honest confidence intervals.
"""

from tether.errors import InputError, NotFoundError, StoreError, TetherError
from tether.store import IngestResult, Lineage, Store, Summary

__version__ = "0.1.0"

__all__ = ["Store", "IngestResult", "Lineage", "Summary", "TetherError", "InputError",
           "NotFoundError", "StoreError", "__version__"]
