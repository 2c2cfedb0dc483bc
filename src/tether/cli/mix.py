"""Mixing commands: mix (a stated synthetic share), sweep (share vs real accuracy), sensitivity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Group
from rich.table import Table

from tether.cli._common import JsonOpt, SeedOpt, StoreOpt, ci_text, emit, progress_bar
from tether.errors import InputError
from tether.mix import MixResult, mix
from tether.store import Store

if TYPE_CHECKING:
    from tether.evaluate.sensitivity import SensitivityResult
    from tether.evaluate.sweep import SweepResult

# tether.evaluate.sensitivity.DEFAULT_RATES, copied so that the CLI starts without scikit-learn
# (tests/cli/test_startup.py checks that they agree)
DEFAULT_RATES = (0.05, 0.1, 0.2, 0.3)

TrainCmdOpt = Annotated[Optional[str], typer.Option(
    "--train-cmd", help="Your own training command, e.g. 'python train.py {train} {model}'.")]
PredictCmdOpt = Annotated[Optional[str], typer.Option(
    "--predict-cmd", help="Your own prediction command, e.g. "
                          "'python predict.py {model} {input} {output}'.")]


def register(app: typer.Typer) -> None:
    app.command(name="mix")(mix_command)
    app.command(name="sweep")(sweep_command)
    app.command(name="sensitivity")(sensitivity_command)


def _numbers(text: str, option: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"expected comma-separated numbers, got {text!r}", field=option) from None


def mix_command(
    real: Annotated[str, typer.Option("--real", help="Dataset of real samples.")],
    synthetic: Annotated[str, typer.Option("--synthetic", help="Dataset of synthetic samples.")],
    ratio: Annotated[float, typer.Option("--ratio", help="Synthetic share of the mix, 0 to 1.")],
    into: Annotated[str, typer.Option("--into", help="New dataset to write the mix to.")],
    by: Annotated[Optional[str], typer.Option(help="Hold the share within each label|domain.")] = None,
    cap_per_class: Annotated[Optional[int], typer.Option(help="At most N rows per label (with --by label).")] = None,
    size: Annotated[Optional[int], typer.Option(help="Total rows (default: the most the data allows at an exact share).")] = None,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a training set whose synthetic share is exactly the ratio, provenance intact.

    Refuses, saying what is needed and what is there, when the data is short for the ratio.

    Example: tether mix --real news --synthetic news-typos --ratio 0.3 --into train --by label
    """
    with Store(store) as s:
        result: MixResult = mix(s, real, synthetic, ratio, into, by=by,
                                cap_per_class=cap_per_class, size=size, seed=seed)
    table = Table(show_edge=False)
    for col in ("group", "real", "synthetic", "share", "available real", "available synthetic"):
        table.add_column(col, justify="left" if col == "group" else "right")
    for g in result.groups:
        table.add_row(g.group or "(none)", str(g.real), str(g.synthetic), f"{g.share:.3f}",
                      str(g.available_real), str(g.available_synthetic))
    head = (f"[bold]{result.dataset}[/]: {result.size} samples ({result.real} real, "
            f"{result.synthetic} synthetic), synthetic share {result.share:.4g} "
            f"({'exactly as asked' if result.exact else f'{result.ratio:g} asked, rounded'})")
    emit(result, as_json, Group(head, table))


