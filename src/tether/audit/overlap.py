"""Overlap between two datasets: near-duplicates, long n-gram overlap and memorization.

- **Near-duplicates** (contamination): MinHash signatures with LSH banding propose candidate
  pairs; each candidate's exact Jaccard on the shingle sets decides. The banding is chosen so a
  pair *at* the threshold becomes a candidate with probability ≥ 99% (reported as
  ``lsh_recall_at_threshold``); precision is exact by construction.
- **Long n-gram overlap**: any shared 13-gram of words flags a pair (the GPT-3 contamination
  rule), found by an exact hash join. A 13-gram found in more than ``max_train_df`` training
  texts is boilerplate (a licence, a header, a template) and is dropped; counting those texts is
  a first streaming pass, the join a second (of the train texts that can still match). Pairs
  of both kinds are counted in full (per eval item too) but only the ``max_pairs`` strongest are
  listed; ``pairs_path`` streams every pair to a Parquet file.
- **Memorization**: each synthetic sample's distance to its closest real source record
  (1 − max exact Jaccard) beside the same distance for real records the generator never saw. If
  synthetic data sits closer to its sources than unseen real data does, it has copied them.
  Nearest records come from the same MinHash LSH index (banded for the censoring threshold,
  0.5 by default), not from all pairs: distances are exact up to ``1 - threshold`` and
  censored beyond (reported as 1.0, the same for both sides).

The train side streams in Arrow record batches against an index of the eval side (band keys and
n-gram hashes as sorted numpy arrays), so memory is bounded by the eval set plus one batch.

Example:
    >>> import pyarrow as pa
    >>> train = pa.table({"id": ["t1"], "text": ["Rates rose again in March as the bank warned "
    ...                                          "of inflation, the governor said on Monday."]})
    >>> test = pa.table({"id": ["e1"], "text": ["Rates rose again in March as the bank warned "
    ...                                         "of inflation, the governor said on Tuesday."]})
    >>> r = find_overlap(train, test)
    >>> r.contaminated_eval, r.pairs[0]["train_id"]
    (1, 't1')
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
from scipy import stats

from tether.audit import minhash
from tether.audit._load import (
    field_name,
    field_params,
    field_table,
    from_json,
    made_by,
    plain,
)
from tether.errors import InputError
from tether.results import Result
from tether.stats import Interval, bootstrap_medians, percentile, wilson
from tether.store import Store

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class MemorizationResult:
    """Distances to the closest real source record, synthetic against unseen real.

    ``synthetic`` lists the ``max_listed`` synthetic samples closest to a source record
    (closest first) with their distance and nearest source record, of ``synthetic_count`` in
    all; ``holdout`` the same for the unseen real records. ``histogram`` counts every distance
    of each side in ``histogram["edges"]`` bins (the last bin, up to 1.0, holds the censored
    ones: ``censored_synthetic``/``censored_holdout`` had no source record within the
    threshold). ``p_value`` is the one-sided
    Mann–Whitney test that synthetic distances are smaller; ``median_difference`` (synthetic −
    holdout) carries a percentile bootstrap interval; ``copy_share_*`` is the share within
    ``1 - copy_threshold`` of a source record (Wilson intervals).
    """

    synthetic: list[dict[str, Any]]
    holdout: list[dict[str, Any]]
    synthetic_count: int
    holdout_count: int
    censored_synthetic: int
    censored_holdout: int
    histogram: dict[str, list[float]]
    synthetic_median: float
    holdout_median: float
    median_difference: float
    median_difference_ci: Interval = field(metadata=made_by("percentile"))
    u_statistic: float
    p_value: float
    copy_threshold: float
    copy_share_synthetic: float
    copy_share_synthetic_ci: Interval = field(metadata=made_by("wilson"))
    copy_share_holdout: float
    copy_share_holdout_ci: Interval = field(metadata=made_by("wilson"))
    copied: bool
    method: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MemorizationResult:
        """The result from its ``to_dict``. One saved before the listing was capped (every
        record listed, none censored) gets its counts and histogram from its lists."""
        if "histogram" not in data:
            sides = {side: [r["distance"] for r in data[side]] for side in ("synthetic", "holdout")}
            data = {**data, "synthetic_count": len(sides["synthetic"]),
                    "holdout_count": len(sides["holdout"]), "censored_synthetic": 0,
                    "censored_holdout": 0, "histogram": _histogram(**sides)}
        return from_json(cls, data)

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


def _histogram(synthetic: Sequence[float], holdout: Sequence[float]) -> dict[str, list[float]]:
    """:attr:`MemorizationResult.histogram` of each side's distances."""
    edges = np.linspace(0.0, 1.0, _HISTOGRAM_BINS + 1)
    return {"edges": edges.tolist(), "synthetic": np.histogram(synthetic, edges)[0].tolist(),
            "holdout": np.histogram(holdout, edges)[0].tolist()}


