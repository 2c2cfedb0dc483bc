"""Evaluation commands: eval (real vs synthetic suites) and estimate (prediction-powered)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Group
from rich.table import Table

from tether.cli._common import JsonOpt, MlflowOpt, StoreOpt, ci_text, emit
from tether.errors import InputError
from tether.store import Store

if TYPE_CHECKING:
    from tether.evaluate.ppi import EstimateResult
    from tether.evaluate.suites import EvalResult

# tether.evaluate.ppi.ESTIMATE_METRICS, copied so that the CLI starts without scipy
# (tests/cli/test_startup.py checks that they agree)
ESTIMATE_METRICS = ("mean", "accuracy", "prevalence", "pass_rate", "win_rate")


def register(app: typer.Typer) -> None:
    app.command(name="eval")(eval_command)
    app.command(name="estimate")(estimate_command)


def _parse_thresholds(values: list[str] | None) -> float | dict[str, float] | None:
    """``["0.8"]`` → 0.8 for every synthetic suite; ``["A=0.9", "B=0.7"]`` → per suite."""
    if not values:
        return None
    per_suite: dict[str, float] = {}
    for item in values:
        name, sep, value = item.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            raise InputError(f"expected a number or SUITE=NUMBER, got {item!r}",
                             field="threshold") from None
        if not sep:
            if len(values) > 1:
                raise InputError("give one threshold for all suites, or SUITE=NUMBER each",
                                 field="threshold")
            return number
        per_suite[name] = number
    return per_suite


def _eval_human(result: EvalResult) -> Group:
    parts = []
    for title, suites in (("Real suites (acceptance)", result.real),
                          ("Synthetic suites (unit tests)", result.synthetic)):
        table = Table(title=title, title_justify="left", show_edge=False)
        table.add_column("suite")
        table.add_column("n", justify="right")
        names = list(suites[0].metrics) if suites else []
        for name in names:
            table.add_column(name, justify="right")
        if title.startswith("Synthetic"):
            table.add_column("threshold", justify="right")
            table.add_column("result")
        for s in suites:
            cells = [s.suite, str(s.n)] + [f"{s.metrics[m].estimate:.3f} {ci_text(s.metrics[m].ci)}"
                                          for m in names]
            if s.origin == "synthetic":
                verdict = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "-"}[s.passed]
                cells += ["-" if s.threshold is None else f"{s.threshold:.3f}", verdict]
            table.add_row(*cells)
        parts.append(table if suites else f"{title}: none")
    if result.inflation:
        inf = result.inflation
        what = inf.metric if inf.metric == "accuracy" else f"mean {inf.metric}"
        parts.append(f"inflation gap (synthetic − real {what}): {inf.gap:+.3f} "
                     f"{ci_text(inf.ci)}  [{inf.method}]")
    parts += [f"[yellow]warning:[/] {w}" for w in result.warnings]
    return Group(*parts)


def eval_command(
    predictions: Annotated[Path, typer.Option(
        "--predictions", help="JSONL: id, prediction[, score].")],
    suites: Annotated[str, typer.Option(
        "--suites", help="Comma-separated suite (dataset) names.")],
    model: Annotated[Optional[str], typer.Option(
        "--model", help="Name of the evaluated model.")] = None,
    model_family: Annotated[Optional[str], typer.Option(
        "--model-family", help="Its family (gpt, llama...), checked against suite generators "
                               "and the judge.")
    ] = None,
    judge_family: Annotated[Optional[str], typer.Option(
        "--judge-family", help="Family of the judge that made a score column (default: the "
                               "file's judge_family column, as tether judge writes it).")
    ] = None,
    reference: Annotated[Optional[str], typer.Option(
        "--reference", help="Suite text field that text scores compare against (default: the "
                            "label).")] = None,
    threshold: Annotated[Optional[list[str]], typer.Option(
        "--threshold", help="Pass threshold of synthetic suites: NUMBER, or SUITE=NUMBER "
                            "(repeatable).")] = None,
    save_thresholds: Annotated[bool, typer.Option(
        "--save-thresholds", help="Store the given thresholds with their suites for later runs.")
    ] = False,
    metric: Annotated[Optional[list[str]], typer.Option(
        "--metric", help="accuracy|macro_f1|weighted_f1|balanced_accuracy on class labels, "
                         "exact_match|token_f1|rouge_l on free text, or score:COLUMN (a numeric "
                         "column of the predictions) (repeatable; the first is the pass metric) "
                         "(default: accuracy, macro_f1).")] = None,
    alpha: Annotated[float, typer.Option(help="1 - confidence level of the intervals.")] = 0.05,
    fail_on_regression: Annotated[bool, typer.Option(
        "--fail-on-regression", help="Exit 1 when a synthetic unit-test suite fails.")] = False,
    store: StoreOpt = None,
    mlflow: MlflowOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Score predictions on real suites (acceptance) and synthetic suites (unit tests), apart.

    Reports each metric with its interval and the inflation gap (synthetic − real accuracy,
    or mean score when the first metric is a score).

    Warns for each pair of roles (suite generator, judge, evaluated model) sharing a family.
    The result is saved in the store.

    Example: tether eval --predictions p.jsonl --suites real_a,synth_b --metric rouge_l
    --metric token_f1 --model-family gpt --judge-family claude --threshold 0.3
    """
    names = [s.strip() for s in suites.split(",") if s.strip()]
    limits = _parse_thresholds(threshold)
    metrics = tuple(metric or ("accuracy", "macro_f1"))
    with Store(store) as s:
        from tether.evaluate.suites import evaluate_suites, save_suite_threshold
        result = evaluate_suites(s, predictions, names, model=model, model_family=model_family,
                                 judge_family=judge_family, reference=reference,
                                 metrics=metrics,
                                 thresholds=limits, alpha=alpha)
        if save_thresholds and limits is not None:
            per_suite = limits if isinstance(limits, dict) else {
                r.suite: limits for r in result.synthetic}
            for name, value in per_suite.items():
                save_suite_threshold(s, name, value,
                                     bounded=not metrics[0].startswith("score:"))
    emit(result, as_json, _eval_human(result), mlflow=mlflow)
    if fail_on_regression and result.failed:
        raise typer.Exit(1)


