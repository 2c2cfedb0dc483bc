"""``tether report`` (the HTML report and its JSON twin) and ``tether check`` (the CI gate)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from tether.cli._common import JsonOpt, StoreOpt, console, emit
from tether.store import Store

if TYPE_CHECKING:
    from tether.policy import CheckResult


def register(app: typer.Typer) -> None:
    app.command()(report)
    app.command()(check)


def report(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    json_out: Annotated[Optional[Path], typer.Option("--json-out", help="Also write the JSON twin (every number shown).")] = None,
    title: Annotated[str, typer.Option(help="Title at the top of the page.")] = "tether report",
    mlflow: Annotated[bool, typer.Option("--mlflow", help="Also log the report, its JSON twin and its numbers to MLflow (MLFLOW_TRACKING_URI).")] = False,
    policy: Annotated[Optional[Path], typer.Option("--policy", help="Policy file checked into a section of its own; its limits decide the verdicts it names (default: ./tether.toml if present).")] = None,
    baseline: Annotated[Optional[Path], typer.Option("--baseline", help="JSON twin of an earlier report (--json-out): mark the verdicts that flipped and the estimates whose intervals no longer overlap.")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write one self-contained HTML report (no network needed) of everything in the store.

    Example: tether report --out report.html --json-out report.json --baseline old-report.json
    """
    with Store(store, read_only=True) as s:
        from tether.report import build_report, write_report

        from tether.errors import PolicyError
        from tether.policy import load_policy

        rules, skipped = (load_policy(policy) if policy else None), None
        if policy is None and Path("tether.toml").is_file():
            try:  # found, not asked for: a tether.toml without policy rules is no error
                rules = load_policy("tether.toml")
            except PolicyError as exc:
                skipped = str(exc)
        model = build_report(s, title=title, policy=rules, baseline=baseline)
    if mlflow and json_out is None:
        json_out = out.with_suffix(".json")
    path = write_report(model, out, json_out)
    counts = {st: sum(1 for x in model.sections if x.status == st)
              for st in ("ok", "not_run", "incomplete", "empty")}
    summary = {"html": str(path), "json": str(json_out) if json_out else None,
               "bytes": path.stat().st_size, "sections": counts,
               "policy": rules.source if rules else None, "policy_skipped": skipped,
               "records": len(model.records)}
    if baseline is not None:
        changed = model.section("baseline").data
        summary["baseline"] = {"path": str(baseline), "flips": len(changed["flips"]),
                               "shifts": len(changed["shifts"])}
    if mlflow:
        from tether.integrations.mlflow import log_report

        summary["mlflow_run"] = log_report(path, json_out).run_id
    emit(summary, as_json,
         f"wrote {path} ({summary['bytes'] / 1024:,.0f} KiB): {counts['ok']} sections with "
         f"results, {counts['not_run']} not run, {counts['incomplete']} incomplete"
         + (f"\npolicy {rules.source} checked into the report" if rules else "")
         + (f"\npolicy skipped: {skipped}" if skipped else "")
         + (f"\nsince {baseline}: {summary['baseline']['flips']} verdict(s) flipped, "
            f"{summary['baseline']['shifts']} interval(s) no longer overlap" if baseline else "")
         + (f"\nlogged to MLflow run {summary['mlflow_run']}" if mlflow else ""))


class CheckFormat(str, Enum):
    """What ``tether check`` prints or writes."""

    text = "text"
    json = "json"
    junit = "junit"
    sarif = "sarif"


def check(
    policy: Annotated[Path, typer.Option("--policy", help="The policy file (TOML).")] = Path("tether.toml"),
    fmt: Annotated[CheckFormat, typer.Option("--format", help="text (a table), json (the --json form), junit (JUnit XML for CI test reports) or sarif (SARIF 2.1.0 for code-scanning annotations).")] = CheckFormat.text,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report to this file instead of printing it (a one-line summary is printed).")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the store against a policy; exit 1 when any rule fails.

    Exit codes: 0 every rule passed; 1 at least one rule failed (the report is still printed
    or written); 2 usage or input error (unknown option or format, unreadable or invalid
    policy, no store, unwritable --output).

    Example: tether check --policy tether.toml --format junit --output tether-check.xml
    """
    from tether.errors import InputError
    from tether.policy import check as check_policy
    from tether.policy import load_policy

    if as_json and fmt not in (CheckFormat.text, CheckFormat.json):
        raise typer.BadParameter(f"--json asks for JSON and --format for {fmt.value}; give one",
                                 param_hint="--format")
    fmt = CheckFormat.json if as_json else fmt
    rules = load_policy(policy)
    with Store(store, read_only=True) as s:
        result = check_policy(s, rules)
    failed = sum(not r.passed for r in result.rules)
    verdict = (f"{failed} of {len(result.rules)} rules failed" if failed
               else f"all {len(result.rules)} rules passed")
    if fmt is CheckFormat.text and output is None:
        console().print(_check_table(result))
        console().print(f"[bold red]{verdict}[/]" if failed else f"[green]{verdict}[/]")
    else:
        text = _check_text(result, fmt, policy, verdict)
        if output is None:
            typer.echo(text, nl=False)
        else:
            try:
                output.parent.mkdir(parents=True, exist_ok=True)
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise InputError(f"cannot write the {fmt.value} report: {exc.strerror}; choose "
                                 "a writable --output path", path=output) from None
            console(stderr=True).print(f"wrote {escape(str(output))} ({fmt.value}): {verdict}",
                                       highlight=False)
    if not result.passed:
        raise typer.Exit(1)


def _check_table(result: CheckResult) -> Table:
    table = Table(title=f"policy {escape(result.source)}", title_justify="left", show_edge=False)
    for col in ("rule", "target", "result", "value", "limit", "detail"):
        table.add_column(col, justify="right" if col in ("value", "limit") else "left")
    for r in result.rules:
        table.add_row(r.rule, escape(r.target), "[green]pass[/]" if r.passed else "[bold red]FAIL[/]",
                      "–" if r.value is None else str(r.value), str(r.limit), escape(r.message))
    return table


def _check_text(result: CheckResult, fmt: CheckFormat, policy: Path, verdict: str) -> str:
    """The report ``--format`` names, as the text printed or written to ``--output``."""
    import io
    import json

    from rich.console import Console

    if fmt is CheckFormat.json:
        return json.dumps(result.to_dict(), indent=2, default=str) + "\n"
    if fmt is CheckFormat.text:  # the table without colour, for a file
        buffer = io.StringIO()
        plain = Console(file=buffer, width=160, no_color=True, highlight=False)
        plain.print(_check_table(result))
        plain.print(verdict)
        return buffer.getvalue()
    text = policy.read_text(encoding="utf-8")  # read by load_policy a moment ago
    if fmt is CheckFormat.junit:
        return result.to_junit(text)
    return json.dumps(result.to_sarif(text), indent=2, default=str) + "\n"