@dataclass(frozen=True)
class OverlapResult(Result):
    """Near-duplicate pairs and shared long n-grams between a train and an eval dataset.

    ``contaminated_eval`` counts eval samples with a near-duplicate or a shared long n-gram;
    ``contamination_rate`` is that share of ``eval_count`` with a Wilson interval.
    ``pairs`` and ``ngram_overlap`` list at most ``max_pairs`` pairs each (the strongest);
    ``pair_count`` and ``ngram_pair_count`` count them all, ``truncated`` says whether a list
    was cut, and ``eval_matches`` gives each flagged eval id the number of train texts that
    are its near-duplicates and that share a long n-gram with it. ``dropped_ngrams`` counts the
    eval side's distinct long n-grams found in more than ``max_train_df`` training texts
    (boilerplate, left out of the n-gram check; None: no cap), ``dropped_ngram_eval`` the eval
    items holding one. ``pairs_path`` is the Parquet file holding every pair, when asked for.
    (The defaults are those of results saved before the cap existed.)
    """

    pairs: list[dict[str, Any]]
    ngram_overlap: list[dict[str, Any]]
    pair_count: int
    ngram_pair_count: int
    max_pairs: int
    truncated: bool
    eval_matches: dict[str, dict[str, int]]
    contaminated_eval: int
    eval_count: int
    train_count: int
    near_duplicate_eval: int
    ngram_eval: int
    contamination_rate: float
    contamination_ci: Interval | None = field(metadata=made_by("wilson"))
    threshold: float
    bands: int
    rows: int
    candidates: int
    lsh_recall_at_threshold: float
    method: str
    max_train_df: int | None = None
    dropped_ngrams: int = 0
    dropped_ngram_eval: int = 0
    pairs_path: str | None = None
    memorization: MemorizationResult | None = field(default=None)
    field: str = "text"

    from_dict = classmethod(from_json)

    def to_dict(self) -> dict[str, Any]:
        out = plain(self)
        if self.memorization is None:
            del out["memorization"]
        return out


def _columns(table: pa.Table | pa.RecordBatch, name: str) -> tuple[list[str], list[str]]:
    missing = {"id", "text"} - set(table.schema.names)
    if missing:
        raise InputError(f"the {name} data has no {', '.join(sorted(missing))} column")
    return ([str(v) for v in table.column("id").to_pylist()],
            [v or "" for v in table.column("text").to_pylist()])


#: columns of the ``pairs_path`` Parquet file: every pair of both kinds
PAIR_SCHEMA = pa.schema([("kind", pa.string()), ("train_id", pa.string()),
                         ("eval_id", pa.string()), ("score", pa.float64())])


@contextlib.contextmanager
def _pair_file(path: str | Path | None) -> Iterator[pq.ParquetWriter | None]:
    """A Parquet writer of :data:`PAIR_SCHEMA` at ``path`` (None: no file), opened at once so
    that a bad path fails before any work."""
    if path is None:
        yield None
        return
    try:
        writer = pq.ParquetWriter(str(path), PAIR_SCHEMA)
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"cannot write the pair list: {e}", path=path,
                         field="pairs_path") from None
    try:
        with writer:
            yield writer
    except BaseException:  # no half-written pair list is left behind
        Path(path).unlink(missing_ok=True)
        raise


