"""The policy gate: every rule fails on a store that breaks it and passes on one that keeps it."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from tether import datasets
from tether.audit.overlap import find_overlap
from tether.errors import PolicyError
from tether.policy import check, load_policy, parse_policy, starter_policy

POLICY = """
max_synthetic_share = 0.5
acceptance_suites = ["holdout"]
required_fields = ["generator", "domain", "family", "parents"]
max_mirage_auc = 0.8
holdout = "holdout"
min_holdout_real = 200

[datasets.train]
max_synthetic_share = 0.3

[[no_contamination]]
train = "train"
eval = "holdout"
"""
SYNTHETIC = dict(origin="synthetic", label_origin="real", family="rule", generator="upper@1",
                 domain="news", task="topic")


@pytest.fixture
def kept(store, bbc, save_json):
    """A store that keeps every rule of POLICY (real BBC articles, disjoint splits)."""
    parts = datasets.split(bbc, {"train": 100, "holdout": 230}, seed=5)
    # BBC News repeats some stories: drop held-out articles that overlap the training split
    leaks = find_overlap(parts["train"], parts["holdout"])
    flagged = {p["eval_id"] for p in leaks.pairs + leaks.ngram_overlap}
    parts["holdout"] = parts["holdout"].filter(
        pa.array([i not in flagged for i in parts["holdout"].column("id").to_pylist()]))
    source = datasets.source("bbcnews")
    for name, table in parts.items():
        store.ingest(name, table, origin="real", label_origin="real", generator=source,
                     domain="news", task="topic")
    real = store.table("train").to_pylist()[:30]
    store.ingest("train", [{"id": f"s-{r['id']}", "text": r["text"].upper(), "label": r["label"],
                            "parents": [r["id"]]} for r in real], **SYNTHETIC)
    save_json(store, "mirage", {"c2st_auc": 0.62, "auc_ci": [0.55, 0.69]},
              {"real": "train", "synthetic": "train"})
    return store


def rule(result, name, target=None):
    rows = [r for r in result.rules if r.rule == name and (target is None or r.target == target)]
    assert len(rows) == 1, (name, target, result.to_dict())
    return rows[0]


def failing(result):
    return {(r.rule, r.target) for r in result.rules if not r.passed}


def test_a_store_that_keeps_every_rule_passes(kept):
    result = check(kept, parse_policy(POLICY))
    assert result.passed, result.to_dict()
    assert {r.rule for r in result.rules} == {"max_synthetic_share", "acceptance_suite_real",
                                              "required_field", "max_mirage_auc",
                                              "no_contamination", "min_holdout_real"}
    assert rule(result, "max_synthetic_share", "train").value == pytest.approx(30 / 130, abs=1e-6)
    assert rule(result, "min_holdout_real").value >= 200
    data = result.to_dict()
    assert set(data) == {"passed", "policy", "rules"} and data["passed"] is True
    assert set(data["rules"][0]) == {"rule", "target", "passed", "value", "limit", "message",
                                     "key"}


def test_synthetic_share_above_the_dataset_limit_fails(kept):
    real = kept.table("train", origin="real").to_pylist()[30:60]
    kept.ingest("train", [{"id": f"t-{r['id']}", "text": r["text"].lower(), "label": r["label"],
                           "parents": [r["id"]]} for r in real], **SYNTHETIC)
    result = check(kept, parse_policy(POLICY))
    share = rule(result, "max_synthetic_share", "train")
    assert not share.passed and share.value == pytest.approx(60 / 160, abs=1e-6)
    assert share.limit == 0.3
    assert failing(result) == {("max_synthetic_share", "train")}


def test_global_share_default_applies_to_mixed_datasets_only(kept):
    real = kept.table("holdout").to_pylist()[:3]
    kept.ingest("typos", [{"text": r["text"][::-1], "label": r["label"], "parents": [r["id"]]}
                          for r in real], **SYNTHETIC)
    kept.ingest("mixed", [{"text": "only real row", "label": "tech"}], origin="real",
                label_origin="real")
    kept.ingest("mixed", [{"text": r["text"].title(), "label": r["label"], "parents": [r["id"]]}
                          for r in real], **SYNTHETIC)
    result = check(kept, parse_policy(POLICY))
    assert all(r.target != "typos" for r in result.rules if r.rule == "max_synthetic_share")
    assert ("max_synthetic_share", "mixed") in failing(result)
    assert rule(result, "max_synthetic_share", "mixed").value == 0.75


def test_share_by_glob_applies_even_to_all_synthetic_pools_and_exact_names_win(kept):
    real = kept.table("holdout").to_pylist()[:3]
    kept.ingest("train_pool", [{"text": r["text"][::-1], "label": r["label"],
                                "parents": [r["id"]]} for r in real], **SYNTHETIC)
    text = POLICY + '\n[datasets."train*"]\nmax_synthetic_share = 0.1\n'
    result = check(kept, parse_policy(text))
    pool = rule(result, "max_synthetic_share", "train_pool")
    assert not pool.passed and pool.limit == 0.1 and pool.value == 1.0
    assert rule(result, "max_synthetic_share", "train").limit == 0.3  # exact [datasets.train]


def _starter_store(store, mix_synthetic):
    store.ingest("news", [{"text": f"real story {i}", "label": "business"} for i in range(10)],
                 origin="real", label_origin="real")
    store.ingest("pool", [{"text": f"synthetic story {i}", "label": "business"}
                          for i in range(10)], **SYNTHETIC)
    store.ingest("mix", [{"text": f"mixed real {i}", "label": "tech"} for i in range(7)],
                 origin="real", label_origin="real")
    store.ingest("mix", [{"text": f"mixed synthetic {i}", "label": "tech"}
                         for i in range(mix_synthetic)], **SYNTHETIC)
    return store


def test_starter_policy_passes_with_a_synthetic_pool_and_a_mix_within_its_share(store):
    result = check(_starter_store(store, 3), parse_policy(starter_policy()))
    assert result.passed, result.to_dict()
    assert rule(result, "max_synthetic_share", "mix").value == 0.3


def test_starter_policy_fails_when_a_mix_exceeds_the_share(store):
    result = check(_starter_store(store, 10), parse_policy(starter_policy()))
    assert failing(result) == {("max_synthetic_share", "mix")}


SCOPED = '[[mirage]]\nreal = "train"\nsynthetic = "train"\nmax_auc = 0.8\n'


def test_scoped_mirage_rule_ignores_audits_of_other_pairs(kept, save_json):
    save_json(kept, "mirage", {"c2st_auc": 0.93}, {"real": "train", "synthetic": "train"})
    save_json(kept, "mirage", {"c2st_auc": 0.51}, {"real": "holdout", "synthetic": "typos"})
    auc = rule(check(kept, parse_policy(SCOPED)), "max_mirage_auc")
    assert not auc.passed and auc.value == 0.93 and auc.target == "train vs train"
    assert rule(check(kept, parse_policy(SCOPED.replace('"train"\nmax', '"pool"\nmax'))),
                "max_mirage_auc").message.startswith("no dataset 'pool'")


def test_scoped_mirage_rule_passes_on_a_fresh_audit_and_takes_the_top_level_default(kept):
    text = "max_mirage_auc = 0.7\n" + SCOPED.replace("max_auc = 0.8\n", "")
    auc = rule(check(kept, parse_policy(text)), "max_mirage_auc")
    assert auc.passed and auc.value == 0.62 and auc.limit == 0.7


def test_scoped_mirage_audit_older_than_a_write_is_stale(kept):
    kept.ingest("train", [{"text": "a late addition", "label": "tech"}], **SYNTHETIC)
    auc = rule(check(kept, parse_policy(SCOPED)), "max_mirage_auc")
    assert not auc.passed and auc.message.startswith("stale")
    assert "run `tether audit mirage --real train --synthetic train`" in auc.message


def test_scoped_mirage_audit_not_run_fails(store):
    store.ingest("train", [{"text": "x", "label": "y"}], origin="real", label_origin="real")
    auc = rule(check(store, parse_policy(SCOPED)), "max_mirage_auc")
    assert not auc.passed and auc.value is None and "not run" in auc.message


def test_acceptance_suite_with_synthetic_inputs_or_labels_fails(kept):
    row = kept.table("train", origin="real").to_pylist()[99]
    kept.ingest("holdout", [{"text": row["text"] + " (teacher)", "label": "sport"}],
                origin="real", label_origin="synthetic", family="model", generator="teacher@1",
                domain="news", task="topic")
    result = check(kept, parse_policy(POLICY))
    suite = rule(result, "acceptance_suite_real", "holdout")
    assert not suite.passed and suite.value == 1
    assert "1 labels not real" in suite.message


def test_synthetic_rows_missing_a_required_field_fail(kept):
    real = kept.table("holdout").to_pylist()[:4]
    kept.ingest("train", [{"text": r["text"].swapcase(), "label": r["label"],
                           "parents": [r["id"]]} for r in real],
                origin="synthetic", label_origin="real", family="rule", generator="swap@1")
    result = check(kept, parse_policy(POLICY))
    domain = rule(result, "required_field", "domain")
    assert not domain.passed and domain.value == 4 and "train: 4" in domain.message
    assert rule(result, "required_field", "generator").passed


def test_mirage_auc_above_the_limit_fails(kept, save_json):
    save_json(kept, "mirage", {"c2st_auc": 0.93, "auc_ci": [0.9, 0.96]},
              {"real": "train", "synthetic": "typos"})
    result = check(kept, parse_policy(POLICY))
    auc = rule(result, "max_mirage_auc")
    assert not auc.passed and auc.value == 0.93 and auc.target == "train vs typos"


def test_mirage_audit_not_run_fails(store):
    result = check(store, parse_policy("max_mirage_auc = 0.8"))
    auc = rule(result, "max_mirage_auc")
    assert not auc.passed and auc.value is None and auc.message.startswith("not run")


def test_contamination_by_exact_copy_and_by_near_duplicate_fails(kept):
    held = kept.table("holdout").to_pylist()
    copy = {k: held[0][k] for k in ("text", "label")}
    near = {"text": held[1]["text"].replace(" the ", " a ", 1), "label": held[1]["label"]}
    kept.ingest("train", [copy, near], origin="real", label_origin="real",
                generator=datasets.source("bbcnews"), domain="news", task="topic")
    result = check(kept, parse_policy(POLICY))
    leak = rule(result, "no_contamination", "train → holdout")
    assert not leak.passed and leak.value == 2
    assert "1 exact copies" in leak.message


def test_too_small_real_holdout_fails(kept):
    result = check(kept, parse_policy(POLICY.replace("min_holdout_real = 200",
                                                     "min_holdout_real = 300")))
    size = rule(result, "min_holdout_real", "holdout")
    assert not size.passed and size.limit == 300 and 200 <= size.value < 300


def test_a_dataset_the_policy_names_but_the_store_lacks_fails(kept):
    text = POLICY.replace('acceptance_suites = ["holdout"]', 'acceptance_suites = ["gold"]')
    result = check(kept, parse_policy(text))
    gold = rule(result, "acceptance_suite_real", "gold")
    assert not gold.passed and "no dataset 'gold'" in gold.message


@pytest.mark.parametrize("text, key", [
    ("max_synthetic_share = 1.5", "max_synthetic_share"),
    ("max_mirage_auc = 'high'", "max_mirage_auc"),
    ("acceptance_suite = ['holdout']", "acceptance_suite"),
    ("required_fields = ['colour']", "required_fields"),
    ("required_fields = 'generator'", "required_fields"),
    ("min_holdout_real = 200", "holdout"),
    ("holdout = 'h'\nmin_holdout_real = -1", "min_holdout_real"),
    ("[datasets.train]\nmax_share = 0.3", "datasets.train.max_share"),
    ("[[no_contamination]]\ntrain = 'a'", "no_contamination[0].eval"),
    ("[[mirage]]\nreal = 'a'\nsynthetic = 'b'", "mirage[0].max_auc"),
    ("[[mirage]]\nreal = 'a'\nsynthetic = 'b'\nmax_auc = 0.8\nauc = 1", "mirage[0].auc"),
    ("[[no_contamination]]\ntrain = 'a'\neval = 'b'\nthreshold = 2",
     "no_contamination[0].threshold"),
])
def test_malformed_policy_names_the_file_and_the_key(tmp_path, text, key):
    path = tmp_path / "tether.toml"
    path.write_text(text)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert str(err.value).startswith(f"{path}, key {key}:")


def test_invalid_toml_and_missing_file_name_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("max_mirage_auc = = 0.8")
    with pytest.raises(PolicyError, match=r"bad\.toml: not valid TOML.*line 1"):
        load_policy(path)
    with pytest.raises(PolicyError, match=r"nope\.toml: cannot read"):
        load_policy(tmp_path / "nope.toml")


def test_starter_policy_is_commented_and_valid():
    text = starter_policy()
    policy = parse_policy(text)
    assert policy.max_synthetic_share == 0.5 and policy.required_fields == ("family", "generator")
    assert sum(line.startswith("#") for line in text.splitlines()) > 15
    # every commented-out example parses too once uncommented
    full = "\n".join(line[2:] if re.match(r"# (\[|\w+ = )", line) else line
                     for line in text.splitlines())
    uncommented = parse_policy(full)
    assert uncommented.mirage[0].max_auc == 0.8 and uncommented.min_holdout_real == 200
    assert uncommented.dataset_shares == {"train*": 0.3}
    assert uncommented.no_contamination[0].eval == "holdout"


def test_a_policy_with_no_rule_is_refused_not_passed(tmp_path):
    path = tmp_path / "tether.toml"
    path.write_text("# nothing enforced yet\n")
    with pytest.raises(PolicyError, match="states no rule"):
        load_policy(path)


def test_contamination_exact_check_sees_unicode_twins(store):
    """NFC/NFD twins and zero-width variants of a text are exact copies (#16)."""
    store.ingest("train", [{"text": "Caf\u00e9 prices rise sharply in the capital"}], origin="real")
    store.ingest("holdout", [{"text": "Cafe\u0301 prices rise sharply in\u200b the capital"},
                             {"text": "Something else entirely happened today"}],
                 origin="real")
    policy = parse_policy("[[no_contamination]]\ntrain = 'train'\neval = 'holdout'\n"
                          "threshold = 0.99\n")
    leak = rule(check(store, policy), "no_contamination", "train → holdout")
    assert not leak.passed and leak.value == 1 and "1 exact" in leak.message
