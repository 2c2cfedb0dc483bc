"""The discipline as a CI gate: a TOML policy of limits, checked against the store.

A policy states limits; :func:`check` measures each against the store and returns one pass/fail
row per rule with the measured value, so that ``tether check`` can print them and exit 1 when
any fails. Rules:

- ``max_synthetic_share`` (global default) and ``[datasets.NAME] max_synthetic_share``: the
  share of synthetic inputs in a dataset. ``NAME`` may be an fnmatch glob (``[datasets."train*"]``);
  an exact name wins over a glob, the first matching glob over the global default. The global
  default applies only to datasets that *mix* real and synthetic rows: a pool meant to be 100%
  synthetic (or an all-real set) is not held to it. Name a dataset or glob to limit it anyway;
  an exact name absent from the store fails;
- ``acceptance_suites``: datasets used as acceptance suites must be entirely real (inputs and
  labels);
- ``required_fields``: provenance fields every synthetic row must carry;
- ``[[mirage]] real = "A" synthetic = "B" max_auc = 0.8``: the C2ST AUC of the newest mirage
  audit of exactly that pair, which must be newer than the last write to either dataset (else
  the rule fails as stale). A top-level ``max_mirage_auc`` is the default ``max_auc`` of each
  declared pair; with no ``[[mirage]]`` table it keeps its old, *unscoped* meaning (the newest
  mirage audit of any pair) — scope it with ``[[mirage]]``;
- ``[[no_contamination]] train = "A" eval = "B"``: no eval item may be an exact copy of a
  training item, a near-duplicate (``threshold``, default Jaccard 0.8) or share a long passage
  (the overlap audit's MinHash/LSH and 13-gram checks);
- ``min_holdout_real`` with ``holdout = "NAME"``: real, human-labelled rows in the held-out set.

Example:
    >>> from tether import Store
    >>> policy = parse_policy('max_synthetic_share = 0.3')
    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("news", [{"text": f"Rates rise {i}", "label": "business"}
    ...                           for i in range(3)], origin="real", label_origin="real")
    ...     _ = s.ingest("news", [{"text": "RATES RISE", "label": "business"}],
    ...                  origin="synthetic", label_origin="real", family="rule",
    ...                  generator="upper@1")
    ...     result = check(s, policy)
    >>> result.passed, result.rules[0].value
    (True, 0.25)
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tether.audit.mirage import MirageResult
from tether.audit.overlap import find_overlap
from tether.config import DATASET_KEYS, toml_lines
from tether.errors import PolicyError
from tether.store import Store

#: Fields ``required_fields`` may name (the store derives the others, so they are never empty).
CHECKABLE_FIELDS = ("label_origin", "family", "generator", "generator_config", "domain", "task",
                    "parents")
_TOP_KEYS = ("max_synthetic_share", "acceptance_suites", "required_fields", "max_mirage_auc",
             "holdout", "min_holdout_real", "datasets", "no_contamination", "mirage")


@dataclass(frozen=True)
class MiragePair:
    """One ``[[mirage]]`` entry: the newest, fresh mirage audit of exactly ``real`` vs
    ``synthetic`` must have a C2ST AUC of at most ``max_auc``."""

    real: str
    synthetic: str
    max_auc: float


@dataclass(frozen=True)
class Contamination:
    """One ``[[no_contamination]]`` entry: no item of ``eval`` may also be in ``train`` (as an
    exact copy, a near-duplicate at Jaccard ≥ ``threshold`` or a shared long passage)."""

    train: str
    eval: str
    threshold: float = 0.8


@dataclass(frozen=True)
class Policy:
    """A parsed policy file; ``None`` / empty means the rule is not asked for."""

    max_synthetic_share: float | None = None
    dataset_shares: dict[str, float] = field(default_factory=dict)
    acceptance_suites: tuple[str, ...] = ()
    required_fields: tuple[str, ...] = ()
    max_mirage_auc: float | None = None
    no_contamination: tuple[Contamination, ...] = ()
    mirage: tuple[MiragePair, ...] = ()
    holdout: str | None = None
    min_holdout_real: int | None = None
    source: str = "<policy>"


#: Every rule a policy can state: its id (``RuleResult.rule``, the SARIF ``ruleId``), how its
#: measured value must compare with its limit, and what it asks.
RULES: dict[str, tuple[str, str]] = {
    "max_synthetic_share": ("≤", "A dataset's share of synthetic inputs stays within its limit."),
    "acceptance_suite_real": ("≤", "An acceptance suite holds only real inputs with real labels."),
    "required_field": ("≤", "Every synthetic row carries this provenance field."),
    "max_mirage_auc": ("≤", "A fresh mirage audit of the pair has a C2ST AUC within the limit."),
    "no_contamination": ("≤", "No eval item is a copy, near-copy or long passage of training."),
    "min_holdout_real": ("≥", "The held-out set has at least this many real, labelled rows."),
}

@dataclass(frozen=True)
class RuleResult:
    """One rule checked: what it targets, the measured value against the limit, pass or fail.

    ``key`` is the policy key that set the rule (``max_synthetic_share``,
    ``datasets.NAME.max_synthetic_share``, ``mirage[0]``, ``no_contamination[1]`` ...), by which
    the JUnit and SARIF reports point at its line of the policy file.
    """

    rule: str
    target: str
    passed: bool
    value: float | int | str | None
    limit: float | int | str | None
    message: str
    key: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def summary(self) -> str:
        """One line: the rule, its target, the measured value against the limit, the detail.

        >>> RuleResult("min_holdout_real", "holdout", False, 150, 200, "150 real").summary
        'min_holdout_real on holdout: measured 150, must be ≥ 200: 150 real'
        """
        bound = RULES.get(self.rule, ("≤", ""))[0]
        value = "nothing" if self.value is None else self.value
        return (f"{self.rule} on {self.target}: measured {value}, must be {bound} {self.limit}: "
                f"{self.message}")


@dataclass(frozen=True)
class CheckResult:
    """Every rule of a policy checked. ``to_dict()`` is the ``check --json`` contract;
    :meth:`to_junit` and :meth:`to_sarif` are the reports CI systems read (``check --format``).
    ``source`` is the policy file checked."""

    rules: tuple[RuleResult, ...]
    source: str = "<policy>"

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rules)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "policy": self.source,
                "rules": [r.to_dict() for r in self.rules]}

    def to_junit(self, policy_text: str | None = None) -> str:
        r"""JUnit XML: one ``<testsuite>`` for the policy, one ``<testcase>`` per rule, a
        ``<failure>`` carrying the message for each failed rule (what Jenkins, GitLab, Azure
        DevOps and the GitHub test-report actions show as test results). ``policy_text`` (the
        policy file's text) adds each rule's line to its output.

        >>> r = CheckResult((RuleResult("max_synthetic_share", "train", False, 0.4, 0.3,
        ...                             "40 of 100 samples synthetic"),), "tether.toml")
        >>> "<failure message=\"max_synthetic_share on train: measured 0.4" in r.to_junit()
        True
        """
        return to_junit(self, policy_text)

    def to_sarif(self, policy_text: str | None = None) -> dict[str, Any]:
        r"""A SARIF 2.1.0 log (for code-scanning annotations): the rules in
        ``runs[0].tool.driver.rules``, one result per checked rule (level ``error`` when it
        failed; kind ``pass`` and level ``none`` when it passed, as SARIF requires) located at
        the policy file, on the rule's line when ``policy_text`` is given.

        >>> r = CheckResult((RuleResult("min_holdout_real", "holdout", True, 250, 200, "ok",
        ...                             "min_holdout_real"),), "tether.toml")
        >>> loc = r.to_sarif("holdout = 'holdout'\nmin_holdout_real = 200\n")["runs"][0][
        ...     "results"][0]["locations"][0]["physicalLocation"]
        >>> loc["artifactLocation"]["uri"], loc["region"]["startLine"]
        ('tether.toml', 2)
        """
        return to_sarif(self, policy_text)


# ------------------------------------------------------------------------------ parsing
def _fail(source: str, key: str, message: str) -> PolicyError:
    return PolicyError(f"{source}, key {key}: {message}")


def _share(value: Any, source: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise _fail(source, key, f"expected a number between 0 and 1, got {value!r}")
    return float(value)


def _names(value: Any, source: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(source, key, f"expected a list of names, got {value!r}")
    return tuple(value)


def _name(value: Any, source: str, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(source, key, f"expected a dataset name, got {value!r}")
    return value


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse policy TOML; raise :class:`PolicyError` naming ``source`` and the key at fault.

    >>> parse_policy('max_mirage_auc = 0.8').max_mirage_auc
    0.8
    >>> parse_policy('max_mirage_auc = 2', "tether.toml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tether.errors.PolicyError: tether.toml, key max_mirage_auc: expected a number between 0 ...
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    for key in raw:
        if key not in _TOP_KEYS and key != "columns":  # [columns] is tether.config's
            raise _fail(source, key, f"unknown key; known keys: {', '.join(_TOP_KEYS)}")
    shares: dict[str, float] = {}
    tables = raw.get("datasets", {})
    if not isinstance(tables, dict):
        raise _fail(source, "datasets", "expected tables [datasets.NAME]")
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise _fail(source, f"datasets.{name}", "expected a table")
        for key in table:  # the other keys are tether.config's dataset defaults
            if key != "max_synthetic_share" and key not in DATASET_KEYS:
                raise _fail(source, f"datasets.{name}.{key}",
                            "unknown key; known keys: max_synthetic_share")
        if "max_synthetic_share" in table:
            shares[name] = _share(table["max_synthetic_share"], source,
                                  f"datasets.{name}.max_synthetic_share")
    fields = _names(raw.get("required_fields", []), source, "required_fields")
    for f in fields:
        if f not in CHECKABLE_FIELDS:
            raise _fail(source, "required_fields",
                        f"{f!r} is not a provenance field a row can lack; choose from "
                        f"{', '.join(CHECKABLE_FIELDS)}")
    pairs = raw.get("no_contamination", [])
    if not isinstance(pairs, list) or not all(isinstance(p, dict) for p in pairs):
        raise _fail(source, "no_contamination", 'expected [[no_contamination]] tables with '
                                                'train = "A" and eval = "B"')
    contamination = []
    for i, pair in enumerate(pairs):
        extra = set(pair) - {"train", "eval", "threshold"}
        if extra:
            raise _fail(source, f"no_contamination[{i}].{sorted(extra)[0]}",
                        "unknown key; known keys: train, eval, threshold")
        contamination.append(Contamination(
            _name(pair.get("train"), source, f"no_contamination[{i}].train"),
            _name(pair.get("eval"), source, f"no_contamination[{i}].eval"),
            _share(pair.get("threshold", 0.8), source, f"no_contamination[{i}].threshold")))
    default_auc = (_share(raw["max_mirage_auc"], source, "max_mirage_auc")
                   if "max_mirage_auc" in raw else None)
    mirages = raw.get("mirage", [])
    if not isinstance(mirages, list) or not all(isinstance(m, dict) for m in mirages):
        raise _fail(source, "mirage", 'expected [[mirage]] tables with real = "A", '
                                      'synthetic = "B" and max_auc')
    mirage_pairs = []
    for i, m in enumerate(mirages):
        extra = set(m) - {"real", "synthetic", "max_auc"}
        if extra:
            raise _fail(source, f"mirage[{i}].{sorted(extra)[0]}",
                        "unknown key; known keys: real, synthetic, max_auc")
        if "max_auc" not in m and default_auc is None:
            raise _fail(source, f"mirage[{i}].max_auc",
                        "missing (or set a top-level max_mirage_auc default)")
        mirage_pairs.append(MiragePair(
            _name(m.get("real"), source, f"mirage[{i}].real"),
            _name(m.get("synthetic"), source, f"mirage[{i}].synthetic"),
            _share(m["max_auc"], source, f"mirage[{i}].max_auc") if "max_auc" in m
            else default_auc))
    min_real = raw.get("min_holdout_real")
    if min_real is not None and (isinstance(min_real, bool) or not isinstance(min_real, int)
                                 or min_real < 0):
        raise _fail(source, "min_holdout_real", f"expected a whole number ≥ 0, got {min_real!r}")
    holdout = raw.get("holdout")
    if holdout is not None:
        holdout = _name(holdout, source, "holdout")
    if min_real is not None and holdout is None:
        raise _fail(source, "holdout", 'min_holdout_real needs the held-out dataset named: '
                                       'holdout = "NAME"')
    policy = Policy(
        max_synthetic_share=(_share(raw["max_synthetic_share"], source, "max_synthetic_share")
                             if "max_synthetic_share" in raw else None),
        dataset_shares=shares,
        acceptance_suites=_names(raw.get("acceptance_suites", []), source, "acceptance_suites"),
        required_fields=fields,
        max_mirage_auc=default_auc,
        no_contamination=tuple(contamination),
        mirage=tuple(mirage_pairs),
        holdout=holdout,
        min_holdout_real=min_real,
        source=source,
    )
    if policy == Policy(source=source):  # a gate that checks nothing would always pass
        raise PolicyError(f"{source}: the policy states no rule; `tether init` writes a "
                          "commented starter policy")
    return policy


def load_policy(path: str | Path) -> Policy:
    """Read and parse a policy file (see :func:`parse_policy`).

    Example:
        >>> load_policy("tether.toml")  # doctest: +SKIP
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{p}: cannot read the policy file: {exc.strerror}") from None
    return parse_policy(text, str(p))


# ----------------------------------------------------------------------------- checking
def _missing(name: str) -> str:
    return f"no dataset {name!r} in the store"


def _share_rules(store: Store, policy: Policy) -> list[RuleResult]:
    infos = {d.name: d for d in store.datasets()}
    default = policy.max_synthetic_share
    globs = {k: v for k, v in policy.dataset_shares.items() if any(c in k for c in "*?[")}
    exact = {k: v for k, v in policy.dataset_shares.items() if k not in globs}
    limits: dict[str, tuple[float, str]] = {}  # dataset -> (limit, the policy key setting it)
    for name, info in infos.items():
        if name in exact:
            continue
        glob = next((g for g in globs if fnmatch.fnmatchcase(name, g)), None)
        if glob is not None:
            limits[name] = (globs[glob], f"datasets.{glob}.max_synthetic_share")
        elif default is not None and info.real and info.synthetic:  # mixed datasets only
            limits[name] = (default, "max_synthetic_share")
    limits |= {k: (v, f"datasets.{k}.max_synthetic_share") for k, v in exact.items()}
    out = []
    for name, (limit, key) in limits.items():
        if not store.has_dataset(name):
            out.append(RuleResult("max_synthetic_share", name, False, None, limit, _missing(name),
                                  key))
            continue
        s = store.summary(name)
        share = round(s.synthetic_share, 6)
        out.append(RuleResult("max_synthetic_share", name, share <= limit, share, limit,
                              f"{s.by_origin['synthetic']:,} of {s.count:,} samples synthetic",
                              key))
    return out


def _acceptance_rules(store: Store, policy: Policy) -> list[RuleResult]:
    out = []
    for name in policy.acceptance_suites:
        if not store.has_dataset(name):
            out.append(RuleResult("acceptance_suite_real", name, False, None, 0, _missing(name),
                                  "acceptance_suites"))
            continue
        counts = store.realness(name)
        synthetic_inputs, synthetic_labels, total = (
            counts["synthetic_inputs"], counts["synthetic_labels"], counts["total"])
        bad = max(synthetic_inputs, synthetic_labels)
        out.append(RuleResult(
            "acceptance_suite_real", name, bad == 0, bad, 0,
            f"{synthetic_inputs:,} synthetic inputs and {synthetic_labels:,} labels not real, "
            f"of {total:,} rows" if bad else f"all {total:,} rows real, with real labels",
            "acceptance_suites"))
    return out


def _field_rules(store: Store, policy: Policy) -> list[RuleResult]:
    out = []
    for f in policy.required_fields:
        rows = store.missing_provenance(f)
        missing = sum(r[1] for r in rows)
        where = ", ".join(f"{d}: {m:,}" for d, m, _ in rows if m)
        total = sum(r[2] for r in rows)
        out.append(RuleResult("required_field", f, missing == 0, missing, 0,
                              f"synthetic rows without {f}: {where}" if missing
                              else f"all {total:,} synthetic rows carry {f}", "required_fields"))
    return out


def _scoped_mirage_rules(store: Store, policy: Policy) -> list[RuleResult]:
    out = []
    for i, pair in enumerate(policy.mirage):
        target, key = f"{pair.real} vs {pair.synthetic}", f"mirage[{i}]"
        rerun = f"tether audit mirage --real {pair.real} --synthetic {pair.synthetic}"
        absent = [n for n in (pair.real, pair.synthetic) if not store.has_dataset(n)]
        if absent:
            out.append(RuleResult("max_mirage_auc", target, False, None, pair.max_auc,
                                  _missing(absent[0]), key))
            continue
        saved = store.latest_result(MirageResult, real=pair.real, synthetic=pair.synthetic)
        if saved is None or saved.data.get("c2st_auc") is None:
            out.append(RuleResult("max_mirage_auc", target, False, None, pair.max_auc,
                                  f"not run: run `{rerun}`", key))
            continue
        written = store.last_write(pair.real, pair.synthetic)
        auc = round(float(saved.data["c2st_auc"]), 6)
        when = saved.created_at.isoformat()
        if written is not None and saved.created_at <= written:
            out.append(RuleResult("max_mirage_auc", target, False, auc, pair.max_auc,
                                  f"stale: the audit ({when}) predates the last write to the "
                                  f"datasets ({written.isoformat()}); run `{rerun}`", key))
            continue
        out.append(RuleResult("max_mirage_auc", target, auc <= pair.max_auc, auc, pair.max_auc,
                              f"latest mirage audit of this pair ({when})", key))
    return out


def _mirage_rule(store: Store, policy: Policy) -> list[RuleResult]:
    if policy.mirage:
        return _scoped_mirage_rules(store, policy)
    if policy.max_mirage_auc is None:
        return []
    saved = store.latest_result(MirageResult)
    limit = policy.max_mirage_auc
    if saved is None or saved.data.get("c2st_auc") is None:
        return [RuleResult("max_mirage_auc", "mirage", False, None, limit,
                           "not run: tether audit mirage --real A --synthetic B",
                           "max_mirage_auc")]
    auc = float(saved.data["c2st_auc"])
    params = saved.params
    pair = f"{params.get('real', '?')} vs {params.get('synthetic', '?')}"
    return [RuleResult("max_mirage_auc", pair, auc <= limit, round(auc, 6), limit,
                       f"latest mirage audit ({saved.created_at.isoformat()})", "max_mirage_auc")]


def _contamination_rules(store: Store, policy: Policy) -> list[RuleResult]:
    out = []
    for i, pair in enumerate(policy.no_contamination):
        target, key = f"{pair.train} → {pair.eval}", f"no_contamination[{i}]"
        absent = [n for n in (pair.train, pair.eval) if not store.has_dataset(n)]
        if absent:
            out.append(RuleResult("no_contamination", target, False, None, 0, _missing(absent[0]),
                                  key))
            continue
        # exact copies of any record (text or tabular) by dedup key (the content hash's input
        # normalised: Unicode NFKC, zero-width characters dropped), and near-duplicates or
        # shared long passages of text by the overlap audit (MinHash + LSH, 13-grams)
        exact = store.exact_copies(pair.eval, of=pair.train)
        train = store.table(pair.train, with_text=True)
        evals = store.table(pair.eval, with_text=True)
        near: set[str] = set()
        if train.num_rows and evals.num_rows:
            found = find_overlap(train, evals, threshold=pair.threshold)
            near = set(found.eval_matches)
        total = store.summary(pair.eval).count
        bad = len(exact | near)
        out.append(RuleResult("no_contamination", target, bad == 0, bad, 0,
                              f"{bad:,} of {total:,} eval items found in training data: "
                              f"{len(exact):,} exact copies, {len(near):,} near-duplicates "
                              f"(Jaccard ≥ {pair.threshold:g}) or shared 13-grams", key))
    return out


def _holdout_rule(store: Store, policy: Policy) -> list[RuleResult]:
    if policy.min_holdout_real is None or policy.holdout is None:
        return []
    name, limit = policy.holdout, policy.min_holdout_real
    if not store.has_dataset(name):
        return [RuleResult("min_holdout_real", name, False, None, limit, _missing(name),
                           "min_holdout_real")]
    counts = store.realness(name)
    real, total = counts["real"], counts["total"]
    return [RuleResult("min_holdout_real", name, real >= limit, real, limit,
                       f"{real:,} of {total:,} rows real with real labels", "min_holdout_real")]


def check(store: Store, policy: Policy) -> CheckResult:
    """Check every rule of ``policy`` against ``store``; the result passes when all rules do.

    Example:
        >>> from tether import Store
        >>> with Store(":memory:") as s:
        ...     check(s, parse_policy('max_mirage_auc = 0.8')).to_dict()["rules"][0]["message"]
        'not run: tether audit mirage --real A --synthetic B'
    """
    rules = [*_share_rules(store, policy), *_acceptance_rules(store, policy),
             *_field_rules(store, policy), *_mirage_rule(store, policy),
             *_contamination_rules(store, policy), *_holdout_rule(store, policy)]
    return CheckResult(tuple(rules), policy.source)


# ------------------------------------------------------------------ reports CI systems read
def _line(rule: RuleResult, lines: Mapping[str, int]) -> int | None:
    """The policy line of ``rule``: its key's, else its table's (``datasets.NAME``)."""
    return lines.get(rule.key) or lines.get(rule.key.rpartition(".")[0])


def to_junit(result: CheckResult, policy_text: str | None = None) -> str:
    """:meth:`CheckResult.to_junit`: JUnit XML in the shape of the schema Jenkins publishes
    (``testsuites > testsuite > testcase > failure | system-out``), which GitLab, Azure DevOps
    and the GitHub test-report actions read too."""
    import xml.etree.ElementTree as ET

    lines = toml_lines(policy_text) if policy_text is not None else {}
    failures = sum(not r.passed for r in result.rules)
    counts = {"tests": str(len(result.rules)), "failures": str(failures), "errors": "0",
              "time": "0"}
    root = ET.Element("testsuites", {"name": "tether check", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": f"tether check --policy {result.source}",
                                              **counts, "skipped": "0"})
    ET.SubElement(ET.SubElement(suite, "properties"), "property",
                  {"name": "policy", "value": result.source})
    for r in result.rules:
        case = ET.SubElement(suite, "testcase", {"classname": f"tether.policy.{r.rule}",
                                                 "name": f"{r.rule} {r.target}", "time": "0"})
        line = _line(r, lines)
        where = f"{result.source}, line {line}" if line else result.source
        if r.passed:
            ET.SubElement(case, "system-out").text = f"{r.summary}\n(rule at {where})"
        else:
            ET.SubElement(case, "failure", {"message": r.summary, "type": r.rule}).text = (
                f"{r.summary}\n(rule at {where})")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


#: The SARIF version :func:`to_sarif` writes, and the schema it validates against.
SARIF_SCHEMA = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
                "sarif-schema-2.1.0.json")


