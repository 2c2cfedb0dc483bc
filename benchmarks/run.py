"""Run every benchmark in this folder (``make bench``), or the ones named on the command line.

Each ``bench_*.py`` prints items/s, peak memory and the ratio against its peer library measured
in the same run. Each runs in a fresh process, so that its peak memory is its own, and under a
timeout (``TETHER_BENCH_TIMEOUT`` seconds, default 1800): one that overruns is killed and counts
as failed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

TIMEOUT = float(os.environ.get("TETHER_BENCH_TIMEOUT", "1800"))


def main(names: list[str]) -> int:
    here = Path(__file__).parent
    failed = 0
    for path in sorted(here.glob("bench_*.py")):
        if names and path.stem.removeprefix("bench_") not in names:
            continue
        print(f"\n== {path.stem} ==", flush=True)
        # a session of its own, so that a timeout also ends its worker processes
        child = subprocess.Popen([sys.executable, str(path)], start_new_session=True)
        try:
            failed += child.wait(timeout=TIMEOUT) != 0
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            print(f"{path.stem}: killed after the {TIMEOUT:.0f} s timeout", flush=True)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
