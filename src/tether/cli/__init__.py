"""The ``tether`` command line: a thin layer where each command calls one library function.

Every command prints a human table by default and the result's ``to_dict()`` with ``--json``.
Errors tether raises on purpose print one line and exit with code 2.
"""

from __future__ import annotations

import sys

import typer

from tether.cli import demo as demo_commands
from tether.cli import groups
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
demo_commands.register(app)
# command modules register onto app or onto the groups in tether.cli.groups


def main() -> None:
    """Entry point of the ``tether`` console script."""
    try:
        app(standalone_mode=False)
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
