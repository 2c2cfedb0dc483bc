"""The ``tether`` command line: a thin layer where each command calls one library function.

Every command prints a human table by default and the result's ``to_dict()`` with ``--json``.
Errors tether raises on purpose print one line and exit with code 2.
"""

from __future__ import annotations

import sys

import typer

from tether.cli import audit_fidelity as audit_fidelity_commands
from tether.cli import audit_generator as audit_generator_commands
from tether.cli import demo as demo_commands
from tether.cli import engines as engine_commands
from tether.cli import evaluate as evaluate_commands
from tether.cli import generate as generate_commands
from tether.cli import groups
from tether.cli import mix as mix_commands
from tether.cli import model as model_commands
from tether.cli import report as report_commands
from tether.cli import store as store_commands
from tether.cli._common import console
from tether.errors import TetherError

app = typer.Typer(
    name="tether",
    help="Keep synthetic data honest: provenance, mixing, audits and evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
store_commands.register(app)
groups.register(app)
report_commands.register(app)
model_commands.register(app)
generate_commands.register()
evaluate_commands.register(app)
mix_commands.register(app)
engine_commands.register(app)
demo_commands.register(app)
audit_generator_commands.register()
audit_fidelity_commands.register()
# command modules register onto app or onto the groups in tether.cli.groups


def main() -> None:
    """Entry point of the ``tether`` console script."""
    try:
        code = app(standalone_mode=False)  # typer.Exit(n) comes back as n here
        if isinstance(code, int) and code:
            sys.exit(code)
    except TetherError as exc:
        console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
