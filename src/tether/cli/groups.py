"""Command groups shared by several command modules: ``tether generate ...``, ``tether audit ...``."""

from __future__ import annotations

import typer

generate_app = typer.Typer(help="Make synthetic data with provenance (model, rule, simulation).",
                           no_args_is_help=True)
audit_app = typer.Typer(help="Measure how far synthetic data is from reality.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(generate_app, name="generate")
    app.add_typer(audit_app, name="audit")
