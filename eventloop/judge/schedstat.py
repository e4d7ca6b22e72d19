"""What the scheduler says about a process or a thread: time on a core, time waiting for one.

Why a module of its own: on a busy machine (a classroom hub, a test run beside
other work) wall time says little about what a program *did*. Linux keeps, per
thread, the time it ran and the time it was ready to run but waited for a core
(``/proc/PID/task/TID/schedstat``). With both, a judge can tell

* a poll from a rest: a poll is *runnable* (running or waiting) the whole time,
  however little CPU the load leaves it; a rest in ``select`` is neither;
* how long a call really took in the candidate: the judge's own wall time, less
  the time the judge's thread waited for a core before it read the answer.

Where schedstat cannot be read (macOS, Windows), these return None and the
checks fall back on CPU and wall time, with the load-sensitivity that brings.
"""

from __future__ import annotations

import os
import threading


def process_schedstat(pid: int) -> tuple[float, float] | None:
    """(seconds on a core, seconds waiting for one) over every thread of ``pid``, or None."""
    on_cpu = waiting = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stats:
                ran, waited, _ = stats.read().split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended while we looked
        except (OSError, ValueError):
            return None
        on_cpu, waiting = on_cpu + int(ran), waiting + int(waited)
    return on_cpu / 1e9, waiting / 1e9


def runnable_seconds(pid: int) -> float | None:
    """Seconds the threads of ``pid`` ran or waited to run, or None without schedstat."""
    stats = process_schedstat(pid)
    return None if stats is None else stats[0] + stats[1]


def this_thread_waiting() -> float:
    """Seconds the calling thread has waited for a core so far (0.0 without schedstat)."""
    try:
        path = f"/proc/self/task/{threading.get_native_id()}/schedstat"
        with open(path) as stats:
            return int(stats.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0
