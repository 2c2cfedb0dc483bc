"""Options and output helpers shared by every command."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", envvar="TETHER_STORE", show_envvar=True,
                 help="The DuckDB store file (default: ./tether.duckdb)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
MlflowOpt = Annotated[bool, typer.Option(
    "--mlflow", help="Also log the result to MLflow (MLFLOW_TRACKING_URI): numbers and intervals "
                     "as metrics, settings as parameters, the JSON as an artifact.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same result.")]
FromOpt = Annotated[str, typer.Option("--from", help="Dataset of seed (or unlabelled) samples.")]
IntoOpt = Annotated[str, typer.Option("--into", help="Dataset to write the new samples to.")]
RunIdOpt = Annotated[str | None, typer.Option(
    "--run-id", help="Resume an interrupted run (or retry a run's failures) with its id.")]


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr)


@contextmanager
def progress_bar(description: str, quiet: bool = False) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr, as a ``progress(done, total)`` callback (None if quiet)."""
    if quiet:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def emit(result: Any, as_json: bool, human: Any = None, *, mlflow: bool = False) -> None:
    """Print ``result.to_dict()`` as JSON, or ``human`` (a rich renderable or text); with
    ``mlflow``, log the result to MLflow first and name the run on stderr."""
    if mlflow:
        from tether.integrations.mlflow import log

        console(stderr=True).print(f"logged to MLflow run {log(result).run_id}")
    if as_json:
        data = result.to_dict() if hasattr(result, "to_dict") else result
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    console().print(human if human is not None else result)


def ci_text(ci: list[float | None] | tuple[float, float] | None) -> str:
    """An interval as ``[lo, hi]`` to three decimals, ``-`` when there is none.

    >>> ci_text([0.1234, 0.5]), ci_text(None)
    ('[0.123, 0.500]', '-')
    """
    if ci is None or ci[0] is None:
        return "-"
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def table(title: str, columns: list[str], rows: Iterable[Iterable[Any]]) -> Table:
    """A result table: first column left, the rest right-aligned, floats to three decimals."""
    out = Table(title=title, title_justify="left", show_edge=False)
    for i, col in enumerate(columns):
        out.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        out.add_row(*(f"{v:.3f}" if isinstance(v, float) else escape(str(v)) for v in row))
    return out


def counts_table(title: str, rows: Iterable[tuple[str, Any]], headers: tuple[str, str]) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column(headers[0])
    table.add_column(headers[1], justify="right")
    for key, value in rows:
        table.add_row(escape(str(key)) if key != "" else "(none)", escape(str(value)))
    return table


def parse_kv(values: list[str] | None) -> Mapping[str, Any] | None:
    """``["k=v", ...]`` → dict, values parsed as JSON when they parse."""
    if not values:
        return None
    out: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected key=value, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out
