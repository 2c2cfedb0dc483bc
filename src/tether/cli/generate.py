"""Rule and simulation generator commands: ``tether generate perturb|template|probe|
simulate-users|simulate-sensor``.

Each command builds one generator and runs it through the store with
:func:`tether.generate.run`; ``--json`` prints ``{"run_id", "dataset", "added", "failed"}``.
"""

from __future__ import annotations

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
    counts_table,
    emit,
    progress_bar,
)
from tether.cli.groups import generate_app
from tether.errors import InputError
from tether.generate import GenerateResult, Generator, run
from tether.generate.perturb import OPS, PerturbGenerator, Pipeline
from tether.generate.probes import ATTACKS, ProbeGenerator
from tether.generate.templates import TemplateGenerator, load_slots, load_templates
from tether.store import Store

OpsOpt = Annotated[str, typer.Option(
    "--ops", help=f"Operations as name=rate, comma-separated: {', '.join(OPS)}.")]

def register() -> None:
    generate_app.command("perturb")(perturb)
    generate_app.command("template")(template)
    generate_app.command("probe")(probe)
    generate_app.command("simulate-users")(simulate_users)
    generate_app.command("simulate-sensor")(simulate_sensor)


def _run(store: Path | None, generator: Generator, source: str | None, into: str, seed: int,
         run_id: str | None, as_json: bool, **options: str | None) -> GenerateResult:
    with Store(store) as s, progress_bar(f"{generator.ref} → {into}") as progress:
        result = run(s, generator, source, into, seed=seed, run_id=run_id, progress=progress,
                     **options)
    emit(result, as_json, f"{result.dataset}: added {result.added}, failed {result.failed} "
                          f"(run {result.run_id})")
    return result


def _show_profile(title: str, profile: Any, as_json: bool) -> None:
    """Show a fitted profile: on stdout with the human output, on stderr beside ``--json``."""
    rows = [(k, f"{v:.4g}" if isinstance(v, float) else
             ", ".join(f"{x:g}" for x in v) if isinstance(v, list) else v)
            for k, v in profile.to_dict().items() if k != "quantiles"]
    console(stderr=as_json).print(counts_table(title, rows, ("parameter", "value")))


def perturb(
    from_: FromOpt,
    into: IntoOpt,
    ops: OpsOpt,
    seed: SeedOpt = 0,
    n_per_seed: Annotated[int, typer.Option("--n-per-seed", help="Children per seed.")] = 1,
    run_id: RunIdOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Perturb every seed, keeping its meaning and its label.

    Example: tether generate perturb --from news --into noisy --seed 1 --ops typos=0.05,casing=0.1
    """
    _run(store, PerturbGenerator(Pipeline.parse(ops), n_per_seed), from_, into, seed, run_id,
         as_json)


def template(
    templates: Annotated[Path, typer.Option("--templates", help="JSON/JSONL file of "
                                            "{\"template\": ..., \"label\": ...}.")],
    slots: Annotated[Path, typer.Option("--slots", help="JSON file: slot name → list of values.")],
    into: IntoOpt,
    n: Annotated[Optional[int], typer.Option("--n", help="Draw this many combinations "
                                             "(default: all).")] = None,
    domain: Annotated[Optional[str], typer.Option(help="What the samples are about.")] = None,
    task: Annotated[Optional[str], typer.Option(help="What the samples are for.")] = None,
    seed: SeedOpt = 0,
    run_id: RunIdOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Expand Jinja2 templates over slot values into labelled samples.

    Example: tether generate template --templates t.jsonl --slots slots.json --into tpl --n 500
    """
    generator = TemplateGenerator(load_templates(templates), load_slots(slots), n,
                                  templates_path=templates, slots_path=slots)
    _run(store, generator, None, into, seed, run_id, as_json, domain=domain, task=task)


def probe(
    from_: FromOpt,
    into: IntoOpt,
    attacks: Annotated[str, typer.Option("--attacks", help="Attack families, comma-separated.")]
    = ",".join(ATTACKS),
    seed: SeedOpt = 0,
    run_id: RunIdOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Wrap real seeds in adversarial probes (one per attack family), keeping their labels.

    Decoy answers are drawn from the other labels of the seed dataset.

    Example: tether generate probe --from news --into stress --attacks injection,role
    """
    with Store(store) as s:
        labels = [x for x in s.table(from_).column("label").unique().to_pylist() if x]
    generator = ProbeGenerator([a.strip() for a in attacks.split(",") if a.strip()], labels)
    _run(store, generator, from_, into, seed, run_id, as_json)


def simulate_users(
    from_: FromOpt,
    into: IntoOpt,
    fit_on: Annotated[Optional[str], typer.Option("--fit-on", help="Dataset of real users' "
                                                  "texts to fit the noise profile on.")] = None,
    profile: Annotated[Optional[Path], typer.Option("--profile", help="Use a saved profile "
                                                    "instead of fitting one.")] = None,
    profile_out: Annotated[Optional[Path], typer.Option("--profile-out", help="Save the fitted "
                                                        "profile (JSON).")] = None,
    seed: SeedOpt = 0,
    run_id: RunIdOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make clean texts as messy as real users: fit a noise profile and apply it.

    Example: tether generate simulate-users --fit-on chats --from clean --into messy --profile-out p.json
    """
    from tether.generate.simulate import (
        SimulatedUsers,
        UserProfile,
        dataset_texts,
        fit_user_profile,
    )

    if (fit_on is None) == (profile is None):
        raise InputError("give exactly one of --fit-on DATASET or --profile FILE")
    if profile is not None:
        fitted = UserProfile.load(profile)
    else:
        with Store(store) as s:
            fitted = fit_user_profile(dataset_texts(s, fit_on))
    if profile_out is not None:
        fitted.save(profile_out)
    _show_profile(f"user profile ({fit_on or profile})", fitted, as_json)
    _run(store, SimulatedUsers(fitted, fitted_on=fit_on), from_, into, seed, run_id, as_json)


def simulate_sensor(
    fit_on: Annotated[str, typer.Option("--fit-on", help="Dataset holding a real series.")],
    into: IntoOpt,
    length: Annotated[int, typer.Option("--length", help="Readings to simulate.")],
    field: Annotated[str, typer.Option("--field", help="Numeric field of the series.")] = "value",
    seed: SeedOpt = 0,
    run_id: RunIdOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Simulate a sensor series (trend, AR(1) noise, dropouts, stuck values) fitted on a real one.

    Example: tether generate simulate-sensor --fit-on plant --field value --into sim --length 10000
    """
    from tether.generate.simulate import SimulatedSensor, dataset_series, fit_sensor

    with Store(store) as s:
        fitted = fit_sensor(dataset_series(s, fit_on, field))
    _show_profile(f"sensor profile ({fit_on}.{field})", fitted, as_json)
    _run(store, SimulatedSensor(fitted, length, field, fitted_on=fit_on), None, into, seed,
         run_id, as_json)