def _estimate_human(result: EstimateResult) -> Group:
    what = result.metric + (f" of {result.positive!r}" if result.positive else "") + (
        f" at >= {result.threshold:g}" if result.threshold is not None else "")
    table = Table(title=f"{what}: {result.n_gold} gold rows, {result.n_unlabelled} unlabelled, "
                        f"{1 - result.alpha:.0%} intervals", title_justify="left", show_edge=False)
    for col in ("method", "estimate", "interval", "effective n"):
        table.add_column(col, justify="left" if col == "method" else "right")
    eff = result.effective_n
    table.add_row("classical", f"{result.classical.estimate:.4f}", ci_text(result.classical.ci),
                  str(result.n_gold))
    table.add_row("PPI", f"{result.ppi.estimate:.4f}", ci_text(result.ppi.ci),
                  "-" if eff["ppi"] is None else f"{eff['ppi']:.0f}")
    table.add_row(f"PPI++ (λ={result.lam:.3f})", f"{result.ppi_pp.estimate:.4f}",
                  ci_text(result.ppi_pp.ci), "-" if eff["ppi_pp"] is None else f"{eff['ppi_pp']:.0f}")
    why = {"mean": "the gold labels are numbers", "prevalence": "--positive was given",
           "accuracy": "the gold labels are classes and every row has a score",
           "pass_rate": "--threshold was given"}
    notes = [f"metric: {result.metric} (inferred: {why[result.metric]}; choose with --metric)"] \
        if result.metric_inferred else []
    return Group(table, *notes)


def estimate_command(
    gold: Annotated[Path, typer.Option(
        "--gold", help="JSONL of real gold rows: label, prediction[, score].")],
    predicted: Annotated[Path, typer.Option(
        "--predicted", help="JSONL of unlabelled rows: prediction[, score].")],
    metric: Annotated[Optional[str], typer.Option(
        help=f"{'|'.join(ESTIMATE_METRICS)} (default: mean for numeric labels, accuracy for "
             "class labels when every row has a score; with --positive, prevalence; with "
             "--threshold, pass_rate). The output says which it used.")] = None,
    alpha: Annotated[float, typer.Option(help="1 - confidence level of the intervals.")] = 0.05,
    positive: Annotated[Optional[str], typer.Option(
        help="The class whose prevalence to estimate.")] = None,
    threshold: Annotated[Optional[float], typer.Option(
        help="pass_rate: the lowest passing score.")] = None,
    store: Annotated[Optional[Path], typer.Option(
        "--store", help="Save the result in this store (optional).")] = None,
    mlflow: MlflowOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Estimate a metric on a large unlabelled set from a small gold set: classical, PPI, PPI++.

    mean: truth = label (a person's score); proxy = prediction (a judge's score).

    pass_rate: truth = label >= --threshold; proxy = score (the judge's pass probability) or
    prediction >= --threshold.

    win_rate: truth = label, the person's preference (A, B or tie); proxy = score (the judge's
    chance that A wins) or prediction, the judge's preference.

    accuracy: truth = label equals prediction; proxy = score, the model's chance of being right.

    prevalence: truth = label is --positive; proxy = score (its probability) or prediction.

    Example: tether estimate --gold gold.jsonl --predicted rest.jsonl --metric pass_rate
    --threshold 4 --json
    """
    from tether.evaluate.ppi import estimate
    options = {"metric": metric, "alpha": alpha, "positive": positive, "threshold": threshold}
    if store is None:
        result = estimate(gold, predicted, **options)
    else:
        with Store(store) as s:
            result = estimate(gold, predicted, **options, store=s)
    emit(result, as_json, _estimate_human(result), mlflow=mlflow)
