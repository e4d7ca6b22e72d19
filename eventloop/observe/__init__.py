"""Stage 12: see what a running loop is doing, and find what slows it down.

Grows from: chapter 11's ``eventloop.aio.EventLoop`` (whose callbacks all run
through one seam, ``_run_handle``, see ``eventloop/aio/watching.py``) and the
``Recorder`` every stage accepts. Adds the tools engineers use on production
asyncio code, written small enough to read:

    instruments    hooks the loop calls (task spawned, scheduled, stepped, exited;
                   around each callback and each wait for I/O); StepTimes per task
    monitor        from another thread: the tasks and where each waits; a watchdog
                   that catches the loop blocked and says on which line
    faults         a loop with partial sends, resets, spurious readiness, slow DNS
                   and a virtual clock, to test code against the rare cases

Debug mode itself (``eventloop.aio.run(main(), debug=True)``) is part of the
loop: ``eventloop/aio/watching.py``. A recording's Chrome trace, for Perfetto,
sits beside the recorder: ``eventloop/trace_events.py`` (``Recorder.chrome_trace()``).
"""

from eventloop.observe.faults import Faults, FaultyEventLoop
from eventloop.observe.instruments import HookLog, Instrument, StepTimes
from eventloop.observe.monitor import StallWatchdog, format_tasks, tasks_now
from eventloop.trace_events import chrome_trace, save_chrome_trace

__all__ = [
    "Faults",
    "FaultyEventLoop",
    "HookLog",
    "Instrument",
    "StallWatchdog",
    "StepTimes",
    "chrome_trace",
    "format_tasks",
    "save_chrome_trace",
    "tasks_now",
]
