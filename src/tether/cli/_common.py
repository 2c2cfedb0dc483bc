"""Options and output helpers shared by every command."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer._click.core import ParameterSource
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tether.config import Config, load_config
from tether.errors import InputError
from tether.store import Store, store_path

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

# ---------------------------------------------------------------- options tether.toml may set
#: The parameters that name the dataset a command works on, in the order they are looked for.
_DATASET_PARAMS = ("dataset", "name", "real", "synthetic", "train", "eval")


def _names_list(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",")]
    if not all(names):
        raise InputError(f"--fields must read NAME,NAME,..., got {value!r}", field="fields")
    return names


def _bounds(value: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value.split(","))
    except ValueError:
        raise InputError(f"--label-range must read LO,HI (two numbers), got {value!r}",
                         field="label_range") from None
    return lo, hi


#: Command-line text of the options that are lists or pairs, as the library takes them.
_PARSE: dict[str, Callable[[str], Any]] = {"fields": _names_list, "label_range": _bounds}


def configured(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
    """Callback of every option ``tether.toml`` may set (:mod:`tether.config`): the value
    given on the command line (or in the environment) wins; else the ``[datasets.NAME]`` or
    ``[columns]`` value for the command's dataset; else the option's default. The audits'
    ``--field`` defaults to the configured ``text_field`` (which the store keeps as ``text``).

    The dataset is known here because click processes the options given on the command line
    before those left to their defaults.
    """
    key = "text_field" if param.name == "field" else str(param.name)
    if ctx.get_parameter_source(str(param.name)) is ParameterSource.DEFAULT:
        dataset = next((ctx.params[p] for p in _DATASET_PARAMS if ctx.params.get(p)), None)
        value = _config(ctx).defaults(dataset).get(key, value)
        return _stored_field(ctx, dataset, value) if param.name == "field" else value
    return _PARSE[key](value) if key in _PARSE and isinstance(value, str) else value


def _config(ctx: typer.Context) -> Config:
    """The ``tether.toml`` of this command (read once per command)."""
    meta = ctx.find_root().meta
    if "tether.config" not in meta:
        meta["tether.config"] = load_config(store=store_path(ctx.params.get("store")))
    return meta["tether.config"]


def _stored_field(ctx: typer.Context, dataset: str | None, name: str) -> str:
    """``name`` as the store keeps it for ``dataset`` (:func:`tether.audit._load.stored_field`):
    ``text`` for its ingest's ``text_field``, so that results name it ``text``."""
    path = store_path(ctx.params.get("store"))
    if name == "text" or dataset is None or not Path(path).exists():
        return name
    from tether.audit._load import stored_field
    with Store(path, read_only=True) as s:
        return stored_field(s, dataset, name)


FieldsOpt = Annotated[Optional[str], typer.Option(
    "--fields", callback=configured,
    help="The records' text fields, NAME,NAME,... (e.g. question,context,answer); a field "
         "named messages must be a conversation in the OpenAI chat format.")]
LabelRangeOpt = Annotated[Optional[str], typer.Option(
    "--label-range", callback=configured, metavar="LO,HI",
    help="Labels are scores: each must be a finite number in [LO, HI] (e.g. 1,5).")]
TextFieldOpt = Annotated[str, typer.Option(callback=configured, help="Field holding the text.")]
LabelFieldOpt = Annotated[str, typer.Option(callback=configured,
                                            help="Field holding the label.")]
IdFieldOpt = Annotated[str, typer.Option(
    callback=configured, help="Field holding the id (derived from content when absent).")]
OriginOpt = Annotated[Optional[str], typer.Option(
    callback=configured, help="Origin of the inputs: real|synthetic.")]
LabelOriginOpt = Annotated[Optional[str], typer.Option(
    callback=configured, help="Origin of the labels: real|synthetic.")]
FamilyOpt = Annotated[Optional[str], typer.Option(
    callback=configured, help="model|rule|simulation (synthetic only).")]
GeneratorOpt = Annotated[Optional[str], typer.Option(
    callback=configured, help="NAME@VERSION of the generator or source.")]
FieldOpt = Annotated[str, typer.Option(
    "--field", callback=configured,
    help="Field to measure: text, or any field of the records (prompt, response ...).")]


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
