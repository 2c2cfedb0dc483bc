"""Verdicts: every kind's rule at its pass/warn/fail boundaries, a policy's limit instead of the
default, and verdicts carried by the results themselves (``result.verdicts``, ``to_dict()``)."""

from __future__ import annotations

import pytest

from tether import Store
from tether.errors import NotFoundError
from tether.results import KINDS, kind
from tether.verdicts import LEVELS, Limit, Verdict, next_actions, worst


def levels(name: str, data: dict, params: dict | None = None, **overrides: Limit) -> dict:
    """``{check: level}`` of the verdicts of kind ``name`` on ``data``."""
    return {v.check: v.level for v in kind(name).judge(data, params, overrides)}


# Each case: kind, the result's JSON form as a function of one number, the check, and
# (value, expected level) pairs at and beside the documented boundaries.
BOUNDARIES = [
    ("mirage", lambda x: {"c2st_auc": x, "auc_ci": [x - 0.01, x + 0.01]}, "detectable",
     [(0.5, "pass"), (0.7499, "pass"), (0.75, "warn"), (0.8999, "warn"), (0.9, "fail"),
      (1.0, "fail")]),
    ("coverage", lambda x: {"recall": x, "recall_ci": [x, x]}, "recall",
     [(1.0, "pass"), (0.8, "pass"), (0.7999, "warn"), (0.5, "warn"), (0.4999, "fail")]),
    ("overlap", lambda x: {"contaminated_eval": x, "eval_count": 100,
                           "eval_matches": {f"e{i}": {"near_duplicates": 1}
                                            for i in range(x)}},
     "contamination", [(0, "pass"), (1, "fail"), (40, "fail")]),
    ("labels", lambda x: {"issue_rate": x, "issue_count": int(x * 100), "n": 100},
     "issue_rate", [(0.0, "pass"), (0.0499, "pass"), (0.05, "warn"), (0.1499, "warn"),
                    (0.15, "fail")]),
    ("generator", lambda x: {"slices": [{"definition": f"s{i}", "error_rate": 0.4}
                                        for i in range(x)], "slices_tested": 9},
     "bias_slices", [(0, "pass"), (1, "warn"), (3, "warn")]),
    ("generator", lambda x: {"systematic_share": x, "errors": 10}, "systematic",
     [(0.0, "pass"), (0.4999, "pass"), (0.5, "warn"), (1.0, "warn")]),
    ("diversity", lambda x: {"warnings": [f"distinct_2 drops {i}" for i in range(x)]},
     "collapse", [(0, "pass"), (1, "warn")]),
    ("faithfulness", lambda x: {"flip_rate": x, "flips": 1, "n_children": 10,
                                "worst": [{"child_id": "c1", "flipped": True}]},
     "flip_rate", [(0.0, "pass"), (0.0999, "pass"), (0.1, "warn"), (0.2499, "warn"),
                   (0.25, "fail")]),
    ("style", lambda x: {"flagged": [f"f{i}" for i in range(x)],
                         "findings": [f"finding {i}" for i in range(x)]},
     "shifts", [(0, "pass"), (1, "warn")]),
    ("eval", lambda x: {"failed": [f"suite{i}" for i in range(x)]}, "synthetic_suites",
     [(0, "pass"), (1, "fail")]),
    ("eval", lambda x: {"inflation": {"gap": x, "ci": [x - 0.01, x + 0.01]}}, "inflation",
     [(-0.1, "pass"), (0.0499, "pass"), (0.05, "warn"), (0.3, "warn")]),
    ("eval", lambda x: {"warnings": [f"model family wrote suite {i}" for i in range(x)]},
     "warnings", [(0, "pass"), (1, "warn")]),
    ("sweep", lambda x: {"trend": {"slope": x - 0.01, "ci": [x - 0.02, x]},
                         "best": {"ratio": 0.0, "accuracy": 0.9}},
     "trend", [(0.01, "pass"), (0.0, "pass"), (-0.0001, "warn")]),
    ("sensitivity", lambda x: {"gold": {"accuracy": {"mean": 0.9}},
                               "generated": {"accuracy": {"mean": 0.9 - x}}},
     "gain", [(0.0, "pass"), (0.0199, "pass"), (0.0201, "warn")]),
]