class _TopPairs:
    """The ``keep`` best ``(train_id, eval_row, score)`` pairs seen so far (highest score, then
    eval id, then train id), in numpy arrays, and how many were offered in all; every pair
    offered also goes to ``writer`` as a row of ``kind``."""

    def __init__(self, keep: int, eval_ids: np.ndarray, kind: str,
                 writer: pq.ParquetWriter | None) -> None:
        self.keep, self.eval_ids, self.kind, self.writer, self.total = (keep, eval_ids, kind,
                                                                        writer, 0)
        self.train = np.zeros(0, dtype=object)
        self.eval = np.zeros(0, dtype=np.int64)
        self.score = np.zeros(0)

    def offer(self, train_ids: np.ndarray, eval_rows: np.ndarray, scores: np.ndarray) -> None:
        self.total += scores.size
        if self.writer is not None and scores.size:
            self.writer.write_batch(pa.record_batch(
                [pa.array([self.kind] * scores.size, pa.string()),
                 pa.array(train_ids.tolist(), pa.string()),
                 pa.array(self.eval_ids[eval_rows].tolist(), pa.string()),
                 pa.array(scores, pa.float64())], schema=PAIR_SCHEMA))
        if self.keep == 0 or scores.size == 0:
            return
        train = np.concatenate([self.train, train_ids])
        rows = np.concatenate([self.eval, eval_rows])
        score = np.concatenate([self.score, scores])
        if score.size > self.keep:  # only the pairs that can still rank: scores ≥ the keep-th
            cut = np.partition(score, score.size - self.keep)[score.size - self.keep]
            live = score >= cut
            train, rows, score = train[live], rows[live], score[live]
        order = np.lexsort((train.astype(str), self.eval_ids[rows].astype(str), -score))
        order = order[:self.keep]
        self.train, self.eval, self.score = train[order], rows[order], score[order]

    def listing(self, score_name: str, cast: type) -> list[dict[str, Any]]:
        return [{"train_id": t, "eval_id": str(self.eval_ids[e]), score_name: cast(s)}
                for t, e, s in zip(self.train.tolist(), self.eval, self.score.tolist())]


#: Default cap on the training texts a long n-gram may occur in (``max_train_df``): a passage
#: repeated in more than 50 distinct training texts is a licence, a header, a template or a stock
#: phrase of the corpus, not a leak of one eval item; an eval item copied whole into many
#: training texts is still found, as a near-duplicate (that check has no cap).
MAX_TRAIN_DF = 50


