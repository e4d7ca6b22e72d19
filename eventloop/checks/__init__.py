"""Checks for the exercises: a clear verdict and a hint, never a wall of traceback.

Each chapter has a module here (``eventloop.checks.ch03`` for chapter 03) with
one function per exercise, e.g. ``check_3_2(candidate)``. A check cell in an
exercise notebook calls it right after the learner's code. Every check prints
exactly one verdict line, in one of three forms, which ``python -m eventloop
grade`` reads back from the executed notebook::

    ✓ Exercise 3.2 passed
    ✗ Exercise 3.2 failed: <what is wrong>
    ○ Exercise 3.2 not attempted yet: <how to start>

A failure adds indented ``expected:``, ``got:`` and ``hint:`` lines. A check
function itself never raises: it returns a ``Verdict``, which tests can inspect
(``check_3_2(answer).passed``) and which a notebook does not display again.
The one exception is nbgrader: while it executes a notebook (the
``NBGRADER_EXECUTION`` environment variable is set), a check that does not pass
also raises ``AssertionError`` with its verdict lines, because nbgrader gives a
grade cell its points unless the cell raises.

Writing a check: put the test in a function that raises ``CheckFailed`` with
the problem, what was expected, what came back and a hint, and pass it to
``verdict``. Real sockets on ``127.0.0.1``, port 0, closed in ``finally``;
``verdict`` stops any check that runs longer than ``time_limit`` seconds.
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from types import FrameType
from typing import TextIO

from eventloop.checks import record
from eventloop.error_report import where_raised

PASSED = "✓"
FAILED = "✗"
NOT_ATTEMPTED = "○"

VERDICT_LINE = re.compile(
    r"^(?P<mark>[✓✗○]) Exercise (?P<exercise>\d+\.\d+) "
    r"(?P<status>passed|failed|not attempted yet)(?::\s*(?P<reason>.*))?$"
)
"""How ``grade`` recognises a verdict line in a notebook's output."""


