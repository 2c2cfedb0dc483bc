"""``tether check --format junit|sarif|json|text``: the reports CI systems read, and the exit codes.

JUnit XML is read back with ``junitparser`` (what CI-side tooling uses) and checked against the
elements and attributes of the JUnit schema Jenkins publishes (junit-10.xsd), which GitLab and
the GitHub test-report actions accept too. SARIF is validated against the OASIS SARIF 2.1.0 JSON
schema (errata01), vendored in tests/data so that no test needs the network.
"""

from __future__ import annotations

import json
import random
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tether import Store
from tether.cli import main
from tether.config import toml_lines
from tether.policy import check, load_policy

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"

POLICY = """\
max_synthetic_share = 0.5
acceptance_suites = ["holdout"]
required_fields = ["domain"]
holdout = "holdout"
min_holdout_real = 5

[datasets."train*"]
max_synthetic_share = 0.2

[[no_contamination]]
train = "train"
eval = "holdout"

[[mirage]]
real = "holdout"
synthetic = "pool"
max_auc = 0.8
"""
#: (rule, target) -> (passed, line of the rule in POLICY)
EXPECTED = {
    ("acceptance_suite_real", "holdout"): (True, 2),
    ("max_synthetic_share", "train"): (False, 8),
    ("required_field", "domain"): (False, 3),
    ("max_mirage_auc", "holdout vs pool"): (True, 14),
    ("no_contamination", "train → holdout"): (False, 10),
    ("min_holdout_real", "holdout"): (True, 5),
}


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(2000)]
    return [" ".join(rng.sample(vocab, 20)) for _ in range(n)]


@pytest.fixture
def project(tmp_path, save_json):
    """A store breaking three rules of POLICY and keeping three, and the policy file."""
    path = tmp_path / "s.duckdb"
    holdout = _texts(10, 1)
    with Store(path) as s:
        s.ingest("holdout", [{"text": t, "label": "a"} for t in holdout], origin="real",
                 label_origin="real", domain="news")
        # 7 real + one copy of a held-out item, then 3 synthetic of 10: share 0.3 > 0.2
        s.ingest("train", [{"text": t, "label": "a"} for t in _texts(6, 2) + holdout[:1]],
                 origin="real", label_origin="real", domain="news")
        s.ingest("train", [{"text": t, "label": "a"} for t in _texts(3, 3)], origin="synthetic",
                 label_origin="real", family="rule", generator="upper@1", domain="news")
        s.ingest("pool", [{"text": t, "label": "a"} for t in _texts(5, 4)], origin="synthetic",
                 label_origin="synthetic", family="model", generator="llm@1")  # no domain
        save_json(s, "mirage", {"c2st_auc": 0.7, "auc_ci": [0.6, 0.8]},
                  {"real": "holdout", "synthetic": "pool"})
    policy = tmp_path / "tether.toml"
    policy.write_text(POLICY, encoding="utf-8")
    return path, policy