@pytest.mark.parametrize("name, make, check, cases", BOUNDARIES,
                         ids=[f"{b[0]}-{b[2]}" for b in BOUNDARIES])
def test_rule_boundaries(name, make, check, cases):
    assert [levels(name, make(x))[check] for x, _ in cases] == [level for _, level in cases]


def test_every_kind_has_a_rule_and_its_limits_are_documented():
    import tether.verdicts

    doc = tether.verdicts.__doc__
    for k in KINDS:
        assert k.rule.startswith("tether.verdicts:"), k.name
        assert f"- {k.name}:" in doc, k.name
        entry = doc.split(f"- {k.name}:")[1].split("\n- ")[0]
        for limit in k.limits.values():
            assert limit.source == "default"
            assert f"{limit.text()}" in entry or not limit.value and "any" in entry, k.name


def test_estimate_is_informational():
    data = {"metric": "accuracy", "ppi_pp": {"estimate": 0.8, "ci": [0.7, 0.9]}, "n_gold": 50}
    (v,) = kind("estimate").judge(data)
    assert (v.level, v.threshold) == ("pass", None)
    assert "accuracy 0.800 [0.700, 0.900]" in v.finding


def test_style_action_says_one_shift_once():
    words = "synthetic answers are 2.4× shorter [2.2, 2.7] than real ones (length in words)"
    chars = "synthetic answers are 2.4× shorter [2.2, 2.7] than real ones (length in characters)"
    polite = "synthetic answers say please 3.0× as often [2.0, 4.1] (politeness)"
    (v,) = kind("style").judge({"flagged": ["words", "chars", "polite"],
                                "findings": [words, chars, polite]})
    assert v.level == "warn" and v.action.count("shorter") == 1 and "please" in v.action


def test_memorization_fails_when_copied():
    memo = {"copied": True, "copy_share_synthetic": 0.3, "copy_share_holdout": 0.01,
            "synthetic": [{"id": "s2", "distance": 0.4}, {"id": "s1", "distance": 0.1}]}
    data = {"contaminated_eval": 0, "eval_count": 10, "memorization": memo}
    verdicts = {v.check: v for v in kind("overlap").judge(data)}
    assert verdicts["memorization"].level == "fail"
    assert verdicts["memorization"].evidence == ("s1", "s2")  # closest to its source first
    assert verdicts["contamination"].level == "pass"
    memo["copied"] = False
    assert levels("overlap", data)["memorization"] == "pass"


def test_findings_name_the_datasets_and_the_rule_names_its_source():
    data = {"c2st_auc": 0.99, "auc_ci": [0.98, 1.0], "most_synthetic": ["g1", "g2"],
            "top_features": [{"feature": "word:'breaking'"},
                             {"feature": "word:'more details to follow'"}]}
    (v,) = kind("mirage").judge(data, {"real": "real", "synthetic": "gen"})
    assert v.finding == ("synthetic pool 'gen' is easily told apart from real 'real': "
                         "AUC 0.990 [0.980, 1.000]")
    assert v.rule == "mirage AUC ≥ 0.75 warns, ≥ 0.9 fails (default)"
    assert (v.value, v.threshold) == (0.99, 0.9)
    assert "giveaways are 'breaking', 'more details to follow'" in v.action
    assert v.evidence == ("g1", "g2")
    (in_memory,) = kind("mirage").judge(data, {"real": "<table of 3 rows>"})
    assert "from real:" in in_memory.finding  # rows in memory have no name to give


