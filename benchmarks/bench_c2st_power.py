"""Power of the two-sample test against bare classifiers, on equal data in the same run.

Every text is three random BBC News sentences of one topic (as in ``bench_labels.make``, ~400
characters); real and synthetic texts draw from the same sentence pool, and the synthetic side
is shifted three ways — typos (1% of characters), a topic mix (business texts twice as likely)
and a style tic (10% of sentences open with a connective). (Single sentences from disjoint
halves of the pool, used before, run out at ~19k a side: at 100k each sentence would recur
about five times on its own side, and any classifier reads the side off the repeats.) For each
shift, on the same texts and the same stratified folds, the AUC (with its DeLong standard error)
and time of:

- tether's detector (``c2st`` on :func:`tether.audit.features.ngram_matrix`, no permutations:
  the observed fit only; featurisation timed separately),
- a plain ``HashingVectorizer`` (word 1-2-grams) + ``LogisticRegression`` (C = 1),
- a tuned bare logistic regression on tether's word + character n-gram features, its parameter
  chosen on the test rows (generous to the baseline): ``LogisticRegression`` (liblinear,
  C in 4, 16) up to 20,000 per side; above, where one liblinear fit on 160k rows ran over 3
  CPU-minutes, scikit-learn's ``SGDClassifier`` (log loss, 12 epochs — three times tether's
  budget at 100k — averaged from the second, alpha in 3e-7, 3e-6).

Up to 20,000 per side every model is scored on all 5 folds; above, on the test rows of the
first fold only (tether's out-of-fold scores restricted to the same rows, from its fit on the
other four folds, like every peer's). Size from ``TETHER_BENCH_N`` (per side; default 10,000;
``TETHER_BENCH_N=100000`` for the issue's figure at 100k). The large-sample path of ``c2st``
runs above 4,000 samples.
"""

from __future__ import annotations

import os
import re
import resource
import time

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold

from tether.audit.features import ngram_matrix
from tether.audit.mirage import c2st
from tether.datasets import load
from tether.stats import delong
from tether.generate.perturb import Pipeline, perturb_texts

CONNECTIVES = ["In fact, ", "Notably, ", "Moreover, ", "Interestingly, "]


def shifts(n: int) -> tuple[list[str], dict[str, list[str]]]:
    """``n`` real texts and ``n`` texts of each shift, every text three random sentences of one
    topic (as in ``bench_labels.make``, ~400 characters; both sides draw from the same pool)."""
    pools: dict[str, list[str]] = {}
    table = load("bbcnews")
    for text, label in zip(table.column("text").to_pylist(), table.column("label").to_pylist()):
        pools.setdefault(label, []).extend(
            s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.strip()) > 40)
    topics = sorted(pools)
    rng = np.random.default_rng(0)

    def draw(k: int, business: float = 1.0, connective: float = 0.0) -> list[str]:
        weight = np.array([business if t == "business" else 1.0 for t in topics])
        out = []
        for t in rng.choice(len(topics), k, p=weight / weight.sum()):
            pool = pools[topics[t]]
            sentences = [pool[j] for j in rng.integers(0, len(pool), 3)]
            out.append(" ".join(CONNECTIVES[rng.integers(4)] + s[0].lower() + s[1:]
                                if rng.random() < connective else s for s in sentences))
        return out

    real = draw(n)
    return real, {
        "typos 1%": perturb_texts(draw(n), [str(i) for i in range(n)],
                                  Pipeline.parse("typos=0.01"), seed=0),
        "topic mix (business x2)": draw(n, business=2.0),
        "style (10% of sentences open with a connective)": draw(n, connective=0.1),
    }


SPLIT = StratifiedKFold(5, shuffle=True, random_state=0)  # the folds c2st draws (seed 0)


