"""Coverage: how much of the synthetic data lies where real data lives, how much of the real data
the synthetic data covers, and which real modes no synthetic sample reaches.

Precision and recall of distributions with k-nearest-neighbour manifolds (Kynkäänniemi et al.,
2019): each sample's ball reaches its k-th nearest neighbour on its own side; precision is the
share of synthetic samples inside some real ball, recall the share of real samples inside some
synthetic ball. Intervals are Wilson intervals conditional on the manifolds (the variability of
the balls themselves is not included): a bootstrap that resamples both sides and rebuilds the
balls is biased — resampled sets hold ~63% distinct points, so balls grow and recall rises — and
in a check on BBC News its 95% interval excluded the full-sample estimate. Real modes are
k-means clusters of the real embedding; a real sample counts as
reached when a synthetic sample falls inside its own k-NN ball (the "coverage" of Naeem et al.,
2020, robust to synthetic outliers), and a mode is uncovered when less than ``threshold`` of its
members are reached (Wilson interval on that share).

Inputs above ``max_n`` per side are subsampled uniformly first (``n_used`` says so): the method
holds all pairwise distances in memory. The sampled texts are embedded with TF-IDF → truncated
SVD → L2 normalisation fitted on them (real ∪ synthetic), or sentence embeddings with the
``embed`` extra; texts outside the sample are never featurized.

Example:
    >>> rng = np.random.default_rng(0)
    >>> r = coverage_points(rng.normal(size=(300, 2)), rng.normal(size=(300, 2)))
    >>> r.precision > 0.8 and r.recall > 0.8
    True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.cluster import KMeans

from tether.audit._load import field_params, from_json, load_pair, made_by, plain
from tether.audit.features import embed, small_blas
from tether.errors import InputError
from tether.results import Result
from tether.stats import NAN_INTERVAL, Interval, wilson
from tether.store import Store


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0), dtype=np.float32)


def _radii(d_self: np.ndarray, k: int) -> np.ndarray:
    """Distance of each point to its k-th nearest other point (row-wise, self excluded)."""
    k = min(k, d_self.shape[0] - 1)
    return np.partition(d_self, k, axis=1)[:, k]


def _inside(d: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """For each row point: does it fall in the ball of some column point?"""
    return (d <= radii[None, :]).any(axis=1)


@dataclass(frozen=True)
class Mode:
    """One real cluster: its size, the share of its members a synthetic sample reaches (with a
    Wilson interval), its most common label and the ids of members nearest its centre."""

    cluster: int
    size: int
    reached: float
    reached_ci: Interval = field(metadata=made_by("wilson"))
    label: str | None
    examples: list[str]

    from_dict = classmethod(from_json)


@dataclass(frozen=True)
class CoverageResult(Result):
    """The coverage audit. ``to_dict()`` is the ``tether audit coverage --json`` contract."""

    precision: float
    precision_ci: Interval = field(metadata=made_by("wilson"))
    recall: float
    recall_ci: Interval = field(metadata=made_by("wilson"))
    by_label: dict[str, dict[str, Any]]
    uncovered_real: list[Mode]
    modes: list[Mode]
    n_real: int
    n_synthetic: int
    n_used: list[int]
    method: str
    field: str = "text"

    from_dict = classmethod(from_json)

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


def _precision_recall(real: np.ndarray, synthetic: np.ndarray, k: int) -> dict[str, Any]:
    d_rr, d_sr = _distances(real, real), _distances(synthetic, real)
    in_real = _inside(d_sr, _radii(d_rr, k))
    in_syn = _inside(d_sr.T, _radii(_distances(synthetic, synthetic), k))
    return {"precision": float(in_real.mean()),
            "precision_ci": wilson(int(in_real.sum()), in_real.size),
            "recall": float(in_syn.mean()), "recall_ci": wilson(int(in_syn.sum()), in_syn.size),
            "d_sr": d_sr, "d_rr": d_rr}


def _samples(n_real: int, n_syn: int, k: int, max_n: int,
             seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows of each side the audit uses: all, or ``max_n`` drawn uniformly (sorted)."""
    if min(n_real, n_syn) <= k:
        raise InputError(f"coverage needs more than k={k} samples per side "
                         f"(got {n_real} real, {n_syn} synthetic)")
    rng = np.random.default_rng(seed)
    return (np.sort(rng.choice(n_real, min(n_real, max_n), replace=False)),
            np.sort(rng.choice(n_syn, min(n_syn, max_n), replace=False)))