def test_policy_limit_decides_instead_of_the_default():
    policy = Limit(0.8, ">", "policy tether.toml")
    assert levels("mirage", {"c2st_auc": 0.85}) == {"detectable": "warn"}
    assert levels("mirage", {"c2st_auc": 0.85}, fail_auc=policy) == {"detectable": "fail"}
    # a looser policy limit passes what the default fails (the warning limit stays)
    loose = Limit(0.97, ">", "policy tether.toml")
    assert levels("mirage", {"c2st_auc": 0.95}) == {"detectable": "fail"}
    assert levels("mirage", {"c2st_auc": 0.95}, fail_auc=loose) == {"detectable": "warn"}
    assert levels("mirage", {"c2st_auc": 0.97}, fail_auc=loose) == {"detectable": "warn"}
    (v,) = kind("mirage").judge({"c2st_auc": 0.85}, overrides={"fail_auc": policy})
    assert v.rule == "mirage AUC ≥ 0.75 warns (default), > 0.8 fails (policy tether.toml)"
    assert v.threshold == 0.8


def test_an_unknown_limit_is_refused():
    with pytest.raises(NotFoundError, match="no limit 'max_auc'.*warn_auc, fail_auc"):
        kind("mirage").judge({"c2st_auc": 0.5}, overrides={"max_auc": Limit(0.8)})


def test_policy_rules_become_verdicts():
    from tether.verdicts import policy

    rules = [{"rule": "max_synthetic_share", "target": "train", "passed": False, "value": 0.6,
              "limit": 0.5, "message": "60 of 100 samples synthetic"},
             {"rule": "min_holdout_real", "target": "holdout", "passed": True, "value": 300,
              "limit": 200, "message": "300 of 300 rows real"}]
    failed, passed = policy({"rules": rules}, "tether.toml")
    assert (failed.level, passed.level) == ("fail", "pass")
    assert failed.action.startswith("lower the synthetic share of train to at most 0.5 (now 0.6)")
    assert failed.command == "tether check --policy tether.toml"
    assert passed.rule == "min_holdout_real ≥ 200 (policy tether.toml)" and not passed.action


def test_next_actions_most_severe_first_at_most_five():
    def v(level: str, name: str, evidence: tuple[str, ...] = ()) -> Verdict:
        return Verdict("k", name, level, name, "rule", action=f"do {name}", evidence=evidence)

    verdicts = [v("warn", "w1"), v("pass", "p"), v("fail", "f1"), v("warn", "w2", ("id",)),
                v("fail", "f2", ("id",)), v("warn", "w3"), v("warn", "w4"),
                Verdict("k", "quiet", "fail", "no action", "rule")]
    assert [a.check for a in next_actions(verdicts)] == ["f2", "f1", "w2", "w1", "w3"]
    assert worst(verdicts) == "fail" and worst([]) is None


def test_verdict_round_trip_and_bad_level():
    v = Verdict("mirage", "detectable", "warn", "f", "r", 0.8, 0.75, "act", ("a", "b"), "cmd")
    assert Verdict.from_dict(v.to_dict()) == v
    assert v.severity == LEVELS.index("warn") == 1
    with pytest.raises(ValueError, match="verdict level 'ok'"):
        Verdict("mirage", "detectable", "ok", "f", "r")


def test_results_carry_their_verdicts(report_store):
    """A registered result judges itself; its to_dict (the saved data, --json) holds the same
    verdicts, and from_dict ignores them on the way back."""
    with Store(report_store, read_only=True) as store:
        saved = {k.name: store.latest_result(k.name) for k in KINDS}
    for k in KINDS:
        data = saved[k.name].data
        assert data["verdicts"], k.name  # saved through to_dict: the central mechanism
        result = k.result_type.from_dict(data)
        assert [v.to_dict() for v in result.verdicts] == result.to_dict()["verdicts"] \
            == data["verdicts"], k.name
        assert {v.level for v in result.verdicts} <= set(LEVELS)
    mirage = kind("mirage").result_type.from_dict(saved["mirage"].data)
    assert mirage.c2st_auc >= 0.9 and mirage.verdicts[0].level == "fail"
    overlap = {v.check: v for v in
               kind("overlap").result_type.from_dict(saved["overlap"].data).verdicts}
    assert overlap["contamination"].level == "fail"  # each synthetic row shares its parent's text
    assert len(overlap["contamination"].evidence) == 8