def fold_auc(model, X, y: np.ndarray, folds: int) -> tuple[float, float, float]:
    """AUC and DeLong SE of ``model``'s scores on the test rows of the first ``folds`` of
    :data:`SPLIT` (each scored by a fit on the other four), and the seconds per fold."""
    scores, rows = np.empty(y.size), []
    t0 = time.perf_counter()
    for _, (tr, te) in zip(range(folds), SPLIT.split(np.zeros(y.size), y)):
        scores[te] = model(tr.size).fit(X[tr], y[tr]).decision_function(X[te])
        rows.append(te)
    return (*_auc(scores, y, np.concatenate(rows)), (time.perf_counter() - t0) / folds)


def _auc(scores: np.ndarray, y: np.ndarray, rows: np.ndarray) -> tuple[float, float]:
    return delong(scores[rows][y[rows] > 0], scores[rows][y[rows] == 0])


def _sgd(alpha: float):
    return lambda n: SGDClassifier(loss="log_loss", alpha=alpha, max_iter=12, tol=None,
                                   average=n, random_state=0)


def main() -> None:
    n = int(os.environ.get("TETHER_BENCH_N", 10_000))
    folds = 5 if n <= 20_000 else 1
    real, synthetic = shifts(n)
    y = np.r_[np.zeros(n), np.ones(n)]
    rows = np.concatenate([te for _, (_, te) in zip(range(folds), SPLIT.split(np.zeros(2 * n), y))])
    if folds == 5:
        tuned_models = {f"C={c}": (lambda c: lambda _: LogisticRegression(
            C=c, solver="liblinear"))(c) for c in (4, 16)}
        tuned_name = "LogisticRegression (liblinear)"
    else:  # one liblinear fit at C=16 on 160k rows ran over 3 CPU-minutes without finishing
        tuned_models = {f"alpha={a:g}": _sgd(a) for a in (3e-7, 3e-6)}
        tuned_name = "SGDClassifier log loss (12 epochs, averaged from the 2nd)"
    print(f"{n:,} real vs {n:,} synthetic texts (3 BBC sentences each) per shift; AUC ± DeLong "
          f"SE on the test rows of {folds} of 5 stratified folds (same folds for every model); "
          f"tuned peer: {tuned_name}, its parameter chosen on those test rows")
    only = os.environ.get("TETHER_BENCH_SHIFTS")  # e.g. "typos,style": first words of shifts
    for name, syn in synthetic.items():
        if only and name.split()[0] not in only.split(","):
            continue
        texts = real + syn
        t0 = time.perf_counter()
        X = ngram_matrix(texts)
        feat = time.perf_counter() - t0
        t0 = time.perf_counter()
        ours = c2st(X, y > 0, permutations=0)
        took = time.perf_counter() - t0
        auc, se = _auc(ours.scores, y, rows)
        Xw = HashingVectorizer(ngram_range=(1, 2)).transform(texts)
        plain, plain_se, plain_t = fold_auc(lambda _: LogisticRegression(solver="liblinear"),
                                            Xw, y, folds)
        tuned = {k: fold_auc(m, X, y, folds) for k, m in tuned_models.items()}
        best = max(tuned, key=lambda k: tuned[k][0])
        penalty = (ours.method.split("averaged SGD (penalty ")[-1].split(":")[0]
                   if "SGD" in ours.method else "exact ridge")
        print(f"  {name}: tether {auc:.4f} ± {se:.4f} ({took:.1f} s for 5 folds + {feat:.1f} s "
              f"features; penalty {penalty}) | plain word 1-2-gram LR {plain:.4f} ± "
              f"{plain_se:.4f} ({plain_t:.1f} s per fold) | tuned on the same features "
              f"{tuned[best][0]:.4f} ± {tuned[best][1]:.4f} ({best}; "
              + ", ".join(f"{k}: {v[0]:.4f}, {v[2]:.1f} s per fold" for k, v in tuned.items())
              + f") | difference vs plain {auc - plain:+.4f}, vs tuned {auc - tuned[best][0]:+.4f} "
              f"({(auc - tuned[best][0]) / se:+.1f} SE)", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:,.0f} MB")


if __name__ == "__main__":
    main()
