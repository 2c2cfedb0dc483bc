"""Every CLI usage mistake ends in one stderr line and exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from tether import cli


def _command_paths() -> list[tuple[list[str], bool]]:
    """Every (sub)command path, and whether it runs without arguments (so skip the no-args run)."""
    root = typer.main.get_command(cli.app)
    out: list[tuple[list[str], bool]] = []

    def walk(cmd, path):  # noqa: ANN001
        subs = getattr(cmd, "commands", None)
        if subs:
            out.append((path, False))  # groups with no args print help or a usage error
            for name, sub in sorted(subs.items()):
                walk(sub, path + [name])
            return
        needs_args = any(getattr(p, "required", False) for p in cmd.params)
        out.append((path, not needs_args))

    for name, sub in sorted(root.commands.items()):
        walk(sub, [name])
    return out


COMMANDS = _command_paths()


def run_main(monkeypatch, capsys, argv):  # noqa: ANN001
    monkeypatch.setattr(sys, "argv", ["tether", *argv])
    with pytest.raises(SystemExit) as info:
        cli.main()
        raise SystemExit(0)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def assert_one_line_error(code, err, argv):  # noqa: ANN001
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (argv, code, err)
    assert len(lines) == 1 and len(err.strip().splitlines()) == 1, (argv, err)
    assert "Traceback" not in err
    assert lines[0].startswith("error:")


def test_commands_are_enumerated() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert "show" in names and "datasets" in names and len(names) > 10


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_typo_option_is_one_line(monkeypatch, capsys, path) -> None:  # noqa: ANN001
    argv = [*path, "--definitely-not-an-option"]
    code, _, err = run_main(monkeypatch, capsys, argv)
    assert_one_line_error(code, err, argv)
    assert "--definitely-not-an-option" in err and f"tether {' '.join(path)} --help" in err


@pytest.mark.parametrize("path", [p for p, runs in COMMANDS if not runs], ids=" ".join)
def test_no_args_is_one_line(monkeypatch, capsys, tmp_path, path) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TETHER_STORE", str(tmp_path / "t.duckdb"))
    code, out, err = run_main(monkeypatch, capsys, path)
    if code == 0 and not err:  # a group with no_args_is_help prints its help
        assert "Usage" in out
        return
    assert_one_line_error(code, err, path)


def test_unknown_command(monkeypatch, capsys) -> None:  # noqa: ANN001
    code, _, err = run_main(monkeypatch, capsys, ["definitely-not-a-command"])
    assert_one_line_error(code, err, ["definitely-not-a-command"])


def test_version() -> None:
    res = subprocess.run([sys.executable, "-m", "tether", "--version"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "tether 0.1.0", res


def test_typo_via_subprocess() -> None:
    res = subprocess.run([sys.executable, "-m", "tether", "show", "--jsn"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "error: no such option: --jsn (Possible options: --json) for `tether show`; "
        "see `tether show --help`"
    ], res.stderr


def test_markup_in_user_strings_is_escaped(monkeypatch, capsys) -> None:  # noqa: ANN001
    from tether.errors import TetherError

    def boom(*args, **kwargs):  # noqa: ANN002, ANN003
        raise TetherError("no dataset [/x] or [red]x[/red]")

    monkeypatch.setattr(cli, "app", boom)
    code, _, err = run_main(monkeypatch, capsys, ["show", "x"])
    assert code == 2
    assert err.strip() == "error: no dataset [/x] or [red]x[/red]"


def test_unexpected_error_exit_70(monkeypatch, capsys, tmp_path) -> None:  # noqa: ANN001
    def boom(*args, **kwargs):  # noqa: ANN002, ANN003
        raise RuntimeError("kaboom [/x]")

    monkeypatch.setattr(cli, "app", boom)
    monkeypatch.setenv("TETHER_TRACEBACK_DIR", str(tmp_path))
    monkeypatch.delenv("TETHER_DEBUG", raising=False)
    code, _, err = run_main(monkeypatch, capsys, ["datasets"])
    assert code == 70
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "kaboom [/x]" in err
    files = list(tmp_path.glob("tether-traceback-*.txt"))
    assert len(files) == 1 and str(files[0]) in lines[0]
    assert "RuntimeError: kaboom" in files[0].read_text()


def test_counts_table_escapes_markup() -> None:
    from rich.console import Console

    from tether.cli._common import counts_table, table

    console = Console(width=200, record=True)
    console.print(counts_table("t", [("[/x]", "[red]x[/red]")], ("a", "b")))
    console.print(table("t", ["a", "b"], [["[/x]", "[red]y[/red]"]]))
    text = console.export_text()
    assert "[/x]" in text and "[red]x[/red]" in text and "[red]y[/red]" in text