def tether(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    """Run the console script's entry point; (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["tether", *args])
    monkeypatch.setenv("COLUMNS", "200")
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_fixture_breaks_and_keeps_the_rules_expected(project):
    path, policy = project
    with Store(path, read_only=True) as s:
        result = check(s, load_policy(policy))
    assert {(r.rule, r.target): r.passed for r in result.rules} == {
        k: passed for k, (passed, _) in EXPECTED.items()}


def test_rule_lines_find_keys_tables_and_array_tables():
    lines = toml_lines(POLICY)
    assert lines["max_synthetic_share"] == 1 and lines["min_holdout_real"] == 5
    assert lines["datasets.train*"] == 7 and lines["datasets.train*.max_synthetic_share"] == 8
    assert lines["no_contamination[0]"] == 10 and lines["mirage[0]"] == 14
    assert lines["mirage[0].max_auc"] == 17
    more = toml_lines("[[mirage]]\nreal = 'a'\n\n[[mirage]] # second\nreal = 'b'\n"
                      "[datasets.'v1.2']\nmax_synthetic_share = 0.1\n")
    assert more["mirage[1]"] == 4 and more["mirage[1].real"] == 5
    assert more["datasets.v1.2.max_synthetic_share"] == 7
    assert "real" not in more  # keys inside tables are not top-level keys


# ---------------------------------------------------------------------------------- JUnit
#: Elements and attributes of the JUnit schema Jenkins publishes (junit-10.xsd).
JUNIT_SCHEMA = {
    "testsuites": {"name", "time", "tests", "failures", "disabled", "errors"},
    "testsuite": {"name", "tests", "failures", "errors", "time", "disabled", "skipped",
                  "timestamp", "hostname", "id", "package"},
    "properties": set(), "property": {"name", "value"},
    "testcase": {"name", "assertions", "time", "classname", "status"},
    "failure": {"message", "type"}, "error": {"message", "type"}, "skipped": {"message"},
    "system-out": set(), "system-err": set(),
}
JUNIT_CHILDREN = {
    "testsuites": {"testsuite"}, "testsuite": {"properties", "testcase", "system-out",
                                               "system-err"},
    "properties": {"property"}, "property": set(),
    "testcase": {"skipped", "error", "failure", "system-out", "system-err"},
    "failure": set(), "error": set(), "skipped": set(), "system-out": set(), "system-err": set(),
}


def _check_schema(element: ET.Element) -> None:
    assert set(element.attrib) <= JUNIT_SCHEMA[element.tag], element.tag
    for child in element:
        assert child.tag in JUNIT_CHILDREN[element.tag], (element.tag, child.tag)
        _check_schema(child)


def test_junit_has_one_suite_and_one_case_per_rule_with_failures(project, capsys, monkeypatch,
                                                                  tmp_path):
    path, policy = project
    out = tmp_path / "reports" / "tether.xml"
    code, stdout, stderr = tether(capsys, monkeypatch, "check", "--policy", str(policy),
                                  "--store", str(path), "--format", "junit", "--output", str(out))
    assert code == 1  # three rules fail: the report is written all the same
    assert stdout == "" and f"wrote {out} (junit): 3 of 6 rules failed" in stderr
    root = ET.parse(out).getroot()
    _check_schema(root)
    assert root.tag == "testsuites" and len(root.findall("testsuite")) == 1
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "3", "0")
    cases = suite.findall("testcase")
    assert len(cases) == len(EXPECTED)
    for (rule, target), (passed, line) in EXPECTED.items():
        (case,) = [c for c in cases if c.get("name") == f"{rule} {target}"]
        assert case.get("classname") == f"tether.policy.{rule}"
        failure = case.find("failure")
        assert (failure is None) is passed
        text = (case.find("system-out") if passed else failure).text
        assert f"rule at {policy}, line {line}" in text
        if not passed:
            assert failure.get("type") == rule
            assert failure.get("message").startswith(f"{rule} on {target}: measured ")

    junitparser = pytest.importorskip("junitparser")
    xml = junitparser.JUnitXml.fromfile(str(out))
    suites = list(xml)
    assert len(suites) == 1 and (suites[0].tests, suites[0].failures) == (6, 3)
    failed = {case.name: case.result[0].message for case in suites[0] if not case.is_passed}
    assert set(failed) == {f"{r} {t}" for (r, t), (ok, _) in EXPECTED.items() if not ok}
    assert "measured 0.3, must be ≤ 0.2" in failed["max_synthetic_share train"]
    assert "measured 1, must be ≤ 0" in failed["no_contamination train → holdout"]


def test_junit_without_output_prints_the_xml(project, capsys, monkeypatch):
    path, policy = project
    code, stdout, _ = tether(capsys, monkeypatch, "check", "--policy", str(policy),
                             "--store", str(path), "--format", "junit")
    assert code == 1
    assert stdout.startswith("<?xml") and ET.fromstring(stdout).tag == "testsuites"


# ---------------------------------------------------------------------------------- SARIF
def test_sarif_validates_against_the_2_1_0_schema_and_points_at_policy_lines(
        project, capsys, monkeypatch, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    path, _ = project
    monkeypatch.chdir(tmp_path)  # a relative policy path, as CI gives it from the repo root
    out = tmp_path / "tether.sarif"
    code, _, _ = tether(capsys, monkeypatch, "check", "--policy", "tether.toml", "--store",
                        str(path), "--format", "sarif", "-o", str(out))
    assert code == 1
    log = json.loads(out.read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema)
    assert not list(validator.iter_errors(log))
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {rule for rule, _ in EXPECTED}
    assert len(run["results"]) == len(EXPECTED)
    for result in run["results"]:
        passed, line = EXPECTED[(result["ruleId"], result["properties"]["target"])]
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert (result["level"], result["kind"]) == (("none", "pass") if passed
                                                     else ("error", "fail"))
        where = result["locations"][0]["physicalLocation"]
        assert where["artifactLocation"] == {"uri": "tether.toml", "uriBaseId": "%SRCROOT%"}
        assert where["region"]["startLine"] == line
        assert result["message"]["text"].startswith(f"{result['ruleId']} on ")
    # the validator can fail: a level SARIF does not know is refused
    run["results"][0]["level"] = "critical"
    assert list(validator.iter_errors(log))


def test_sarif_of_an_absolute_policy_path_is_a_file_uri(project, capsys, monkeypatch):
    path, policy = project
    code, stdout, _ = tether(capsys, monkeypatch, "check", "--policy", str(policy), "--store",
                             str(path), "--format", "sarif")
    assert code == 1
    where = json.loads(stdout)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"] == policy.as_uri()


# --------------------------------------------------------------------------- json and text
def test_json_format_is_the_json_flag(project, capsys, monkeypatch):
    path, policy = project
    common = ("check", "--policy", str(policy), "--store", str(path))
    code, by_format, _ = tether(capsys, monkeypatch, *common, "--format", "json")
    code2, by_flag, _ = tether(capsys, monkeypatch, *common, "--json")
    assert code == code2 == 1 and json.loads(by_format) == json.loads(by_flag)
    data = json.loads(by_format)
    assert data["policy"] == str(policy) and data["passed"] is False
    assert {r["key"] for r in data["rules"]} == {
        "acceptance_suites", "datasets.train*.max_synthetic_share", "required_fields",
        "mirage[0]", "no_contamination[0]", "min_holdout_real"}


def test_text_output_file_has_the_table_without_colour(project, capsys, monkeypatch, tmp_path):
    path, policy = project
    out = tmp_path / "check.txt"
    code, _, _ = tether(capsys, monkeypatch, "check", "--policy", str(policy), "--store",
                        str(path), "--output", str(out))
    text = out.read_text(encoding="utf-8")
    assert code == 1 and "\x1b[" not in text
    assert "FAIL" in text and "3 of 6 rules failed" in text


# ------------------------------------------------------------------------------ exit codes
def test_exit_0_when_every_rule_passes(project, capsys, monkeypatch, tmp_path):
    path, _ = project
    keeps = tmp_path / "keeps.toml"
    keeps.write_text('acceptance_suites = ["holdout"]\n', encoding="utf-8")
    for fmt in ("text", "json", "junit", "sarif"):
        code, stdout, _ = tether(capsys, monkeypatch, "check", "--policy", str(keeps),
                                 "--store", str(path), "--format", fmt)
        assert code == 0, (fmt, stdout)
    assert ET.fromstring(tether(capsys, monkeypatch, "check", "--policy", str(keeps), "--store",
                                str(path), "--format", "junit")[1]).find(
        "testsuite").get("failures") == "0"


@pytest.mark.parametrize("args, message", [
    (("--format", "xml"), "'xml' is not one of"),
    (("--format", "junit", "--json"), "--json asks for JSON and --format for junit"),
    (("--policy", "missing.toml"), "missing.toml: cannot read the policy file"),
    (("--store", "missing.duckdb"), "no store at missing.duckdb"),
])
def test_exit_2_on_usage_or_input_errors(project, capsys, monkeypatch, tmp_path, args, message):
    path, policy = project
    monkeypatch.chdir(tmp_path)  # the last --policy / --store given wins
    code, stdout, stderr = tether(capsys, monkeypatch, "check", "--policy", str(policy),
                                  "--store", str(path), *args)
    assert code == 2 and stdout == ""
    assert stderr.startswith("error:") and message in " ".join(stderr.split())


def test_exit_2_and_no_file_when_the_output_cannot_be_written(project, capsys, monkeypatch,
                                                             tmp_path):
    path, policy = project
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    code, _, stderr = tether(capsys, monkeypatch, "check", "--policy", str(policy), "--store",
                             str(path), "--format", "junit", "--output",
                             str(blocker / "report.xml"))
    assert code == 2 and "cannot write the junit report" in stderr
    assert blocker.read_text(encoding="utf-8") == ""


def test_help_documents_the_exit_codes_and_formats(capsys, monkeypatch):
    code, stdout, _ = tether(capsys, monkeypatch, "check", "--help")
    text = " ".join(stdout.split())
    assert code == 0
    assert "Exit codes: 0 every rule passed; 1 at least one rule failed" in text
    assert "2 usage or input error" in text
    for fmt in ("junit", "sarif", "json", "text"):
        assert fmt in text
