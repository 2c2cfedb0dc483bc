"""Store commands: init, ingest, datasets, show, lineage, export, rm, mv, runs.

Reading commands open the store read-only, so they run beside other readers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from tether.cli._common import (
    FamilyOpt,
    FieldsOpt,
    GeneratorOpt,
    IdFieldOpt,
    JsonOpt,
    LabelFieldOpt,
    LabelOriginOpt,
    LabelRangeOpt,
    OriginOpt,
    StoreOpt,
    TextFieldOpt,
    configured,
    counts_table,
    emit,
    parse_kv,
)
from tether.store import Store


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(ingest)
    app.command()(datasets)
    app.command()(show)
    app.command()(lineage)
    app.command()(export)
    app.command("rm")(remove)
    app.command("mv")(rename)
    app.command()(runs)


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
    path: Annotated[Path, typer.Argument(help="A JSONL, CSV or Parquet file, or a Hugging Face save_to_disk folder.")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset to add to.")],
    origin: OriginOpt = None,
    label_origin: LabelOriginOpt = None,
    family: FamilyOpt = None,
    generator: GeneratorOpt = None,
    config: Annotated[Optional[list[str]], typer.Option("--config", help="Generator configuration as key=value (repeatable).")] = None,
    domain: Annotated[Optional[str], typer.Option(help="What the samples are about.")] = None,
    task: Annotated[Optional[str], typer.Option(help="What the samples are for.")] = None,
    text_field: TextFieldOpt = "text",
    label_field: LabelFieldOpt = "label",
    id_field: IdFieldOpt = "id",
    fields: FieldsOpt = None,
    label_range: LabelRangeOpt = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="jsonl|csv|parquet (default: from the suffix).")] = None,
    split: Annotated[Optional[str], typer.Option(help="Of a saved DatasetDict, only this split (default: each split as DATASET-SPLIT).")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add samples from a file, with their provenance, in one transaction.

    Provenance options apply to every row that does not carry the field itself. Options not
    given are read from tether.toml (its datasets.DATASET table, then its columns table).

    Example: tether ingest qa.jsonl -d qa --origin real --label-origin real --fields question,context,answer --label-field score --label-range 1,5
    """
    with Store(store) as s:
        result = s.ingest(dataset, path, origin=origin, label_origin=label_origin, family=family,
                          generator=generator, generator_config=parse_kv(config), domain=domain,
                          task=task, text_field=text_field, label_field=label_field,
                          id_field=id_field, fmt=fmt, split=split, fields=fields,
                          label_range=label_range)
    results = result if isinstance(result, list) else [result]  # a DatasetDict: one per split
    emit([r.to_dict() for r in results] if isinstance(result, list) else result, as_json,
         "\n".join(f"{escape(r.dataset)}: added {r.added}, skipped {r.skipped_duplicates} "
                   "duplicates" for r in results))


