"""The one ``Generator`` interface and the runner that writes its output to the store.

A generator turns seed samples into new samples. Running it through the store records a run
(generator, version, configuration and its hash, seed, start, end, counts, status) and writes
every new sample with its provenance, ``parents`` and derived ``generation``.

Randomness is drawn per seed row from ``row_rng(seed, row_id)``, so the output for one row does
not depend on batch boundaries, on the engine, or on which rows an interrupted run had
finished: a resumed run (same ``run_id``) regenerates exactly the same samples, and the store's
content hash skips the ones already written.

Example:
    >>> class Upper(Generator):
    ...     name, version, family = "upper", "1", "rule"
    ...     def generate(self, seeds, seed):
    ...         for row in seeds:
    ...             yield {"text": row["text"].upper(), "label": row.get("label"),
    ...                    "label_origin": row.get("label_origin"), "parents": [row["id"]]}
    >>> from tether import Store
    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("real", [{"id": "r1", "text": "hi"}], origin="real")
    ...     run(s, Upper(), "real", "synthetic", seed=0).added
    1
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tether.io import MAX_RECORD_BYTES
from tether.store import Store


@dataclass(frozen=True)
class Failure:
    """An item a generator could not make; recorded on the run, never stored as data."""

    parents: list[str]
    reason: str


@dataclass(frozen=True)
class GenerateResult:
    """What one generator run wrote. ``to_dict()`` is the ``generate --json`` contract."""

    run_id: str
    dataset: str
    added: int
    failed: int
    skipped_duplicates: int = field(default=0, compare=False)
    #: the generator's own account of the run (:meth:`Generator.summary`), kept on the run record
    summary: dict[str, Any] | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out = {"run_id": self.run_id, "dataset": self.dataset, "added": self.added,
               "failed": self.failed}
        if self.summary is not None:
            out["summary"] = self.summary
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenerateResult:
        return cls(data["run_id"], data["dataset"], data["added"], data["failed"],
                   summary=data.get("summary"))


def sample_bytes(sample: Mapping[str, Any], cap: int = MAX_RECORD_BYTES) -> int:
    """The size of ``sample`` as one JSON line, in bytes, or — when one string alone is longer
    than ``cap`` characters — that string's length, a lower bound (a string that long is not
    encoded just to be measured).

    >>> sample_bytes({"text": "héllo"})
    18
    >>> sample_bytes({"text": "A" * 100}, cap=10)
    100
    """
    longest = max((len(v) for v in sample.values() if isinstance(v, str)), default=0)
    if longest > cap:
        return longest
    return len(json.dumps(sample, ensure_ascii=False, default=str).encode())


def _oversized(sample: Mapping[str, Any]) -> Failure | None:
    """A :class:`Failure` for a sample over the ingest cap on one record, else ``None``."""
    size = sample_bytes(sample)
    if size <= MAX_RECORD_BYTES:
        return None
    return Failure(list(sample.get("parents") or []),
                   f"sample too large: {size / 1e6:.1f} MB or more as JSON, over the "
                   f"{MAX_RECORD_BYTES // 2**20} MB cap on one record (not stored)")


def row_rng(seed: int, row_id: str) -> np.random.Generator:
    """A random generator that depends only on the run seed and the seed row's id.

    >>> row_rng(1, "a").random() == row_rng(1, "a").random()
    True
    """
    digest = hashlib.blake2b(str(row_id).encode(), digest_size=8).digest()
    return np.random.default_rng([seed, int.from_bytes(digest, "little")])


class Generator(ABC):
    """Base class of every generator.

    Subclasses set ``name``, ``version`` and ``family`` (``model``, ``rule`` or ``simulation``),
    return their configuration from :meth:`config` and implement :meth:`generate`, which takes
    seed rows (dicts with ``id``, ``text``, ``label``, ``label_origin`` and the rest of the
    sample) and yields new samples as dicts — user fields plus ``parents`` (a list of seed ids)
    and, where it differs from the default, ``origin`` (default ``synthetic``) and
    ``label_origin`` — or :class:`Failure` objects.
    """

    name: str
    version: str
    family: str
    #: the field holding each sample's text; ``None`` for generators of rows without text
    text_field: str | None = "text"

    def config(self) -> dict[str, Any]:
        """The configuration that, with the seed, determines the output (JSON-serialisable)."""
        return {}

    @property
    def ref(self) -> str:
        """``name@version``, as recorded in provenance."""
        return f"{self.name}@{self.version}"

    @abstractmethod
    def generate(self, seeds: list[dict[str, Any]], seed: int) -> Iterator[dict[str, Any] | Failure]:
        """Yield new samples (and failures) made from ``seeds``."""

    def summary(self) -> dict[str, Any] | None:
        """What the generator reports about its output after a run (JSON-serialisable; stored
        with the run record and returned on :class:`GenerateResult`), or ``None``."""
        return None


def run(
    store: Store,
    generator: Generator,
    source: str | None,
    into: str,
    *,
    seed: int = 0,
    run_id: str | None = None,
    batch_size: int = 1000,
    progress: Any = None,
    seeds: Iterable[Mapping[str, Any]] | None = None,
    domain: str | None = None,
    task: str | None = None,
) -> GenerateResult:
    """Run ``generator`` on the samples of dataset ``source`` and write its output to ``into``.

    Each batch is written in its own transaction; an interrupted run started again with the same
    ``run_id`` writes only what is missing. ``seeds`` overrides the rows read from ``source``.
    ``progress`` is a callable ``progress(done, total)`` (the CLI passes a rich progress bar).
    ``domain`` and ``task`` apply to new samples that do not inherit their own. A sample larger
    than the ingest cap on one record (:data:`tether.io.MAX_RECORD_BYTES`, as one JSON line) is
    recorded as a failure, never stored, and the run goes on.
    """
    rows = list(seeds) if seeds is not None else store.records(source) if source else []
    config = generator.config()  # may hash a teacher's whole training set: once per run
    run_id = store.start_run("generate", into, generator=generator.ref, config=config,
                             seed=seed, run_id=run_id, params={"source": source})
    added = skipped = failed = 0
    try:
        for start in range(0, max(len(rows), 1), batch_size):
            batch = rows[start:start + batch_size]
            with store.released():  # other processes get in while this batch is made
                items = list(generator.generate(batch, seed))
            made, failures = [], []
            for item in items:
                if not isinstance(item, Failure):
                    item = _oversized(item) or item
                (failures if isinstance(item, Failure) else made).append(item)
            failed += store.record_failures(run_id, ((f.parents, f.reason) for f in failures))
            if made:
                for sample in made:
                    sample.setdefault("origin", "synthetic")
                result = store.ingest(into, made, family=generator.family, generator=generator.ref,
                                      generator_config=config, run_id=run_id,
                                      text_field=generator.text_field, domain=domain, task=task)
                added += result.added
                skipped += result.skipped_duplicates
            if progress is not None:
                progress(min(start + batch_size, len(rows)), len(rows))
    except BaseException:
        store.finish_run(run_id, status="failed", failed=failed)
        raise
    summary = generator.summary()
    store.finish_run(run_id, failed=failed, summary=summary)
    return GenerateResult(run_id, into, added, failed, skipped, summary)
