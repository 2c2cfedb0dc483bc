"""Run every benchmark in this folder (``make bench``), or the ones named on the command line.

Each ``bench_*.py`` module has a ``main()`` that prints items/s, peak memory and the ratio
against its peer library measured in the same run.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def main(names: list[str]) -> None:
    here = Path(__file__).parent
    for path in sorted(here.glob("bench_*.py")):
        if names and path.stem.removeprefix("bench_") not in names:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"\n== {path.stem} ==", flush=True)
        module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
