"""The report's summary (first section: every verdict, then what to do next), the verdict badges
of every section, and the policy gate as a section of its own."""

from __future__ import annotations

import html
import json
import re

import pytest

from tether import Store
from tether.policy import check, parse_policy
from tether.report import build_report, render_html
from tether.verdicts import LEVELS

POLICY = '''
max_synthetic_share = 0.5
acceptance_suites = ["holdout"]
[[mirage]]
real = "train"
synthetic = "synthetic"
max_auc = 0.999
'''


@pytest.fixture(scope="module")
def report(report_store):
    with Store(report_store, read_only=True) as store:
        return build_report(store)


@pytest.fixture(scope="module")
def gated(report_store):
    """The report with a policy, and the policy's own check of the same store."""
    policy = parse_policy(POLICY, "tether.toml")
    with Store(report_store, read_only=True) as store:
        return build_report(store, policy=policy), check(store, policy)


def badges(page: str) -> dict[str, str]:
    """``{section id: level}`` of each section heading's badge."""
    return dict(re.findall(r'<section class="card[^"]*" id="([^"]+)">\s*<h2>.*?'
                           r'data-level="([^"]+)"', page, flags=re.S))


def test_summary_is_the_first_section_and_holds_every_verdict(report):
    summary = report.sections[0]
    assert summary.key == "summary" and summary.status == "ok"
    others = [v for s in report.sections[1:] for v in s.verdicts]
    assert sorted(map(repr, summary.verdicts)) == sorted(map(repr, others))
    assert len(others) >= len(report.sections) - 2  # every audit section judged (not provenance)
    assert [v.severity for v in summary.verdicts] == sorted(
        (v.severity for v in summary.verdicts), reverse=True)
    assert summary.data["counts"] == {lv: sum(v.level == lv for v in others)
                                      for lv in ("fail", "warn", "pass")}
    assert summary.level == "fail"  # the fixture's synthetic set is trivially detectable


def test_next_actions_are_concrete_and_most_severe_first(report):
    actions = report.sections[0].data["actions"]
    assert 1 <= len(actions) <= 5
    assert [LEVELS.index(a["level"]) for a in actions] == sorted(
        (LEVELS.index(a["level"]) for a in actions), reverse=True)
    assert all(a["level"] != "pass" and a["action"] and a["command"] for a in actions)
    first = {a["kind"]: a for a in actions}
    mirage = report.section("mirage").data
    assert "giveaways are" in first["mirage"]["action"]
    assert first["mirage"]["evidence"] == mirage["most_synthetic"][:8]
    assert first["mirage"]["command"] == report.section("mirage").command
    overlap = report.section("overlap").data
    assert set(first["overlap"]["evidence"]) <= set(overlap["eval_matches"])
    assert f"remove these {overlap['contaminated_eval']:,} items" in first["overlap"]["action"]


def test_sections_carry_verdicts_judged_afresh_and_the_twin_holds_them(report):
    twin = json.loads(json.dumps(report.to_dict()))
    for section in twin["sections"]:
        assert "verdicts" not in section["data"]  # the section's own list, not a stale copy
        expected = [v["level"] for v in section["verdicts"]]
        assert section["level"] == (max(expected, key=LEVELS.index) if expected
                                    else section["status"])
    mirage = next(s for s in twin["sections"] if s["key"] == "mirage")
    assert mirage["verdicts"][0]["finding"].startswith(
        "synthetic pool 'synthetic' is easily told apart from real 'train': AUC")


def test_page_badges_show_the_verdict_level_not_ran(report):
    page = render_html(report)
    shown = badges(page)
    assert shown == {s.key: s.level for s in report.sections}
    assert shown["mirage"] == "fail" and shown["provenance"] == "ok"
    assert set(shown.values()) >= {"fail", "warn", "pass"}
    # the summary's first screen names the failing verdict and the first action in words
    text = html.unescape(re.sub(r"<[^>]+>", " ", page.split('id="provenance"')[0]))
    assert "What to do next" in text and "is trivially detectable" in text
    assert page.index("<h3>What to do next</h3>") < page.index("<h3>Every verdict, worst first")
    # every verdict row links to its section, inside the page
    table = page.split("<h3>Every verdict, worst first</h3>")[1].split("</table>")[0]
    links = [k for k in re.findall(r'<a href="#([^"]+)"', table) if not k.startswith("rec-")]
    assert len(links) == len(report.sections[0].verdicts)
    assert set(links) <= {s.key for s in report.sections}