def _sampled(real: np.ndarray, synthetic: np.ndarray, keep_r: np.ndarray, keep_s: np.ndarray,
             n: tuple[int, int], real_ids: Sequence[str] | None,
             real_labels: Sequence[Any] | None, synthetic_labels: Sequence[Any] | None,
             **options: Any) -> CoverageResult:
    """The audit on sampled points (``real``/``synthetic`` are the rows ``keep_r``/``keep_s``
    of sides of sizes ``n``)."""
    def pick(values: Sequence[Any] | None, keep: np.ndarray) -> np.ndarray:
        if values is None:
            return np.full(keep.size, None, dtype=object)
        return np.array(values, dtype=object)[keep]

    rid = (pick(real_ids, keep_r) if real_ids is not None
           else np.array([f"real-{i}" for i in keep_r], dtype=object))
    with small_blas(keep_r.size + keep_s.size):
        return _coverage_points(np.asarray(real, dtype=np.float32),
                                np.asarray(synthetic, dtype=np.float32), rid,
                                pick(real_labels, keep_r), pick(synthetic_labels, keep_s),
                                n_real=n[0], n_syn=n[1], **options)


def coverage_points(real: np.ndarray, synthetic: np.ndarray, *,
                    real_ids: Sequence[str] | None = None,
                    real_labels: Sequence[Any] | None = None,
                    synthetic_labels: Sequence[Any] | None = None, k: int = 5,
                    max_n: int = 5000, seed: int = 0, **options: Any) -> CoverageResult:
    """Coverage of real points by synthetic points (rows are samples, same columns); options as
    :func:`coverage`."""
    keep_r, keep_s = _samples(len(real), len(synthetic), k, max_n, seed)
    return _sampled(np.asarray(real)[keep_r], np.asarray(synthetic)[keep_s], keep_r, keep_s,
                    (len(real), len(synthetic)), real_ids, real_labels, synthetic_labels, k=k,
                    seed=seed, **options)


