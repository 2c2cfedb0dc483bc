"""A feedback loop shown for real: a model refitted on its own output, watched by the monitors.

:func:`feedback_loop` fits a word n-gram model (:class:`~tether.generate.ngram.NgramGenerator`)
on real seeds, writes one generation through the store (lineage recorded: every sample's
``parents`` is the row it was made for, so the store derives its ``generation``), then, with
``refit_on="own"``, fits the next model on that generation's output only, and so on; with
``refit_on="real"`` (the control) every round is fitted on the real seeds again. After the
rounds it runs tether's monitors on what was written, unchanged:

* the diversity audit (:func:`tether.audit.diversity.diversity`) grouped by round; the round
  it first warns at is the smallest ``g`` for which the audit of rounds ``1..g`` warns;
* the coverage audit (:func:`tether.audit.coverage.coverage`) of the real seeds by each round;
  it warns at the first round whose recall interval lies entirely below round 1's.

Rounds are compared with round 1, not with the real seeds: any model's samples differ from real
text in one step (the fidelity audits measure that); a loop is a change from round to round.

Example (the demo's diversity section; BBC News seeds):
    >>> loop, control = collapse_demo()  # doctest: +SKIP
    >>> loop.diversity_warned_at, loop.coverage_warned_at, control.warnings  # doctest: +SKIP
    (2, 3, [])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tether.audit._load import plain
from tether.audit.coverage import coverage
from tether.audit.diversity import METRICS, diversity
from tether.errors import InputError
from tether.generate.base import run
from tether.generate.ngram import NgramGenerator
from tether.store import Store


@dataclass(frozen=True)
class FeedbackLoopResult:
    """Rounds of a refitted generator and what the monitors said about them.

    ``diversity`` is the diversity audit of all rounds (its ``to_dict()``), ``coverage`` one
    entry per round (``round``, ``generation`` as the store derived it, ``n``, ``recall``,
    ``recall_ci``, ``precision``, ``precision_ci``), ``fell`` for each diversity metric that
    warned its value and interval in the first and the last round, ``warnings`` the diversity
    warnings of all rounds followed by the coverage warning, if any.
    """

    refit_on: str
    datasets: list[str]
    diversity: dict[str, Any]
    coverage: list[dict[str, Any]]
    diversity_warned_at: int | None
    coverage_warned_at: int | None
    fell: dict[str, dict[str, Any]]
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        return plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeedbackLoopResult:
        return cls(**data)


def _recall_falls(rounds: Sequence[dict[str, Any]]) -> tuple[int | None, str | None]:
    first = rounds[0]
    for r in rounds[1:]:
        if r["recall_ci"][1] < first["recall_ci"][0]:
            return r["round"], (
                f"coverage recall falls from round {first['round']} to round {r['round']}: "
                f"{first['recall']:.3g} [{first['recall_ci'][0]:.3f}, {first['recall_ci'][1]:.3f}]"
                f" -> {r['recall']:.3g} [{r['recall_ci'][0]:.3f}, {r['recall_ci'][1]:.3f}]")
    return None, None


def feedback_loop(store: Store, seeds: str, into: str, *, generations: int = 5,
                  refit_on: str = "own", order: int = 2, max_words: int = 120,
                  seed: int = 0) -> FeedbackLoopResult:
    """Run ``generations`` rounds of an n-gram generator from dataset ``seeds`` into datasets
    ``{into}-1`` … ``{into}-G`` and audit them (see the module docstring).

    ``refit_on="own"`` fits round ``g`` on round ``g - 1``'s output (the loop); ``"real"``
    fits every round on the seeds (the control). Deterministic for a given ``seed``.
    """
    if refit_on not in ("own", "real"):
        raise InputError(f"refit_on must be 'own' or 'real', got {refit_on!r}")
    if generations < 2:
        raise InputError("a feedback loop needs at least two generations")
    real = store.records(seeds)
    current, names = real, []
    for g in range(1, generations + 1):
        train = current if refit_on == "own" else real
        generator = NgramGenerator.fit(train, order=order, max_words=max_words)
        names.append(f"{into}-{g}")
        run(store, generator, None, names[-1], seed=seed + g, seeds=train)
        current = store.records(names[-1])

    rounds = [store.records(name) for name in names]
    texts = [r["text"] for rows in rounds for r in rows]
    labels = [g for g, rows in enumerate(rounds, 1) for _ in rows]
    audit = diversity(texts, generations=labels, seed=seed)
    warned_at = next((g for g in range(2, generations)
                      if diversity(texts[:labels.index(g + 1)],
                                   generations=labels[:labels.index(g + 1)],
                                   seed=seed).warnings),
                     generations if audit.warnings else None)

    real_texts = [r["text"] for r in real]
    per_round = []
    for g, rows in enumerate(rounds, 1):
        c = coverage(real_texts, [r["text"] for r in rows], seed=seed)
        per_round.append({"round": g, "generation": int(np.median([r["generation"] for r in rows])),
                          "n": len(rows), "recall": c.recall, "recall_ci": c.recall_ci,
                          "precision": c.precision, "precision_ci": c.precision_ci})
    coverage_at, coverage_warning = _recall_falls(per_round)
    first, last = audit.by_generation[0], audit.by_generation[-1]
    fell = {m: {"first": first.metrics[m], "last": last.metrics[m]}
            for m in METRICS if any(w.startswith(f"{m} ") for w in audit.warnings)}
    return FeedbackLoopResult(
        refit_on=refit_on, datasets=names, diversity=audit.to_dict(), coverage=per_round,
        diversity_warned_at=warned_at, coverage_warned_at=coverage_at, fell=fell,
        warnings=list(audit.warnings) + ([coverage_warning] if coverage_warning else []))


def collapse_demo(*, n_per_label: int = 20, words: int = 60, generations: int = 5,
                  seed: int = 0) -> tuple[FeedbackLoopResult, FeedbackLoopResult]:
    """The loop and its control from real BBC News seeds (``n_per_label`` articles per label,
    each cut to its first ``words`` words), in an in-memory store: ``(loop, control)``."""
    from tether import datasets

    rows = datasets.load("bbcnews").to_pylist()
    rng = np.random.default_rng(seed)
    picked = []
    for label in sorted({r["label"] for r in rows}):
        members = [r for r in rows if r["label"] == label]
        picked += [members[i] for i in sorted(rng.choice(len(members), n_per_label,
                                                         replace=False))]
    seeds = [{"id": r["id"], "text": " ".join(r["text"].split()[:words]), "label": r["label"]}
             for r in picked]
    with Store(":memory:") as store:
        store.ingest("seeds", seeds, origin="real", label_origin="real")
        return tuple(feedback_loop(store, "seeds", name, generations=generations,  # type: ignore[return-value]
                                   refit_on=refit_on, max_words=2 * words, seed=seed)
                     for name, refit_on in (("loop", "own"), ("control", "real")))