def test_no_policy_no_policy_section(report):
    assert "policy" not in [s.key for s in report.sections]


def test_policy_is_a_section_of_its_own_and_its_limits_decide(gated, report):
    gated_report, result = gated
    assert [s.key for s in gated_report.sections][:3] == ["summary", "policy", "provenance"]
    section = gated_report.section("policy")
    assert section.data["rules"] == result.to_dict()["rules"]
    assert [v.level for v in section.verdicts] == \
        ["pass" if r.passed else "fail" for r in result.rules]
    assert section.level == ("pass" if result.passed else "fail")
    # the fixture's AUC is 1.0: the default fails it (≥ 0.9) and so does the policy (> 0.999)
    (default,) = report.section("mirage").verdicts
    (by_policy,) = gated_report.section("mirage").verdicts
    assert default.rule.endswith("≥ 0.9 fails (default)")
    assert by_policy.rule.endswith("> 0.999 fails (policy tether.toml [[mirage]])")
    assert by_policy.threshold == 0.999
    page = render_html(gated_report)
    assert badges(page)["policy"] == section.level
    assert "Policy gate (tether check)" in page


def test_a_looser_policy_turns_a_failure_into_a_warning(save_json, tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        save_json(store, "mirage", {"c2st_auc": 0.93, "auc_ci": [0.9, 0.96]},
                  {"real": "a", "synthetic": "b"})
        default = build_report(store)
        loose = build_report(store, policy=parse_policy("max_mirage_auc = 0.95", "p.toml"))
        scoped_elsewhere = build_report(store, policy=parse_policy(
            '[[mirage]]\nreal = "x"\nsynthetic = "y"\nmax_auc = 0.95', "p.toml"))
    assert default.section("mirage").level == "fail"
    assert loose.section("mirage").level == "warn"
    assert "(policy p.toml max_mirage_auc)" in loose.section("mirage").verdicts[0].rule
    # a [[mirage]] entry for another pair does not apply to this one
    assert scoped_elsewhere.section("mirage").level == "fail"


def test_empty_store_summary_says_nothing_to_judge(tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        report = build_report(store)
    assert report.sections[0].key == "summary" and report.sections[0].status == "empty"
    assert "No audit has run yet" in render_html(report)


def test_cli_report_checks_a_given_or_found_policy(tmp_path, save_json, monkeypatch):
    from typer.testing import CliRunner

    from tether.cli import app

    store = tmp_path / "s.duckdb"
    with Store(store) as s:
        save_json(s, "mirage", {"c2st_auc": 0.93, "auc_ci": [0.9, 0.96]},
                  {"real": "a", "synthetic": "b"})
    monkeypatch.chdir(tmp_path)

    def report(*args: str) -> tuple[dict, dict]:
        out = CliRunner().invoke(app, ["report", "--out", "r.html", "--json-out", "r.json",
                                       "--store", str(store), "--json", *args],
                                 catch_exceptions=False)
        assert out.exit_code == 0, out.output
        twin = json.loads((tmp_path / "r.json").read_text())
        return json.loads(out.output), {s["key"]: s for s in twin["sections"]}

    summary, sections = report()
    assert summary["policy"] is None and "policy" not in sections
    assert sections["mirage"]["level"] == "fail"
    (tmp_path / "loose.toml").write_text("max_mirage_auc = 0.95\n")
    summary, sections = report("--policy", "loose.toml")
    assert summary["policy"] == "loose.toml" and sections["mirage"]["level"] == "warn"
    assert sections["policy"]["level"] == "pass"
    (tmp_path / "tether.toml").write_text("max_mirage_auc = 0.9\n")  # found in the folder
    summary, sections = report()
    assert summary["policy"] == "tether.toml" and sections["policy"]["level"] == "fail"
    (tmp_path / "tether.toml").write_text("# no rule yet\n")
    summary, sections = report()
    assert summary["policy"] is None and "states no rule" in summary["policy_skipped"]