class CheckFailed(Exception):
    """The learner's answer is wrong: say what, what was expected, and a hint."""

    def __init__(
        self,
        problem: str,
        *,
        expected: object = None,
        got: object = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.expected = expected
        self.got = got
        self.hint = hint


class CheckTimedOut(BaseException):
    """The learner's code ran longer than the check allows.

    A ``BaseException``, like ``KeyboardInterrupt``: a learner's loop that says
    ``except Exception: continue`` must not swallow the time limit and run on.
    """


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check, already printed as its verdict line."""

    exercise: str
    status: str  # "passed", "failed" or "not attempted"

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        """Show nothing: the verdict line is printed already, a ``True`` below it is noise."""


def verdict(exercise: str, check: Callable[[], None], *, time_limit: float = 10.0) -> Verdict:
    """Run ``check`` and print one verdict line for ``exercise`` (e.g. ``"3.2"``).

    ``NotImplementedError`` (the exercise stub) means "not attempted yet";
    ``CheckFailed`` means a wrong answer; any other exception is reported as
    the learner's code raising it, with the line where it happened. When a
    grader runs the notebook, ``record`` also gives it a signed copy.
    """
    if not under_nbgrader():
        status, detail = outcome_of(exercise, check, time_limit)
        record.record(exercise, status, check, detail)
        return Verdict(exercise, status)
    printed = Tee(sys.stdout)
    with redirect_stdout(printed):
        status, detail = outcome_of(exercise, check, time_limit)
    record.record(exercise, status, check, detail)
    if status != "passed":  # nbgrader scores a grade cell 0 only when it raises
        raise AssertionError(printed.verdict())
    return Verdict(exercise, status)


def under_nbgrader() -> bool:
    """Is nbgrader running this kernel (``autograde``, or a learner's ``validate``)?

    nbgrader sets ``NBGRADER_EXECUTION`` (``autograde`` or ``validate``) while it
    executes a notebook, and scores a grade cell 0 only when the cell raises.
    """
    return bool(os.environ.get("NBGRADER_EXECUTION"))


class Tee(io.TextIOBase):
    """Passes what a check prints on to ``out``, and keeps it to quote the verdict."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.text: list[str] = []

    def write(self, text: str) -> int:
        self.text.append(text)
        self.out.write(text)
        return len(text)

    def flush(self) -> None:
        """Flush ``out``, unless it is closed already: a Tee is flushed once more when it is
        garbage-collected (``io`` closes what it frees), maybe long after the check."""
        if not getattr(self.out, "closed", False):
            self.out.flush()

    def verdict(self) -> str:
        """The last verdict line and its indented ``expected``/``got``/``hint`` lines."""
        lines = "".join(self.text).splitlines()
        starts = [i for i, line in enumerate(lines) if VERDICT_LINE.match(line)]
        if not starts:
            return "no verdict"
        kept = [lines[starts[-1]]]
        kept += [line for line in lines[starts[-1] + 1 :] if line.startswith("    ")]
        return "\n".join(kept)


def outcome_of(exercise: str, check: Callable[[], None], time_limit: float) -> tuple[str, str]:
    """Run the check, print the verdict lines; return the status and, for a failure, why."""
    try:
        with time_limit_of(time_limit):
            check()
    except NotImplementedError:
        print(
            f"{NOT_ATTEMPTED} Exercise {exercise} not attempted yet: replace "
            f"`raise NotImplementedError(...)` in the exercise cell with your code, run that "
            f"cell, then run this one again."
        )
        return "not attempted", ""
    except CheckFailed as failure:
        print(f"{FAILED} Exercise {exercise} failed: {failure.problem}")
        details = []
        if failure.expected is not None:
            print(f"    expected: {failure.expected}")
            details.append(f"expected {failure.expected}")
        if failure.got is not None:
            print(f"    got:      {failure.got}")
            details.append(f"got {failure.got}")
        if failure.hint:
            print(f"    hint:     {failure.hint}")
        return "failed", failure.problem + (f" ({', '.join(details)})" if details else "")
    except CheckTimedOut:
        problem = f"your code was still running after {time_limit:g} s and was stopped."
        print(f"{FAILED} Exercise {exercise} failed: {problem}")
        print("    hint:     does every loop have a stop condition, and every socket a timeout?")
        return "failed", problem
    except Exception as error:  # the learner's code crashed: say where, briefly
        problem = f"your code raised {describe(error)}"
        print(f"{FAILED} Exercise {exercise} failed: {problem}")
        print("    hint:     run the exercise cell on its own to see the full traceback.")
        return "failed", problem
    print(f"{PASSED} Exercise {exercise} passed")
    return "passed", ""


def describe(error: BaseException) -> str:
    """``ValueError: bad value (line 3 of your cell)``: the error and where it happened."""
    return f"{type(error).__name__}: {error} ({where_raised(error, cell='your cell')})"


@contextmanager
def time_limit_of(seconds: float) -> Iterator[None]:
    """Raise ``CheckTimedOut`` in the main thread after ``seconds`` (POSIX only)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:  # Windows, or a check run from a thread: no time limit
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise CheckTimedOut()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    began = time.monotonic()
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay > 0:  # someone else's alarm (e.g. pytest-timeout) was armed: re-arm it
            left = max(outer_delay - (time.monotonic() - began), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


def expect_equal(what: str, got: object, expected: object, hint: str | None = None) -> None:
    """Raise ``CheckFailed`` unless ``got == expected``; the most common check."""
    if got != expected:
        raise CheckFailed(f"{what} is not right", expected=repr(expected), got=repr(got), hint=hint)


def receive_datagrams(sock: socket.socket) -> list[bytes]:
    """Every datagram waiting on ``sock``, in order (at most 100).

    On loopback a reply arrives at once; 50 ms of patience per datagram is
    a safety margin, not a synchronisation. Leaves ``sock`` with that timeout.
    """
    received: list[bytes] = []
    sock.settimeout(0.05)
    for _ in range(100):
        try:
            received.append(sock.recv(65535))
        except (TimeoutError, BlockingIOError):
            break
    return received
