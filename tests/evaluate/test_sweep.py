"""Ratio sweeps on real BBC News: noise as synthetic data must drag the real score down."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest
from scipy import stats
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import make_pipeline

from tether import datasets
from tether.errors import InputError, TetherError
from tether.stats import wilson
from tether.evaluate.sweep import sweep, t_interval, trend

# a fast scikit-learn student (0.1 s a fit) so the tests do not wait on the default one
FAST = make_pipeline(TfidfVectorizer(), ComplementNB())


@pytest.fixture(scope="module")
def parts(bbc):
    p = datasets.split(bbc, {"train": 250, "holdout": 250}, seed=7)
    return p["train"].to_pylist(), p["holdout"].to_pylist()


def noise(rows, n, seed=0):
    """Pure noise: random words of the real vocabulary with random labels."""
    rng = np.random.default_rng(seed)
    vocab = sorted(set(" ".join(r["text"] for r in rows).split()))
    labels = sorted({r["label"] for r in rows})
    return [{"id": f"noise-{i}", "text": " ".join(rng.choice(vocab, 60)),
             "label": str(rng.choice(labels))} for i in range(n)]


def perturbed(rows):
    """Faithful rule-made synthetic data: every word shortened to at most 5 letters."""
    return [{"id": f"p-{r['id']}", "label": r["label"],
             "text": " ".join(w[:5] for w in r["text"].split())} for r in rows]


def test_noise_drags_the_real_score_down(parts):
    train, holdout = parts
    ratios = (0, 0.25, 0.5, 0.75, 1)
    calls = []
    result = sweep(None, train, noise(train, 250), holdout, ratios=ratios, repeats=2,
                   estimator=FAST, progress=lambda done, total: calls.append((done, total)))
    acc = [p.scores.accuracy for p in result.points]
    assert acc[0] > 0.9 and acc[-1] < 0.35 and acc[-1] < acc[0] - 0.5
    assert all(b <= a + 0.02 for a, b in zip(acc, acc[1:])), acc  # monotone up to noise
    assert result.trend.slope < 0 and result.trend.slope_ci[1] < 0
    assert result.best_ratio in (0, 0.25)
    assert calls[-1] == (10, 10) and len(calls) == 10
    point = result.points[2]
    assert (point.n_real, point.n_synthetic, point.share) == (125, 125, 0.5)
    d = result.to_dict()
    pooled = d["points"][0]["accuracy"]
    correct = round(sum(pooled["repeats"]) * 250)
    assert pooled["wilson_pooled"] == pytest.approx(list(wilson(correct, 500)))
    assert "Wilson" in pooled["wilson_method"] and "t-interval" in pooled["method"]
    json.dumps(d)


def test_add_mode_keeps_every_real_row(parts, store):
    train, holdout = parts
    store.ingest("train", train, origin="real", label_origin="real")
    store.ingest("syn", perturbed(train), origin="synthetic", label_origin="real",
                 family="rule", generator="shorten@1")
    store.ingest("holdout", holdout, origin="real", label_origin="real")
    result = sweep(store, "train", "syn", "holdout", ratios=(0, 0.5), repeats=2, mode="add",
                   estimator=FAST)
    n = store.summary("train").count  # BBC News holds a few duplicate articles
    assert [(p.n_real, p.n_synthetic) for p in result.points] == [(n, 0), (n, n)]
    assert all(p.scores.accuracy > 0.85 for p in result.points)  # faithful rewrites do no harm
    saved = store.latest_result("sweep")
    assert saved.data["audit_id"] is None and result.audit_id is not None
    assert saved.params["mode"] == "add" and len(saved.data["points"]) == 2
    with pytest.raises(InputError, match="share of 1 is impossible"):
        sweep(store, "train", "syn", "holdout", ratios=(1,), mode="add", estimator=FAST)
    with pytest.raises(InputError, match=rf"needs {3 * n}, have {n}"):
        sweep(store, "train", "syn", "holdout", ratios=(0.75,), mode="add", estimator=FAST)


def test_refuses_holdout_overlap_and_short_synthetic(parts):
    train, holdout = parts
    with pytest.raises(InputError, match="shares 1 ids"):
        sweep(None, train, noise(train, 10), holdout + train[:1], ratios=(0,), repeats=1,
              estimator=FAST)
    with pytest.raises(InputError, match="needs 0 real and 250 synthetic rows, have 250 real "
                                         "and 10 synthetic"):
        sweep(None, train, noise(train, 10), holdout, ratios=(1,), repeats=1, estimator=FAST)


def test_default_student(parts):
    train, holdout = parts
    short = [{**r, "text": r["text"][:300]} for r in train[::5]]  # rows come sorted by label
    result = sweep(None, short, noise(train, 50), holdout[::3], ratios=(0, 1), repeats=1)
    assert result.student.startswith("tfidf+logistic")
    assert result.points[0].scores.accuracy > result.points[1].scores.accuracy + 0.4
    assert result.to_dict()["points"][0]["accuracy"]["ci"] is None  # one repeat: no t-interval


SCRIPTS = {
    # a 'fine-tune' of its own: remembers the most common label of each first word
    "train.py": """
        import collections, json, sys
        rows = [json.loads(l) for l in open(sys.argv[1])]
        votes = collections.defaultdict(collections.Counter)
        for r in rows:
            votes[r["text"].split()[0].lower()][r["label"]] += 1
        overall = collections.Counter(r["label"] for r in rows).most_common(1)[0][0]
        model = {w: c.most_common(1)[0][0] for w, c in votes.items()}
        json.dump({"words": model, "overall": overall}, open(sys.argv[2], "w"))
    """,
    "predict.py": """
        import json, sys
        model = json.load(open(sys.argv[1]))
        with open(sys.argv[3], "w") as out:
            for line in open(sys.argv[2]):
                r = json.loads(line)
                label = model["words"].get(r["text"].split()[0].lower(), model["overall"])
                out.write(json.dumps({"id": r["id"], "prediction": label}) + "\\n")
    """,
}


@pytest.fixture
def scripts(tmp_path):
    for name, body in SCRIPTS.items():
        (tmp_path / name).write_text(textwrap.dedent(body))
    py = sys.executable
    return (f"{py} {tmp_path / 'train.py'} {{train}} {{model}}",
            f"{py} {tmp_path / 'predict.py'} {{model}} {{input}} {{output}}")


def test_train_and_predict_commands(parts, scripts):
    train, holdout = parts
    train_cmd, predict_cmd = scripts
    result = sweep(None, train, noise(train, 250), holdout, ratios=(0, 1), repeats=1,
                   train_cmd=train_cmd, predict_cmd=predict_cmd)
    # the same rule computed here: the scripts' predictions came back and were scored
    votes = {}
    for r in train:
        votes.setdefault(r["text"].split()[0].lower(), []).append(r["label"])
    overall = max(sorted({r["label"] for r in train}), key=[r["label"] for r in train].count)
    model = {w: max(sorted(set(v)), key=v.count) for w, v in votes.items()}
    expected = np.mean([model.get(r["text"].split()[0].lower(), overall) == r["label"]
                        for r in holdout])
    first = result.points[0].scores.accuracy
    assert abs(first - expected) < 0.02 and result.student.startswith("command:")
    with pytest.raises(TetherError, match="train command exited with 3"):
        sweep(None, train, noise(train, 10), holdout, ratios=(0,), repeats=1,
              train_cmd=f"{sys.executable} -c 'import sys; sys.exit(3)'", predict_cmd=predict_cmd)
    with pytest.raises(InputError, match="give both"):
        sweep(None, train, noise(train, 10), holdout, ratios=(0,), train_cmd=train_cmd)


def test_statistics_match_references():
    values = [0.81, 0.84, 0.79, 0.86]
    lo, hi = t_interval(values)
    ref = stats.t.interval(0.95, 3, loc=np.mean(values), scale=stats.sem(values))
    assert (lo, hi) == pytest.approx(ref)
    x, y = np.arange(10.0), 0.9 - 0.05 * np.arange(10.0) + np.sin(np.arange(10.0)) / 50
    fit = trend(x, y)
    slope, intercept = np.polyfit(x, y, 1)
    assert fit.slope == pytest.approx(slope) and fit.intercept == pytest.approx(intercept)
    assert fit.slope_ci[0] < -0.05 < fit.slope_ci[1]


def test_t_interval_covers_the_mean_at_nominal_rate():
    rng = np.random.default_rng(0)
    hits = [lo <= 0.8 <= hi for lo, hi in
            (t_interval(rng.normal(0.8, 0.05, size=4)) for _ in range(1000))]
    assert abs(np.mean(hits) - 0.95) < 0.02
