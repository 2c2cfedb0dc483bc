"""``tether report`` (the HTML report and its JSON twin) and ``tether check`` (the CI gate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from tether.cli._common import JsonOpt, StoreOpt, console, emit
from tether.store import Store


def register(app: typer.Typer) -> None:
    app.command()(report)
    app.command()(check)


def report(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    json_out: Annotated[Optional[Path], typer.Option("--json-out", help="Also write the JSON twin (every number shown).")] = None,
    title: Annotated[str, typer.Option(help="Title at the top of the page.")] = "tether report",
    mlflow: Annotated[bool, typer.Option("--mlflow", help="Also log the report, its JSON twin and its numbers to MLflow (MLFLOW_TRACKING_URI).")] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write one self-contained HTML report (no network needed) of everything in the store.

    Example: tether report --out report.html --json-out report.json
    """
    with Store(store, read_only=True) as s:
        from tether.report import build_report, write_report

        model = build_report(s, title=title)
    if mlflow and json_out is None:
        json_out = out.with_suffix(".json")
    path = write_report(model, out, json_out)
    counts = {st: sum(1 for x in model.sections if x.status == st)
              for st in ("ok", "not_run", "incomplete", "empty")}
    summary = {"html": str(path), "json": str(json_out) if json_out else None,
               "bytes": path.stat().st_size, "sections": counts}
    if mlflow:
        from tether.integrations.mlflow import log_report

        summary["mlflow_run"] = log_report(path, json_out).run_id
    emit(summary, as_json,
         f"wrote {path} ({summary['bytes'] / 1024:,.0f} KiB): {counts['ok']} sections with "
         f"results, {counts['not_run']} not run, {counts['incomplete']} incomplete"
         + (f"\nlogged to MLflow run {summary['mlflow_run']}" if mlflow else ""))


def check(
    policy: Annotated[Path, typer.Option("--policy", help="The policy file (TOML).")] = Path("tether.toml"),
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the store against a policy; exit 1 when any rule fails.

    Example: tether check --policy tether.toml --json
    """
    from tether.policy import check as check_policy
    from tether.policy import load_policy
    rules = load_policy(policy)
    with Store(store, read_only=True) as s:
        result = check_policy(s, rules)
    table = Table(title=f"policy {policy}", title_justify="left", show_edge=False)
    for col in ("rule", "target", "result", "value", "limit", "detail"):
        table.add_column(col, justify="right" if col in ("value", "limit") else "left")
    for r in result.rules:
        table.add_row(r.rule, escape(r.target), "[green]pass[/]" if r.passed else "[bold red]FAIL[/]",
                      "–" if r.value is None else str(r.value), str(r.limit), escape(r.message))
    emit(result, as_json, table)
    if not as_json:
        failed = sum(not r.passed for r in result.rules)
        console().print(f"[bold red]{failed} of {len(result.rules)} rules failed[/]" if failed
                        else f"[green]all {len(result.rules)} rules passed[/]")
    if not result.passed:
        raise typer.Exit(1)
