"""Store commands: init, ingest, datasets, show, lineage, export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from tether.cli._common import JsonOpt, StoreOpt, counts_table, emit, parse_kv
from tether.store import Store


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(ingest)
    app.command()(datasets)
    app.command()(show)
    app.command()(lineage)
    app.command()(export)


def init(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Create an empty store, and a commented starter policy tether.toml if there is none.

    Example: tether init --store project.duckdb
    """
    with Store(store) as s:
        from tether.policy import write_starter_policy
        policy = write_starter_policy("tether.toml")
        emit({"store": s.path, "policy": policy}, as_json,
             f"store ready: {s.path}" + (f"\nstarter policy: {policy}" if policy else ""))


def ingest(
    path: Annotated[Path, typer.Argument(help="A JSONL, CSV or Parquet file.")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset to add to.")],
    origin: Annotated[Optional[str], typer.Option(help="Origin of the inputs: real|synthetic.")] = None,
    label_origin: Annotated[Optional[str], typer.Option(help="Origin of the labels: real|synthetic.")] = None,
    family: Annotated[Optional[str], typer.Option(help="model|rule|simulation (synthetic only).")] = None,
    generator: Annotated[Optional[str], typer.Option(help="NAME@VERSION of the generator or source.")] = None,
    config: Annotated[Optional[list[str]], typer.Option("--config", help="Generator configuration as key=value (repeatable).")] = None,
    domain: Annotated[Optional[str], typer.Option(help="What the samples are about.")] = None,
    task: Annotated[Optional[str], typer.Option(help="What the samples are for.")] = None,
    text_field: Annotated[str, typer.Option(help="Field holding the text.")] = "text",
    label_field: Annotated[str, typer.Option(help="Field holding the label.")] = "label",
    id_field: Annotated[str, typer.Option(help="Field holding the id (derived from content when absent).")] = "id",
    fmt: Annotated[Optional[str], typer.Option("--format", help="jsonl|csv|parquet (default: from the suffix).")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add samples from a file, with their provenance, in one transaction.

    Provenance options apply to every row that does not carry the field itself.

    Example: tether ingest reviews.jsonl --dataset reviews --origin real --label-origin real
    """
    with Store(store) as s:
        result = s.ingest(dataset, path, origin=origin, label_origin=label_origin, family=family,
                          generator=generator, generator_config=parse_kv(config), domain=domain,
                          task=task, text_field=text_field, label_field=label_field,
                          id_field=id_field, fmt=fmt)
    emit(result, as_json, f"{result.dataset}: added {result.added}, "
                          f"skipped {result.skipped_duplicates} duplicates")


def datasets(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List the datasets in the store.

    Example: tether datasets --json
    """
    with Store(store) as s:
        infos = s.datasets()
    table = Table(show_edge=False)
    for col in ("dataset", "samples", "real", "synthetic", "updated"):
        table.add_column(col, justify="left" if col in ("dataset", "updated") else "right")
    for d in infos:
        table.add_row(d.name, str(d.count), str(d.real), str(d.synthetic), d.updated_at)
    emit([d.to_dict() for d in infos], as_json, table)


def show(name: Annotated[str, typer.Argument(help="Dataset name.")],
         store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Show the provenance breakdown of a dataset.

    Example: tether show news --json
    """
    with Store(store) as s:
        summary = s.summary(name)
    if as_json:
        emit(summary, True)
        return
    from rich.columns import Columns
    from rich.console import Group

    tables = [counts_table(title, getattr(summary, key).items(), (title, "samples"))
              for title, key in [("origin", "by_origin"), ("family", "by_family"),
                                 ("generator", "by_generator"),
                                 ("label origin", "by_label_origin"),
                                 ("generation", "by_generation"), ("domain", "by_domain"),
                                 ("task", "by_task")]]
    emit(summary, False, Group(f"[bold]{name}[/]: {summary.count} samples, synthetic share "
                               f"{summary.synthetic_share:.1%}", Columns(tables, padding=(1, 3))))


def lineage(sample_id: Annotated[str, typer.Argument(metavar="ID", help="Sample id.")],
            dataset: Annotated[Optional[str], typer.Option(help="Dataset, when ids repeat across datasets.")] = None,
            store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Show the ancestors, descendants and real seeds of a sample.

    Example: tether lineage 3f2a9c1d0b7e4a55
    """
    with Store(store) as s:
        result = s.lineage(sample_id, dataset)
    emit(result, as_json,
         f"[bold]{result.id}[/]\nancestors: {', '.join(result.ancestors) or '-'}\n"
         f"descendants: {', '.join(result.descendants) or '-'}\n"
         f"real seeds: {', '.join(result.real_seeds) or '-'}")


def export(name: Annotated[str, typer.Argument(help="Dataset name.")],
           out: Annotated[Path, typer.Option("--out", help="File to write.")],
           fmt: Annotated[Optional[str], typer.Option("--format", help="jsonl|csv|parquet (default: from the suffix).")] = None,
           store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Write a dataset with every provenance field, and a dataset card beside it.

    Example: tether export news --format parquet --out news.parquet
    """
    with Store(store) as s:
        result = s.export(name, out, fmt)
    emit(result, as_json, f"wrote {result.count} samples to {result.path} (card: {result.card})")
