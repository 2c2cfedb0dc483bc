"""Audits: ``tether audit overlap|labels|generator|mirage|coverage|diversity|faithfulness|style``.

Each command calls one library function of :mod:`tether.audit` (``audit_overlap``,
``audit_labels``, ``audit_generator``, ``audit_mirage``, ``audit_coverage``, ``audit_diversity``,
``audit_faithfulness``, ``audit_style``), which saves its result in the store; ``--json`` prints
the result's ``to_dict()``. ``--field`` chooses the text measured (``text``, or any field of the
records); ``--turns`` the turns of a ``messages`` field.
"""


from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table

from tether.cli._common import (
    FieldOpt,
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

if TYPE_CHECKING:
    from tether.audit.generator import GeneratorAuditResult
    from tether.audit.labels import LabelIssuesResult
    from tether.audit.overlap import OverlapResult

RealOpt = Annotated[str, typer.Option("--real", help="Dataset of real samples.")]
SyntheticOpt = Annotated[str, typer.Option(
    "--synthetic", help="Dataset of synthetic samples (the same as --real: split by origin).")]
DatasetOpt = Annotated[str, typer.Option("--dataset", "-d", help="Dataset to audit.")]
TurnsOpt = Annotated[Optional[str], typer.Option(
    "--turns", help="For a messages field (OpenAI chat format): user | assistant | all.")]


def register() -> None:
    """Add the commands to the ``tether audit`` group."""
    for name, command in (("overlap", overlap), ("labels", labels), ("generator", generator),
                          ("mirage", mirage), ("coverage", coverage), ("diversity", diversity),
                          ("faithfulness", faithfulness), ("style", style)):
        audit_app.command(name)(command)


def overlap(
    train: Annotated[str, typer.Option("--train", help="Training dataset (or synthetic data).")],
    eval: Annotated[str, typer.Option("--eval", help="Eval dataset (or the real data the "
                                                     "synthetic data was made from).")],
    threshold: Annotated[float, typer.Option(help="Jaccard at or above which a pair is a "
                                                  "near-duplicate.")] = 0.8,
    holdout: Annotated[Optional[str], typer.Option(
        help="Real records the generator never saw: adds the memorization report, reading "
             "--train as synthetic data made from --eval.")] = None,
    max_train_df: Annotated[Optional[int], typer.Option(
        "--max-train-df", help="Drop 13-grams found in more than this many training texts as "
                               "boilerplate (licences, headers, templates); default 50, 0 "
                               "for no cap.")] = None,
    pairs_out: Annotated[Optional[Path], typer.Option(
        "--pairs-out", help="Write every pair (kind, train_id, eval_id, score) to this Parquet "
                            "file; the result lists only the strongest.")] = None,
    field: FieldOpt = "text",
    turns: TurnsOpt = None,
    store: StoreOpt = None,
    mlflow: MlflowOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Near-duplicates (MinHash LSH + exact Jaccard) and shared 13-grams between two datasets.

    Example: tether audit overlap --train synthetic --eval real --threshold 0.8 --holdout heldout
    --pairs-out pairs.parquet
    """
    options = {} if max_train_df is None else {"max_train_df": max_train_df or None}
    with Store(store) as s, progress_bar(f"overlap {train} × {eval}") as progress:
        from tether.audit.overlap import audit_overlap
        result = audit_overlap(s, train, eval, holdout=holdout, threshold=threshold,
                               progress=progress, field=field, turns=turns,
                               pairs_path=pairs_out, **options)
    emit(result, as_json, _overlap_human(result), mlflow=mlflow)


def _overlap_human(r: OverlapResult) -> Group:
    parts: list[Any] = [
        f"[bold]{r.contaminated_eval}[/] of {r.eval_count} eval samples contaminated "
        f"({r.contamination_rate:.1%}, 95% CI {ci_text(r.contamination_ci)}): "
        f"{r.near_duplicate_eval} near-duplicates, {r.ngram_eval} by shared n-grams",
        f"[dim]{r.method}[/]",
    ]
    if r.pairs:
        parts.append(table("near-duplicates", ["train id", "eval id", "jaccard"],
                            [[p["train_id"], p["eval_id"], p["jaccard"]] for p in r.pairs[:20]]))
    if r.ngram_overlap:
        parts.append(table("shared n-grams", ["train id", "eval id", "shared"],
                            [[p["train_id"], p["eval_id"], p["shared_ngrams"]]
                             for p in r.ngram_overlap[:20]]))
    m = r.memorization
    if m is not None:
        verdict = "[bold red]copied[/]" if m.copied else "[green]no evidence of copying[/]"
        parts += [
            f"memorization: {verdict} — median distance to the closest source record "
            f"{m.synthetic_median:.3f} (synthetic) vs {m.holdout_median:.3f} (unseen real), "
            f"difference {m.median_difference:+.3f} {ci_text(m.median_difference_ci)}, "
            f"Mann–Whitney p = {m.p_value:.3g}; copies (Jaccard ≥ {m.copy_threshold}): "
            f"{m.copy_share_synthetic:.1%} {ci_text(m.copy_share_synthetic_ci)} vs "
            f"{m.copy_share_holdout:.1%} {ci_text(m.copy_share_holdout_ci)}",
            table("closest synthetic samples", ["id", "distance", "nearest real"],
                   [[x["id"], x["distance"], x["nearest_real_id"]] for x in m.synthetic[:10]]),
        ]
    return Group(*parts)


def labels(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset to check.")],
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed of the folds and the student.")] = 0,
    field: FieldOpt = "text",
    turns: TurnsOpt = None,
    store: StoreOpt = None,
    mlflow: MlflowOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Samples whose label is likely wrong (confident learning), by label origin and generator.

    Example: tether audit labels --dataset news --json
    """
    with Store(store) as s, console(stderr=True).status(f"fitting {folds} folds on {dataset}"):
        from tether.audit.labels import audit_labels
        result = audit_labels(s, dataset, folds=folds, seed=seed, field=field, turns=turns)
    emit(result, as_json, _labels_human(result), mlflow=mlflow)


def _labels_human(r: LabelIssuesResult) -> Group:
    def groups(title: str, by: dict[str, dict[str, Any]]) -> Table:
        return table(title, [title, "samples", "issues", "rate", "95% CI"],
                      [[g or "(none)", v["n"], v["issues"], v["rate"], ci_text(v["rate_ci"])]
                       for g, v in by.items()])

    return Group(
        f"[bold]{r.issue_count}[/] likely label issues in {r.n} samples "
        f"({r.issue_rate:.1%}, 95% CI {ci_text(r.issue_rate_ci)})",
        f"[dim]{r.method}[/]",
        groups("label origin", r.by_label_origin),
        groups("generator", r.by_generator),
        table("issues (lowest self-confidence first)",
               ["id", "given", "suggested", "self-confidence"],
               [[i["id"], i["given"], i["suggested"], i["self_confidence"]]
                for i in r.issues[:20]]),
    )


def generator(
    gold: Annotated[str, typer.Option("--gold", help="Real inputs with human labels.")],
    generated: Annotated[str, typer.Option("--generated", help="The same inputs labelled by "
                                                               "the generator (by id or lineage).")],
    embedding: Annotated[str, typer.Option(
        help="Features the input clusters are found in: svd (TF-IDF → SVD) or minilm (sentence "
             "embeddings, the embed extra).")] = "svd",
    min_slice: Annotated[int, typer.Option(help="Smallest bias slice tested (items).")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed of the bootstrap and simulations.")] = 0,
    store: StoreOpt = None,
    mlflow: MlflowOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """How wrong the generator's labels are: accuracy, confusions, skew, bias slices.

    Example: tether audit generator --gold news-gold --generated news-teacher --json
    """
    with Store(store) as s:
        from tether.audit.generator import audit_generator
        result = audit_generator(s, gold, generated, embedding=embedding, min_slice=min_slice,
                                 seed=seed)
    emit(result, as_json, _generator_human(result), mlflow=mlflow)


def _generator_human(r: GeneratorAuditResult) -> Group:
    labels = r.confusion["labels"]
    skew = r.label_skew
    parts: list[Any] = [
        f"accuracy [bold]{r.accuracy:.3f}[/] {ci_text(r.accuracy_ci)} on {r.n} matched items; "
        f"{r.errors} errors, systematic share {r.systematic_share:.2f} "
        f"{ci_text(r.systematic_share_ci)} (slices {r.slice_share:.2f}, confusions "
        f"{r.confusion_share:.2f}), hard-mistake rate {r.hard_error_rate:.3f} "
        f"{ci_text(r.hard_error_rate_ci)}; uniform-noise test p = {r.uniformity_test['p_value']:.3g}",
        f"bias slices: {len(r.slices)} of {r.slices_tested} tested with an error rate "
        "significantly above the rest (Holm-corrected)",
        f"label skew: TVD {skew['tvd']:.3f} {ci_text(skew['tvd_ci'])}, balance "
        f"{skew['balance_real']:.3f} (real) → {skew['balance_generated']:.3f} (generated), "
        f"Stuart–Maxwell p = {skew['p_value']:.3g}",
        f"[dim]{r.method}[/]",
        table("confusion (rows gold, columns generated)", ["gold", *labels],
               [[g, *row] for g, row in zip(labels, r.confusion["matrix"])]),
        table("per class", ["label", "precision", "95% CI", "recall", "95% CI"],
               [[k, v["precision"] if v["precision"] is not None else "-", ci_text(v["precision_ci"]),
                 v["recall"] if v["recall"] is not None else "-", ci_text(v["recall_ci"])]
                for k, v in r.per_class.items()]),
        table("top confusions", ["gold → generated", "count", "uniform expectation", "excess"],
               [[f"{c['gold']} → {c['generated']}", c["count"], c["expected_uniform"],
                 c["excess"]] for c in r.top_confusions]),
    ]
    if r.slices:
        parts.append(table("bias slices (error rate above the rest)",
                           ["slice", "size", "errors", "error rate", "95% CI", "rest",
                            "p (Holm)"],
                           [[x["definition"], x["size"], x["errors"], x["error_rate"],
                             ci_text(x["error_rate_ci"]), x["rest_error_rate"],
                             f"{x['p_adjusted']:.2g}"]
                            for x in r.slices[:20]]))
    if r.answers is not None:
        a = r.answers
        parts.append(f"answers: length ratio (generated/real words) {a['length_ratio']:.2f} "
                     f"{ci_text(a['length_ratio_ci'])} over {a['n']} pairs")
    return Group(*parts)


def _num(x: Any) -> str:
    return "-" if x is None else f"{x:.3g}"


def mirage(real: RealOpt, synthetic: SyntheticOpt,
           permutations: Annotated[int, typer.Option(help="Label permutations for the p-value (0: DeLong p-value).")] = 100,
           folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
           features: Annotated[str, typer.Option(help="ngrams | minilm (the embed extra).")] = "ngrams",
           top: Annotated[int, typer.Option(help="Features and samples to list.")] = 20,
           max_rows: Annotated[Optional[int], typer.Option(
               "--max-rows", help="Texts of each side the two-sample test reads at most (a "
                                  "random sample of a larger side); default 100000, 0 for "
                                  "all.")] = None,
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
                              field=field, turns=turns,
                              **({} if max_rows is None else {"max_rows": max_rows or None}))
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
