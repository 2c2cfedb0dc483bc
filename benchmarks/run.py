"""Run every benchmark in this folder (``make bench``), or the ones named on the command line.

Each ``bench_*.py`` prints items/s, peak memory and the ratio against its peer library measured
in the same run. Each runs in a fresh process, so that its peak memory is its own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(names: list[str]) -> int:
    here = Path(__file__).parent
    failed = 0
    for path in sorted(here.glob("bench_*.py")):
        if names and path.stem.removeprefix("bench_") not in names:
            continue
        print(f"\n== {path.stem} ==", flush=True)
        failed += subprocess.run([sys.executable, str(path)]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
