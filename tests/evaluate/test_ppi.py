"""Prediction-powered inference: agreement with ppi_py, coverage by simulation, estimate()."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tether import datasets
from tether.errors import InputError
from tether.evaluate.ppi import (
    classical_mean_ci,
    classical_mean_se,
    estimate,
    ppi_lambda,
    ppi_mean_ci,
    ppi_mean_pointestimate,
    ppi_mean_se,
)
from tether.students import default_text_classifier

ppi_py = pytest.importorskip("ppi_py")

LEVELS = (0.05, 0.10)
TOLERANCE = 0.025


def _random_inputs(seed):
    rng = np.random.default_rng(seed)
    n, N = int(rng.integers(10, 400)), int(rng.integers(50, 5000))
    if seed % 2:  # binary truth with probability-like predictions (accuracy, prevalence)
        Y = rng.binomial(1, 0.7, n).astype(float)
        Yhat = np.clip(0.6 * Y + rng.uniform(0, 0.5, n), 0, 1)
        Yhat_u = np.clip(0.6 * rng.binomial(1, 0.7, N) + rng.uniform(0, 0.5, N), 0, 1)
    else:
        Y = rng.normal(1.0, 2.0, n)
        Yhat = rng.uniform(-0.5, 1.5) * Y + rng.normal(0.3, 1.0, n)
        Yhat_u = rng.normal(1.0, 2.5, N)
    return Y, Yhat, Yhat_u


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("alpha", LEVELS)
def test_agrees_with_ppi_py(seed, alpha):
    Y, Yhat, Yhat_u = _random_inputs(seed)
    for lam in (1.0, None, 0.4):
        ref = np.ravel(ppi_py.ppi_mean_ci(Y, Yhat, Yhat_u, alpha=alpha, lam=lam))
        assert ppi_mean_ci(Y, Yhat, Yhat_u, alpha, lam) == pytest.approx(ref, abs=1e-6)
        ref_point = float(np.ravel(ppi_py.ppi_mean_pointestimate(Y, Yhat, Yhat_u, lam=lam))[0])
        assert ppi_mean_pointestimate(Y, Yhat, Yhat_u, lam) == pytest.approx(ref_point, abs=1e-6)
    ref_classical = np.ravel(ppi_py.classical_mean_ci(Y, alpha=alpha))
    assert classical_mean_ci(Y, alpha) == pytest.approx(ref_classical, abs=1e-6)


def test_lambda_bounds_and_degenerate_predictions():
    rng = np.random.default_rng(1)
    Y = rng.normal(size=100)
    assert ppi_lambda(Y, -Y, rng.normal(size=1000)) == 0.0   # negative correlation → clipped
    assert ppi_lambda(Y, Y, Y[:50]) == pytest.approx(1 / (1 + 100 / 50), rel=0.2)
    constant = np.zeros(100)
    assert ppi_lambda(Y, constant, np.zeros(500)) == 0.0      # ppi_py gives NaN here
    lo, hi = ppi_mean_ci(Y, constant, np.zeros(500))
    assert (lo, hi) == pytest.approx(classical_mean_ci(Y))


def _simulate(predictor: str, reps: int, seed: int, n: int = 150, N: int = 3000):
    """Y ~ N(1, 1); a good predictor is biased but tightly correlated, a useless one is noise."""
    rng = np.random.default_rng(seed)
    for _ in range(reps):
        Y, Y_u = rng.normal(1.0, 1.0, n), rng.normal(1.0, 1.0, N)
        if predictor == "good":
            Yhat = 0.2 + 0.9 * Y + rng.normal(0, 0.3, n)
            Yhat_u = 0.2 + 0.9 * Y_u + rng.normal(0, 0.3, N)
        else:
            Yhat, Yhat_u = rng.normal(0, 1, n), rng.normal(0, 1, N)
        yield Y, Yhat, Yhat_u


def test_classical_ppi_and_ppi_plus_plus_cover_at_nominal_rate():
    truth, hits = 1.0, {}
    for Y, Yhat, Yhat_u in _simulate("good", 2000, seed=7):
        for alpha in LEVELS:
            for name, (lo, hi) in (("classical", classical_mean_ci(Y, alpha)),
                                   ("ppi", ppi_mean_ci(Y, Yhat, Yhat_u, alpha, lam=1)),
                                   ("ppi_pp", ppi_mean_ci(Y, Yhat, Yhat_u, alpha))):
                hits.setdefault((name, alpha), []).append(lo <= truth <= hi)
    for (name, alpha), v in hits.items():
        assert abs(np.mean(v) - (1 - alpha)) <= TOLERANCE, (name, alpha, np.mean(v))


def test_ppi_is_narrower_with_a_good_predictor():
    ratios = [ppi_mean_se(Y, Yhat, Yhat_u, lam=1) / classical_mean_se(Y)
              for Y, Yhat, Yhat_u in _simulate("good", 200, seed=8)]
    assert max(ratios) < 1.0
    assert np.mean(ratios) < 0.6


def test_ppi_plus_plus_is_no_wider_with_a_useless_predictor():
    ratios = [ppi_mean_se(Y, Yhat, Yhat_u) / classical_mean_se(Y)
              for Y, Yhat, Yhat_u in _simulate("useless", 500, seed=9)]
    ppi_ratios = [ppi_mean_se(Y, Yhat, Yhat_u, lam=1) / classical_mean_se(Y)
                  for Y, Yhat, Yhat_u in _simulate("useless", 500, seed=9)]
    assert np.mean(ratios) <= 1.005
    assert np.mean(ppi_ratios) > 1.3  # plain PPI pays for the noise; PPI++ does not


# ------------------------------------------------------------------------------- estimate()
def test_estimate_mean_matches_functions_and_reports_everything():
    Y, Yhat, Yhat_u = _random_inputs(2)
    gold = [{"label": float(a), "prediction": float(b)} for a, b in zip(Y, Yhat)]
    rest = [{"prediction": float(b)} for b in Yhat_u]
    r = estimate(gold, rest, metric="mean", alpha=0.1)
    assert r.ppi.ci == pytest.approx(ppi_mean_ci(Y, Yhat, Yhat_u, 0.1, lam=1))
    assert r.ppi_pp.ci == pytest.approx(ppi_mean_ci(Y, Yhat, Yhat_u, 0.1))
    assert r.classical.ci == pytest.approx(classical_mean_ci(Y, 0.1))
    d = r.to_dict()
    json.dumps(d)
    assert d["n_gold"] == len(gold) and d["n_unlabelled"] == len(rest)
    assert set(d) >= {"classical", "ppi", "ppi_pp", "n_gold", "n_unlabelled", "effective_n",
                      "method"}
    assert d["ppi_pp"]["lambda"] == pytest.approx(ppi_lambda(Y, Yhat, Yhat_u))
    expected_eff = len(gold) * classical_mean_se(Y) ** 2 / ppi_mean_se(Y, Yhat, Yhat_u) ** 2
    assert d["effective_n"]["ppi_pp"] == pytest.approx(expected_eff)


def test_estimate_accuracy_and_prevalence_indicators():
    gold = [{"label": "a", "prediction": "a", "score": 0.9},
            {"label": "b", "prediction": "a", "score": 0.6},
            {"label": "b", "prediction": "b", "score": 0.8},
            {"label": "a", "prediction": "a", "score": 0.7}]
    rest = [{"prediction": "a", "score": 0.9}, {"prediction": "b", "score": 0.5}] * 10
    acc = estimate(gold, rest, metric="accuracy")
    assert acc.classical.estimate == 0.75
    assert acc.ppi.estimate == pytest.approx(0.7 + 0.75 - 0.75)
    prev = estimate([{k: v for k, v in g.items() if k != "score"} for g in gold],
                    [{"prediction": r["prediction"]} for r in rest], metric="prevalence",
                    positive="a")
    assert prev.classical.estimate == 0.5
    assert prev.ppi.estimate == pytest.approx(0.5 + (0.5 - 0.75))


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("metric,gold,rest,line,field", [
    ("mean", [{"label": 1, "prediction": 1}, {"label": "x", "prediction": 2}], [{"prediction": 1}],
     2, "label"),
    ("mean", [{"label": 1, "prediction": 1}, {"label": 2}], [{"prediction": 1}], 2, "prediction"),
    ("accuracy", [{"label": 1, "prediction": 1, "score": 0.5}] * 2, [{"prediction": 1, "score": 2}],
     1, "score"),
    ("accuracy", [{"label": 1, "prediction": 1, "score": 0.5}] * 2, [{"prediction": 1}],
     1, "score"),
])
def test_estimate_bad_rows_name_file_line_and_field(tmp_path, metric, gold, rest, line, field):
    g, u = _write(tmp_path / "g.jsonl", gold), _write(tmp_path / "u.jsonl", rest)
    with pytest.raises(InputError) as info:
        estimate(g, u, metric=metric)
    err = info.value
    assert err.line == line and err.field == field
    assert err.path in (str(g), str(u))


def test_estimate_refuses_bad_requests(tmp_path):
    gold = [{"label": "a", "prediction": "a"}] * 3
    with pytest.raises(InputError, match="positive"):
        estimate(gold, gold, metric="prevalence")
    with pytest.raises(InputError, match="unknown metric"):
        estimate(gold, gold, metric="median")
    with pytest.raises(InputError, match="at least 2"):
        estimate(gold[:1], gold, metric="prevalence", positive="a")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"label": 1, "prediction": 1}\n{"label": 1,\n')
    with pytest.raises(InputError) as info:
        estimate(bad, gold, metric="mean")
    assert info.value.line == 2


def test_estimate_on_real_bbc_covers_true_accuracy_and_prevalence(bbc):
    """Train the default student on 500 articles, predict the other 1,725; a 150-row gold set
    and 1,575 unlabelled rows; the truth is computed on all 1,725."""
    parts = datasets.split(bbc, {"train": 500, "gold": 150, "rest": 1575}, seed=3)
    clf = default_text_classifier(seed=0).fit(parts["train"].column("text").to_pylist(),
                                              parts["train"].column("label").to_pylist())
    rows = {}
    sports = list(clf.classes_).index("sports")
    for name in ("gold", "rest"):
        proba = clf.predict_proba(parts[name].column("text").to_pylist())
        labels = parts[name].column("label").to_pylist()
        rows[name] = [{"label": lab, "prediction": str(clf.classes_[p.argmax()]),
                       "score": float(p.max()), "p_sports": float(p[sports])}
                      for lab, p in zip(labels, proba)]
    everything = rows["gold"] + rows["rest"]
    true_acc = np.mean([r["label"] == r["prediction"] for r in everything])
    true_prev = np.mean([r["label"] == "sports" for r in everything])
    unlabelled = [{k: v for k, v in r.items() if k != "label"} for r in rows["rest"]]

    acc = estimate(rows["gold"], unlabelled, metric="accuracy")
    assert acc.ppi.ci[0] <= true_acc <= acc.ppi.ci[1]
    assert acc.ppi_pp.ci[0] <= true_acc <= acc.ppi_pp.ci[1]

    gold_prev = [{**r, "score": r["p_sports"]} for r in rows["gold"]]
    rest_prev = [{**r, "score": r["p_sports"]} for r in unlabelled]
    prev = estimate(gold_prev, rest_prev, metric="prevalence", positive="sports")
    assert prev.ppi.ci[0] <= true_prev <= prev.ppi.ci[1]
    assert prev.ppi_pp.ci[0] <= true_prev <= prev.ppi_pp.ci[1]
    # a strong topic classifier makes prevalence far more precise than the gold set alone
    width = {k: getattr(prev, k).ci[1] - getattr(prev, k).ci[0] for k in ("ppi_pp", "classical")}
    assert width["ppi_pp"] < 0.6 * width["classical"]
    assert prev.effective_n["ppi_pp"] > 2 * prev.n_gold


# ------------------------------------------------------------------- a judge's scores (issue 12)
SCORES = np.arange(1, 6)
SCORE_P = np.array([0.10, 0.15, 0.25, 0.30, 0.20])   # a person's 1-5 score
PREFERENCE = np.array([1.0, 0.5, 0.0])                # A wins, tie, B wins
PREFERENCE_P = np.array([0.50, 0.15, 0.35])
PASS = 4
TRUTH = {"mean": float(SCORES @ SCORE_P), "pass_rate": float(SCORE_P[SCORES >= PASS].sum()),
         "win_rate": float(PREFERENCE @ PREFERENCE_P)}


def _judged(metric: str, judge: str, shape, rng):
    """(human, judge) values of ``shape`` items. The human's follow known distributions (so the
    truth is exact); answer length is independent of them. A ``biased`` judge scores long
    answers higher (prefers the longer answer of a pair); a ``noise`` judge ignores the answer."""
    length = rng.normal(size=shape)
    if metric == "win_rate":
        human = rng.choice(PREFERENCE, size=shape, p=PREFERENCE_P)
        if judge == "noise":
            return human, rng.choice(PREFERENCE, size=shape)
        agrees = rng.random(shape) < 0.8
        judged = np.where(agrees, human, 0.5)
        return human, np.where(np.abs(length) > 0.8, (length > 0).astype(float), judged)
    human = rng.choice(SCORES, size=shape, p=SCORE_P).astype(float)
    if judge == "noise":
        return human, rng.choice(SCORES, size=shape).astype(float)
    slip = rng.choice([-1.0, 0.0, 1.0], size=shape, p=[0.2, 0.6, 0.2])
    return human, np.clip(human + np.round(length + 0.5) + slip, 1, 5)


def _as_metric(metric: str, values: np.ndarray) -> np.ndarray:
    return (values >= PASS).astype(float) if metric == "pass_rate" else values


def _rows(metric, human, judged, judged_u):
    def value(v):
        return {1.0: "A", 0.5: "tie", 0.0: "B"}[float(v)] if metric == "win_rate" else float(v)
    gold = [{"label": value(a), "prediction": value(b)} for a, b in zip(human, judged)]
    return gold, [{"prediction": value(b)} for b in judged_u]


@pytest.mark.parametrize("judge", ["biased", "noise"])
@pytest.mark.parametrize("metric", ["mean", "pass_rate", "win_rate"])
def test_judge_metrics_agree_with_ppi_py(metric, judge):
    rng = np.random.default_rng(11)
    human, judged = _judged(metric, judge, 150, rng)
    _, judged_u = _judged(metric, judge, 4000, rng)
    gold, rest = _rows(metric, human, judged, judged_u)
    r = estimate(gold, rest, metric=metric, alpha=0.05,
                 threshold=PASS if metric == "pass_rate" else None)
    Y, Yhat, Yhat_u = (_as_metric(metric, v) for v in (human, judged, judged_u))
    for lam, got in ((1.0, r.ppi), (None, r.ppi_pp)):
        assert got.ci == pytest.approx(
            np.ravel(ppi_py.ppi_mean_ci(Y, Yhat, Yhat_u, alpha=0.05, lam=lam)), abs=1e-6)
        assert got.estimate == pytest.approx(
            float(np.ravel(ppi_py.ppi_mean_pointestimate(Y, Yhat, Yhat_u, lam=lam))[0]), abs=1e-6)
    assert r.classical.ci == pytest.approx(np.ravel(ppi_py.classical_mean_ci(Y, alpha=0.05)),
                                           abs=1e-6)
    assert r.classical.estimate == pytest.approx(Y.mean())
    assert r.metric == metric and not r.metric_inferred


def test_pass_rate_and_win_rate_read_the_judges_probability_when_every_row_has_one():
    rng = np.random.default_rng(12)
    human = rng.choice(SCORES, size=80, p=SCORE_P).astype(float)
    p_pass = np.clip((human - 1) / 4 + rng.normal(0, 0.2, 80), 0, 1)
    p_pass_u = rng.uniform(size=900)
    gold = [{"label": float(a), "prediction": 1.0, "score": float(p)}
            for a, p in zip(human, p_pass)]
    rest = [{"prediction": 1.0, "score": float(p)} for p in p_pass_u]
    r = estimate(gold, rest, metric="pass_rate", threshold=PASS)
    Y = (human >= PASS).astype(float)
    assert r.ppi.ci == pytest.approx(np.ravel(ppi_py.ppi_mean_ci(Y, p_pass, p_pass_u, alpha=0.05,
                                                                 lam=1)), abs=1e-6)
    wins = [{"label": "A" if a >= PASS else "B", "prediction": "B", "score": float(p)}
            for a, p in zip(human, p_pass)]
    w = estimate(wins, rest, metric="win_rate")
    assert w.ppi.estimate == pytest.approx(r.ppi.estimate)  # the same Y and Yhat


SIMS, N_GOLD, N_UNLABELLED = 2000, 200, 2000


@pytest.mark.parametrize("judge", ["biased", "noise"])
@pytest.mark.parametrize("metric", ["mean", "pass_rate", "win_rate"])
def test_judge_ppi_covers_at_nominal_rate(metric, judge):
    """2,000 simulated evaluations per case (the data drawn at once, one array per role); every
    interval within ±2.5 points of 95 %; the biased judge alone would be badly off."""
    rng = np.random.default_rng(13 + len(metric) + len(judge))
    human, judged = _judged(metric, judge, (SIMS, N_GOLD), rng)
    _, judged_u = _judged(metric, judge, (SIMS, N_UNLABELLED), rng)
    Y, Yhat, Yhat_u = (_as_metric(metric, v) for v in (human, judged, judged_u))
    truth = TRUTH[metric]
    hits = {"classical": [], "ppi": [], "ppi_pp": [], "judge_only": []}
    widths = {"classical": [], "ppi": [], "ppi_pp": []}
    for y, yh, yu in zip(Y, Yhat, Yhat_u):
        for name, (lo, hi) in (("classical", classical_mean_ci(y)),
                               ("ppi", ppi_mean_ci(y, yh, yu, lam=1)),
                               ("ppi_pp", ppi_mean_ci(y, yh, yu)),
                               ("judge_only", classical_mean_ci(yu))):
            hits[name].append(lo <= truth <= hi)
            if name in widths:
                widths[name].append(hi - lo)
    for name in ("classical", "ppi", "ppi_pp"):
        assert abs(np.mean(hits[name]) - 0.95) <= TOLERANCE, (name, np.mean(hits[name]))
    ratio = np.mean(np.asarray(widths["ppi_pp"]) / np.asarray(widths["classical"]))
    if judge == "biased":
        assert np.mean(hits["judge_only"]) < 0.2  # the judge's own mean misses the truth
        assert ratio < 0.95  # and corrected, it still narrows the interval
    else:
        assert 0.97 <= ratio <= 1.01  # PPI++ is no worse than classical with a useless judge
        ppi_ratio = np.mean(np.asarray(widths["ppi"]) / np.asarray(widths["classical"]))
        assert ppi_ratio > 1.1       # plain PPI pays for the noise


def test_default_metric_is_inferred_from_the_labels():
    numbers = [{"label": 4, "prediction": 3.0}, {"label": 2, "prediction": 2.5}]
    r = estimate(numbers, [{"prediction": 3.0}] * 5)
    assert r.metric == "mean" and r.metric_inferred and r.to_dict()["metric_inferred"] is True
    classes = [{"label": "sport", "prediction": "sport"}, {"label": "tech", "prediction": "sport"}]
    # class labels with a score on every row: accuracy, Y = 1[label == prediction]
    scored = [{**c, "score": p} for c, p in zip(classes, (0.9, 0.6))]
    acc = estimate(scored, [{"prediction": "tech", "score": 0.8}] * 5)
    assert acc.metric == "accuracy" and acc.metric_inferred and acc.classical.estimate == 0.5
    assert acc.ppi.estimate == pytest.approx(0.8 + 0.5 - 0.75)
    # without a score on every row there is no default: the message says what to pass
    for gold, rest, row in ((classes, [{"prediction": "sport", "score": 0.5}] * 5, 1),
                             (scored, [{"prediction": "sport", "score": 0.5}, {}], 2)):
        with pytest.raises(InputError) as info:
            estimate(gold, rest)
        assert info.value.field == "score" and info.value.row == row
        assert "--positive sport" in info.value.message and "'score'" in info.value.message
        assert "win_rate" not in info.value.message
    prefs = [{"label": "A", "prediction": "A"}, {"label": "tie", "prediction": "B"}]
    with pytest.raises(InputError, match="--metric win_rate"):
        estimate(prefs, [{"prediction": "A"}])
    prev = estimate(classes, [{"prediction": "sport"}] * 5, positive="sport")
    assert prev.metric == "prevalence" and prev.metric_inferred and prev.classical.estimate == 0.5
    passed = estimate(numbers, [{"prediction": 3.0}] * 5, threshold=3)
    assert passed.metric == "pass_rate" and passed.classical.estimate == 0.5


@pytest.mark.parametrize("metric,gold,threshold,field,match", [
    ("pass_rate", [{"label": 4, "prediction": 4}] * 2, None, "threshold", "--threshold"),
    ("pass_rate", [{"label": "good", "prediction": 4}] * 2, 3, "label", "finite number"),
    ("win_rate", [{"label": "A", "prediction": "C"}] * 2, None, "prediction", "A, B or tie"),
    ("win_rate", [{"label": 0.7, "prediction": "A"}] * 2, None, "label", "A, B or tie"),
    ("mean", [{"prediction": 4}] * 2, None, "label", "missing"),
])
def test_judge_metrics_refuse_bad_rows(metric, gold, threshold, field, match):
    with pytest.raises(InputError, match=match) as info:
        estimate(gold, [{"prediction": 4}], metric=metric, threshold=threshold)
    assert info.value.field == field


def test_estimate_result_round_trips_with_threshold():
    from tether.evaluate.ppi import EstimateResult
    r = estimate([{"label": 5, "prediction": 4}, {"label": 2, "prediction": 3}],
                 [{"prediction": 4}] * 4, metric="pass_rate", threshold=4)
    again = EstimateResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert again.to_dict() == r.to_dict() and again.threshold == 4.0 and again.lam == r.lam
