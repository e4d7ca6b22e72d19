"""Look at a running loop from another thread: its tasks, and what it is stuck on.

A loop that is blocked cannot answer questions: a tool that runs *on* the loop
(a task that prints the others) waits behind the very call that blocks it.
So these tools run in a thread of their own:

* ``tasks_now(loop)`` lists the loop's tasks and the line where each one
  waits, from ``task.get_stack()``: what aiomonitor's ``ps`` and ``where``
  show.
* ``StallWatchdog`` is an instrument *and* a thread: the loop tells it when a
  callback starts and ends; the thread wakes up every few milliseconds and, if
  one callback has run longer than ``threshold``, copies the loop thread's
  stack (``sys._current_frames``). The line at the top of that stack is the
  blocking call, caught while it blocks.

Reading another thread's frames is a snapshot: it can be a moment out of date,
never wrong about a call that has lasted ``threshold`` seconds.
"""

from __future__ import annotations

import asyncio
import os
import sys
import sysconfig
import threading
import time
import traceback
from dataclasses import dataclass, field
from types import FrameType, TracebackType

from eventloop.aio.watching import format_handle, handle_name
from eventloop.observe.instruments import Instrument


@dataclass(frozen=True)
class TaskState:
    """One unfinished task, seen from outside: its name, whether it holds the loop, and the
    line it is on."""

    name: str
    state: str  # "running": its step holds the loop now; "waiting": suspended at an await
    where: str  # "line 12 of service.py, in fetch"


def tasks_now(loop: asyncio.AbstractEventLoop) -> list[TaskState]:
    """The loop's unfinished tasks, by name; safe to call from any thread, even while it blocks."""
    running = asyncio.current_task(loop)  # the task whose step runs now, if any
    states = []
    for task in asyncio.all_tasks(loop):
        state = "running" if task is running else "waiting"
        states.append(TaskState(task.get_name(), state, where(task.get_stack(limit=None)[-1:])))
    return sorted(states, key=lambda state: state.name)


def where(frames: list[FrameType]) -> str:
    """``line N of file.py, in function`` for the last frame, or ``""`` for none."""
    if not frames:
        return ""
    code = frames[-1].f_code
    return place(code.co_filename, frames[-1].f_lineno, code.co_name)


def place(filename: str, line: int | None, function: str) -> str:
    """``line N of file.py, in function``: how this module names a place in code."""
    return f"line {line} of {short_path(filename)}, in {function}"


def short_path(filename: str) -> str:
    """A notebook cell's file is a temporary name; a library's path is long: keep the end."""
    if filename.startswith("<ipython-input") or "/ipykernel_" in filename:
        return "a notebook cell"
    return os.path.basename(filename)


@dataclass(frozen=True)
class Stall:
    """One callback that kept the loop for longer than the threshold, caught in the act."""

    name: str  # "Task request ann", or the callback's name
    callback: str  # the task's repr (as asyncio's debug mode shows it), or the handle's
    seconds: float  # how long it had run when the watchdog looked
    stack: list[str] = field(default_factory=list)  # "line N of file, in function: code"
    culprit: str = "(no stack)"  # the innermost line of *your* code in that stack


class StallWatchdog(Instrument):
    """Catches the loop blocked in one callback for longer than ``threshold`` seconds.

    Use it as a context manager around a run::

        with StallWatchdog(threshold=0.05) as dog:
            eventloop.aio.run(main(), instruments=[dog])
        print(dog.stalls[0].culprit)
    """

    def __init__(self, threshold: float = 0.1, poll: float | None = None) -> None:
        self.threshold = threshold
        self.poll = poll if poll is not None else threshold / 4
        self.stalls: list[Stall] = []
        # Written by the loop's thread, read by the watchdog's: one tuple, replaced whole.
        # Written by the loop's thread, read by the watchdog's: one tuple, replaced whole.
        # The call number tells one call of a callback from the next (add_reader reuses
        # its handle), and shows whether the call is still the same after a snapshot.
        self.running: tuple[int, int, asyncio.Handle, float] | None = None
        self.calls = 0
        self.reported = -1  # the number of the last call reported
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stall-watchdog", daemon=True)

    # --- the loop's thread calls these ---------------------------------------------------------

    def before_callback(self, handle: asyncio.Handle) -> None:
        self.calls += 1
        self.running = (self.calls, threading.get_ident(), handle, time.monotonic())

    def after_callback(self, handle: asyncio.Handle, seconds: float) -> None:
        self.running = None

    # --- the watchdog's thread -----------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            running = self.running
            if running is None:
                continue
            call, thread_id, handle, started = running
            took = time.monotonic() - started
            if took < self.threshold or call == self.reported:
                continue  # not long yet, or reported already: one report per stall
            frame = sys._current_frames().get(thread_id)
            stack = traceback.extract_stack(frame) if frame is not None else []
            del frame
            if self.running is not running:
                continue  # the call ended while we looked: this stack may be the next one's
            self.reported = call
            self.stalls.append(
                Stall(
                    handle_name(handle),
                    format_handle(handle),
                    took,
                    stack_lines(stack),
                    culprit(stack),
                )
            )

    def start(self) -> StallWatchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> StallWatchdog:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def report(self) -> str:
        """One paragraph per stall: which task, for how long, and the line it was on."""
        if not self.stalls:
            return f"no callback ran longer than {self.threshold * 1000:.0f} ms"
        return "\n".join(
            f"stalled ≥ {stall.seconds * 1000:.0f} ms in {stall.name}\n    at {stall.culprit}"
            for stall in self.stalls
        )


def stack_lines(stack: list[traceback.FrameSummary]) -> list[str]:
    """A stack, outermost first, as ``line N of file, in function: code``."""
    return [describe(summary) for summary in stack]


def describe(summary: traceback.FrameSummary) -> str:
    """``line N of file.py, in function: code``, the code when its source is known."""
    where = place(summary.filename, summary.lineno, summary.name)
    return f"{where}: {summary.line}" if summary.line else where


def culprit(stack: list[traceback.FrameSummary]) -> str:
    """The innermost frame of *your* code: not Python's library, not an installed package,
    not this course's package. Failing that, the innermost frame outside Python's library.

    The very innermost frame is usually deep in a library (``threading.py``,
    ``socket.py``, a client library's module); the line to fix is the one of
    yours that called it.
    """
    for summary in reversed(stack):
        if where_from(summary.filename) == "yours":
            return describe(summary)
    for summary in reversed(stack):
        if where_from(summary.filename) != "python":
            return describe(summary)
    return describe(stack[-1]) if stack else "(no stack)"


LIBRARY = sysconfig.get_paths()["stdlib"]
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def where_from(filename: str) -> str:
    """``"python"`` (its library), ``"installed"`` (site-packages or this package), or
    ``"yours"``."""
    path = os.path.abspath(filename)
    if "site-packages" in path or "dist-packages" in path or path.startswith(PACKAGE + os.sep):
        return "installed"
    return "python" if path.startswith(LIBRARY + os.sep) else "yours"


def format_tasks(states: list[TaskState]) -> str:
    """``tasks_now``'s answer as a small table."""
    rows = [f"{'task':<14} {'state':<9} on"]
    rows += [f"{s.name:<14} {s.state:<9} {s.where}" for s in states]
    return "\n".join(rows)