def find_overlap(
    train: pa.Table,
    eval: pa.Table,
    *,
    threshold: float = 0.8,
    num_perm: int = 128,
    ngram: int = 5,
    unit: str = "char",
    long_ngram: int = 13,
    max_train_df: int | None = MAX_TRAIN_DF,
    max_pairs: int = 1000,
    pairs_path: str | Path | None = None,
    seed: int = 1,
    batch_size: int = 20_000,
    progress: Progress | None = None,
) -> OverlapResult:
    """Near-duplicates (exact Jaccard ≥ ``threshold`` on ``ngram`` shingles of ``unit``) and
    shared ``long_ngram``-grams of words between every train and eval sample.

    Both tables need ``id`` and ``text`` columns. ``long_ngram=0`` skips the n-gram check; a
    text shorter than ``long_ngram`` words counts as one n-gram, so only an identical short text
    matches it. An n-gram found in more than ``max_train_df`` distinct training texts is
    boilerplate and dropped (default :data:`MAX_TRAIN_DF`; None keeps all): a first pass over
    the train batches counts those texts for each n-gram of the eval side, a second joins the
    rest, hashing again only the train texts that held an n-gram not yet over the cap. Every
    pair is counted (``pair_count``, ``ngram_pair_count``, per flagged eval item in
    ``eval_matches``); only the ``max_pairs`` strongest of each kind are listed (``truncated``
    says when more exist), and ``pairs_path`` streams every pair to a Parquet file
    (:data:`PAIR_SCHEMA`: ``kind`` ``near_duplicate`` or ``ngram``, ``score`` the Jaccard or
    the number of shared n-grams), so memory stays bounded by the eval set plus one batch.
    ``progress(done, total)`` is called after each train batch of each pass.

    >>> licence = "all rights reserved no part of this text may be copied without the permission"
    >>> train = pa.table({"id": [f"t{i}" for i in range(4)],
    ...                   "text": [f"story {i} ends. {licence}" for i in range(4)]})
    >>> test = pa.table({"id": ["e1"], "text": [f"another story. {licence}"]})
    >>> r = find_overlap(train, test, max_train_df=3)
    >>> r.ngram_pair_count, r.dropped_ngrams, find_overlap(train, test).ngram_pair_count
    (0, 2, 4)
    """
    if max_pairs < 0:
        raise InputError(f"max_pairs must be 0 or more, got {max_pairs}", field="max_pairs")
    if max_train_df is not None and max_train_df < 1:
        raise InputError(f"max_train_df must be 1 or more, or None for no cap (0 on the command "
                         f"line), got {max_train_df}",
                         field="max_train_df")
    with _pair_file(pairs_path) as writer:
        bands, rows = minhash.lsh_params(threshold, num_perm)
        eval_ids, eval_texts = _columns(eval, "eval")
        id_array = np.array(eval_ids, dtype=object)
        band_index, ngram_index = _index_eval(eval_texts, bands, rows, num_perm, ngram, unit,
                                              long_ngram, seed, batch_size)
        near = _TopPairs(max_pairs, id_array, "near_duplicate", writer)
        shared = _TopPairs(max_pairs, id_array, "ngram", writer)
        near_count = np.zeros(len(eval_ids), dtype=np.int64)
        ngram_count = np.zeros(len(eval_ids), dtype=np.int64)
        capped = ngram_index is not None and max_train_df is not None
        eval_grams = _distinct(ngram_index.keys) if capped else None  # the keys are sorted
        train_df = np.zeros(0 if eval_grams is None else eval_grams.size, dtype=np.int64)
        # train rows the second pass must hash again: those with an eval n-gram not yet over
        # the cap when they were read (the count only grows, so no other row can match)
        rejoin = np.zeros(train.num_rows if capped else 0, dtype=bool)
        total, done, candidates = train.num_rows * (1 + capped), 0, 0

        def join(ids: np.ndarray, hashes: np.ndarray, owners: np.ndarray) -> None:
            """Count and offer the pairs sharing an n-gram of ``ngram_index`` as it is then
            (with a cap: after the frequent n-grams are dropped)."""
            nonlocal ngram_count
            q, e, n = ngram_index.match(hashes, owners)
            shared.offer(ids[q], e, n)
            ngram_count += np.bincount(e, minlength=len(eval_ids))

        for batch in train.to_batches(max_chunksize=batch_size):
            ids, texts = _columns(batch, "train")
            ids = np.array(ids, dtype=object)
            sig = minhash.signatures(texts, num_perm, ngram, seed, unit)
            keys = minhash.band_keys(sig, bands, rows)
            q, e, _ = band_index.match(keys.reshape(-1), np.repeat(np.arange(len(texts)), bands))
            candidates += q.size
            sims = pair_jaccard(texts, eval_texts, q, e, ngram=ngram, unit=unit, seed=seed)
            hit = sims >= threshold
            near.offer(ids[q[hit]], e[hit], sims[hit])
            near_count += np.bincount(e[hit], minlength=len(eval_ids))
            if ngram_index is not None:
                hashes, owners = _word_grams(texts, long_ngram, seed)
                if capped:
                    at, row = _text_hits(eval_grams, hashes, owners)
                    train_df += np.bincount(at, minlength=eval_grams.size)
                    rejoin[done + row[train_df[at] <= max_train_df]] = True
                else:
                    join(ids, hashes, owners)
            done += len(texts)
            if progress is not None:
                progress(done, total)
        dropped = dropped_eval = 0
        if capped:
            frequent = train_df[np.searchsorted(eval_grams, ngram_index.keys)] > max_train_df
            dropped = int((train_df > max_train_df).sum())
            dropped_eval = int(np.count_nonzero(np.bincount(ngram_index.owners[frequent])))
            ngram_index = minhash.HashIndex(ngram_index.keys[~frequent],
                                            ngram_index.owners[~frequent])
            for lo in range(0, train.num_rows, batch_size):
                again = lo + np.flatnonzero(rejoin[lo:lo + batch_size])
                if again.size:
                    ids, texts = _columns(train.take(again), "train")
                    join(np.array(ids, dtype=object), *_word_grams(texts, long_ngram, seed))
                done += min(batch_size, train.num_rows - lo)
                if progress is not None:
                    progress(done, total)
    flagged_rows = np.flatnonzero((near_count > 0) | (ngram_count > 0))
    flagged = int(flagged_rows.size)
    n_eval = len(eval_ids)
    method = (f"MinHash ({num_perm} one-permutation bins, {unit} {ngram}-gram shingles) with LSH "
              f"({bands} bands × {rows} rows), candidates verified by exact Jaccard ≥ {threshold}"
              + (f"; exact shared word {long_ngram}-grams" if long_ngram else "")
              + (f", those found in more than {max_train_df:,} training texts dropped as "
                 "boilerplate" if long_ngram and max_train_df is not None else "")
              + f"; every pair counted, the {max_pairs:,} strongest of each kind listed"
              + (f", every pair written to {pairs_path}" if pairs_path is not None else "")
              + "; Wilson interval for the contamination rate")
    return OverlapResult(
        pairs=near.listing("jaccard", float), ngram_overlap=shared.listing("shared_ngrams", int),
        pair_count=near.total, ngram_pair_count=shared.total, max_pairs=max_pairs,
        truncated=max(near.total, shared.total) > max_pairs,
        eval_matches={eval_ids[j]: {"near_duplicates": int(near_count[j]),
                                    "ngram": int(ngram_count[j])} for j in flagged_rows},
        contaminated_eval=flagged, eval_count=n_eval,
        train_count=train.num_rows, near_duplicate_eval=int((near_count > 0).sum()),
        ngram_eval=int((ngram_count > 0).sum()),
        contamination_rate=flagged / n_eval if n_eval else 0.0,
        contamination_ci=wilson(flagged, n_eval) if n_eval else None, threshold=threshold,
        bands=bands, rows=rows, candidates=candidates,
        lsh_recall_at_threshold=float(minhash.candidate_probability(threshold, bands, rows)),
        method=method, max_train_df=max_train_df if long_ngram else None,
        dropped_ngrams=dropped, dropped_ngram_eval=dropped_eval,
        pairs_path=None if pairs_path is None else str(pairs_path))


