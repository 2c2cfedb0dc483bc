"""Verdicts: pass, warn or fail for every finding, with the rule that decided it.

Each registered kind (:data:`tether.results.KINDS`) names its rule function here and declares its
limits (documented defaults) beside it; a policy's threshold, where it names one, replaces the
default (:meth:`tether.results.Kind.judge`). A rule reads the kind's JSON form (``to_dict()``, the
form the store saves) and the saved parameters (dataset names, for plain-language findings), so
that a result in memory, a saved one and the report all judge the same numbers the same way.

Default limits (see each kind's ``limits`` in :mod:`tether.results`):

- mirage: C2ST AUC ≥ 0.75 warns, ≥ 0.9 fails (a policy's ``max_auc`` replaces the failing limit:
  AUC > max_auc fails, as ``tether check`` has it);
- overlap: any eval item found in the training data fails (contamination); synthetic samples
  significantly closer to their sources than unseen real data fails (memorization);
- coverage: recall of real by synthetic < 0.8 warns, < 0.5 fails;
- labels: label issue rate ≥ 0.05 warns, ≥ 0.15 fails;
- generator: any significant bias slice warns; a systematic share of errors ≥ 0.5 warns;
- diversity: any significant drop between generations warns (collapse);
- faithfulness: label flip rate ≥ 0.1 warns, ≥ 0.25 fails;
- style: any significantly shifted style feature warns;
- eval: any failed synthetic suite fails; an inflation gap ≥ 0.05 warns; any warning (a model
  family wrote a suite, no threshold, a mixed suite) warns;
- estimate: informational (passes);
- sweep: accuracy significantly falling with the synthetic share warns (the slope's upper
  bound < 0);
- sensitivity: a better labeller buying ≥ 0.02 accuracy warns.

Example:
    >>> v = mirage({"c2st_auc": 0.95, "auc_ci": [0.93, 0.97]}, {"real": "real",
    ...            "synthetic": "gen"}, {"warn_auc": Limit(0.75), "fail_auc": Limit(0.9)})[0]
    >>> v.level, v.finding
    ('fail', "synthetic pool 'gen' is easily told apart from real 'real': AUC 0.950 [0.930, 0.970]")
    >>> v.rule
    'mirage AUC ≥ 0.75 warns, ≥ 0.9 fails (default)'
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Verdict levels, least severe first.
LEVELS = ("pass", "warn", "fail")
#: Most sample ids an action names.
EVIDENCE = 8

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<": operator.lt, "<=": operator.le}
_SIGNS = {">=": "≥", ">": ">", "<": "<", "<=": "≤"}


@dataclass(frozen=True)
class Limit:
    """A threshold: a value is over it when ``value <op> limit`` (``op`` one of ≥ > < ≤);
    ``source`` says who set it (``default`` or the policy file).

    >>> Limit(0.9).over(0.95), Limit(0.5, "<").over(0.7)
    (True, False)
    """

    value: float
    op: str = ">="
    source: str = "default"

    def over(self, value: float | None) -> bool:
        return value is not None and _OPS[self.op](value, self.value)

    def text(self) -> str:
        return f"{_SIGNS[self.op]} {self.value:g}"


@dataclass(frozen=True)
class Verdict:
    """One finding judged: ``level`` (pass|warn|fail), the finding in plain language, the rule
    that decided it, the measured ``value`` against the ``threshold``, and for a warning or a
    failure the ``action`` to take with its ``evidence`` (sample ids) and ``command``.

    >>> v = Verdict("mirage", "detectable", "warn", "…", "…", 0.8, 0.75)
    >>> Verdict.from_dict(v.to_dict()) == v
    True
    """

    kind: str
    check: str
    level: str
    finding: str
    rule: str
    value: float | int | None = None
    threshold: float | int | None = None
    action: str = ""
    evidence: tuple[str, ...] = ()
    command: str = ""

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"verdict level {self.level!r}; expected one of {', '.join(LEVELS)}")

    @property
    def severity(self) -> int:
        """0 pass, 1 warn, 2 fail."""
        return LEVELS.index(self.level)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "check": self.check, "level": self.level,
                "finding": self.finding, "rule": self.rule, "value": self.value,
                "threshold": self.threshold, "action": self.action,
                "evidence": list(self.evidence), "command": self.command}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        return cls(**{**{k: data[k] for k in cls.__dataclass_fields__ if k in data},
                      "evidence": tuple(data.get("evidence") or ())})


def worst(verdicts: Sequence[Verdict]) -> str | None:
    """The most severe level among ``verdicts`` (None when there are none).

    >>> worst([Verdict("a", "x", "pass", "", ""), Verdict("a", "y", "warn", "", "")])
    'warn'
    """
    return max((v.level for v in verdicts), key=LEVELS.index, default=None)


def next_actions(verdicts: Sequence[Verdict], limit: int = 5) -> list[Verdict]:
    """The verdicts that call for an action, most severe first, those naming samples (the
    most concrete) first among equals, at most ``limit``."""
    todo = [v for v in verdicts if v.level != "pass" and v.action]
    return sorted(todo, key=lambda v: (-v.severity, not v.evidence))[:limit]


# ----------------------------------------------------------------------------- helpers
def _grade(value: float | None, limits: Mapping[str, Limit], warn: str,
           fail: str) -> tuple[str, Limit]:
    """The level of ``value`` under the limits named ``warn`` and ``fail``, and the limit that
    decided it (the warning limit when it passes)."""
    if limits[fail].over(value):
        return "fail", limits[fail]
    if limits[warn].over(value):
        return "warn", limits[warn]
    return "pass", limits[warn]


def _rule(what: str, limits: Mapping[str, Limit], warn: str | None, fail: str | None) -> str:
    parts = [(limits[k], verb) for k, verb in ((warn, "warns"), (fail, "fails")) if k]
    sources = {lim.source for lim, _ in parts}
    if len(sources) == 1:
        return f"{what} " + ", ".join(f"{lim.text()} {verb}" for lim, verb in parts) + \
            f" ({sources.pop()})"
    return f"{what} " + ", ".join(f"{lim.text()} {verb} ({lim.source})" for lim, verb in parts)


def _num(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"


def _ci(ci: Any, digits: int = 3) -> str:
    if not isinstance(ci, Sequence) or len(ci) != 2 or ci[0] is None:
        return ""
    return f" [{float(ci[0]):.{digits}f}, {float(ci[1]):.{digits}f}]"


def _pct(value: Any, ci: Any = None) -> str:
    if value is None:
        return "–"
    out = f"{float(value):.0%}"
    if isinstance(ci, Sequence) and len(ci) == 2 and ci[0] is not None:
        out += f" [{float(ci[0]) * 100:.0f}, {float(ci[1]) * 100:.0f}]"
    return out


def _name(params: Mapping[str, Any], key: str, fallback: str) -> str:
    value = params.get(key)
    return f"{fallback} {value!r}" if isinstance(value, str) and not value.startswith("<") \
        else fallback


def _ids(values: Sequence[Any]) -> tuple[str, ...]:
    return tuple(str(v) for v in list(values)[:EVIDENCE])


Rule = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Limit]], list[Verdict]]


# ------------------------------------------------------------------------------- rules
def mirage(data: Mapping[str, Any], params: Mapping[str, Any],
           limits: Mapping[str, Limit]) -> list[Verdict]:
    """C2ST AUC: how easily a classifier tells synthetic from real."""
    auc = data.get("c2st_auc")
    level, decided = _grade(auc, limits, "warn_auc", "fail_auc")
    pool, real = _name(params, "synthetic", "synthetic pool"), _name(params, "real", "real")
    how = {"fail": "is easily told apart from", "warn": "can be told apart from",
           "pass": "is hard to tell apart from"}[level]
    finding = f"{pool} {how} {real}: AUC {_num(auc)}{_ci(data.get('auc_ci'))}"
    action, evidence = "", ()
    if level != "pass":
        giveaways = [re.sub(r"\b(char|word|stat):", "", str(f.get("feature", "")))
                     for f in (data.get("top_features") or [])[:3]]
        evidence = _ids(data.get("most_synthetic") or [])
        action = (f"{pool} is {'trivially ' if level == 'fail' else ''}detectable"
                  + (f"; its giveaways are {', '.join(giveaways)}" if giveaways else "")
                  + ("; the evidence lists its most synthetic-looking samples"
                     if evidence else ""))
    return [Verdict("mirage", "detectable", level, finding,
                    _rule("mirage AUC", limits, "warn_auc", "fail_auc"), auc, decided.value,
                    action, evidence)]


def overlap(data: Mapping[str, Any], params: Mapping[str, Any],
            limits: Mapping[str, Limit]) -> list[Verdict]:
    """Contamination of the eval set by the training set, and memorization of sources."""
    bad, total = data.get("contaminated_eval"), data.get("eval_count")
    fail = limits["max_contaminated"]
    train, evals = _name(params, "train", "training data"), _name(params, "eval", "eval set")
    level = "fail" if fail.over(bad) else "pass"
    near, ngram = data.get("near_duplicate_eval") or 0, data.get("ngram_eval") or 0
    finding = (f"{bad:,} of {total:,} items of {evals} are in {train} ({near:,} near-duplicates, "
               f"{ngram:,} share a long passage): "
               f"{_pct(data.get('contamination_rate'), data.get('contamination_ci'))}"
               if bad else f"no item of {evals} is found in {train}")
    matches = data.get("eval_matches") or {}
    ranked = sorted(matches, key=lambda i: (-(matches[i] or {}).get("near_duplicates", 0), i))
    evidence = _ids(ranked) if level == "fail" else ()
    action = (f"remove these {bad:,} items of {evals} that are near-copies of training items "
              f"or share a long passage with one" if evidence else "")
    out = [Verdict("overlap", "contamination", level, finding,
                   f"eval items found in training data {fail.text()} fails ({fail.source})",
                   bad, fail.value, action, evidence)]
    memo = data.get("memorization")
    if isinstance(memo, Mapping):
        copied = bool(memo.get("copied"))
        share = memo.get("copy_share_synthetic")
        finding = (f"synthetic samples sit closer to their real sources than unseen real data "
                   f"does: copy share {_pct(share, memo.get('copy_share_synthetic_ci'))} "
                   f"against {_pct(memo.get('copy_share_holdout'))} for the holdout"
                   if copied else
                   f"synthetic samples are no closer to their sources than unseen real data "
                   f"(copy share {_pct(share, memo.get('copy_share_synthetic_ci'))})")
        closest = sorted(memo.get("synthetic") or [], key=lambda r: r.get("distance", 1))
        evidence = _ids([r["id"] for r in closest]) if copied else ()
        out.append(Verdict(
            "overlap", "memorization", "fail" if copied else "pass", finding,
            "synthetic significantly closer to its sources than the holdout "
            "(one-sided Mann–Whitney, α 0.05) fails (default)", share,
            memo.get("copy_share_holdout"),
            "regenerate or drop the synthetic samples that copy their sources"
            if copied else "", evidence))
    return out


def coverage(data: Mapping[str, Any], params: Mapping[str, Any],
             limits: Mapping[str, Limit]) -> list[Verdict]:
    """Recall: how much of the real data the synthetic data reaches."""
    recall = data.get("recall")
    level, decided = _grade(recall, limits, "warn_recall", "fail_recall")
    real = _name(params, "real", "real data")
    finding = f"synthetic data reaches {_pct(recall, data.get('recall_ci'))} of {real}"
    uncovered = data.get("uncovered_real") or []
    evidence = _ids([i for m in uncovered for i in (m.get("examples") or [])])
    modes = ", ".join(f"{m.get('label') or 'cluster ' + str(m.get('cluster'))} "
                      f"({_pct(m.get('reached'))} reached)" for m in uncovered[:3])
    action = (f"generate for the parts of {real} synthetic data misses"
              + (f": {modes} (evidence: real examples)" if modes else "")
              if level != "pass" else "")
    return [Verdict("coverage", "recall", level, finding,
                    _rule("recall of real", limits, "warn_recall", "fail_recall"), recall,
                    decided.value, action, evidence if action else ())]


def labels(data: Mapping[str, Any], params: Mapping[str, Any],
           limits: Mapping[str, Limit]) -> list[Verdict]:
    """The share of samples confident learning flags as likely mislabelled."""
    rate = data.get("issue_rate")
    level, decided = _grade(rate, limits, "warn_rate", "fail_rate")
    where = _name(params, "dataset", "dataset")
    finding = (f"{data.get('issue_count', 0):,} of {data.get('n', 0):,} labels in {where} look "
               f"wrong: {_pct(rate, data.get('issue_rate_ci'))}")
    groups = data.get("by_generator") or {}
    worst_gen = max(groups, key=lambda g: groups[g].get("rate") or 0, default=None)
    evidence = _ids([i.get("id") for i in data.get("issues") or []]) if level != "pass" else ()
    action = (f"review the likely label errors in {where}"
              + (f" (worst generator {worst_gen}: {_pct(groups[worst_gen].get('rate'))})"
                 if worst_gen else "") if level != "pass" else "")
    return [Verdict("labels", "issue_rate", level, finding,
                    _rule("label issue rate", limits, "warn_rate", "fail_rate"), rate,
                    decided.value, action, evidence)]


def generator(data: Mapping[str, Any], params: Mapping[str, Any],
              limits: Mapping[str, Limit]) -> list[Verdict]:
    """Bias slices (inputs the generator mislabels more than the rest) and systematic errors."""
    slices = sorted(data.get("slices") or [], key=lambda s: -(s.get("error_rate") or 0))
    warn = limits["max_slices"]
    level = "warn" if warn.over(len(slices)) else "pass"
    if slices:
        s = slices[0]
        finding = (f"the generator mislabels {s.get('definition', s.get('kind', 'a slice'))} at "
                   f"{_pct(s.get('error_rate'), s.get('error_rate_ci'))} against "
                   f"{_pct(s.get('rest_error_rate'))} for the rest ({len(slices)} significant "
                   f"slice{'s' if len(slices) != 1 else ''} of {data.get('slices_tested', 0)} "
                   "tested)")
    else:
        finding = (f"no slice is mislabelled significantly more than the rest "
                   f"({data.get('slices_tested', 0)} tested)")
    out = [Verdict("generator", "bias_slices", level, finding,
                   f"significant bias slices (Fisher, Holm 0.05) {warn.text()} warns "
                   f"({warn.source})", len(slices), warn.value,
                   f"fix the generator for this slice: {finding}" if slices else "")]
    share = data.get("systematic_share")
    level, decided = ("warn", limits["warn_systematic"]) \
        if limits["warn_systematic"].over(share) else ("pass", limits["warn_systematic"])
    out.append(Verdict(
        "generator", "systematic", level,
        f"{_pct(share, data.get('systematic_share_ci'))} of the generator's "
        f"{data.get('errors', 0):,} errors are systematic (bias slices and confusions), "
        f"not noise; accuracy {_num(data.get('accuracy'))}{_ci(data.get('accuracy_ci'))}",
        f"systematic share of errors {decided.text()} warns ({decided.source})", share,
        decided.value,
        "the generator's errors follow a pattern: see its top confusions and slices, and "
        "correct the prompt or labeller" if level == "warn" else ""))
    return out


def diversity(data: Mapping[str, Any], params: Mapping[str, Any],
              limits: Mapping[str, Limit]) -> list[Verdict]:
    """Significant drops in diversity from one generation (or time bin) to the next."""
    drops = list(data.get("warnings") or [])
    warn = limits["max_drops"]
    level = "warn" if warn.over(len(drops)) else "pass"
    where = _name(params, "dataset", "dataset")
    finding = (f"diversity of {where} collapses: {drops[0]}"
               + (f" (and {len(drops) - 1} more)" if len(drops) > 1 else "")
               if drops else f"no significant drop in diversity across the generations of {where}")
    return [Verdict("diversity", "collapse", level, finding,
                    f"significant drops in diversity {warn.text()} warns ({warn.source})",
                    len(drops), warn.value,
                    f"stop training on the later generations of {where}, or mix fresh real data "
                    f"back in: {drops[0]}" if drops else "")]


def faithfulness(data: Mapping[str, Any], params: Mapping[str, Any],
                 limits: Mapping[str, Limit]) -> list[Verdict]:
    """The share of derived samples whose meaning (predicted label) flips from the parent's."""
    rate = data.get("flip_rate")
    level, decided = _grade(rate, limits, "warn_flip", "fail_flip")
    finding = (f"{data.get('flips', 0):,} of {data.get('n_children', 0):,} derived samples "
               f"change their parent's label: {_pct(rate, data.get('flip_ci'))}")
    flipped = [w for w in data.get("worst") or [] if w.get("flipped")]
    evidence = _ids([w.get("child_id") for w in flipped]) if level != "pass" else ()
    action = (f"drop or regenerate the {data.get('flips', 0):,} derived samples that change "
              "their parent's meaning" if evidence else "")
    return [Verdict("faithfulness", "flip_rate", level, finding,
                    _rule("label flip rate", limits, "warn_flip", "fail_flip"), rate,
                    decided.value, action, evidence)]


