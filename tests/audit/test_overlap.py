"""Overlap: planted near-duplicates of real BBC articles, long n-grams, and memorization."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from tether.audit.overlap import audit_overlap, find_overlap, memorization, nearest_distances
from tether.datasets import split
from tether.errors import InputError


def edit(text: str, n: int, rng: np.random.Generator) -> str:
    words = text.split()
    for i in rng.choice(len(words), size=min(n, len(words)), replace=False):
        words[i] = f"qx{rng.integers(10**6)}"
    return " ".join(words)


def reference_jaccard(a: list[str], b: list[str]) -> np.ndarray:
    """All-pairs exact Jaccard of character 5-gram sets, by scikit-learn (independent code)."""
    norm = [" ".join(t.lower().split()) for t in a + b]
    x = CountVectorizer(analyzer="char", ngram_range=(5, 5), lowercase=False,
                        binary=True).fit_transform(norm)
    x.data[:] = 1
    inter = (x[:len(a)] @ x[len(a):].T).toarray()
    size = np.asarray(x.sum(axis=1)).ravel()
    return inter / (size[:len(a), None] + size[None, len(a):] - inter)


def table(ids, texts):
    return pa.table({"id": list(ids), "text": list(texts)})


@pytest.fixture(scope="module")
def planted(bbc):
    """Eval: 200 real articles. Train: 400 other real articles and, for each eval article, a
    copy with 1-45 words replaced (true Jaccards from about 0.55 to 0.98)."""
    parts = split(bbc, {"eval": 200, "train": 400}, seed=3)
    rng = np.random.default_rng(7)
    eval_t = parts["eval"].select(["id", "text"])
    copies = [edit(t, int(rng.integers(1, 46)), rng) for t in eval_t.column("text").to_pylist()]
    train_t = pa.concat_tables([
        parts["train"].select(["id", "text"]),
        table([f"copy-{i}" for i in range(len(copies))], copies)])
    return train_t, eval_t


def test_overlap_finds_planted_near_duplicates_against_exact_jaccard(planted):
    train_t, eval_t = planted
    result = find_overlap(train_t, eval_t, threshold=0.8, long_ngram=0)
    truth = reference_jaccard(train_t.column("text").to_pylist(), eval_t.column("text").to_pylist())
    train_ids, eval_ids = train_t.column("id").to_pylist(), eval_t.column("id").to_pylist()
    true_pairs = {(train_ids[i], eval_ids[j]) for i, j in zip(*np.nonzero(truth >= 0.8))}
    found = {(p["train_id"], p["eval_id"]) for p in result.pairs}
    planted_sims = truth[400 + np.arange(200), np.arange(200)]
    assert (planted_sims < 0.8).sum() > 40 and (planted_sims >= 0.8).sum() > 80  # both sides
    assert ((planted_sims > 0.7) & (planted_sims < 0.9)).sum() > 40  # many near the threshold
    recall = len(found & true_pairs) / len(true_pairs)
    precision = len(found & true_pairs) / len(found)
    assert recall >= 0.95 and precision >= 0.95
    for p in result.pairs:  # reported similarities are the exact ones
        i, j = train_ids.index(p["train_id"]), eval_ids.index(p["eval_id"])
        assert p["jaccard"] == pytest.approx(truth[i, j])
    assert result.contaminated_eval == len({e for _, e in found}) and result.eval_count == 200
    lo, hi = result.contamination_ci
    assert lo < result.contamination_rate < hi
    assert (result.bands, result.rows) == (21, 6) and "MinHash" in result.method


def test_streaming_in_small_batches_gives_the_same_result(planted):
    train_t, eval_t = planted
    whole = find_overlap(train_t, eval_t, batch_size=10_000)
    calls = []
    streamed = find_overlap(train_t, eval_t, batch_size=64,
                            progress=lambda done, total: calls.append((done, total)))
    assert streamed.to_dict() == whole.to_dict()
    done = [d for d, _ in calls]
    # two passes over the train batches: the n-gram cap's text counts, then the join
    assert done == sorted(done) and calls[-1] == (1200, 1200) and len(calls) >= 20


def test_long_ngram_overlap_matches_a_reference(bbc):
    texts = bbc.column("text").to_pylist()[::50][:30]
    rng = np.random.default_rng(2)
    train = []
    for i, t in enumerate(texts[15:]):  # train samples quoting 13 or 12 words of an eval one
        words = re.findall(r"\S+", texts[i])
        start = int(rng.integers(0, len(words) - 13))
        quote = " ".join(words[start:start + (13 if i % 2 == 0 else 12)])
        train.append(t[:300] + " " + quote + " " + t[300:600])
    result = find_overlap(table([f"t{i}" for i in range(15)], train),
                          table([f"e{i}" for i in range(15)], texts[:15]), threshold=0.99)

    def grams(t):
        w = re.findall(r"[^\W_]+", t.lower())
        return {tuple(w[i:i + 13]) for i in range(len(w) - 12)}

    expected = {(f"t{i}", f"e{j}"): len(grams(a) & grams(b))
                for i, a in enumerate(train) for j, b in enumerate(texts[:15])
                if grams(a) & grams(b)}
    got = {(p["train_id"], p["eval_id"]): p["shared_ngrams"] for p in result.ngram_overlap}
    assert got == expected
    assert {(f"t{i}", f"e{i}") for i in range(0, 15, 2)} <= set(got)
    assert result.ngram_eval == len({e for _, e in got}) and not result.pairs


def test_bounded_lists_keep_every_count(planted):
    """A cap on the listed pairs changes the lists only: counts, flagged items and the top of
    each list are those of the uncapped run."""
    train_t, eval_t = planted
    full = find_overlap(train_t, eval_t, max_pairs=10**6)
    capped = find_overlap(train_t, eval_t, max_pairs=25, batch_size=97)
    assert not full.truncated and full.pair_count == len(full.pairs) > 25
    assert capped.truncated and len(capped.pairs) == 25 and len(capped.ngram_overlap) <= 25
    assert capped.pairs == full.pairs[:25]
    assert capped.ngram_overlap == full.ngram_overlap[:25]
    assert (capped.pair_count, capped.ngram_pair_count) == (full.pair_count,
                                                             full.ngram_pair_count)
    assert capped.eval_matches == full.eval_matches
    assert capped.contaminated_eval == full.contaminated_eval == len(full.eval_matches)
    near = {p["eval_id"] for p in full.pairs}
    assert {e for e, m in full.eval_matches.items() if m["near_duplicates"]} == near
    assert sum(m["near_duplicates"] for m in full.eval_matches.values()) == full.pair_count
    assert sum(m["ngram"] for m in full.eval_matches.values()) == full.ngram_pair_count
    assert find_overlap(train_t, eval_t, max_pairs=0).pairs == []


LICENCE = ("This article is published under the Creative Commons licence and may be copied "
           "only with its source named in full.")


@pytest.fixture(scope="module")
def boilerplate(bbc):
    """60 train texts end with the same licence sentence (30 of them twice: texts, not
    occurrences, are counted), one quotes 20 words of eval text e0; eval e1 ends with the
    licence, e2 is unrelated. Texts are real leads of distinct BBC articles."""
    leads = [t[:400] for t in bbc.column("text").to_pylist()[::7][:70]]
    words = re.findall(r"[^\W_]+", leads[0])  # the words n-grams are made of
    train = [lead + " " + LICENCE * (1 + (i % 2)) for i, lead in enumerate(leads[3:63])]
    train.append(leads[63] + " " + " ".join(words[10:30]) + " " + leads[64])
    evals = [leads[0], leads[1] + " " + LICENCE, leads[2]]
    return table([f"t{i}" for i in range(61)], train), table(["e0", "e1", "e2"], evals)


def test_boilerplate_is_dropped_and_a_planted_quote_still_found(boilerplate):
    train_t, eval_t = boilerplate
    r = find_overlap(train_t, eval_t)  # default cap: 50 training texts
    assert r.max_train_df == 50 and "more than 50 training texts" in r.method
    assert set(r.eval_matches) == {"e0"} and r.ngram_eval == 1
    assert [(p["train_id"], p["eval_id"]) for p in r.ngram_overlap] == [("t60", "e0")]
    assert r.ngram_overlap[0]["shared_ngrams"] == 8  # 20 quoted words: 8 13-grams
    licence_grams = len(re.findall(r"\S+", LICENCE)) - 12
    assert r.dropped_ngrams == licence_grams and r.dropped_ngram_eval == 1
    # "more than k texts": 60 texts is over 59 and not over 60; doubled licences count once
    assert find_overlap(train_t, eval_t, max_train_df=59).dropped_ngrams == licence_grams
    kept = find_overlap(train_t, eval_t, max_train_df=60)
    assert kept.dropped_ngrams == 0 and kept.eval_matches["e1"]["ngram"] == 60
    uncapped = find_overlap(train_t, eval_t, max_train_df=None)
    assert uncapped.to_dict() | {"method": "", "max_train_df": 0} == \
        kept.to_dict() | {"method": "", "max_train_df": 0}
    assert uncapped.max_train_df is None and "boilerplate" not in uncapped.method
    with pytest.raises(InputError, match="max_train_df"):
        find_overlap(train_t, eval_t, max_train_df=0)


def test_every_counted_pair_goes_to_parquet(planted, tmp_path):
    train_t, eval_t = planted
    path = tmp_path / "pairs.parquet"
    r = find_overlap(train_t, eval_t, max_pairs=25, batch_size=97, pairs_path=path)
    full = find_overlap(train_t, eval_t, max_pairs=10**6)
    assert r.pairs_path == str(path) and str(path) in r.method
    written = pq.read_table(path)
    assert written.schema.names == ["kind", "train_id", "eval_id", "score"]
    assert written.num_rows == r.pair_count + r.ngram_pair_count > 50
    rows = written.to_pylist()
    near = {(x["train_id"], x["eval_id"], x["score"]) for x in rows
            if x["kind"] == "near_duplicate"}
    grams = {(x["train_id"], x["eval_id"], x["score"]) for x in rows if x["kind"] == "ngram"}
    assert len(near) == r.pair_count and len(grams) == r.ngram_pair_count  # no repeats
    assert near == {(p["train_id"], p["eval_id"], p["jaccard"]) for p in full.pairs}
    assert grams == {(p["train_id"], p["eval_id"], p["shared_ngrams"])
                     for p in full.ngram_overlap}
    assert r.truncated and len(r.pairs) == len(r.ngram_overlap) == 25  # the result lists 25


def test_the_second_pass_hashes_only_train_texts_that_can_match(planted, monkeypatch):
    """The 400 unrelated train articles share no 13-gram with the eval set: the join pass
    hashes (about) the 200 edited copies only, and finds what one uncapped pass finds."""
    from tether.audit import overlap

    hashed = []
    real = overlap._word_grams
    monkeypatch.setattr(overlap, "_word_grams",
                        lambda texts, n, seed: hashed.append(len(texts)) or real(texts, n, seed))
    train_t, eval_t = planted
    capped = find_overlap(train_t, eval_t, batch_size=128)
    second = sum(hashed) - 200 - 600  # less the eval side's texts and the first pass's
    assert 200 <= second < 260
    uncapped = find_overlap(train_t, eval_t, max_train_df=None, batch_size=128)
    assert capped.dropped_ngrams == 0 and capped.ngram_overlap == uncapped.ngram_overlap
    assert capped.eval_matches == uncapped.eval_matches


@pytest.mark.parametrize("bad", ["missing-dir/pairs.parquet", "."])
def test_a_bad_pairs_path_fails_before_any_work(planted, tmp_path, bad):
    train_t, eval_t = planted
    calls = []
    path = tmp_path / bad
    with pytest.raises(InputError) as caught:
        find_overlap(train_t, eval_t, pairs_path=path, progress=lambda *a: calls.append(a))
    assert str(path) in str(caught.value) and caught.value.field == "pairs_path"
    assert calls == []


def test_cli_overlap_writes_pairs_and_states_the_cap(tmp_path, boilerplate):
    from typer.testing import CliRunner

    from tether import Store
    from tether.cli import app

    train_t, eval_t = boilerplate
    store_path, out = str(tmp_path / "s.duckdb"), tmp_path / "pairs.parquet"
    with Store(store_path) as s:
        s.ingest("train", train_t.to_pylist(), origin="real")
        s.ingest("eval", eval_t.to_pylist(), origin="real")
    args = ["audit", "overlap", "--train", "train", "--eval", "eval", "--store", store_path,
            "--json"]
    result = CliRunner().invoke(app, [*args, "--pairs-out", str(out), "--max-train-df", "59"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["max_train_df"] == 59 and data["dropped_ngrams"] > 0
    assert data["pairs_path"] == str(out) and set(data["eval_matches"]) == {"e0"}
    assert pq.read_table(out).num_rows == data["pair_count"] + data["ngram_pair_count"] == 1
    with Store(store_path) as s:
        saved = s.latest_result("overlap")
        assert saved.data["pairs_path"] == str(out) and saved.params["max_train_df"] == 59
        assert "pairs_path" not in saved.params  # an output, not a parameter of the audit
    bad = CliRunner().invoke(app, [*args, "--pairs-out", str(tmp_path / "no" / "p.parquet")])
    assert isinstance(bad.exception, InputError) and "p.parquet" in str(bad.exception)
    uncapped = CliRunner().invoke(app, [*args, "--max-train-df", "0"])
    assert uncapped.exit_code == 0, uncapped.output
    assert json.loads(uncapped.stdout)["max_train_df"] is None
    assert json.loads(uncapped.stdout)["dropped_ngrams"] == 0


def test_a_run_that_fails_leaves_no_half_written_pair_file(planted, tmp_path):
    train_t, eval_t = planted
    path = tmp_path / "pairs.parquet"

    def stop(*args):
        if path.stat().st_size:  # the writer is open and has written its header
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        find_overlap(train_t, eval_t, pairs_path=path, progress=stop)
    assert not path.exists()


def test_report_view_states_the_dropped_boilerplate_and_the_pair_file(boilerplate, tmp_path):
    from tether.report.views.overlap import render

    r = find_overlap(*boilerplate, pairs_path=tmp_path / "p.parquet")
    notes = [b["text"] for b in render(r.to_dict()) if b["kind"] == "note"]
    assert any("found in more than 50 training texts (held by 1 eval item(s))" in n
               for n in notes)
    assert any(str(tmp_path / "p.parquet") in n for n in notes)
    uncapped = render(find_overlap(*boilerplate, max_train_df=None).to_dict())
    assert not any("boilerplate" in b.get("text", "") or "Every pair" in b.get("text", "")
                   for b in uncapped)


def test_nearest_distances_find_what_all_pairs_finds(bbc):
    """800 edited copies of real leads (0-30% of words replaced: nearest Jaccards from about
    0.3 to 1) and 400 unrelated leads against 1,200 sources: every query whose all-pairs
    nearest Jaccard (scikit-learn reference) reaches the threshold gets that exact distance
    (recall ≥ 0.99), every other query is censored at distance 1."""
    texts = [t[:800] for t in bbc.column("text").to_pylist()]
    rng = np.random.default_rng(1)
    reference = texts[:1200]
    sources = rng.choice(len(reference), 800, replace=False)
    queries = [edit(reference[i], int(rng.uniform(0, 0.3) * len(reference[i].split())), rng)
               for i in sources] + texts[1200:1600]
    d, nearest = nearest_distances(queries, reference, threshold=0.5)
    sims = reference_jaccard(queries, reference)
    best = sims.max(axis=1)
    above = best >= 0.5
    assert above.sum() > 400 and ((best >= 0.5) & (best < 0.6)).sum() > 100  # many at the edge
    assert np.isclose(d[above], 1 - best[above]).mean() >= 0.99
    found = above & np.isclose(d, 1 - best)
    assert np.allclose(sims[found, nearest[found]], best[found])
    assert (d[~above] == 1.0).all() and (nearest[~above] == -1).all()


def test_memorization_detects_copies(bbc):
    parts = split(bbc, {"source": 150, "holdout": 100}, seed=4)
    rng = np.random.default_rng(0)
    source = parts["source"].select(["id", "text"])
    copies = table([f"s{i}" for i in range(100)],
                   [edit(t, int(rng.integers(1, 30)), rng)
                    for t in source.column("text").to_pylist()[:100]])
    r = memorization(copies, source, parts["holdout"].select(["id", "text"]), n_boot=500)
    assert r.copied and r.p_value < 1e-10
    assert r.median_difference < 0 and r.median_difference_ci[1] < 0
    assert r.copy_share_synthetic > 0.5 > r.copy_share_holdout
    assert r.synthetic[0]["distance"] <= r.synthetic[-1]["distance"]
    assert {x["nearest_real_id"] for x in r.synthetic} <= set(source.column("id").to_pylist())
    censored = [x for x in r.holdout if x["nearest_real_id"] is None]  # no source at J ≥ 0.5
    assert censored and all(x["distance"] == 1.0 for x in censored)
    assert "Mann–Whitney" in r.method
    assert r.censored_holdout == len(censored) and r.holdout_count == 100
    assert sum(r.histogram["holdout"]) == 100 and r.histogram["holdout"][-1] >= len(censored)

    capped = memorization(copies, source, parts["holdout"].select(["id", "text"]), n_boot=500,
                          max_listed=5)
    assert [x["id"] for x in capped.synthetic] == [x["id"] for x in r.synthetic[:5]]
    assert capped.synthetic_count == 100 and sum(capped.histogram["synthetic"]) == 100
    assert capped.p_value == r.p_value  # the test uses every distance, not the listing

    # a result saved before the listing was capped: every record listed, no counts, histogram
    new = ("synthetic_count", "holdout_count", "censored_synthetic", "censored_holdout",
           "histogram")
    old = {k: v for k, v in r.to_dict().items() if k not in new}
    read = type(r).from_dict(old)
    assert (read.synthetic_count, read.holdout_count, read.censored_holdout) == (100, 100, 0)
    assert read.histogram == r.histogram and read.p_value == r.p_value


def test_memorization_finds_a_copied_minority_behind_censored_medians(bbc):
    """A third of the synthetic records are light edits of source records, the rest unrelated
    articles: most distances on both sides are censored (both medians 1.0), and the rank test
    still finds the copies."""
    parts = split(bbc, {"source": 300, "holdout": 150, "other": 100}, seed=5)
    rng = np.random.default_rng(1)
    source = parts["source"].select(["id", "text"])
    copied = [edit(t, 10, rng) for t in source.column("text").to_pylist()[:50]]
    synthetic = table([f"s{i}" for i in range(150)],
                      copied + parts["other"].column("text").to_pylist())
    r = memorization(synthetic, source, parts["holdout"].select(["id", "text"]), n_boot=300)
    assert r.synthetic_median == r.holdout_median == 1.0
    assert r.copied and r.p_value < 1e-6


def test_memorization_rejects_a_true_null_rarely(bbc):
    """Synthetic stand-in = unseen real articles (their first 600 characters) from the same pool:
    no copying to find."""
    leads = table(bbc.column("id").to_pylist(), [t[:600] for t in bbc.column("text").to_pylist()])
    rejections, covered = 0, 0
    for rep in range(40):
        parts = split(leads, {"source": 80, "fake": 30, "holdout": 30}, seed=100 + rep,
                      stratify=None)
        r = memorization(parts["fake"], parts["source"], parts["holdout"], n_boot=300, seed=rep)
        rejections += r.copied
        covered += r.median_difference_ci[0] <= 0 <= r.median_difference_ci[1]
    assert rejections <= 6  # level 0.05: about 2 of 40 expected
    assert covered >= 33


def test_audit_overlap_saves_to_the_store(store, bbc):
    parts = split(bbc, {"a": 40, "b": 30, "c": 30}, seed=5)
    store.ingest("real", parts["a"], origin="real", label_origin="real")
    store.ingest("heldout", parts["b"], origin="real", label_origin="real")
    copies = [{"text": edit(t, 3, np.random.default_rng(i)), "parents": [pid]}
              for i, (t, pid) in enumerate(zip(parts["a"].column("text").to_pylist()[:20],
                                                parts["a"].column("id").to_pylist()[:20]))]
    store.ingest("syn", copies, origin="synthetic", family="rule", generator="edit@1")
    result = audit_overlap(store, "syn", "real", holdout="heldout")
    assert result.near_duplicate_eval == 20 and result.memorization.copied
    saved = store.latest_result("overlap")
    assert saved.data["contaminated_eval"] == result.contaminated_eval
    assert saved.data["memorization"]["p_value"] == result.memorization.p_value
    assert saved.params["holdout"] == "heldout"
