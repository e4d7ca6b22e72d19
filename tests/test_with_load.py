"""tools/with_load.py: the command runs beside busy processes, and none of them outlives it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil

TOOL = Path(__file__).resolve().parent.parent / "tools" / "with_load.py"


def test_the_command_runs_beside_busy_processes_which_end_with_it():
    probe = (
        "import os, psutil; me = psutil.Process(os.getppid());"
        "print(sum('end = time.' + 'monotonic()' in ' '.join(p.cmdline()) for p in me.children()))"
    )
    done = subprocess.run(
        [sys.executable, str(TOOL), "--per-core", "1", "--limit", "30", "--",
         sys.executable, "-c", probe],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.splitlines()[-1]) == psutil.cpu_count()
    spinning = [p for p in psutil.process_iter(["cmdline"])
                if "end = time.monotonic() + 30" in " ".join(p.info["cmdline"] or [])]  # fmt: skip
    assert spinning == []


def test_the_commands_exit_status_is_returned():
    done = subprocess.run(
        [sys.executable, str(TOOL), "--per-core", "1", "--limit", "5", "--",
         sys.executable, "-c", "raise SystemExit(3)"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3
