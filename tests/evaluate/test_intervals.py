"""Metrics and the bootstrap interval: agreement with scikit-learn and coverage by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from tether.evaluate.intervals import (
    METRICS,
    bootstrap_interval,
    confusion_counts,
    encode_labels,
    macro_f1,
)

LEVELS = (0.05, 0.10)
TOLERANCE = 0.025  # ±2.5 percentage points of nominal


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        bootstrap_interval(macro_f1, [0, 1], [0, 1], alpha=1.5)
    with pytest.raises(ValueError):
        bootstrap_interval(macro_f1, [0, 1], [0, 1], method="basic")


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_metrics_match_scikit_learn_including_absent_classes():
    rng = np.random.default_rng(3)
    refs = {"accuracy": accuracy_score,
            "macro_f1": lambda t, p: f1_score(t, p, average="macro", zero_division=0),
            "weighted_f1": lambda t, p: f1_score(t, p, average="weighted", zero_division=0),
            "balanced_accuracy": balanced_accuracy_score}
    for trial in range(20):
        n = int(rng.integers(5, 200))
        labels = np.array(["cat", "dog", "emu", "fox"])
        t = labels[rng.integers(0, 3, n)]            # "fox" never true ...
        p = labels[rng.integers(0, 4 if trial % 2 else 3, n)]  # ... sometimes predicted
        codes_t, codes_p = encode_labels(t, p)
        for name, fn in METRICS.items():
            with np.errstate(all="ignore"):
                expected = refs[name](t, p)
                assert float(fn(codes_t, codes_p)) == pytest.approx(expected, abs=1e-12), name


def test_metrics_are_vectorised_over_resamples():
    rng = np.random.default_rng(4)
    t, p = rng.integers(0, 4, (50, 120)), rng.integers(0, 4, (50, 120))
    assert confusion_counts(t, p).shape == (50, 4, 4)
    batched = macro_f1(t, p)
    assert batched.shape == (50,)
    assert batched == pytest.approx([macro_f1(t[i], p[i]) for i in range(50)])


def test_bootstrap_vectorised_equals_loop_and_degenerate_case():
    rng = np.random.default_rng(5)
    t, p = rng.integers(0, 3, 80), rng.integers(0, 3, 80)
    for method in ("percentile", "bca"):
        fast = bootstrap_interval(macro_f1, t, p, n_boot=300, seed=1, method=method,
                                  vectorized=True)
        slow = bootstrap_interval(lambda a, b: float(macro_f1(a, b)), t, p, n_boot=300, seed=1,
                                  method=method)
        assert fast == pytest.approx(slow)
        assert fast[0] < float(macro_f1(t, p)) < fast[1]
    degenerate = bootstrap_interval(macro_f1, t, t, vectorized=True)
    assert degenerate == (1.0, 1.0) and degenerate.method == "bca bootstrap"


def _coverage_rows(hits: dict) -> dict:
    return {key: float(np.mean(v)) for key, v in hits.items()}


def test_bootstrap_macro_f1_covers_population_value():
    """500 samples of 200 rows from a known joint law of (true, predicted) class; the truth is
    the population macro-F1, mean over k of 2·P[k,k] / (P[k,·] + P[·,k])."""
    P = np.array([[0.30, 0.04, 0.02], [0.05, 0.20, 0.05], [0.02, 0.07, 0.25]])
    truth = float(np.mean(2 * np.diag(P) / (P.sum(axis=1) + P.sum(axis=0))))
    rng = np.random.default_rng(11)
    hits: dict = {}
    for rep in range(500):
        cell = rng.choice(9, size=200, p=P.ravel())
        t, p = cell // 3, cell % 3
        for method in ("percentile", "bca"):
            for alpha in LEVELS:
                lo, hi = bootstrap_interval(macro_f1, t, p, alpha=alpha, n_boot=400, seed=rep,
                                            method=method, vectorized=True)
                hits.setdefault((method, alpha), []).append(lo <= truth <= hi)
    for (method, alpha), cov in _coverage_rows(hits).items():
        assert abs(cov - (1 - alpha)) <= TOLERANCE, (method, alpha, cov)