def style(data: Mapping[str, Any], params: Mapping[str, Any],
          limits: Mapping[str, Limit]) -> list[Verdict]:
    """Style features (length, hedging, formatting …) that shift significantly."""
    flagged, findings = list(data.get("flagged") or []), list(data.get("findings") or [])
    warn = limits["max_shifts"]
    level = "warn" if warn.over(len(flagged)) else "pass"
    finding = (f"{len(flagged)} style feature{'s' if len(flagged) != 1 else ''} shift "
               f"significantly: {findings[0] if findings else ', '.join(flagged)}"
               if flagged else "no style feature shifts significantly")
    features = data.get("features") or {}
    evidence = _ids((features.get(flagged[0]) or {}).get("examples") or []) if flagged else ()
    # two findings that say the same (2.4x shorter in words, in characters) are one action
    distinct: dict[str, str] = {}
    for f in findings:
        distinct.setdefault(re.sub(r"\s*\([^()]*\)$", "", f), f)
    action = (f"change the generator's prompt or decoding: {'; '.join(list(distinct.values())[:2])}"
              if flagged else "")
    return [Verdict("style", "shifts", level, finding,
                    f"significantly shifted style features (BH-adjusted, |δ| ≥ 0.147) "
                    f"{warn.text()} warns ({warn.source})", len(flagged), warn.value, action,
                    evidence)]


