"""Model-family commands: ``tether generate llm|label`` and ``tether review export|import``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tether.cli._common import (
    FromOpt,
    IntoOpt,
    JsonOpt,
    RunIdOpt,
    SeedOpt,
    StoreOpt,
    console,
    emit,
    progress_bar,
)
from tether.cli.groups import generate_app
from tether.errors import InputError
from tether.generate.base import GenerateResult, run
from tether.generate.review import export_candidates, import_reviews
from tether.store import Store

review_app = typer.Typer(help="Human shaping of model output: export candidates, import choices.",
                         no_args_is_help=True)

# the OpenAI-compatible client's options, shared by `generate llm` and `judge`
ModelVersionOpt = Annotated[Optional[str], typer.Option(help="Version recorded in provenance (default: the model name).")]
ApiKeyEnvOpt = Annotated[str, typer.Option(help="Environment variable holding the API key (optional).")]
ConcurrencyOpt = Annotated[int, typer.Option(help="Requests in flight at once.")]
TimeoutOpt = Annotated[float, typer.Option(help="Seconds to wait for a connection or a reply.")]
MaxAttemptsOpt = Annotated[int, typer.Option(help="Attempts per request (429/5xx/timeouts are retried).")]
CacheOpt = Annotated[Optional[Path], typer.Option(help="Request cache (SQLite) (default: .tether-cache/llm.sqlite beside the store).")]


def register(app: typer.Typer) -> None:
    generate_app.command("llm")(llm)
    generate_app.command("label")(label)
    app.command("judge")(judge_command)
    review_app.command("export")(review_export)
    review_app.command("import")(review_import)
    app.add_typer(review_app, name="review")


def _report(result: GenerateResult, as_json: bool) -> None:
    retry = f"; retry the failures with --run-id {result.run_id}" if result.failed else ""
    emit(result, as_json, f"run {result.run_id}: added {result.added} samples to "
                          f"{result.dataset}, {result.failed} failed, "
                          f"{result.skipped_duplicates} already there{retry}")


def _cache_beside(store: Store) -> Path:
    folder = Path(store.path).parent if store.path != ":memory:" else Path.cwd()
    from tether.generate.llm import DEFAULT_CACHE
    return folder / DEFAULT_CACHE


@contextmanager
def _reply_bar(description: str, total: int, quiet: bool) -> Iterator[Callable[[Any], None] | None]:
    """A rich progress bar on stderr counting an LLM generator's requests: done of ``total``,
    stored, failed, read from the cache, and completion tokens per second."""
    if quiet:
        yield None
        return
    import time

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    started = time.monotonic()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("stored {task.fields[stored]} · failed {task.fields[failed]} · "
                             "cached {task.fields[cached]} · {task.fields[tps]} tok/s"),
                  TimeElapsedColumn(), console=console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total, stored=0, failed=0, cached=0, tps="-")

        def update(generator: Any) -> None:
            quality, client = generator.quality_summary(), generator.client
            elapsed = time.monotonic() - started
            bar.update(task, completed=quality["requests"], stored=quality["stored"],
                       failed=quality["requests"] - quality["stored"], cached=client.hits,
                       tps=f"{client.tokens / elapsed:.1f}" if client.tokens and elapsed else "-")

        yield update


def _quality_line(quality: dict[str, Any]) -> str:
    failed = ", ".join(f"{kind} {n}" for kind, n in quality["failed"].items()) or "none"
    similarity = quality["mean_similarity"]
    return (f"quality: {quality['stored']} of {quality['requests']} stored; failed: {failed}; "
            f"{quality['near_copies']} copies of the seed rejected; "
            f"{quality['preamble_stripped']} preambles stripped; {quality['duplicates']} "
            f"duplicate replies; mean similarity to the seed "
            f"{'n/a' if similarity is None else similarity}")


def llm(
    source: FromOpt,
    into: IntoOpt,
    endpoint: Annotated[str, typer.Option(help="Base URL of an OpenAI-compatible API, e.g. http://localhost:8000/v1.")],
    model: Annotated[str, typer.Option(help="Model name the endpoint serves.")],
    task: Annotated[str, typer.Option(help="paraphrase|write|answer|label.")] = "paraphrase",
    n_per_seed: Annotated[int, typer.Option(help="Samples to make per seed.")] = 1,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.7,
    labels: Annotated[Optional[str], typer.Option(help="Comma-separated labels to choose from (task label).")] = None,
    model_version: ModelVersionOpt = None,
    max_tokens: Annotated[int, typer.Option(help="Token limit per reply.")] = 512,
    json_mode: Annotated[bool, typer.Option(help="Send response_format=json_object (turn off for endpoints that reject it).")] = True,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    concurrency: ConcurrencyOpt = 4,
    timeout: TimeoutOpt = 60.0,
    max_attempts: MaxAttemptsOpt = 5,
    cache: CacheOpt = None,
    seed: SeedOpt = 0,
    run_id: RunIdOpt = None,
    batch_size: Annotated[int, typer.Option(help="Samples written to the store per transaction.")] = 64,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make samples with an LLM behind any OpenAI-compatible endpoint (cached, resumable).

    Every answer is cached, wrong ones included (they come back the same); run again with
    --run-id to finish an interrupted run or to retry what got no answer (timeouts, HTTP errors,
    replies cut off at --max-tokens) without re-sending anything already answered. The run ends
    with a quality line (also under "summary" in --json and on the run record) and a warning
    when most replies were unusable. A progress bar on stderr counts requests done, stored,
    failed, read from the cache, and tokens per second.

    Example: tether generate llm --from seeds --into paraphrases --endpoint http://localhost:8000/v1 --model qwen2.5-7b --task paraphrase --n-per-seed 3 --seed 0
    """
    label_list = [s.strip() for s in labels.split(",") if s.strip()] if labels else None
    with Store(store) as s:
        from tether.generate.llm import LLMGenerator
        with LLMGenerator(endpoint, model, task=task, n_per_seed=n_per_seed,
                          temperature=temperature, labels=label_list,
                          model_version=model_version, max_tokens=max_tokens,
                          json_mode=json_mode, api_key_env=api_key_env,
                          concurrency=concurrency, timeout=timeout, max_attempts=max_attempts,
                          cache=cache or _cache_beside(s)) as generator, \
                _reply_bar(f"{task} with {model}", s.summary(source).count * n_per_seed,
                           as_json) as progress:
            generator.on_reply = progress
            result = run(s, generator, source, into, seed=seed, run_id=run_id,
                         batch_size=batch_size)
    _report(result, as_json)
    quality = result.summary or {}
    if not as_json:
        typer.echo(_quality_line(quality))
    if quality.get("warning"):
        typer.echo(f"warning: {quality['warning']}", err=True)  # one line, never wrapped


