"""The feedback loop for real: an n-gram model refitted on its own output collapses, and
tether's diversity and coverage monitors say so by the third to fifth generation; refitted on
the real seeds every time (the control), they stay silent. Real BBC News seeds, seeded."""

from __future__ import annotations

import pytest

from tether.audit.feedback import FeedbackLoopResult, collapse_demo, feedback_loop
from tether.errors import InputError


@pytest.fixture(scope="module")
def demo():
    return collapse_demo(seed=0)


def test_the_loop_warns_by_the_fifth_generation(demo):
    loop, _ = demo
    assert loop.diversity_warned_at is not None and loop.diversity_warned_at <= 3
    assert loop.coverage_warned_at is not None and 3 <= loop.coverage_warned_at <= 5
    assert any(w.startswith("distinct_2 ") for w in loop.warnings)
    assert any(w.startswith("coverage recall falls") for w in loop.warnings)
    # the metric that fell, with its interval: the last round's lies below the first's
    assert "distinct_1" in loop.fell
    for m, change in loop.fell.items():
        assert change["last"]["ci"][1] < change["first"]["ci"][0], m
    recall = [r["recall"] for r in loop.coverage]
    assert recall[-1] < recall[0]
    # lineage: round g of the loop is generation g in the store
    assert [r["generation"] for r in loop.coverage] == [1, 2, 3, 4, 5]


def test_the_control_stays_silent(demo):
    _, control = demo
    assert control.warnings == []
    assert (control.diversity_warned_at, control.coverage_warned_at, control.fell) == \
        (None, None, {})
    # every round of the control is made from the real seeds: generation 1 each time
    assert [r["generation"] for r in control.coverage] == [1, 1, 1, 1, 1]


def test_same_seed_same_result_and_round_trip():
    a = collapse_demo(n_per_label=8, generations=2, seed=5)
    b = collapse_demo(n_per_label=8, generations=2, seed=5)
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b]
    assert FeedbackLoopResult.from_dict(a[0].to_dict()) == a[0]


def test_bad_options_are_refused(store):
    store.ingest("seeds", [{"id": "a", "text": "x y"}], origin="real")
    with pytest.raises(InputError, match="refit_on"):
        feedback_loop(store, "seeds", "loop", refit_on="fake")
    with pytest.raises(InputError, match="two generations"):
        feedback_loop(store, "seeds", "loop", generations=1)