def _coverage_points(real: np.ndarray, synthetic: np.ndarray, rid: np.ndarray, rlab: np.ndarray,
                     slab: np.ndarray, *, n_real: int, n_syn: int, k: int = 5,
                     clusters: int = 12, threshold: float = 0.1, seed: int = 0,
                     embedding: str = "points") -> CoverageResult:
    """The audit on the sampled rows (``n_real``, ``n_syn``: the sizes before sampling)."""
    overall = _precision_recall(real, synthetic, k)
    by_label = {}
    real_names = {str(x) for x in rlab if x is not None}
    for label in sorted(real_names & {str(x) for x in slab if x is not None}):
        r, s = rlab.astype(str) == label, slab.astype(str) == label
        if min(r.sum(), s.sum()) > k:
            res = _precision_recall(real[r], synthetic[s], k)
            by_label[label] = {key: res[key] for key in ("precision", "precision_ci", "recall",
                                                         "recall_ci")} | {
                "n_real": int(r.sum()), "n_synthetic": int(s.sum())}
    for label in sorted(real_names - set(by_label)):
        n_syn_label = int((slab.astype(str) == label).sum())
        by_label[label] = {"precision": None, "precision_ci": NAN_INTERVAL,
                           "recall": None if n_syn_label else 0.0, "recall_ci": NAN_INTERVAL,
                           "n_real": int((rlab.astype(str) == label).sum()),
                           "n_synthetic": n_syn_label}

    reached = (overall["d_sr"] <= _radii(overall["d_rr"], k)[None, :]).any(axis=0)
    n_clusters = max(1, min(clusters, len(real) // max(k, 2)))
    km = KMeans(n_clusters, n_init=4, random_state=seed).fit(real)
    modes = []
    for c in range(n_clusters):
        members = np.flatnonzero(km.labels_ == c)
        near = members[np.argsort(((real[members] - km.cluster_centers_[c]) ** 2).sum(1))[:5]]
        labels = Counter(str(x) for x in rlab[members] if x is not None).most_common(1)
        modes.append(Mode(cluster=c, size=int(members.size),
                          reached=float(reached[members].mean()),
                          reached_ci=wilson(int(reached[members].sum()), members.size),
                          label=labels[0][0] if labels else None,
                          examples=[str(i) for i in rid[near]]))
    modes.sort(key=lambda m: (m.reached, -m.size))
    return CoverageResult(
        precision=overall["precision"], precision_ci=overall["precision_ci"],
        recall=overall["recall"], recall_ci=overall["recall_ci"], by_label=by_label,
        uncovered_real=[m for m in modes if m.reached < threshold], modes=modes,
        n_real=n_real, n_synthetic=n_syn, n_used=[len(real), len(synthetic)],
        method=(f"precision/recall of distributions with {k}-NN manifolds (Kynkaenniemi et al. "
                f"2019) on {embedding}, Wilson intervals given the manifolds; real modes: "
                f"{n_clusters} k-means clusters, a member reached when a synthetic sample lies in "
                f"its {k}-NN ball (Naeem et al. 2020), uncovered below {threshold:.0%} reached "
                "(Wilson interval)"))


def coverage(real: Sequence[str], synthetic: Sequence[str], *,
             real_ids: Sequence[str] | None = None, real_labels: Sequence[Any] | None = None,
             synthetic_labels: Sequence[Any] | None = None, embedding: str = "svd",
             dims: int = 100, k: int = 5, clusters: int = 12, threshold: float = 0.1,
             max_n: int = 5000, seed: int = 0) -> CoverageResult:
    """Coverage of real texts by synthetic texts (see the module docstring).

    Example:
        >>> real = [f"{w} {i} news about {w}" for i in range(20) for w in ("sport", "music", "tax")]
        >>> r = coverage(real, [t for t in real if "sport" in t][:15], clusters=3, k=3)
        >>> r.precision, [m.examples[0].startswith("real-") for m in r.uncovered_real]
        (1.0, [True, True])
    """
    keep_r, keep_s = _samples(len(real), len(synthetic), k, max_n, seed)
    Z = embed([real[i] or "" for i in keep_r] + [synthetic[i] or "" for i in keep_s],
              method=embedding, dims=dims, seed=seed)
    name = {"svd": f"TF-IDF -> {Z.shape[1]}-d SVD (L2-normalised)",
            "minilm": "all-MiniLM-L6-v2 sentence embeddings"}[embedding]
    return _sampled(Z[:keep_r.size], Z[keep_r.size:], keep_r, keep_s,
                    (len(real), len(synthetic)), real_ids, real_labels, synthetic_labels, k=k,
                    clusters=clusters, threshold=threshold, seed=seed, embedding=name)


def audit_coverage(store: Store, real: str, synthetic: str, *, field: str = "text",
                   turns: str | None = None, **options: Any) -> CoverageResult:
    """Run :func:`coverage` on two datasets of the store (split by ``origin`` when the names are
    the same) and save the result (kind ``coverage``). ``field`` (``turns`` of a ``messages``
    field) is the text measured; ``options`` go to :func:`coverage`."""
    r, s = load_pair(store, real, synthetic, field=field, turns=turns)
    result = replace(coverage(r.texts, s.texts, real_ids=r.ids, real_labels=r.labels,
                              synthetic_labels=s.labels, **options), field=r.field)
    store.save_result(result, {"real": real, "synthetic": synthetic,
                                                     **field_params(field, turns), **options})
    return result
