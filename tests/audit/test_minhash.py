"""MinHash signatures and LSH banding: exact shingles, unbiased estimates, batch invariance."""

from __future__ import annotations

import re

import numpy as np
import pytest
from datasketch import MinHash

from tether.audit import minhash


def ref_chars(text: str, k: int = 5) -> set[str]:
    t = " ".join(text.lower().split())
    return {t[i:i + k] for i in range(max(1, len(t) - k + 1))}


def ref_words(text: str, k: int) -> set[tuple[str, ...]]:
    w = re.findall(r"[^\W_]+", text.lower())
    return {tuple(w[i:i + k]) for i in range(max(1, len(w) - k + 1))}


def edit(text: str, n: int, rng: np.random.Generator) -> str:
    words = text.split()
    for i in rng.choice(len(words), size=min(n, len(words)), replace=False):
        words[i] = f"qx{rng.integers(10**6)}"
    return " ".join(words)


@pytest.fixture(scope="module")
def texts(bbc):
    return bbc.column("text").to_pylist()[::11][:200]


def test_shingle_sets_are_the_exact_sets(texts):
    chars = minhash.shingle_sets(texts)
    words = minhash.shingle_sets(texts, ngram=3, unit="word")
    assert [s.size for s in chars] == [len(ref_chars(t)) for t in texts]
    assert [s.size for s in words] == [len(ref_words(t, 3)) for t in texts]
    for a, b in [(0, 1), (5, 9), (17, 100)]:
        ra, rb = ref_chars(texts[a]), ref_chars(texts[b])
        assert minhash.jaccard(chars[a], chars[b]) == pytest.approx(len(ra & rb) / len(ra | rb))


def test_normalisation_and_short_texts():
    sets = minhash.shingle_sets(["Hello   World", "hello world", " hello\nworld ", "hi", "", ""])
    assert np.array_equal(sets[0], sets[1]) and np.array_equal(sets[0], sets[2])
    assert sets[3].size == 1 and not np.array_equal(sets[3], sets[4])
    assert np.array_equal(sets[4], sets[5])  # empty texts are identical
    sig = minhash.signatures(["hi", "hi", "ho"])
    assert (sig[0] == sig[1]).all() and not (sig[0] == sig[2]).any()
    with pytest.raises(ValueError, match="unit"):
        minhash.signatures(["x"], unit="line")


def test_signatures_do_not_depend_on_the_batch(texts, monkeypatch):
    alone = np.vstack([minhash.signatures([t]) for t in texts[:20]])
    monkeypatch.setattr(minhash, "_CHUNK_CHARS", 3000)  # many chunks inside one batch
    together = minhash.signatures(texts[:20])
    assert together.shape == (20, 128) and together.dtype == np.uint32
    assert np.array_equal(alone, together)
    assert not np.array_equal(together, minhash.signatures(texts[:20], seed=2))


def test_estimates_are_unbiased_and_as_precise_as_datasketch(texts):
    rng = np.random.default_rng(0)
    a = texts[:150]
    b = [edit(t, int(rng.integers(1, 60)), rng) for t in a]
    exact = np.array([minhash.jaccard(x, y) for x, y in zip(minhash.shingle_sets(a),
                                                             minhash.shingle_sets(b))])
    ours = (minhash.signatures(a) == minhash.signatures(b)).mean(axis=1)

    def sketch(t):
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([s.encode() for s in ref_chars(t)])
        return m

    theirs = np.array([sketch(x).jaccard(sketch(y)) for x, y in zip(a, b)])
    assert 0.2 < exact.min() and exact.max() < 0.995  # a spread of true similarities
    err, ref_err = ours - exact, theirs - exact
    assert abs(err.mean()) < 3 * err.std() / np.sqrt(err.size) + 0.005
    rmse, ref_rmse = np.sqrt((err ** 2).mean()), np.sqrt((ref_err ** 2).mean())
    assert rmse < 1.25 * ref_rmse
    assert rmse == pytest.approx(np.sqrt((exact * (1 - exact)).mean() / 128), rel=0.3)


def test_lsh_banding_and_candidate_join():
    bands, rows = minhash.lsh_params(0.8, 128)
    assert (bands, rows) == (21, 6)
    assert minhash.candidate_probability(0.8, bands, rows) >= 0.99
    assert minhash.candidate_probability(0.3, bands, rows) < 0.02
    rng = np.random.default_rng(1)
    sig = rng.integers(0, 3, size=(60, 12), dtype=np.uint32)
    keys = minhash.band_keys(sig, 4, 3)
    same = (sig.reshape(60, 4, 3)[:, None] == sig.reshape(60, 4, 3)[None]).all(axis=3)
    assert np.array_equal(keys[:, None] == keys[None], same)
    index = minhash.HashIndex(keys[:30].reshape(-1), np.repeat(np.arange(30), 4))
    q, o, shared = index.match(keys[30:].reshape(-1), np.repeat(np.arange(30), 4))
    expected = same[30:, :30].sum(axis=2)
    assert sorted(zip(q.tolist(), o.tolist(), shared.tolist())) == [
        (i, j, int(expected[i, j])) for i, j in zip(*np.nonzero(expected))]
    with pytest.raises(ValueError):
        minhash.band_keys(sig, 5, 3)
