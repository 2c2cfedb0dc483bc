"""The one interval type and its builders: agreement with statsmodels/scikit-learn, coverage by
simulation, and the JSON form every result relies on."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from tether.stats import (
    bootstrap_medians,
    Estimate,
    Interval,
    auc_interval,
    delong,
    mean_interval,
    newcombe,
    normal,
    percentile,
    wilson,
)

LEVELS = (0.95, 0.90)
TOLERANCE = 0.025  # ±2.5 percentage points of nominal


def test_interval_is_a_pair_with_a_level_and_a_method():
    ci = Interval(0.1, 0.4, 0.9, "normal")
    lo, hi = ci
    assert (lo, hi) == (0.1, 0.4) and ci[1] == 0.4 and len(ci) == 2
    assert ci == (0.1, 0.4) and ci == [0.1, 0.4] and ci != (0.1, 0.5)
    assert ci != Interval(0.1, 0.4, 0.95, "normal")  # the level is part of an interval
    assert ci.contains(0.2) and not ci.contains(0.5)
    assert ci.overlaps(Interval(0.35, 0.9)) and not ci.overlaps(Interval(0.5, 0.9))
    assert ci.width == pytest.approx(0.3)


def test_json_form_is_a_list_with_null_for_missing_bounds():
    ci = wilson(0, 0)
    assert math.isnan(ci.lo) and ci.to_dict() == [None, None]
    assert json.dumps(Interval(0.25, 0.5).to_dict()) == "[0.25, 0.5]"
    back = Interval.from_dict([None, 0.5], level=0.9, method="wilson")
    assert math.isnan(back.lo) and back.hi == 0.5 and back.level == 0.9
    assert Interval.from_dict({"lo": 0.1, "hi": 0.2, "level": 0.8, "method": "m"}) == \
        Interval(0.1, 0.2, 0.8, "m")
    est = Estimate(0.5, normal(0.5, 0.1))
    back = Estimate.from_dict(json.loads(json.dumps(est.to_dict())))
    assert back.value == 0.5 and tuple(back.interval) == tuple(est.interval)


@pytest.mark.parametrize("successes,n",
                         [(0, 10), (3, 10), (10, 10), (80, 100), (1, 2000), (517, 1000)])
@pytest.mark.parametrize("level", LEVELS)
def test_wilson_matches_statsmodels(successes, n, level):
    expected = proportion_confint(successes, n, alpha=1 - level, method="wilson")
    ci = wilson(successes, n, level)
    assert ci == pytest.approx(expected, abs=1e-12)
    assert (ci.level, ci.method) == (level, "wilson")


@pytest.mark.parametrize("counts", [(90, 100, 80, 100), (5, 40, 20, 60), (0, 30, 30, 30),
                                    (700, 1000, 300, 500)])
@pytest.mark.parametrize("level", LEVELS)
def test_newcombe_matches_statsmodels(counts, level):
    expected = confint_proportions_2indep(*counts, method="newcomb", compare="diff",
                                          alpha=1 - level)
    assert newcombe(*counts, level=level) == pytest.approx(expected, abs=1e-12)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        wilson(11, 10)
    with pytest.raises(ValueError):
        normal(0.0, 1.0, level=1.5)


def test_delong_auc_matches_scikit_learn():
    rng = np.random.default_rng(1)
    pos, neg = rng.normal(0.5, 1, 300).round(1), rng.normal(0, 1, 200).round(1)  # with ties
    auc, se = delong(pos, neg)
    y = np.r_[np.ones(300), np.zeros(200)]
    assert auc == pytest.approx(roc_auc_score(y, np.r_[pos, neg]), abs=1e-12)
    assert 0 < se < 0.05
    ci = auc_interval(0.99, 0.02)
    assert ci.hi == 1.0 and ci.method == "delong"


def test_wilson_newcombe_and_mean_cover_at_nominal_rate():
    """2,000 simulated pairs of proportions; each repetition draws its own true rates and sizes,
    so the test averages over Wilson's known coverage oscillation."""
    rng = np.random.default_rng(20)
    reps = 2000
    p1, p2 = rng.uniform(0.6, 0.95, reps), rng.uniform(0.5, 0.9, reps)
    n1, n2 = rng.integers(60, 400, reps), rng.integers(100, 600, reps)
    x1, x2 = rng.binomial(n1, p1), rng.binomial(n2, p2)
    hits: dict = {}
    for level in LEVELS:
        for i in range(reps):
            hits.setdefault(("wilson", level), []).append(
                wilson(int(x1[i]), int(n1[i]), level).contains(p1[i]))
            hits.setdefault(("newcombe", level), []).append(
                newcombe(int(x1[i]), int(n1[i]), int(x2[i]), int(n2[i]), level)
                .contains(p1[i] - p2[i]))
            _, ci = mean_interval(rng.exponential(2.0, 80), level)
            hits.setdefault(("mean", level), []).append(ci.contains(2.0))
    for (method, level), cov in hits.items():
        assert abs(float(np.mean(cov)) - level) <= TOLERANCE, (method, level)


@pytest.mark.parametrize("n", [11, 12])
def test_bootstrap_medians_match_resampling(n):
    """The order-statistic draw has the distribution of the median of an explicit resample
    (values with ties, odd and even n): each possible median's frequency within 0.006 over
    100,000 draws of each (MC standard error ≈ 0.0016)."""
    rng = np.random.default_rng(n)
    values = np.round(rng.exponential(1.0, n), 1)
    values[:3] = 1.0  # ties, as censored distances have
    fast = bootstrap_medians(values, 100_000, rng)
    slow = np.median(rng.choice(values, size=(100_000, n)), axis=1)
    support = np.union1d(fast, slow)
    freq = [np.searchsorted(np.sort(d), support, side="right") / d.size for d in (fast, slow)]
    assert np.abs(freq[0] - freq[1]).max() < 0.006


def test_bootstrap_medians_of_nothing_are_nan():
    assert np.isnan(bootstrap_medians([], 5, np.random.default_rng(0))).all()


def test_percentile_interval_of_draws():
    ci = percentile(np.arange(1001.0), 0.9)
    assert ci == pytest.approx((50.0, 950.0)) and ci.level == 0.9
    assert percentile([float("nan")]).to_dict() == [None, None]
