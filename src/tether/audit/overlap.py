"""Overlap between two datasets: near-duplicates, long n-gram overlap and memorization.

- **Near-duplicates** (contamination): MinHash signatures with LSH banding propose candidate
  pairs; each candidate's exact Jaccard on the shingle sets decides. The banding is chosen so a
  pair *at* the threshold becomes a candidate with probability ≥ 99% (reported as
  ``lsh_recall_at_threshold``); precision is exact by construction.
- **Long n-gram overlap**: any shared 13-gram of words flags a pair (the GPT-3 contamination
  rule), found by an exact hash join.
- **Memorization**: each synthetic sample's distance to its closest real source record
  (1 − max exact Jaccard) beside the same distance for real records the generator never saw. If
  synthetic data sits closer to its sources than unseen real data does, it has copied them.

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

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from scipy import stats

from tether.audit import minhash
from tether.audit._stats import percentile_interval, wilson
from tether.errors import InputError
from tether.store import Store

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class MemorizationResult:
    """Distances to the closest real source record, synthetic against unseen real.

    ``synthetic`` lists every synthetic sample (closest first) with its distance and nearest
    source record; ``holdout`` the same for the unseen real records. ``p_value`` is the one-sided
    Mann–Whitney test that synthetic distances are smaller; ``median_difference`` (synthetic −
    holdout) carries a percentile bootstrap interval; ``copy_share_*`` is the share within
    ``1 - copy_threshold`` of a source record (Wilson intervals).
    """

    synthetic: list[dict[str, Any]]
    holdout: list[dict[str, Any]]
    synthetic_median: float
    holdout_median: float
    median_difference: float
    median_difference_ci: list[float]
    u_statistic: float
    p_value: float
    copy_threshold: float
    copy_share_synthetic: float
    copy_share_synthetic_ci: list[float]
    copy_share_holdout: float
    copy_share_holdout_ci: list[float]
    copied: bool
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class OverlapResult:
    """Near-duplicate pairs and shared long n-grams between a train and an eval dataset.

    ``contaminated_eval`` counts eval samples with a near-duplicate or a shared long n-gram;
    ``contamination_rate`` is that share of ``eval_count`` with a Wilson interval.
    """

    pairs: list[dict[str, Any]]
    ngram_overlap: list[dict[str, Any]]
    contaminated_eval: int
    eval_count: int
    train_count: int
    near_duplicate_eval: int
    ngram_eval: int
    contamination_rate: float
    contamination_ci: list[float] | None
    threshold: float
    bands: int
    rows: int
    candidates: int
    lsh_recall_at_threshold: float
    method: str
    memorization: MemorizationResult | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "memorization"}
        if self.memorization is not None:
            out["memorization"] = self.memorization.to_dict()
        return out


def _columns(table: pa.Table | pa.RecordBatch, name: str) -> tuple[list[str], list[str]]:
    missing = {"id", "text"} - set(table.schema.names)
    if missing:
        raise InputError(f"the {name} data has no {', '.join(sorted(missing))} column")
    return ([str(v) for v in table.column("id").to_pylist()],
            [v or "" for v in table.column("text").to_pylist()])


def find_overlap(
    train: pa.Table,
    eval: pa.Table,
    *,
    threshold: float = 0.8,
    num_perm: int = 128,
    ngram: int = 5,
    unit: str = "char",
    long_ngram: int = 13,
    seed: int = 1,
    batch_size: int = 20_000,
    progress: Progress | None = None,
) -> OverlapResult:
    """Near-duplicates (exact Jaccard ≥ ``threshold`` on ``ngram`` shingles of ``unit``) and
    shared ``long_ngram``-grams of words between every train and eval sample.

    Both tables need ``id`` and ``text`` columns. ``progress(done, total)`` is called after each
    train batch. ``long_ngram=0`` skips the n-gram check; a text shorter than ``long_ngram``
    words counts as one n-gram, so only an identical short text matches it.
    """
    bands, rows = minhash.lsh_params(threshold, num_perm)
    eval_ids, eval_texts = _columns(eval, "eval")
    band_index, ngram_index = _index_eval(eval_texts, bands, rows, num_perm, ngram, unit,
                                          long_ngram, seed, batch_size)
    pairs: list[dict[str, Any]] = []
    shared: list[dict[str, Any]] = []
    candidates = done = 0
    for batch in train.to_batches(max_chunksize=batch_size):
        ids, texts = _columns(batch, "train")
        sig = minhash.signatures(texts, num_perm, ngram, seed, unit)
        keys = minhash.band_keys(sig, bands, rows)
        q, e, _ = band_index.match(keys.reshape(-1), np.repeat(np.arange(len(texts)), bands))
        candidates += q.size
        sims = _exact_jaccard([texts[i] for i in q], [eval_texts[j] for j in e], ngram, unit, seed)
        pairs += [{"train_id": ids[i], "eval_id": eval_ids[j], "jaccard": float(s)}
                  for i, j, s in zip(q, e, sims) if s >= threshold]
        if ngram_index is not None:
            hashes, offsets = minhash.shingle_hashes(texts, long_ngram, "word", seed)
            q, e, n = ngram_index.match(hashes, np.repeat(np.arange(len(texts)), np.diff(offsets)))
            shared += [{"train_id": ids[i], "eval_id": eval_ids[j], "shared_ngrams": int(c)}
                       for i, j, c in zip(q, e, n)]
        done += len(texts)
        if progress is not None:
            progress(done, train.num_rows)
    pairs.sort(key=lambda p: (-p["jaccard"], p["eval_id"], p["train_id"]))
    shared.sort(key=lambda p: (-p["shared_ngrams"], p["eval_id"], p["train_id"]))
    near = {p["eval_id"] for p in pairs}
    by_ngram = {p["eval_id"] for p in shared}
    flagged = len(near | by_ngram)
    n_eval = len(eval_ids)
    method = (f"MinHash ({num_perm} one-permutation bins, {unit} {ngram}-gram shingles) with LSH "
              f"({bands} bands × {rows} rows), candidates verified by exact Jaccard ≥ {threshold}"
              + (f"; exact shared word {long_ngram}-grams" if long_ngram else "")
              + "; Wilson interval for the contamination rate")
    return OverlapResult(
        pairs=pairs, ngram_overlap=shared, contaminated_eval=flagged, eval_count=n_eval,
        train_count=train.num_rows, near_duplicate_eval=len(near), ngram_eval=len(by_ngram),
        contamination_rate=flagged / n_eval if n_eval else 0.0,
        contamination_ci=wilson(flagged, n_eval) if n_eval else None, threshold=threshold,
        bands=bands, rows=rows, candidates=candidates,
        lsh_recall_at_threshold=float(minhash.candidate_probability(threshold, bands, rows)),
        method=method)


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
            h, off = minhash.shingle_hashes(chunk, long_ngram, "word", seed)
            hashes.append(h)
            owners.append(lo + np.repeat(np.arange(len(chunk)), np.diff(off)))
    band_index = minhash.HashIndex(np.concatenate(keys),
                                   np.repeat(np.arange(len(texts)), bands))
    ngram_index = (minhash.HashIndex(np.concatenate(hashes), np.concatenate(owners))
                   if long_ngram else None)
    return band_index, ngram_index


def _exact_jaccard(a: list[str], b: list[str], ngram: int, unit: str, seed: int) -> list[float]:
    if not a:
        return []
    sets_a = minhash.shingle_sets(a, ngram, unit, seed)
    sets_b = minhash.shingle_sets(b, ngram, unit, seed)
    return [minhash.jaccard(x, y) for x, y in zip(sets_a, sets_b)]


def nearest_distances(queries: list[str], reference: list[str], *, ngram: int = 5,
                      unit: str = "char", seed: int = 1,
                      chunk_cells: int = 20_000_000) -> tuple[np.ndarray, np.ndarray]:
    """For each query text, ``1 - max`` exact Jaccard to any reference text and the index of
    that reference text: all pairs, as sparse intersection counts in query chunks of at most
    ``chunk_cells`` pairs.

    >>> d, j = nearest_distances(["a b c d e f"], ["x y z", "a b c d e g"], ngram=3)
    >>> j.tolist(), [round(float(x), 2) for x in d]
    ([1], [0.2])
    """
    if not reference:
        raise InputError("no reference records to measure distances to")
    ref_h, ref_off = minhash.shingle_hashes(reference, ngram, unit, seed)
    columns, col_of = np.unique(ref_h, return_inverse=True)
    ref = _binary_rows(np.diff(ref_off), col_of, columns.size)
    ref_size = np.diff(ref.indptr)
    step = max(1, chunk_cells // len(reference))
    dist = np.empty(len(queries))
    nearest = np.empty(len(queries), dtype=np.int64)
    for lo in range(0, len(queries), step):
        chunk = queries[lo:lo + step]
        h, off = minhash.shingle_hashes(chunk, ngram, unit, seed)
        local = np.unique(h, return_inverse=True)[1]
        size = np.diff(_binary_rows(np.diff(off), local, h.size).indptr)
        at = np.searchsorted(columns, h).clip(0, columns.size - 1)
        known = columns[at] == h
        rows = np.repeat(np.arange(len(chunk)), np.diff(off))
        query = _binary_rows(np.bincount(rows[known], minlength=len(chunk)), at[known],
                             columns.size)
        inter = (query @ ref.T).toarray()
        sim = inter / (size[:, None] + ref_size[None, :] - inter)
        nearest[lo:lo + len(chunk)] = sim.argmax(axis=1)
        dist[lo:lo + len(chunk)] = 1.0 - sim.max(axis=1)
    return dist, nearest


def _binary_rows(counts: np.ndarray, columns: np.ndarray, width: int) -> sp.csr_matrix:
    """A 0/1 CSR matrix with ``counts[i]`` consecutive ``columns`` entries in row ``i``
    (repeats collapse to one)."""
    indptr = np.concatenate([[0], np.cumsum(counts)])
    matrix = sp.csr_matrix((np.ones(columns.size, dtype=np.float32), columns, indptr),
                           shape=(counts.size, width))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _median_difference_ci(a: np.ndarray, b: np.ndarray, n_boot: int,
                          rng: np.random.Generator) -> list[float]:
    boot_a = np.median(rng.choice(a, size=(n_boot, a.size)), axis=1)
    boot_b = np.median(rng.choice(b, size=(n_boot, b.size)), axis=1)
    return percentile_interval(boot_a - boot_b)


def memorization(
    synthetic: pa.Table,
    source_real: pa.Table,
    holdout_real: pa.Table,
    *,
    ngram: int = 5,
    unit: str = "char",
    copy_threshold: float = 0.8,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
) -> MemorizationResult:
    """Is synthetic data closer to the real records it was made from than unseen real data is?

    Distance to the closest source record is ``1 - max`` exact Jaccard of ``ngram`` shingles.
    ``copied`` is True when the one-sided Mann–Whitney p-value is below ``alpha`` and the median
    synthetic distance is the smaller. Each table needs ``id`` and ``text`` columns.

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
    d_syn, n_syn = nearest_distances(syn_texts, src_texts, ngram=ngram, unit=unit)
    d_hold, n_hold = nearest_distances(hold_texts, src_texts, ngram=ngram, unit=unit)
    test = stats.mannwhitneyu(d_syn, d_hold, alternative="less")
    rng = np.random.default_rng(seed)
    diff = float(np.median(d_syn) - np.median(d_hold))
    close = 1.0 - copy_threshold
    copies_syn, copies_hold = int((d_syn <= close).sum()), int((d_hold <= close).sum())

    def listing(ids: list[str], d: np.ndarray, near: np.ndarray) -> list[dict[str, Any]]:
        order = np.argsort(d, kind="stable")
        return [{"id": ids[i], "distance": float(d[i]), "nearest_real_id": src_ids[near[i]]}
                for i in order]

    return MemorizationResult(
        synthetic=listing(syn_ids, d_syn, n_syn), holdout=listing(hold_ids, d_hold, n_hold),
        synthetic_median=float(np.median(d_syn)), holdout_median=float(np.median(d_hold)),
        median_difference=diff, median_difference_ci=_median_difference_ci(d_syn, d_hold, n_boot,
                                                                           rng),
        u_statistic=float(test.statistic), p_value=float(test.pvalue),
        copy_threshold=copy_threshold,
        copy_share_synthetic=copies_syn / len(d_syn),
        copy_share_synthetic_ci=wilson(copies_syn, len(d_syn)),
        copy_share_holdout=copies_hold / len(d_hold),
        copy_share_holdout_ci=wilson(copies_hold, len(d_hold)),
        copied=bool(test.pvalue < alpha and diff < 0),
        method=(f"distance to the closest source record = 1 − max exact Jaccard of {unit} "
                f"{ngram}-gram sets; one-sided Mann–Whitney U (synthetic < holdout); median "
                f"difference with a percentile bootstrap interval ({n_boot} resamples); copy "
                f"shares (Jaccard ≥ {copy_threshold}) with Wilson intervals"))


def audit_overlap(store: Store, train: str, eval: str, *, holdout: str | None = None,
                  threshold: float = 0.8, progress: Progress | None = None,
                  **options: Any) -> OverlapResult:
    """Run :func:`find_overlap` between two datasets of ``store`` and save the result (kind
    ``"overlap"``). With ``holdout``, also :func:`memorization`, reading ``train`` as the
    synthetic data and ``eval`` as the real records it was made from.

    >>> from tether import Store
    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("a", [{"text": "one two three four five six"}], origin="real")
    ...     _ = s.ingest("b", [{"text": "one two three four five six"}], origin="real")
    ...     audit_overlap(s, "a", "b").contaminated_eval
    1
    """
    train_table, eval_table = store.table(train), store.table(eval)
    result = find_overlap(train_table, eval_table, threshold=threshold, progress=progress,
                          **options)
    if holdout is not None:
        memo = memorization(train_table, eval_table, store.table(holdout),
                            **{k: v for k, v in options.items() if k in ("ngram", "unit")})
        result = dataclasses.replace(result, memorization=memo)
    store.save_audit("overlap", result.to_dict(),
                     {"train": train, "eval": eval, "holdout": holdout, "threshold": threshold,
                      **options})
    return result
