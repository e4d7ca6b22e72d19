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
    """One task, seen from outside: its name, its state, the line where it waits."""

    name: str
    state: str  # "pending", "done", "cancelled"
    where: str  # "line 12 of service.py, in fetch", or "" once it has finished


def tasks_now(loop: asyncio.AbstractEventLoop) -> list[TaskState]:
    """The loop's unfinished tasks, by name; safe to call from any thread, even while it blocks."""
    states = []
    for task in asyncio.all_tasks(loop):
        stack = task.get_stack(limit=None)
        states.append(TaskState(task.get_name(), task._state.lower(), where(stack[-1:])))
    return sorted(states, key=lambda state: state.name)


def where(frames: list[FrameType]) -> str:
    """``line N of file.py, in function`` for the last frame, or ``""`` for none."""
    if not frames:
        return ""
    code = frames[-1].f_code
    return f"line {frames[-1].f_lineno} of {short_path(code.co_filename)}, in {code.co_name}"


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
        self.running: tuple[int, asyncio.Handle, float] | None = None
        self.reported: asyncio.Handle | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stall-watchdog", daemon=True)

    # --- the loop's thread calls these ---------------------------------------------------------

    def before_callback(self, handle: asyncio.Handle) -> None:
        self.running = (threading.get_ident(), handle, time.monotonic())

    def after_callback(self, handle: asyncio.Handle, seconds: float) -> None:
        self.running = None

    # --- the watchdog's thread -----------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            running = self.running
            if running is None:
                continue
            thread_id, handle, started = running
            took = time.monotonic() - started
            if took >= self.threshold and handle is not self.reported:
                self.reported = handle  # one report per stall, however long it lasts
                frame = sys._current_frames().get(thread_id)
                stack = traceback.extract_stack(frame) if frame is not None else []
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
    place = f"line {summary.lineno} of {short_path(summary.filename)}, in {summary.name}"
    return f"{place}: {summary.line}" if summary.line else place


def culprit(stack: list[traceback.FrameSummary]) -> str:
    """The innermost frame that is neither Python's library nor this package: your code.

    The very innermost frame is usually deep in the library (``threading.py``,
    ``socket.py``); the line to fix is the one of yours that called it.
    """
    for summary in reversed(stack):
        if not is_machinery(summary.filename):
            return describe(summary)
    return describe(stack[-1]) if stack else "(no stack)"


LIBRARY = sysconfig.get_paths()["stdlib"]
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def is_machinery(filename: str) -> bool:
    """Python's own library (not site-packages) or the event loop package itself."""
    path = os.path.abspath(filename)
    in_stdlib = path.startswith(LIBRARY + os.sep) and "site-packages" not in path
    return in_stdlib or path.startswith(PACKAGE + os.sep)


def format_tasks(states: list[TaskState]) -> str:
    """``tasks_now``'s answer as a small table."""
    rows = [f"{'task':<14} {'state':<9} waiting at"]
    rows += [f"{s.name:<14} {s.state:<9} {s.where}" for s in states]
    return "\n".join(rows)