def evaluation(data: Mapping[str, Any], params: Mapping[str, Any],
               limits: Mapping[str, Limit]) -> list[Verdict]:
    """Failed synthetic suites, the inflation gap of synthetic over real, and warnings."""
    failed = list(data.get("failed") or [])
    fail = limits["max_failed"]
    level = "fail" if fail.over(len(failed)) else "pass"
    out = [Verdict("eval", "synthetic_suites", level,
                   f"synthetic suite{'s' if len(failed) != 1 else ''} "
                   f"{', '.join(repr(f) for f in failed)} below their pass threshold"
                   if failed else "every synthetic suite with a threshold passes it",
                   f"failed synthetic suites {fail.text()} fails ({fail.source})", len(failed),
                   fail.value, f"fix the model on the failed synthetic suites: "
                               f"{', '.join(failed)}" if failed else "")]
    inflation = data.get("inflation")
    if isinstance(inflation, Mapping) and inflation.get("gap") is not None:
        gap, warn = inflation["gap"], limits["warn_gap"]
        level = "warn" if warn.over(gap) else "pass"
        metric = inflation.get("metric") or "accuracy"
        what = metric if metric == "accuracy" else f"mean {metric}"
        finding = (f"synthetic suites overstate real {what} by {gap:+.3f}"
                   f"{_ci(inflation.get('ci'))} (synthetic "
                   f"{_num(inflation.get('synthetic_accuracy'))}, real "
                   f"{_num(inflation.get('real_accuracy'))})")
        out.append(Verdict("eval", "inflation", level, finding,
                           f"inflation gap {warn.text()} warns ({warn.source})", gap, warn.value,
                           "report the real suites' numbers, not the synthetic ones: "
                           + finding if level == "warn" else ""))
    warnings = list(data.get("warnings") or [])
    warn = limits["max_warnings"]
    level = "warn" if warn.over(len(warnings)) else "pass"
    out.append(Verdict("eval", "warnings", level,
                       "; ".join(warnings) if warnings else "no warning (families, thresholds, "
                                                           "mixed suites)",
                       f"evaluation warnings (a model family grading its own suite, …) "
                       f"{warn.text()} warns ({warn.source})", len(warnings), warn.value,
                       warnings[0] if warnings else ""))
    return out


