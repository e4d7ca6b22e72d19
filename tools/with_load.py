"""Run a command on a busy machine: two CPU-bound processes per core beside it.

Usage:  python tools/with_load.py [--per-core N] [--limit SECONDS] -- COMMAND...

A classroom's shared hub is a busy machine, and the exercise checks must give
the same verdicts there as on a quiet laptop. ``make test-load`` runs the
checks' tests under this tool: the tests assert each answer's verdict, so
passing here means the verdicts did not move with the load.

The busy processes are plain Python loops at the same priority as the tests.
Each stops by itself after ``--limit`` seconds, and all are killed when the
command ends, however it ends.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

SPIN = "import time\nend = time.monotonic() + {limit}\nwhile time.monotonic() < end: pass\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-core", type=int, default=2, help="busy processes per core")
    parser.add_argument("--limit", type=float, default=1800, help="seconds a busy process lives")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    options = parser.parse_args(argv)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        parser.error("give the command to run after --")
    count = options.per_core * (os.cpu_count() or 1)
    spinners = [
        subprocess.Popen([sys.executable, "-c", SPIN.format(limit=options.limit)])
        for _ in range(count)
    ]
    print(f"with_load: {count} busy processes ({options.per_core} per core) beside: "
          f"{' '.join(command)}", flush=True)  # fmt: skip
    try:
        return subprocess.call(command)
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()


if __name__ == "__main__":
    sys.exit(main())
