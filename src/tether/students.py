"""Default student models: the scikit-learn text classifier tether trains for sweeps and audits.

Any scikit-learn-compatible estimator (``fit(texts, labels)``, ``predict``, ideally
``predict_proba``) can replace it wherever a function takes ``estimator=``.

Example:
    >>> clf = default_text_classifier(seed=0).fit(["good match", "bad loss"] * 5, ["a", "b"] * 5)
    >>> clf.predict(["good match"]).tolist()
    ['a']
"""

from __future__ import annotations

from sklearn.base import BaseEstimator, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline


def default_text_classifier(seed: int = 0) -> Pipeline:
    """TF-IDF word uni- and bigrams with a logistic regression: fast, strong on topic labels."""
    return Pipeline([
        ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=1, max_features=50_000,
                                  sublinear_tf=True)),
        # saga fits this sparse multinomial problem ~5x faster than lbfgs at the same accuracy
        ("clf", LogisticRegression(C=10.0, solver="saga", tol=1e-3, max_iter=300,
                                   random_state=seed)),
    ])


def fresh(estimator: BaseEstimator | None, seed: int = 0) -> BaseEstimator:
    """An unfitted copy of ``estimator``, or the default student when it is None."""
    return default_text_classifier(seed) if estimator is None else clone(estimator)
