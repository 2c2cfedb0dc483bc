"""Fidelity audits: ``tether audit mirage|coverage|diversity|faithfulness|style``.

Each command calls one library function (:func:`tether.audit.mirage.audit_mirage`,
:func:`tether.audit.coverage.audit_coverage`, :func:`tether.audit.diversity.audit_diversity`,
:func:`tether.audit.faithfulness.audit_faithfulness`, :func:`tether.audit.style.audit_style`),
which saves its result in the store; ``--json`` prints the result's ``to_dict()``. ``--field``
chooses the text measured (``text``, or any field of the records); ``--turns`` the turns of a
``messages`` field.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.console import Group
from rich.markup import escape

from tether.cli._common import (
    JsonOpt,
    MlflowOpt,
    SeedOpt,
    StoreOpt,
    ci_text,
    console,
    emit,
    progress_bar,
    table,
)
from tether.cli.groups import audit_app
from tether.store import Store

RealOpt = Annotated[str, typer.Option("--real", help="Dataset of real samples.")]
SyntheticOpt = Annotated[str, typer.Option(
    "--synthetic", help="Dataset of synthetic samples (the same as --real: split by origin).")]
DatasetOpt = Annotated[str, typer.Option("--dataset", "-d", help="Dataset to audit.")]
FieldOpt = Annotated[str, typer.Option(
    "--field", help="Field to measure: text, or any field of the records (prompt, response ...).")]
TurnsOpt = Annotated[Optional[str], typer.Option(
    "--turns", help="For a messages field (OpenAI chat format): user | assistant | all.")]


def register() -> None:
    """Add the commands to the ``tether audit`` group."""
    audit_app.command("mirage")(mirage)
    audit_app.command("coverage")(coverage)
    audit_app.command("diversity")(diversity)
    audit_app.command("faithfulness")(faithfulness)
    audit_app.command("style")(style)


def _num(x: Any) -> str:
    return "-" if x is None else f"{x:.3g}"


def mirage(real: RealOpt, synthetic: SyntheticOpt,
           permutations: Annotated[int, typer.Option(help="Label permutations for the p-value (0: DeLong p-value).")] = 100,
           folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
           features: Annotated[str, typer.Option(help="ngrams | minilm (the embed extra).")] = "ngrams",
           top: Annotated[int, typer.Option(help="Features and samples to list.")] = 20,
           field: FieldOpt = "text", turns: TurnsOpt = None,
           seed: SeedOpt = 0, store: StoreOpt = None, mlflow: MlflowOpt = False,
           as_json: JsonOpt = False) -> None:
    """Profile real against synthetic text and run a classifier two-sample test.

    AUC near 0.5: indistinguishable. Lists the features that give the synthetic side away.

    Example: tether audit mirage --real support --synthetic llm_support --permutations 100
    """
    with Store(store) as s, progress_bar("two-sample test (folds)") as progress:
        from tether.audit.mirage import audit_mirage
        result = audit_mirage(s, real, synthetic, permutations=permutations, folds=folds,
                              features=features, top=top, seed=seed, progress=progress,
                              field=field, turns=turns)
    if as_json:
        emit(result, True, mlflow=mlflow)
        return
    prof = result.profile
    head = (f"[bold]mirage[/] {real} ({result.n_real}) vs {synthetic} ({result.n_synthetic}), "
            f"field {escape(result.field)}: "
            f"C2ST AUC {result.c2st_auc:.3f} {ci_text(result.auc_ci)}, p = {result.p_value:.3g}")
    stats = table("profile", ["statistic", "real", "synthetic", "Cliff's delta", "p (BH)", "flag"],
                   [[k, _num(v.real_mean), _num(v.synthetic_mean), _num(v.cliffs_delta),
                     _num(v.p_adjusted), v.flag or ""] for k, v in prof.stats.items()])
    feats = table("giveaways", ["feature", "weight"],
                   [[f["feature"], f"{f['weight']:.3g}"] for f in result.top_features[:10]])
    emit(result, False, Group(head, stats, feats,
                              "most synthetic-looking: " + ", ".join(result.most_synthetic[:10])),
         mlflow=mlflow)


def coverage(real: RealOpt, synthetic: SyntheticOpt,
             k: Annotated[int, typer.Option(help="Neighbours defining each k-NN ball.")] = 5,
             clusters: Annotated[int, typer.Option(help="k-means modes of the real data.")] = 12,
             threshold: Annotated[float, typer.Option(help="A mode is uncovered below this reached share.")] = 0.1,
             embedding: Annotated[str, typer.Option(help="svd | minilm (the embed extra).")] = "svd",
             field: FieldOpt = "text", turns: TurnsOpt = None,
             seed: SeedOpt = 0, store: StoreOpt = None, mlflow: MlflowOpt = False,
             as_json: JsonOpt = False) -> None:
    """Precision and recall of the synthetic distribution, per label, and uncovered real modes.

    Example: tether audit coverage --real support --synthetic llm_support --json
    """
    with Store(store) as s, console(stderr=True).status("measuring coverage"):
        from tether.audit.coverage import audit_coverage
        result = audit_coverage(s, real, synthetic, k=k, clusters=clusters, threshold=threshold,
                                embedding=embedding, seed=seed, field=field, turns=turns)
    head = (f"[bold]coverage[/] ({escape(result.field)}) precision {result.precision:.3f} "
            f"{ci_text(result.precision_ci)}, "
            f"recall {result.recall:.3f} {ci_text(result.recall_ci)}")
    labels = table("by label", ["label", "precision", "recall", "real", "synthetic"],
                    [[k_, _num(v["precision"]), _num(v["recall"]), v["n_real"], v["n_synthetic"]]
                     for k_, v in result.by_label.items()])
    modes = table("uncovered real modes", ["cluster", "size", "reached", "label", "examples"],
                   [[m.cluster, m.size, f"{m.reached:.2f}", m.label or "", ", ".join(m.examples[:3])]
                    for m in result.uncovered_real])
    emit(result, as_json, Group(head, labels, modes), mlflow=mlflow)


def diversity(dataset: DatasetOpt,
              draws: Annotated[int, typer.Option(help="Random equal-size draws per group.")] = 20,
              field: FieldOpt = "text", turns: TurnsOpt = None,
              seed: SeedOpt = 0, store: StoreOpt = None, mlflow: MlflowOpt = False,
              as_json: JsonOpt = False) -> None:
    """Diversity per generation, per generator and over time; warns on feedback loops.

    Example: tether audit diversity --dataset train_mix
    """
    with Store(store) as s, console(stderr=True).status("measuring diversity"):
        from tether.audit.diversity import METRICS, audit_diversity
        result = audit_diversity(s, dataset, draws=draws, seed=seed, field=field, turns=turns)
    parts: list[Any] = [f"[bold]diversity[/] of {escape(dataset)}, field {escape(result.field)}"]
    for title, groups in (("by generation", result.by_generation),
                          ("by generator", result.by_generator), ("over time", result.over_time)):
        if groups:
            parts.append(table(title, ["group", "n", *METRICS],
                                [[g.group, g.n, *(_num(g.metrics[m]["value"]) for m in METRICS)]
                                 for g in groups]))
    parts += [f"[bold yellow]warning:[/] {w}" for w in result.warnings] or ["no falling diversity"]
    emit(result, as_json, Group(*parts), mlflow=mlflow)


def faithfulness(dataset: DatasetOpt,
                 classifier_train: Annotated[Optional[str], typer.Option(
                     help="Dataset to train the classifier on (default: the store's real, "
                          "human-labelled samples that are not parents).")] = None,
                 worst: Annotated[int, typer.Option(help="Worst cases to list.")] = 10,
                 field: FieldOpt = "text", turns: TurnsOpt = None,
                 seed: SeedOpt = 0, store: StoreOpt = None, mlflow: MlflowOpt = False,
                 as_json: JsonOpt = False) -> None:
    """Share of derived samples whose predicted label differs from their parent's.

    Example: tether audit faithfulness --dataset augmented --classifier-train real_train
    """
    with Store(store) as s, console(stderr=True).status("training the classifier"):
        from tether.audit.faithfulness import audit_faithfulness
        result = audit_faithfulness(s, dataset, classifier_train=classifier_train, worst=worst,
                                    seed=seed, field=field, turns=turns)
    head = (f"[bold]faithfulness[/] ({escape(result.field)}) {result.n_children} children: "
            "label flips "
            f"{result.flip_rate:.1%} {ci_text(result.flip_ci)}, similarity {_num(result.similarity)}")
    groups = [table(title, [title.split()[-1], "n", "flip rate", "interval", "similarity"],
                     [[k, v.n, f"{v.flip_rate:.1%}", ci_text(v.flip_ci), _num(v.similarity)]
                      for k, v in by.items()])
              for title, by in (("by generator", result.by_generator),
                                ("by operation", result.by_operation))]
    worst_rows = table("worst cases", ["child", "parent", "labels", "similarity"],
                        [[w["child_id"], w["parent_id"], f"{w['parent_label']} -> {w['child_label']}",
                          f"{w['similarity']:.2f}"] for w in result.worst])
    emit(result, as_json, Group(head, *groups, worst_rows), mlflow=mlflow)


def style(real: RealOpt, synthetic: SyntheticOpt, field: FieldOpt = "text",
          turns: TurnsOpt = None,
          prompt_field: Annotated[Optional[str], typer.Option(
              "--prompt-field", help="Field of the prompt, for the length relative to it.")] = None,
          alpha: Annotated[float, typer.Option(help="Level of the BH-adjusted tests.")] = 0.05,
          top: Annotated[int, typer.Option(help="Features to list.")] = 10,
          store: StoreOpt = None, mlflow: MlflowOpt = False,
          as_json: JsonOpt = False) -> None:
    """Style and objective audit: length, hedging, politeness, refusals, formatting,
    readability, scripts and stock openers ("Sure", "As an AI") of real and synthetic answers.

    Example: tether audit style --real qa --synthetic llm_qa --field response --prompt-field prompt
    """
    with Store(store) as s, console(stderr=True).status("measuring style"):
        from tether.audit.style import audit_style
        result = audit_style(s, real, synthetic, field=field, turns=turns,
                             prompt_field=prompt_field, alpha=alpha)
    head = (f"[bold]style[/] {real} ({result.n_real}) vs {synthetic} ({result.n_synthetic}), "
            f"field {escape(result.field)}: {len(result.flagged)} of {len(result.features)} "
            f"features differ (BH-adjusted p < {alpha}, |Cliff's delta| >= 0.147)")
    shown = result.flagged[:top] or list(result.features)[:top]
    rows = table("features" + (" that differ most" if result.flagged else ""),
                 ["feature", "real", "synthetic", "ratio", "Cliff's delta", "p (BH)", "examples"],
                 [[k, _num(f.real_mean), _num(f.synthetic_mean), _num(f.ratio),
                   _num(f.cliffs_delta), _num(f.p_adjusted), ", ".join(f.examples)]
                  for k, f in ((k, result.features[k]) for k in shown)])
    emit(result, as_json, Group(head, rows, *map(escape, result.findings[:top])), mlflow=mlflow)
