"""Checks for chapter 07's exercises (timers), bounded in time.

* 7.1 ``next_timeout(deadlines, now) -> float | None``: how long select may sleep.
* 7.2 ``every(loop, interval, callback)``: a periodic task that does not drift.
* 7.3 ``Reminders``: a timer queue on ``time.time()`` (PITFALL 19), fixed.

7.2 runs on ``PretendClockLoop``, a ``Loop`` whose clock only moves when it
"waits", so the check sees exact deadlines and never sleeps. 7.3 runs on a
``ClockMover``: ``time.monotonic`` moves only when the check says so, while the
wall clocks stand still or jump an hour, so an answer on a wall clock gives the
wrong result (and the check never sleeps either).
"""

from __future__ import annotations

from collections.abc import Callable

from eventloop.checks import CheckFailed, Verdict, expect_equal, verdict
from eventloop.checks.probes import ClockMover
from eventloop.handlers import EventHandler
from eventloop.timers import Loop

# --- 7.1 -----------------------------------------------------------------------------------------


def check_7_1(next_timeout: Callable[[list[float], float], float | None]) -> Verdict:
    """``next_timeout``: None without deadlines, 0 when one is past, else time to the earliest."""
    return verdict("7.1", lambda: run_7_1(next_timeout), time_limit=5)


def run_7_1(next_timeout: Callable[[list[float], float], float | None]) -> None:
    got = next_timeout([], 10.0)
    if got is not None:
        raise CheckFailed(
            "with no deadlines, select may sleep forever: the timeout should be None",
            expected="None",
            got=repr(got),
            hint="select's timeout None means 'no limit'; 0 would make the loop spin",
        )
    cases = [
        ([15.0, 12.5, 30.0], 10.0, 2.5, "the earliest deadline is 12.5"),
        ([10.0], 10.0, 0.0, "a deadline that is exactly now"),
        ([7.0, 20.0], 10.0, 0.0, "a deadline already past"),
    ]
    for deadlines, now, expected, why in cases:
        given = list(deadlines)
        got = next_timeout(given, now)
        if not isinstance(got, (int, float)) or abs(got - expected) > 1e-9:
            hint = "subtract now from the earliest deadline, and never return a negative timeout"
            number = isinstance(got, (int, float))
            if got is None and expected == 0.0:
                hint = "0 is a timeout too (do not wait at all): `x or None` turns it into None"
            elif number and got < 0:
                hint = "select rejects a negative timeout: a deadline already past means 0"
            elif deadlines[0] != min(deadlines) and number and got == max(0, deadlines[0] - now):
                hint = "the list is not sorted: the earliest deadline is min(deadlines)"
            elif number and abs(got - min(deadlines)) < 1e-9:
                hint = "that is a deadline (a moment), not a timeout (a duration): subtract now"
            raise CheckFailed(
                f"next_timeout({deadlines}, now={now}) is wrong ({why})",
                expected=repr(expected),
                got=repr(got),
                hint=hint,
            )
        expect_equal(
            "the list of deadlines after next_timeout", given, deadlines,
            hint="only look at the deadlines: sorting or popping them changes the caller's list",
        )  # fmt: skip


# --- 7.2 -----------------------------------------------------------------------------------------