def sweep_command(
    real: Annotated[str, typer.Option("--real", help="Dataset of real training samples.")],
    synthetic: Annotated[str, typer.Option("--synthetic", help="Dataset of synthetic samples.")],
    holdout: Annotated[str, typer.Option("--holdout", help="Real held-out dataset to score on.")],
    ratios: Annotated[Optional[str], typer.Option(help="Synthetic shares, comma-separated (default: 0,0.1,0.25,0.5,0.75,1; without 1 in add mode).")] = None,
    repeats: Annotated[int, typer.Option(help="Trainings per share, each on a fresh sample.")] = 5,
    mode: Annotated[str, typer.Option(help="replace: fixed size, synthetic replaces real; add: all real plus synthetic.")] = "replace",
    train_cmd: TrainCmdOpt = None,
    predict_cmd: PredictCmdOpt = None,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train a student at each synthetic share and score it on real held-out data.

    Example: tether sweep --real train --synthetic typos --holdout test --ratios 0,0.25,0.5,1

    Your own student: --train-cmd 'python train.py {train} {model}'
    --predict-cmd 'python predict.py {model} {input} {output}' (JSONL in, JSONL with id and
    prediction out).
    """
    shares = _numbers(ratios, "ratios") if ratios else None
    with Store(store) as s, progress_bar("sweep") as progress:
        from tether.evaluate.sweep import sweep
        result: SweepResult = sweep(s, real, synthetic, holdout, ratios=shares, repeats=repeats,
                                    mode=mode, train_cmd=train_cmd, predict_cmd=predict_cmd,
                                    seed=seed, progress=progress)
    data = result.to_dict()
    table = Table(show_edge=False, title=f"real held-out score by synthetic share ({result.mode}, "
                                         f"{result.repeats} repeats, n={result.n_holdout})",
                  title_justify="left")
    for col in ("share", "real", "synthetic", "accuracy", "t-interval", "Wilson (pooled)",
                "macro-F1"):
        table.add_column(col, justify="right")
    for p in data["points"]:
        acc = p["accuracy"]
        table.add_row(f"{p['ratio']:g}", str(p["n_real"]), str(p["n_synthetic"]),
                      f"{acc['mean']:.3f}", ci_text(acc["ci"]), ci_text(acc["wilson_pooled"]),
                      f"{p['macro_f1']['mean']:.3f}")
    trend = data["trend"]
    emit(result, as_json, Group(
        table, f"best share: {data['best']['ratio']:g} (accuracy {data['best']['accuracy']:.3f}); "
               f"accuracy per unit share: {trend['slope']:+.3f} {ci_text(trend['ci'])} "
               f"({trend['method']})"))


def sensitivity_command(
    gold: Annotated[str, typer.Option("--gold", help="Real inputs with human labels.")],
    generated: Annotated[str, typer.Option("--generated", help="The same inputs labelled by the generator (matched by id or parents).")],
    holdout: Annotated[str, typer.Option("--holdout", help="Real held-out dataset to score on.")],
    rates: Annotated[str, typer.Option(help="Label-noise rates to inject, comma-separated.")] = ",".join(map(str, DEFAULT_RATES)),
    repeats: Annotated[int, typer.Option(help="Trainings per noise rate.")] = 3,
    train_cmd: TrainCmdOpt = None,
    predict_cmd: PredictCmdOpt = None,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How much real held-out accuracy a better generator (labeller) is worth.

    Example: tether sensitivity --gold gold --generated teacher-labels --holdout test
    """
    with Store(store) as s, progress_bar("sensitivity") as progress:
        from tether.evaluate.sensitivity import sensitivity
        result: SensitivityResult = sensitivity(
            s, gold, generated, holdout, rates=_numbers(rates, "rates"), repeats=repeats,
            train_cmd=train_cmd, predict_cmd=predict_cmd, seed=seed, progress=progress)
    data = result.to_dict()
    err = data["generator_error"]
    table = Table(show_edge=False, title="real held-out accuracy by training labels",
                  title_justify="left")
    for col in ("labels", "label error", "accuracy", "interval"):
        table.add_column(col, justify="left" if col == "labels" else "right")
    for name, key, rate in (("gold", "gold", 0.0), ("generator", "generated", err["rate"])):
        acc = data[key]["accuracy"]
        table.add_row(name, f"{rate:.3f}", f"{acc['mean']:.3f}", ci_text(acc["wilson_pooled"]))
    for p in data["noise"]:
        name = "generator's pattern" if p["at_generator"] else f"{p['kind']} noise"
        table.add_row(name, f"{p['realised_rate']:.3f}", f"{p['accuracy']['mean']:.3f}",
                      ci_text(p["accuracy"]["ci"]))
    lines = [table, f"generator error rate {err['rate']:.3f} {ci_text(err['ci'])} ({err['method']}) "
                    f"on {result.n_matched} matched inputs"]
    for kind, t in data["trends"].items():
        lines.append(f"{kind} noise: each point of label error moves accuracy by "
                     f"{t['slope'] / 100:+.4f} {ci_text([v / 100 for v in t['ci']] if t['ci'] else None)}"
                     f" ({t['method']})")
    lines += [f"[yellow]warning:[/] {w}" for w in result.warnings]
    emit(result, as_json, Group(*lines))
