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
