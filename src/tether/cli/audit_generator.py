"""Audits of overlap, label issues and the generator: ``tether audit overlap|labels|generator``.

Each command calls one library function (:func:`tether.audit.overlap.audit_overlap`,
:func:`tether.audit.labels.audit_labels`, :func:`tether.audit.generator.audit_generator`),
which saves its result in the store; ``--json`` prints the result's ``to_dict()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing import Annotated, Any, Optional

import typer
from rich.console import Group
from rich.table import Table

from tether.cli._common import (JsonOpt, MlflowOpt, StoreOpt, ci_text, console, emit,
                                progress_bar, table)
from tether.cli.audit_fidelity import FieldOpt, TurnsOpt
from tether.cli.groups import audit_app
from tether.store import Store

if TYPE_CHECKING:
    from tether.audit.generator import GeneratorAuditResult
    from tether.audit.labels import LabelIssuesResult
    from tether.audit.overlap import OverlapResult


def register() -> None:
    """Add the commands to the ``tether audit`` group."""
    audit_app.command("overlap")(overlap)
    audit_app.command("labels")(labels)
    audit_app.command("generator")(generator)


def overlap(
    train: Annotated[str, typer.Option("--train", help="Training dataset (or synthetic data).")],
    eval: Annotated[str, typer.Option("--eval", help="Eval dataset (or the real data the "
                                                     "synthetic data was made from).")],
    threshold: Annotated[float, typer.Option(help="Jaccard at or above which a pair is a "
                                                  "near-duplicate.")] = 0.8,
    holdout: Annotated[Optional[str], typer.Option(
        help="Real records the generator never saw: adds the memorization report, reading "
             "--train as synthetic data made from --eval.")] = None,
    field: FieldOpt = "text",
    turns: TurnsOpt = None,
    store: StoreOpt = None,
    mlflow: MlflowOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Near-duplicates (MinHash LSH + exact Jaccard) and shared 13-grams between two datasets.

    Example: tether audit overlap --train synthetic --eval real --threshold 0.8 --holdout heldout
    """
    with Store(store) as s, progress_bar(f"overlap {train} × {eval}") as progress:
        from tether.audit.overlap import audit_overlap
        result = audit_overlap(s, train, eval, holdout=holdout, threshold=threshold,
                               progress=progress, field=field, turns=turns)
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