def estimate(data: Mapping[str, Any], params: Mapping[str, Any],
             limits: Mapping[str, Limit]) -> list[Verdict]:
    """Prediction-powered estimate: informational, it always passes."""
    best = data.get("ppi_pp") or data.get("ppi") or data.get("classical") or {}
    eff = (data.get("effective_n") or {}).get("ppi_pp")
    return [Verdict("estimate", "estimate", "pass",
                    f"{data.get('metric', 'metric')} {_num(best.get('estimate'))}"
                    f"{_ci(best.get('ci'))} (PPI++ on {data.get('n_gold', 0):,} gold and "
                    f"{data.get('n_unlabelled', 0):,} unlabelled samples"
                    + (f", worth {eff:,.0f} gold samples)" if eff else ")"),
                    "informational: no threshold", best.get("estimate"), None)]


def sweep(data: Mapping[str, Any], params: Mapping[str, Any],
          limits: Mapping[str, Limit]) -> list[Verdict]:
    """The trend of real held-out accuracy over the synthetic share."""
    trend = data.get("trend") or {}
    slope, ci = trend.get("slope"), trend.get("ci")
    high = ci[1] if isinstance(ci, Sequence) and len(ci) == 2 else None
    warn = limits["max_slope_upper"]
    level = "warn" if warn.over(high) else "pass"
    best = data.get("best") or {}
    finding = (f"real held-out accuracy {'falls' if level == 'warn' else 'does not fall'} "
               f"significantly as the synthetic share grows: slope {_num(slope)}{_ci(ci)}; "
               f"best share {_num(best.get('ratio'), 2)} (accuracy {_num(best.get('accuracy'))})")
    return [Verdict("sweep", "trend", level, finding,
                    f"upper bound of the accuracy slope {warn.text()} warns ({warn.source})",
                    slope, warn.value, "" if level == "pass" else
                    f"keep the synthetic share at or below {_num(best.get('ratio'), 2)}: {finding}"
                    if best.get("ratio") else
                    f"this synthetic data does not help: train on real data only ({finding})")]


