"""Engine commands: ``tether run perturb|simulate-users|minhash|profile`` over Parquet data of
any size, on the ``local`` engine (streaming) or on ``ray``.

``--input`` is a Parquet file, a folder of Parquet files, an object-store URL or, with a
store, a dataset name. With a store (``--store`` or ``$TETHER_STORE``) the run is recorded
with its output location. ``--json`` prints the library result's ``to_dict()``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ContextManager

import typer
from rich.table import Table

from tether.cli._common import JsonOpt, SeedOpt, StoreOpt, emit, progress_bar
from tether.cli.generate import OpsOpt
from tether.store import Store

if TYPE_CHECKING:
    from tether.engines.base import AggregateResult, Transform, TransformResult

# tether.engines.base.DEFAULT_BATCH_SIZE, copied so that the CLI starts without pandas
# (tests/cli/test_startup.py checks that they agree)
DEFAULT_BATCH_SIZE = 10_000

run_app = typer.Typer(help="Run heavy transforms over Parquet data of any size "
                           "(engines: local, ray).", no_args_is_help=True)

InputOpt = Annotated[str, typer.Option("--input", help="Parquet file, folder of Parquet files, "
                                       "s3:// URL, or a dataset name of the store.")]
OutOpt = Annotated[str, typer.Option("--out", help="Folder (or URL) to write Parquet into.")]
EngineOpt = Annotated[str, typer.Option("--engine", help="local (streaming) or ray "
                                        "(needs pip install 'tether[ray]').")]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Rows per batch.")]
LabelOriginOpt = Annotated[str, typer.Option(
    "--label-origin", help="label_origin of input labels when the data does not say.")]


def register(app: typer.Typer) -> None:
    run_app.command("perturb")(perturb)
    run_app.command("simulate-users")(simulate_users)
    run_app.command("minhash")(minhash)
    run_app.command("profile")(profile)
    app.add_typer(run_app, name="run")


def _progress(title: str, engine: str) -> ContextManager[Callable[[int, int], None] | None]:
    """Our progress bar on the local engine; Ray Data draws its own per-operator bars."""
    return progress_bar(title) if engine == "local" else nullcontext(None)


def _transform(fn: Transform, input_: str, out: str, engine: str, batch_size: int,
               store: Path | None, as_json: bool) -> TransformResult:
    s = Store(store) if store is not None else None
    try:
        with _progress(f"{fn.name} ({engine})", engine) as progress:
            from tether.engines.base import run_transform
            result = run_transform(fn, input_, out, engine=engine, batch_size=batch_size,
                                   store=s, progress=progress)
    finally:
        if s is not None:
            s.close()
    emit(result, as_json, f"{result.transform} on {result.engine}: {result.rows_in:,} rows in, "
                          f"{result.rows_out:,} rows out to {result.out} "
                          f"({result.seconds:.1f}s, run {result.run_id})")
    return result


def perturb(
    input_: InputOpt,
    out: OutOpt,
    ops: OpsOpt,
    seed: SeedOpt = 0,
    n_per_seed: Annotated[int, typer.Option("--n-per-seed", help="Children per row.")] = 1,
    engine: EngineOpt = "local",
    batch_size: BatchOpt = DEFAULT_BATCH_SIZE,
    label_origin: LabelOriginOpt = "real",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Perturb every row's text (rule family) into Parquet with provenance.

    Example: tether run perturb --input big/ --out big-noisy/ --ops typos=0.05 --seed 1 --engine ray
    """
    from tether.engines.transforms import perturb_transform
    fn = perturb_transform(ops, seed, n_per_seed=n_per_seed, label_origin=label_origin)
    _transform(fn, input_, out, engine, batch_size, store, as_json)


def simulate_users(
    input_: InputOpt,
    out: OutOpt,
    profile: Annotated[Path, typer.Option("--profile", help="A user profile JSON (written by "
                                          "tether generate simulate-users --profile-out).")],
    seed: SeedOpt = 0,
    engine: EngineOpt = "local",
    batch_size: BatchOpt = DEFAULT_BATCH_SIZE,
    label_origin: LabelOriginOpt = "real",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rewrite every row's text as the profile's simulated users would (simulation family).

    Example: tether run simulate-users --input clean/ --out messy/ --profile users.json --seed 1
    """
    from tether.engines.transforms import simulate_users_transform
    from tether.generate.simulate import UserProfile

    fn = simulate_users_transform(UserProfile.load(profile), seed, fitted_on=str(profile),
                                  label_origin=label_origin)
    _transform(fn, input_, out, engine, batch_size, store, as_json)


def minhash(
    input_: InputOpt,
    out: OutOpt,
    num_perm: Annotated[int, typer.Option("--num-perm", help="Signature length.")] = 128,
    ngram: Annotated[int, typer.Option("--ngram", help="Shingle size.")] = 5,
    unit: Annotated[str, typer.Option("--unit", help="Shingles of char or word n-grams.")] = "char",
    seed: SeedOpt = 1,
    engine: EngineOpt = "local",
    batch_size: BatchOpt = DEFAULT_BATCH_SIZE,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write MinHash signatures (id, signature) of every row's text as Parquet.

    Example: tether run minhash --input train/ --out train-sig/ --engine ray
    """
    from tether.engines.transforms import MinHashTransform
    _transform(MinHashTransform(num_perm, ngram, seed, unit), input_, out, engine, batch_size,
               store, as_json)


def profile(
    input_: InputOpt,
    engine: EngineOpt = "local",
    batch_size: BatchOpt = DEFAULT_BATCH_SIZE,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Profile statistics of every text and the label counts, per batch and combined.

    Example: tether run profile --input big/ --json
    """
    s = Store(store) if store is not None else None
    try:
        with _progress(f"profile ({engine})", engine) as progress:
            from tether.engines.base import run_aggregate
            from tether.engines.transforms import ProfileAggregate
            result: AggregateResult = run_aggregate(ProfileAggregate(), input_, engine=engine,
                                                    batch_size=batch_size, store=s,
                                                    progress=progress)
    finally:
        if s is not None:
            s.close()
    table = Table(title=f"{result.input}: {result.rows_in:,} rows ({result.engine})",
                  title_justify="left", show_edge=False)
    for col in ("statistic", "n", "mean", "95% CI", "std", "min", "max"):
        table.add_column(col, justify="left" if col == "statistic" else "right")
    for name, st in result.result.stats.items():
        def fmt(x: float | None) -> str:
            return "-" if x is None else f"{x:.4g}"

        lo, hi = st.mean_ci.to_dict()  # a bound that is not finite as None
        table.add_row(name, str(st.n), fmt(st.mean), f"[{fmt(lo)}, {fmt(hi)}]", fmt(st.std),
                      fmt(st.min), fmt(st.max))
    emit(result, as_json, table)