def judge_command(
    endpoint: Annotated[str, typer.Option(help="Base URL of an OpenAI-compatible API, e.g. http://localhost:8000/v1.")],
    model: Annotated[str, typer.Option(help="The judge model the endpoint serves.")],
    rubric: Annotated[Path, typer.Option(help="Text file: what a good answer is, per score.")],
    scale: Annotated[str, typer.Option(help="The rubric's score range LOW-HIGH (1-5; 0-1 for pass/fail).")] = "1-5",
    source: Annotated[Optional[str], typer.Option("--from", help="Store dataset of items to judge (opens --store).")] = None,
    items: Annotated[Optional[Path], typer.Option("--items", help="Or a JSONL of items: id, prompt|question, answer|prediction|response.")] = None,
    into: Annotated[Optional[str], typer.Option("--into", help="Dataset for the scored items (label = score; with --from).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="JSONL of scores: id, prediction (the score), judge_model, judge_family; failures beside it.")] = None,
    family: Annotated[Optional[str], typer.Option(help="The judge's model family (default: guessed from --model).")] = None,
    prompt_field: Annotated[Optional[str], typer.Option(help="Field holding the prompt (default: prompt, question or text).")] = None,
    answer_field: Annotated[Optional[str], typer.Option(help="Field holding the answer (default: answer, prediction or response).")] = None,
    model_version: ModelVersionOpt = None,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.0,
    max_tokens: Annotated[int, typer.Option(help="Token limit per reply.")] = 256,
    json_mode: Annotated[bool, typer.Option(help="Ask for {\"score\": N} with response_format=json_object (turn off to read a bare number).")] = True,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    concurrency: ConcurrencyOpt = 4,
    timeout: TimeoutOpt = 60.0,
    max_attempts: MaxAttemptsOpt = 5,
    cache: CacheOpt = None,
    seed: SeedOpt = 0,
    run_id: RunIdOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score answers against a rubric with an LLM judge (cached, resumable, failures recorded).

    Every score carries the judge's model and family; a reply that is not a number on --scale
    is a failure with its raw reply, never a score. Scores of a store dataset go --into a new
    dataset (label = score, label_origin=synthetic, the judge as generator) and/or --out a
    JSONL file that `tether estimate --predicted` reads as it is.

    Example: tether judge --from answers --into answers-judged --rubric rubric.txt --scale 1-5 --endpoint http://localhost:8000/v1 --model qwen2.5-7b
    """
    if (source is None) == (items is None):
        raise InputError("give the items to judge: --from DATASET or --items FILE (one of them)",
                         field="--from")
    from tether.generate.judge import Rubric, judge
    from tether.generate.llm import LLMClient
    try:
        criteria = rubric.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the rubric: {exc}", path=str(rubric)) from None
    parsed = Rubric.parse(criteria, scale)
    # items from a file need no store: their cache defaults to the working directory
    with Store(store) if source is not None else nullcontext() as s:
        from tether.generate.llm import DEFAULT_CACHE
        client = LLMClient(endpoint, model, api_key_env=api_key_env, concurrency=concurrency,
                           timeout=timeout, max_attempts=max_attempts,
                           cache=cache or (_cache_beside(s) if s is not None
                                          else Path.cwd() / DEFAULT_CACHE))
        try:
            result = judge(s if s is not None else items, parsed, client, dataset=source,
                           into=into, out=out, seed=seed, run_id=run_id, family=family,
                           prompt_field=prompt_field, answer_field=answer_field,
                           model_version=model_version, json_mode=json_mode,
                           temperature=temperature, max_tokens=max_tokens)
        finally:
            client.close()
    where = ", ".join(x for x in (f"dataset {result.dataset}" if result.dataset else "",
                                  f"file {result.out}" if result.out else "") if x)
    mean = "n/a" if result.mean_score is None else f"{result.mean_score:.3f}"
    emit(result, as_json, f"judge {result.judge_model} (family {result.judge_family}): "
                          f"{result.scored} scored (mean {mean}), {result.failed} failed; "
                          f"scores in {where}")


def _descriptions(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise InputError(f"expected LABEL=DESCRIPTION, got {item!r}", field="--describe")
        out[name.strip()] = text.strip()
    return out


def label(
    source: FromOpt,
    into: IntoOpt,
    teacher: Annotated[str, typer.Option(help="sklearn (trained on --train) or zero-shot (from --describe).")],
    train: Annotated[Optional[str], typer.Option(help="Labelled dataset the sklearn teacher learns from.")] = None,
    describe: Annotated[Optional[list[str]], typer.Option(help="LABEL=DESCRIPTION for the zero-shot teacher (repeat per label).")] = None,
    seed: SeedOpt = 0,
    run_id: RunIdOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Label unlabelled real inputs with a teacher model (origin=real, label_origin=synthetic).

    Example: tether generate label --teacher sklearn --train gold --from inbox --into inbox-labelled
    Example: tether generate label --teacher zero-shot --describe "sport=Sports news" --describe "business=Business news" --from inbox --into inbox-labelled
    """
    from tether.generate.teacher import SklearnTeacher, ZeroShotTeacher

    if teacher not in ("sklearn", "zero-shot"):
        raise InputError(f"unknown teacher {teacher!r}; use sklearn or zero-shot", field="--teacher")
    with Store(store) as s:
        if teacher == "sklearn":
            if not train:
                raise InputError("the sklearn teacher needs --train DATASET", field="--train")
            generator = SklearnTeacher.from_dataset(s, train)
        else:
            generator = ZeroShotTeacher(_descriptions(describe))
        with progress_bar(f"labelling with {generator.name}", as_json) as progress:
            result = run(s, generator, source, into, seed=seed, run_id=run_id,
                         batch_size=256, progress=progress)
    _report(result, as_json)


def review_export(
    dataset: Annotated[str, typer.Argument(help="Dataset holding the model-made candidates.")],
    out: Annotated[Path, typer.Option("--out", help="CSV or JSONL file to write.")],
    fmt: Annotated[Optional[str], typer.Option("--format", help="csv|jsonl (default: from the suffix).")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write model-made candidates for people to choose or rate (fill `chosen` or `rating`).

    Example: tether review export paraphrases --out to-review.csv
    """
    with Store(store) as s:
        result = export_candidates(s, dataset, out, fmt)
    emit(result, as_json, f"wrote {result.count} candidates to {result.path}; fill 'chosen' "
                          "(true/false) or 'rating' (an integer), then: tether review import")


def review_import(
    path: Annotated[Path, typer.Argument(help="The reviewed CSV or JSONL file.")],
    source: Annotated[str, typer.Option("--from", help="Dataset the candidates were exported from.")],
    into: Annotated[str, typer.Option("--into", help="Dataset for the chosen candidates.")],
    reviewer: Annotated[Optional[str], typer.Option(help="Who reviewed (default: the file's reviewer column, else your login).")] = None,
    min_rating: Annotated[Optional[int], typer.Option(help="Rated candidates at or above this are chosen (default: the top rated per prompt).")] = None,
    pairs: Annotated[Optional[Path], typer.Option(help="Also write (chosen, rejected) preference pairs here (JSONL).")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="csv|jsonl (default: from the suffix).")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the candidates people chose to a new dataset, marked as chosen by a person.

    Example: tether review import reviewed.csv --from paraphrases --into paraphrases-chosen --pairs pairs.jsonl
    """
    with Store(store) as s:
        result = import_reviews(s, path, source, into, reviewer=reviewer, min_rating=min_rating,
                                fmt=fmt, pairs=pairs)
    emit(result, as_json, f"{result.reviewed} reviewed, {result.chosen} chosen; added "
                          f"{result.added} to {result.dataset}"
                          + (f"; {result.pairs} preference pairs in {result.pairs_path}"
                             if result.pairs_path else ""))