def datasets(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List the datasets in the store.

    Example: tether datasets --json
    """
    with Store(store, read_only=True) as s:
        infos = s.datasets()
    table = Table(show_edge=False)
    for col in ("dataset", "samples", "real", "synthetic", "updated"):
        table.add_column(col, justify="left" if col in ("dataset", "updated") else "right")
    for d in infos:
        table.add_row(escape(d.name), str(d.count), str(d.real), str(d.synthetic), d.updated_at)
    emit([d.to_dict() for d in infos], as_json, table)


def show(name: Annotated[str, typer.Argument(help="Dataset name.")],
         store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Show the provenance breakdown of a dataset.

    Example: tether show news --json
    """
    with Store(store, read_only=True) as s:
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
    emit(summary, False, Group(f"[bold]{escape(name)}[/]: {summary.count} samples, synthetic share "
                               f"{summary.synthetic_share:.1%}", Columns(tables, padding=(1, 3))))


def lineage(sample_id: Annotated[str, typer.Argument(metavar="ID", help="Sample id.")],
            dataset: Annotated[Optional[str], typer.Option(help="Dataset, when ids repeat across datasets.")] = None,
            store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Show the ancestors, descendants and real seeds of a sample.

    Example: tether lineage 3f2a9c1d0b7e4a55
    """
    with Store(store, read_only=True) as s:
        result = s.lineage(sample_id, dataset)
    emit(result, as_json,
         f"[bold]{escape(result.id)}[/]\nancestors: {escape(', '.join(result.ancestors)) or '-'}\n"
         f"descendants: {escape(', '.join(result.descendants)) or '-'}\n"
         f"real seeds: {escape(', '.join(result.real_seeds)) or '-'}")


def _unrecorded_name(kind: str) -> Any:
    """An export option naming the column the store keeps as ``kind``."""
    return Annotated[Optional[str], typer.Option(
        callback=configured, help=f"Name to write the {kind} under when no ingest recorded one "
                                  f"(data an engine wrote; default: tether.toml's, else {kind}).")]


def export(name: Annotated[str, typer.Argument(help="Dataset name.")],
           out: Annotated[Path, typer.Option("--out", help="File to write.")],
           fmt: Annotated[Optional[str], typer.Option("--format", help="jsonl|csv|parquet (default: from the suffix).")] = None,
           text_field: _unrecorded_name("text") = None,
           label_field: _unrecorded_name("label") = None,
           id_field: _unrecorded_name("id") = None,
           store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Write a dataset with every provenance field, and a dataset card beside it.

    The user's fields come back under the names they were ingested with (a messages field as a
    JSON list, score labels as numbers).

    Example: tether export news --format parquet --out news.parquet
    """
    names = {k: v for k, v in (("text", text_field), ("label", label_field), ("id", id_field))
             if v is not None}
    with Store(store, read_only=True) as s:
        result = s.export(name, out, fmt, names=names)
    emit(result, as_json, f"wrote {result.count} samples to {result.path} (card: {result.card}, "
                          f"Croissant: {result.croissant})")


ForceOpt = Annotated[bool, typer.Option("--force", help="Go ahead even when other datasets descend from it.")]


def remove(name: Annotated[str, typer.Argument(help="Dataset to delete.")],
           force: ForceOpt = False, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Delete a dataset, its samples and its runs, in one transaction.

    Refused when samples in other datasets descend from it, unless --force.

    Example: tether rm scratch
    """
    with Store(store) as s:
        result = s.remove(name, force=force)
    emit(result, as_json, f"removed {escape(result.dataset)} ({result.samples} samples)")


def rename(old: Annotated[str, typer.Argument(help="Dataset to rename.")],
           new: Annotated[str, typer.Argument(help="Its new name.")],
           force: ForceOpt = False, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Rename a dataset, in one transaction.

    Refused when the new name is taken, or when samples in other datasets descend from it,
    unless --force.

    Example: tether mv news-v1 news
    """
    with Store(store) as s:
        result = s.rename(old, new, force=force)
    emit(result, as_json, f"renamed {escape(result.dataset)} to {escape(str(result.new_name))} "
                          f"({result.samples} samples)")


RUN_COLUMNS = ("run_id", "kind", "dataset", "generator", "status", "added", "skipped", "failed",
               "started_at", "ended_at")


def runs(dataset: Annotated[Optional[str], typer.Option("--dataset", "-d", help="Only the runs that wrote to this dataset.")] = None,
         store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List the runs with their ids, status and counts, oldest first.

    A run whose process died shows as interrupted; resume it with --run-id ID on the command
    that started it.

    Example: tether runs --dataset synthetic --json
    """
    with Store(store, read_only=True) as s:
        rows = [{k: r[k] for k in RUN_COLUMNS} for r in s.runs(dataset)]
    table = Table(show_edge=False)
    for col in RUN_COLUMNS:  # the id and status never wrap: they are what one copies
        table.add_column(col.removesuffix("_at"), no_wrap=col in ("run_id", "status"),
                         justify="right" if col in ("added", "skipped", "failed") else "left")
    colour = {"complete": "green", "failed": "bold red", "interrupted": "yellow"}
    for r in rows:
        cells = ["-" if r[k] is None else r[k].strftime("%Y-%m-%d %H:%M") if k.endswith("_at")
                 else escape(str(r[k])) for k in RUN_COLUMNS]
        if r["status"] in colour:
            cells[4] = f"[{colour[r['status']]}]{cells[4]}[/]"
        table.add_row(*cells)
    emit(rows, as_json, table)
