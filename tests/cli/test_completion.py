"""Shell completion: ``tether --show-completion`` / ``--install-completion`` (typer's), and the
completions the shell gets back when it asks (``_TETHER_COMPLETE``).

Typer detects the shell from the parent process; ``_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION``
makes the options take the shell's name instead, so the tests name it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TETHER = str(Path(sys.executable).parent / "tether")


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([TETHER, *args], check=False, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1",
                               **env})


@pytest.mark.parametrize("shell, marker", [
    ("bash", "complete -o default -F _tether_completion tether"),
    ("zsh", "#compdef tether"),
    ("fish", "complete --command tether"),
])
def test_show_completion_prints_the_script_for_the_shell(shell, marker):
    done = run("--show-completion", shell)
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout
    assert f"_TETHER_COMPLETE=complete_{shell}" in done.stdout


def test_install_completion_writes_the_script_and_sources_it(tmp_path):
    done = run("--install-completion", "bash", HOME=str(tmp_path))
    assert done.returncode == 0, done.stderr
    script = tmp_path / ".bash_completions" / "tether.sh"
    assert "_tether_completion" in script.read_text()
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()


@pytest.mark.parametrize("words, cword, expected", [
    ("tether ch", 1, {"check"}),
    ("tether check --format ", 3, {"text", "json", "junit", "sarif"}),
    ("tether audit mi", 2, {"mirage"}),
])
def test_the_shell_gets_commands_options_and_choices(words, cword, expected):
    done = run(_TETHER_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(cword))
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == expected