def _artifact(source: str) -> dict[str, str]:
    from urllib.parse import quote

    path = Path(source)
    if path.is_absolute():
        return {"uri": path.as_uri()}
    return {"uri": quote(path.as_posix()), "uriBaseId": "%SRCROOT%"}


def to_sarif(result: CheckResult, policy_text: str | None = None) -> dict[str, Any]:
    """:meth:`CheckResult.to_sarif`: a SARIF 2.1.0 log of one run of ``tether check``."""
    import tether

    lines = toml_lines(policy_text) if policy_text is not None else {}
    ids = list(RULES)
    rules = [{"id": rid, "name": "".join(w.title() for w in rid.split("_")),
              "shortDescription": {"text": text}, "fullDescription": {"text": text},
              "defaultConfiguration": {"level": "error"},
              "properties": {"limit": f"measured value {bound} limit"}}
             for rid, (bound, text) in RULES.items()]
    results = []
    for r in result.rules:
        location: dict[str, Any] = {"artifactLocation": _artifact(result.source)}
        if line := _line(r, lines):
            location["region"] = {"startLine": line}
        results.append({
            "ruleId": r.rule, "ruleIndex": ids.index(r.rule),
            "kind": "pass" if r.passed else "fail", "level": "none" if r.passed else "error",
            "message": {"text": r.summary},
            "locations": [{"physicalLocation": location}],
            "partialFingerprints": {"tetherRule/v1": f"{r.rule}:{r.target}"},
            "properties": {"target": r.target, "value": r.value, "limit": r.limit,
                           "policyKey": r.key}})
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "tether", "version": tether.__version__, "rules": rules}},
        "invocations": [{"executionSuccessful": True,
                         "commandLine": f"tether check --policy {result.source}"}],
        "results": results}]}


