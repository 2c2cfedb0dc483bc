"""The CLI starts at once: --help and `datasets` import none of the heavy libraries."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("sklearn", "scipy", "matplotlib", "cleanlab", "pandas", "torch")

PROBE = """
import sys
sys.argv = ["tether", *sys.argv[1:]]
from tether.cli import main
try:
    main()
except SystemExit:
    pass
heavy = [m for m in {heavy!r} if m in sys.modules]
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["datasets"]], ids=" ".join)
def test_no_heavy_imports(argv, tmp_path) -> None:  # noqa: ANN001
    env_store = str(tmp_path / "empty.duckdb")
    res = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv, *(["--store", env_store]
                                                              if argv == ["datasets"] else [])],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    line = [x for x in res.stderr.splitlines() if x.startswith("HEAVY=")]
    assert line, res.stderr
    assert line[0] == "HEAVY=", (argv, line[0], res.stdout, res.stderr)


def test_copied_constants_agree() -> None:
    from tether.cli import engines, evaluate, mix
    from tether.engines.base import DEFAULT_BATCH_SIZE
    from tether.evaluate.ppi import ESTIMATE_METRICS
    from tether.evaluate.sensitivity import DEFAULT_RATES

    assert engines.DEFAULT_BATCH_SIZE == DEFAULT_BATCH_SIZE
    assert evaluate.ESTIMATE_METRICS == ESTIMATE_METRICS
    assert mix.DEFAULT_RATES == DEFAULT_RATES


def test_import_contracts_hold() -> None:
    """The layers and "no duckdb outside the store" of [tool.importlinter] in pyproject.toml."""
    from pathlib import Path

    lint = Path(sys.executable).parent / "lint-imports"
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True, timeout=300,
                         cwd=root)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