class PretendClockLoop(Loop):
    """A ``Loop`` on a pretend clock: waiting moves the clock by the timeout, instantly."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0

    def time(self) -> float:
        return self.now

    def wait_for_readiness(
        self, timeout: float | None
    ) -> tuple[list[EventHandler], list[EventHandler]]:
        self.now += timeout or 0.0
        return [], []


def check_7_2(every: Callable[[Loop, float, Callable[[], object]], object]) -> Verdict:
    """``every``: runs at start + k × interval, however long each run takes; stops on False."""
    return verdict("7.2", lambda: run_7_2(every), time_limit=5)


def run_7_2(every: Callable[[Loop, float, Callable[[], object]], object]) -> None:
    loop = PretendClockLoop()
    start = loop.now
    runs: list[float] = []

    def slow_task() -> bool | None:
        runs.append(round(loop.now - start, 9))
        loop.now += 0.3  # each run takes 0.3 s of the 1 s interval
        return False if len(runs) >= 4 else None  # None, like a function with no return

    every(loop, 1.0, slow_task)
    reason = loop.run(max_iterations=20)
    expected = [1.0, 2.0, 3.0, 4.0]
    if runs == [1.0]:
        raise CheckFailed(
            "the task stopped after its first run, which returned None",
            expected=f"runs at {expected}: only False stops the task",
            got=f"runs at {runs}",
            hint="a callback with no return statement returns None: `if callback():` treats "
            "None as False. Stop only when `callback() is False`",
        )
    if len(runs) > 1 and runs[1] - runs[0] > 1.0 + 1e-9:
        raise CheckFailed(
            "the runs drift: each one is later than start + k × interval",
            expected=f"runs at {expected} seconds after every() was called",
            got=f"runs at {runs}",
            hint="schedule the next run from the previous *deadline* (the last one + interval, "
            "with loop.call_at), not from loop.time() after the work is done",
        )
    if runs[:4] == expected and (len(runs) > 4 or reason != "no handlers"):
        raise CheckFailed(
            "after the callback returned False, the task was still scheduled",
            expected="4 runs, then nothing left: the loop stops with 'no handlers'",
            got=f"runs at {runs}, stop reason {reason!r}",
            hint="when callback() returns False, do not schedule the next run",
        )
    expect_equal(
        "the times of the runs (seconds after every() was called)", runs, expected,
        hint="the first run is due one interval after every() is called",
    )  # fmt: skip


# --- 7.3 -----------------------------------------------------------------------------------------


def check_7_3(reminders_class: type) -> Verdict:
    """``Reminders``: on time whatever the wall clock does (set back or forward an hour)."""
    return verdict("7.3", lambda: run_7_3(reminders_class), time_limit=5)


def run_7_3(reminders_class: type) -> None:
    clock = ClockMover(reminders_class)
    with clock.installed():
        reminders_on_time(reminders_class, clock)
        reminders_in_order(reminders_class, clock)


WALL_CLOCK_HINT = (
    "time.time(), time.time_ns() and datetime.now() read the wall clock, which jumps when the "
    "clock is adjusted (PITFALL 19): use time.monotonic() in call_later and in run_due"
)


def reminders_on_time(reminders_class: type, clock: ClockMover) -> None:
    """Never early; on time by the monotonic clock, whatever the wall clock does."""
    ran: list[str] = []
    reminders = reminders_class()
    reminders.call_later(0.05, lambda: ran.append("soon"))
    reminders.run_due()
    if ran:
        raise CheckFailed(
            "a 50 ms reminder ran at once, before its delay passed",
            expected="[] (nothing due yet)",
            got=repr(ran),
            hint="run only reminders whose deadline <= now, with deadline and now taken from "
            "the same clock in call_later and run_due",
        )
    clock.advance(0.06)  # time.monotonic moves on 60 ms; the wall clock stands still
    reminders.run_due()
    if ran != ["soon"]:
        raise CheckFailed(
            "60 ms later by time.monotonic (the wall clock not moving), a 50 ms reminder had "
            "not run",
            expected="['soon']",
            got=repr(ran),
            hint=WALL_CLOCK_HINT,
        )
    ran.clear()
    reminders = reminders_class()
    reminders.call_later(0.05, lambda: ran.append("on time"))
    clock.wall_jump = -3600.0  # someone sets the wall clock back an hour
    clock.advance(0.06)
    reminders.run_due()
    if ran != ["on time"]:
        raise CheckFailed(
            "after the wall clock was set back one hour, a 50 ms reminder did not run",
            expected="['on time']",
            got=repr(ran),
            hint=WALL_CLOCK_HINT,
        )
    ran.clear()
    reminders = reminders_class()
    reminders.call_later(10.0, lambda: ran.append("far too early"))
    clock.wall_jump = 3600.0  # and now forward an hour
    clock.advance(0.01)
    reminders.run_due()
    if ran:
        raise CheckFailed(
            "after the wall clock was set forward one hour, a 10 s reminder ran at once",
            expected="[]",
            got=repr(ran),
            hint=WALL_CLOCK_HINT,
        )
    clock.wall_jump = 0.0


def reminders_in_order(reminders_class: type, clock: ClockMover) -> None:
    """Four reminders due by the same ``run_due``, added out of order, two pairs with equal
    deadlines: all run, earliest deadline first, ties in the order they were added."""
    ran: list[str] = []
    reminders = reminders_class()
    try:
        for delay, name in [(0.03, "a"), (0.01, "b"), (0.03, "c"), (0.01, "d")]:
            reminders.call_later(delay, lambda name=name: ran.append(name))
        clock.advance(0.05)
        reminders.run_due()
    except TypeError as error:
        raise CheckFailed(
            f"two reminders with the same deadline: TypeError: {error}",
            hint="the heap compared the callbacks because the sequence numbers were equal: "
            "give each entry its own number (self.count += 1 after each push)",
        ) from None
    if len(ran) == 1:
        raise CheckFailed(
            "four reminders were due, one run_due ran only one of them",
            expected="['b', 'd', 'a', 'c']",
            got=repr(ran),
            hint="loop (while) as long as the earliest deadline is due, not if",
        )
    expect_equal(
        "the reminders run by one run_due (added a +30, b +10, c +30, d +10 ms)",
        ran,
        ["b", "d", "a", "c"],
        hint="push with heapq.heappush and take with heapq.heappop while the first entry is "
        "due; equal deadlines run in the order they were added",
    )