def sensitivity(data: Mapping[str, Any], params: Mapping[str, Any],
                limits: Mapping[str, Limit]) -> list[Verdict]:
    """How much real accuracy a perfect labeller would buy over the generator's labels."""
    gold = ((data.get("gold") or {}).get("accuracy") or {}).get("mean")
    generated = ((data.get("generated") or {}).get("accuracy") or {}).get("mean")
    gain = None if gold is None or generated is None else gold - generated
    warn = limits["warn_gain"]
    level = "warn" if warn.over(gain) else "pass"
    err = data.get("generator_error") or {}
    finding = (f"gold labels instead of the generator's buy {gain:+.3f} real held-out accuracy "
               f"(generator error {_pct(err.get('rate'), err.get('ci'))})" if gain is not None
               else "no accuracy to compare")
    return [Verdict("sensitivity", "gain", level, finding,
                    f"accuracy bought by gold labels {warn.text()} warns ({warn.source})", gain,
                    warn.value, f"improve the labeller before generating more: {finding}"
                    if level == "warn" else "")]


#: What to do when a policy rule fails, by rule (``{target}``, ``{value}``, ``{limit}``).
_POLICY_ACTIONS = {
    "max_synthetic_share": "lower the synthetic share of {target} to at most {limit} (now {value})",
    "acceptance_suite_real": "make acceptance suite {target} entirely real, inputs and labels",
    "required_field": "record {target} for every synthetic row",
    "max_mirage_auc": "make {target} harder to tell apart (AUC {value}, limit {limit}), or re-run "
                      "the audit if it is missing or stale",
    "no_contamination": "remove the eval items of {target} that are in the training data",
    "min_holdout_real": "add real, human-labelled rows to {target} (now {value}, at least "
                        "{limit})",
}


def policy(data: Mapping[str, Any], source: str = "policy") -> list[Verdict]:
    """One verdict per checked rule of a policy (``CheckResult.to_dict()``): pass or fail.

    >>> policy({"rules": [{"rule": "max_mirage_auc", "target": "a vs b", "passed": False,
    ...                    "value": 0.9, "limit": 0.8, "message": "latest audit"}]},
    ...        "tether.toml")[0].rule
    'max_mirage_auc ≤ 0.8 (policy tether.toml)'
    """
    out = []
    for r in data.get("rules") or []:
        bound = "≥" if r["rule"] == "min_holdout_real" else "≤"
        passed = bool(r.get("passed"))
        finding = f"{r['target']}: {r.get('message', '')}"
        out.append(Verdict("policy", f"{r['rule']}:{r['target']}", "pass" if passed else "fail",
                           finding, f"{r['rule']} {bound} {r.get('limit')} (policy {source})",
                           r.get("value"), r.get("limit"),
                           "" if passed else _POLICY_ACTIONS.get(
                               r["rule"], "fix {target}").format(**{
                                   k: f"{v:.3g}" if isinstance(v, float) else v
                                   for k, v in r.items()}) + f": {r.get('message')}",
                           command=f"tether check --policy {source}"))
    return out
