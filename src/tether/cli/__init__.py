"""The ``tether`` command line: a thin layer where each command calls one library function.

Every command prints a human table by default and the result's ``to_dict()`` with ``--json``.
Errors tether raises on purpose print one line and exit with code 2.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from tether.cli import audit as audit_commands
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
    add_completion=True,  # tether --install-completion / --show-completion SHELL
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(wait: Annotated[Optional[float], typer.Option(
        "--wait", envvar="TETHER_WAIT", show_envvar=True, min=0,
        help="Seconds to wait for a store another process is using (default 5).")] = None) -> None:
    """Keep synthetic data honest: provenance, mixing, audits and evaluation."""
    if wait is not None:  # every Store opened by this command waits this long
        os.environ["TETHER_WAIT"] = str(wait)


store_commands.register(app)
groups.register(app)
report_commands.register(app)
model_commands.register(app)
generate_commands.register()
evaluate_commands.register(app)
mix_commands.register(app)
engine_commands.register(app)
demo_commands.register(app)
audit_commands.register()
# command modules register onto app or onto the groups in tether.cli.groups


def _err(message: str) -> None:
    """Print one ``error: ...`` line on stderr; ``message`` is user text, so its markup is escaped."""
    from rich.markup import escape

    text = " ".join(str(message).split())
    console(stderr=True).print(f"[bold red]error:[/] {escape(text)}", highlight=False,
                               soft_wrap=True)


def _usage_message(exc: Exception) -> str:
    """``what`` for ``where``; see ``help``: one line from a click usage error."""
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None and getattr(ctx, "command_path", None) else "tether"
    what = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    what = what.strip().rstrip(".")
    if not what:  # NoArgsIsHelpError: the help was printed, the command is missing
        what = "missing a command"
    if what[:1].isupper() and what[1:2].islower():
        what = what[0].lower() + what[1:]
    return f"{what} for `{where}`; see `{where} --help`"


def _write_traceback() -> str:
    import os
    import tempfile
    import traceback

    directory = os.environ.get("TETHER_TRACEBACK_DIR") or tempfile.gettempdir()
    os.makedirs(directory, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="tether-traceback-", suffix=".txt", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(traceback.format_exc())
    return path


def main() -> None:
    """Entry point of the ``tether`` console script.

    Usage mistakes and :class:`TetherError` print one line and exit 2; anything unexpected
    prints one line naming the file holding the traceback and exits 70 (``TETHER_DEBUG=1``
    re-raises instead).
    """
    import os

    from typer._click import exceptions as click_exc

    args = sys.argv[1:]
    if args == ["--version"]:
        from importlib.metadata import version

        print(f"tether {version('tether')}")
        return
    try:
        code = app(args=args, prog_name="tether", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except TetherError as exc:
        _err(str(exc))
        sys.exit(exc.exit_code)
    except click_exc.UsageError as exc:
        _err(_usage_message(exc))
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except click_exc.ClickException as exc:
        _err(exc.format_message())
        sys.exit(2)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("TETHER_DEBUG") == "1":
            raise
        try:
            path = _write_traceback()
            where = f"; the traceback is in {path}"
        except OSError:
            where = "; set TETHER_DEBUG=1 to see the traceback"
        _err(f"unexpected {type(exc).__name__}: {exc}{where} (please report it)")
        sys.exit(70)