def _word_grams(texts: list[str], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The word ``n``-gram hashes of ``texts`` and the row each belongs to."""
    hashes, offsets = minhash.shingle_hashes(texts, n, "word", seed)
    return hashes, np.repeat(np.arange(len(texts)), np.diff(offsets))


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values of sorted ``values`` (numpy 2.4's ``np.unique`` of integers, without
    counts, hashes them: many times slower than a sort)."""
    keep = np.ones(values.size, dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def _text_hits(grams: np.ndarray, hashes: np.ndarray,
               owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct ``(position in grams, owner)`` with ``grams[position]`` among the owner's
    ``hashes`` (``grams`` sorted and unique; looked up in sorted order: a binary search of sorted
    keys walks on from the last one, several times faster than random ones)."""
    order = np.argsort(hashes)
    hashes, owners = hashes[order], owners[order]
    at = np.searchsorted(grams, hashes).clip(max=grams.size - 1)
    hit = grams[at] == hashes
    span = int(owners.max()) + 1 if owners.size else 1
    pairs = _distinct(np.sort(at[hit] * span + owners[hit]))
    return pairs // span, pairs % span


def _index_eval(texts: list[str], bands: int, rows: int, num_perm: int, ngram: int, unit: str,
                long_ngram: int, seed: int,
                batch_size: int) -> tuple[minhash.HashIndex, minhash.HashIndex | None]:
    if not texts:
        empty = np.zeros(0, dtype=np.uint64)
        return minhash.HashIndex(empty, empty.astype(np.int64)), None
    keys, hashes, owners = [], [], []
    for lo in range(0, len(texts), batch_size):
        chunk = texts[lo:lo + batch_size]
        keys.append(minhash.band_keys(minhash.signatures(chunk, num_perm, ngram, seed, unit),
                                      bands, rows).reshape(-1))
        if long_ngram:
            h, rows_of = _word_grams(chunk, long_ngram, seed)
            hashes.append(h)
            owners.append(lo + rows_of)
    band_index = minhash.HashIndex(np.concatenate(keys),
                                   np.repeat(np.arange(len(texts)), bands))
    ngram_index = (minhash.HashIndex(np.concatenate(hashes), np.concatenate(owners))
                   if long_ngram else None)
    return band_index, ngram_index


def _binary_rows(counts: np.ndarray, columns: np.ndarray, width: int) -> sp.csr_matrix:
    """A 0/1 CSR matrix with ``counts[i]`` consecutive ``columns`` entries in row ``i``
    (repeats collapse to one)."""
    indptr = np.concatenate([[0], np.cumsum(counts)])
    matrix = sp.csr_matrix((np.ones(columns.size, dtype=np.float32), columns, indptr),
                           shape=(counts.size, width))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


#: columns of the 0/1 shingle rows: a shingle's 64-bit hash without its two low bits, so rows of
#: any texts share columns without a vocabulary to sort (two shingles share a column with
#: probability 2⁻⁶², against 2⁻⁶⁴ for the hashes themselves)
_HASH_COLUMNS = 2**62


def _shingle_rows(texts: list[str], ngram: int, unit: str, seed: int) -> sp.csr_matrix:
    hashes, offsets = minhash.shingle_hashes(texts, ngram, unit, seed)
    return _binary_rows(np.diff(offsets), (hashes >> np.uint64(2)).astype(np.int64),
                        _HASH_COLUMNS)


def _dense_codes(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(ids, return_inverse=True)`` for non-negative integers, in linear time."""
    present = np.zeros(int(ids.max()) + 1, dtype=bool)
    present[ids] = True
    return np.flatnonzero(present), (np.cumsum(present) - 1)[ids]


def pair_jaccard(a: Sequence[str], b: Sequence[str], ia: np.ndarray, ib: np.ndarray, *,
                 ngram: int = 5, unit: str = "char", seed: int = 1,
                 chunk: int = 50_000) -> np.ndarray:
    """Exact Jaccard of the shingle sets of ``a[ia[k]]`` and ``b[ib[k]]`` for every ``k``: each
    text involved is shingled once into a sparse 0/1 row whose columns are the shingle hashes
    themselves (no vocabulary to sort), and each pair's intersection is a merge of two sorted
    sparse rows (no Python loop per pair).

    >>> pair_jaccard(["a b c d", "x y z"], ["a b c e"], np.array([0, 1]), np.array([0, 0]),
    ...              ngram=2, unit="word").round(2).tolist()
    [0.5, 0.0]
    """
    ia, ib = np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)
    if ia.size == 0:
        return np.zeros(0)
    (ua, ra), (ub, rb) = _dense_codes(ia), _dense_codes(ib)
    rows_a = _shingle_rows([a[i] for i in ua], ngram, unit, seed)
    rows_b = _shingle_rows([b[i] for i in ub], ngram, unit, seed)
    size_a, size_b = np.diff(rows_a.indptr)[ra], np.diff(rows_b.indptr)[rb]
    inter = np.empty(ia.size, dtype=np.int64)
    for lo in range(0, ia.size, chunk):
        part = slice(lo, lo + chunk)
        inter[part] = np.asarray(rows_a[ra[part]].multiply(rows_b[rb[part]]).sum(axis=1)).ravel()
    union = size_a + size_b - inter
    return np.divide(inter, union, out=np.ones(ia.size), where=union > 0)


def nearest_distances(queries: Sequence[str], reference: Sequence[str], *,
                      threshold: float = 0.5, ngram: int = 5, unit: str = "char",
                      seed: int = 1, num_perm: int = 128,
                      batch_size: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """For each query text, ``1 - max`` exact Jaccard to a reference text and that text's index,
    **censored at** ``threshold``: a query whose closest reference text is less similar than
    ``threshold`` gets distance 1.0 and index -1.

    Candidates come from MinHash LSH banded for ``threshold`` (a pair at the threshold is a
    candidate with probability ≥ 99%, more similar pairs more surely); candidates whose MinHash
    estimate is more than five standard errors below the threshold are dropped (the estimate
    counts equal low bytes of the signature values, which every pair of equal values has, so it
    never drops a pair the full values would keep); the rest are scored by exact Jaccard. Time grows with the number of candidates, not with
    ``len(queries) × len(reference)``; memory holds the reference signatures and band keys.

    >>> d, j = nearest_distances(["a b c d e f"], ["x y z", "a b c d e g"], ngram=3)
    >>> j.tolist(), [round(float(x), 2) for x in d]
    ([1], [0.2])
    """
    if not reference:
        raise InputError("no reference records to measure distances to")
    bands, rows = minhash.lsh_params(threshold, num_perm)
    ref_sig = np.concatenate([minhash.signatures(reference[lo:lo + batch_size], num_perm, ngram,
                                                 seed, unit)
                              for lo in range(0, len(reference), batch_size)])
    index = minhash.HashIndex(minhash.band_keys(ref_sig, bands, rows).reshape(-1),
                              np.repeat(np.arange(len(reference)), bands))
    ref_low = ref_sig.astype(np.uint8)  # the low bytes: a quarter of the memory to gather
    floor = threshold - 5 * np.sqrt(threshold * (1 - threshold) / num_perm)
    dist = np.ones(len(queries))
    nearest = np.full(len(queries), -1, dtype=np.int64)
    for lo in range(0, len(queries), batch_size):
        chunk = queries[lo:lo + batch_size]
        sig = minhash.signatures(chunk, num_perm, ngram, seed, unit)
        q, r, _ = index.match(minhash.band_keys(sig, bands, rows).reshape(-1),
                              np.repeat(np.arange(len(chunk)), bands))
        keep = np.zeros(q.size, dtype=bool)
        low = sig.astype(np.uint8)
        for at in range(0, q.size, 200_000):  # estimates in slices: pairs × num_perm bytes
            part = slice(at, at + 200_000)
            keep[part] = (low[q[part]] == ref_low[r[part]]).mean(axis=1) >= floor
        q, r = q[keep], r[keep]
        sims = pair_jaccard(chunk, reference, q, r, ngram=ngram, unit=unit, seed=seed)
        close = sims >= threshold
        q, r, sims = q[close], r[close], sims[close]
        order = np.lexsort((r, -sims, q))  # per query: most similar first, lowest index on ties
        first = order[np.r_[True, q[order][1:] != q[order][:-1]]] if q.size else order
        dist[lo + q[first]] = 1.0 - sims[first]
        nearest[lo + q[first]] = r[first]
    return dist, nearest


#: bins of the memorization distance histogram over [0, 1] (the report's plot of every record)
_HISTOGRAM_BINS = 40


def _median_difference_ci(a: np.ndarray, b: np.ndarray, n_boot: int,
                          rng: np.random.Generator) -> Interval:
    return percentile(bootstrap_medians(a, n_boot, rng) - bootstrap_medians(b, n_boot, rng))


def memorization(
    synthetic: pa.Table,
    source_real: pa.Table,
    holdout_real: pa.Table,
    *,
    ngram: int = 5,
    unit: str = "char",
    copy_threshold: float = 0.8,
    threshold: float = 0.5,
    alpha: float = 0.05,
    n_boot: int = 2000,
    max_listed: int = 1000,
    seed: int = 0,
) -> MemorizationResult:
    """Is synthetic data closer to the real records it was made from than unseen real data is?

    Distance to the closest source record is ``1 - max`` exact Jaccard of ``ngram`` shingles,
    censored at ``threshold`` (:func:`nearest_distances`): a record with no source record of
    Jaccard ≥ ``threshold`` has distance 1.0 and ``nearest_real_id`` None. The censoring is the
    same for both sides, so the rank test compares like with like; it only merges distances
    beyond ``1 - threshold`` into one tie. ``copied`` is True when the one-sided Mann–Whitney
    p-value (synthetic closer) is below ``alpha``; the medians are not asked to differ, since
    when most records of both sides are censored both medians are 1.0 even though a share of
    the synthetic records sits right next to its sources. Only the ``max_listed`` closest
    records of each side are listed; every distance is counted in the histogram. Each table
    needs ``id`` and ``text`` columns.

    >>> import pyarrow as pa
    >>> src = pa.table({"id": ["r1", "r2"], "text": ["the match ended in a draw at home",
    ...                                              "shares fell sharply after the report"]})
    >>> syn = pa.table({"id": ["s1"], "text": ["the match ended in a draw at home!"]})
    >>> hold = pa.table({"id": ["h1"], "text": ["the album topped the charts this week"]})
    >>> memorization(syn, src, hold).synthetic[0]["nearest_real_id"]
    'r1'
    """
    syn_ids, syn_texts = _columns(synthetic, "synthetic")
    src_ids, src_texts = _columns(source_real, "source")
    hold_ids, hold_texts = _columns(holdout_real, "holdout")
    if not syn_texts or not hold_texts:
        raise InputError("memorization needs at least one synthetic and one holdout record")
    if not 0.0 < threshold <= copy_threshold:
        raise InputError(f"threshold ({threshold}) must be in (0, copy_threshold = "
                         f"{copy_threshold}]: distances are censored beyond it",
                         field="threshold")
    d_syn, n_syn = nearest_distances(syn_texts, src_texts, threshold=threshold, ngram=ngram,
                                     unit=unit)
    d_hold, n_hold = nearest_distances(hold_texts, src_texts, threshold=threshold, ngram=ngram,
                                       unit=unit)
    test = stats.mannwhitneyu(d_syn, d_hold, alternative="less")
    rng = np.random.default_rng(seed)
    diff = float(np.median(d_syn) - np.median(d_hold))
    close = 1.0 - copy_threshold
    copies_syn, copies_hold = int((d_syn <= close).sum()), int((d_hold <= close).sum())

    def listing(ids: list[str], d: np.ndarray, near: np.ndarray) -> list[dict[str, Any]]:
        order = np.argsort(d, kind="stable")[:max_listed]
        return [{"id": ids[i], "distance": float(d[i]),
                 "nearest_real_id": src_ids[near[i]] if near[i] >= 0 else None} for i in order]

    return MemorizationResult(
        synthetic=listing(syn_ids, d_syn, n_syn), holdout=listing(hold_ids, d_hold, n_hold),
        synthetic_count=len(d_syn), holdout_count=len(d_hold),
        censored_synthetic=int((n_syn < 0).sum()), censored_holdout=int((n_hold < 0).sum()),
        histogram=_histogram(d_syn, d_hold),
        synthetic_median=float(np.median(d_syn)), holdout_median=float(np.median(d_hold)),
        median_difference=diff, median_difference_ci=_median_difference_ci(d_syn, d_hold, n_boot,
                                                                           rng),
        u_statistic=float(test.statistic), p_value=float(test.pvalue),
        copy_threshold=copy_threshold,
        copy_share_synthetic=copies_syn / len(d_syn),
        copy_share_synthetic_ci=wilson(copies_syn, len(d_syn)),
        copy_share_holdout=copies_hold / len(d_hold),
        copy_share_holdout_ci=wilson(copies_hold, len(d_hold)),
        copied=bool(test.pvalue < alpha),
        method=(f"distance to the closest source record = 1 − max exact Jaccard of {unit} "
                f"{ngram}-gram sets among MinHash LSH candidates, censored at Jaccard "
                f"{threshold} (no source record that close: distance 1); one-sided Mann–Whitney U (synthetic < holdout); median "
                f"difference with a percentile bootstrap interval ({n_boot} resamples); copy "
                f"shares (Jaccard ≥ {copy_threshold}) with Wilson intervals"))


def audit_overlap(store: Store, train: str, eval: str, *, holdout: str | None = None,
                  threshold: float = 0.8, progress: Progress | None = None,
                  field: str = "text", turns: str | None = None,
                  pairs_path: str | Path | None = None, **options: Any) -> OverlapResult:
    """Run :func:`find_overlap` between two datasets of ``store`` and save the result (kind
    ``"overlap"``). With ``holdout``, also :func:`memorization`, reading ``train`` as the
    synthetic data and ``eval`` as the real records it was made from. ``field`` (``turns`` of a
    ``messages`` field) is the text compared on every side. ``pairs_path`` (every pair to
    Parquet) is an output, recorded in the result and not among the saved parameters.

    >>> from tether import Store
    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("a", [{"text": "one two three four five six"}], origin="real")
    ...     _ = s.ingest("b", [{"text": "one two three four five six"}], origin="real")
    ...     audit_overlap(s, "a", "b").contaminated_eval
    1
    """
    train_table, eval_table = (field_table(store, train, field, turns),
                               field_table(store, eval, field, turns))
    result = find_overlap(train_table, eval_table, threshold=threshold, progress=progress,
                          pairs_path=pairs_path, **options)
    if holdout is not None:
        memo = memorization(train_table, eval_table, field_table(store, holdout, field, turns),
                            **{k: v for k, v in options.items() if k in ("ngram", "unit")})
        result = dataclasses.replace(result, memorization=memo)
    result = dataclasses.replace(result, field=field_name(field, turns))
    store.save_result(result,
                     {"train": train, "eval": eval, "holdout": holdout, "threshold": threshold,
                      **field_params(field, turns), **options})
    return result