def write_starter_policy(path: str | Path = "tether.toml") -> str | None:
    """Write :func:`starter_policy` to ``path`` unless that file exists; the path written or None.

    Example:
        >>> write_starter_policy("tether.toml")  # doctest: +SKIP
        'tether.toml'
    """
    p = Path(path)
    if p.exists():
        return None
    p.write_text(starter_policy(), encoding="utf-8")
    return str(p)


def starter_policy() -> str:
    """A commented starter policy (``tether init`` writes it to ``tether.toml``).

    >>> parse_policy(starter_policy()).max_synthetic_share
    0.5
    """
    return _STARTER


_STARTER = '''\
# tether policy: the limits `tether check --policy tether.toml` enforces in CI.
# Each rule prints pass or fail with its measured value; any failure exits with code 1.

# Largest share of synthetic inputs a dataset mixing real and synthetic rows may hold (0 to 1).
# Pools that are entirely synthetic (or entirely real) are not held to it.
max_synthetic_share = 0.5

# Provenance every synthetic row must carry (any of: label_origin, family, generator,
# generator_config, domain, task, parents).
required_fields = ["family", "generator"]

# Datasets used as acceptance suites: every input and every label must be real.
# acceptance_suites = ["holdout"]

# The real held-out set, and the fewest real, human-labelled rows it may have.
# holdout = "holdout"
# min_holdout_real = 200

# A tighter limit for one dataset, or for every dataset matching a glob (applies even to
# all-synthetic datasets). An exact name beats a glob.
# [datasets."train*"]
# max_synthetic_share = 0.3

# No eval item may also be in training data: exact copies, near-duplicates (Jaccard at or
# above threshold, default 0.8) or shared 13-word passages. Repeat the table for more pairs.
# [[no_contamination]]
# train = "train"
# eval = "holdout"
# threshold = 0.8

# Largest AUC of the mirage audit of one real/synthetic pair (0.5 = indistinguishable).
# A missing audit, or one older than the last write to either dataset, fails: run
# `tether audit mirage --real A --synthetic B` first. Repeat the table for more pairs.
# [[mirage]]
# real = "real"
# synthetic = "pool"
# max_auc = 0.8
'''
