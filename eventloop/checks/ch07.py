"""Checks for chapter 07's exercises (timers), bounded in time.

* 7.1 ``next_timeout(deadlines, now) -> float | None``: how long select may sleep.
* 7.2 ``every(loop, interval, callback)``: a periodic task that does not drift.
* 7.3 ``Reminders``: a timer queue on ``time.time()`` (PITFALL 19), fixed.

7.1 is judged differentially (``eventloop.checks.differential``): the learner's
function runs in a candidate process on generated deadlines (none, one, equal
ones, past, exactly now, far away, in no order or in heap order, on clocks near
0 and near a billion seconds), the worked answer (``reference_next_timeout``)
runs in the judge, and the check compares the timeout **and** the list after
the call (it must not change).

7.2 runs on ``PretendClockLoop``, a ``Loop`` whose clock only moves when it
"waits", so the check sees exact deadlines and never sleeps. 7.3 runs on a
``ClockMover``: ``time.monotonic`` moves only when the check says so, while the
wall clocks stand still or jump an hour, so an answer on a wall clock gives the
wrong result (and the check never sleeps either).
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections.abc import Callable

from eventloop.checks import CheckFailed, Verdict, expect_equal, verdict
from eventloop.checks.differential import Case, Exercise, compare
from eventloop.checks.probes import ClockMover
from eventloop.handlers import EventHandler
from eventloop.judge.trial import Trial, judge
from eventloop.timers import Loop

# --- 7.1 -----------------------------------------------------------------------------------------


def reference_next_timeout(deadlines: list[float], now: float) -> float | None:
    """The worked answer to 7.1 (the same as solutions/07-timers.ipynb)."""
    if not deadlines:
        return None
    return max(0.0, min(deadlines) - now)


FIXED_7_1: list[Case] = [
    ([], 10.0),
    ([15.0, 12.5, 30.0], 10.0),
    ([10.0], 10.0),
    ([7.0, 20.0], 10.0),
    ([11.0], 10.0),
    ([20.0, 10.5, 10.5], 10.0),
    ([30.0, 20.0, 10.25], 10.0),
    ([], 0.0),
    ([0.0], 0.0),
    ([2.0, 1.0], 0.5),
]
"""Small cases first, the old examples among them."""

ROUNDS = 3


def deadlines_7_1(rng: random.Random) -> list[Case]:
    """One round of ``(deadlines, now)``: lists empty to long, deadlines past, now, near, far."""
    cases: list[Case] = []
    for _ in range(24):
        now = rng.choice([0.0, 10.0, round(rng.uniform(1, 1e5), 3), 1e9 + rng.random()])
        count = rng.choice([0, 1, 2, 3, rng.randint(4, 10), rng.randint(50, 200)])
        offsets = [
            rng.choice(
                [
                    -rng.uniform(1e-6, 1e6),  # past
                    -rng.uniform(0, 1),
                    0.0,  # exactly now
                    rng.uniform(1e-6, 1e-3),
                    rng.uniform(0.001, 10),
                    rng.uniform(3600, 86400 * 365),  # far away
                ]
            )
            for _ in range(count)
        ]
        deadlines = [now + offset for offset in offsets]
        if count >= 2 and rng.random() < 0.3:
            deadlines[rng.randrange(count)] = min(deadlines)  # two equal earliest deadlines
        if rng.random() < 0.3:
            heapq.heapify(deadlines)  # a timer heap: ordered for heapq, not sorted
        elif count >= 2 and deadlines[0] == min(deadlines):
            deadlines.append(deadlines.pop(0))  # the earliest not first
        cases.append((deadlines, now))
    return cases


def next_timeout_rounds(seed: int) -> list[list[Case]]:
    """Every case a run of check 7.1 with ``seed`` tries: the fixed ones, then the rounds."""
    rng = random.Random(seed)
    return [FIXED_7_1] + [deadlines_7_1(rng) for _ in range(ROUNDS)]


def is_timeout(value: object) -> bool:
    """A number select takes as a timeout (not a bool, not NaN)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def same_timeout(expected: object, got: object) -> bool:
    if expected is None or got is None:
        return expected is got
    if not is_timeout(got):
        return False
    assert isinstance(expected, float) and isinstance(got, (int, float))
    return abs(got - expected) <= 1e-9 * max(1.0, abs(expected))


def differs_7_1(expected: tuple, got: tuple) -> bool:
    return not same_timeout(expected[0], got[0]) or got[1] != expected[1]


def smaller_7_1(case: Case) -> list[Case]:
    """The same case with one deadline fewer (each in turn)."""
    deadlines, now = case
    if len(deadlines) > 40:
        half = len(deadlines) // 2
        return [(deadlines[:half], now), (deadlines[half:], now)]
    return [(deadlines[:i] + deadlines[i + 1 :], now) for i in range(len(deadlines))]


def show_deadlines(deadlines: object) -> str:
    text = repr(deadlines)
    if isinstance(deadlines, list) and len(text) > 120:
        first, second, last = deadlines[0], deadlines[1], deadlines[-1]
        return f"[{first!r}, {second!r}, ... {len(deadlines) - 3} more ..., {last!r}]"
    return text


def explain_7_1(case: Case, expected: tuple, got: tuple) -> CheckFailed:
    deadlines, now = case
    (timeout, _), (result, after) = expected, got
    call = f"next_timeout({show_deadlines(deadlines)}, now={now!r})"
    if same_timeout(timeout, result):
        return CheckFailed(
            f"the list of deadlines after {call} is not right",
            expected=show_deadlines(deadlines),
            got=show_deadlines(after),
            hint="only look at the deadlines: sorting or popping them changes the caller's list "
            "(the loop's timer heap); min() reads them without changing them",
        )
    if timeout is None:
        return CheckFailed(
            "with no deadlines, select may sleep forever: the timeout should be None",
            expected="None",
            got=repr(result),
            hint="select's timeout None means 'no limit'; 0 would make the loop spin",
        )
    return CheckFailed(
        f"{call} is wrong",
        expected=repr(timeout),
        got=repr(result),
        hint=hint_7_1(case, timeout, result),
    )


def hint_7_1(case: Case, timeout: float, result: object) -> str:
    """Name the likely mistake behind a wrong timeout."""
    deadlines, now = case
    earliest = min(deadlines)
    if result is None and timeout == 0.0:
        return "0 is a timeout too (do not wait at all): `x or None` turns it into None"
    if result is None:
        return "None means 'wait for ever': with deadlines, return the time to the earliest"
    if not is_timeout(result):
        return "return a number of seconds (a float), or None when there are no deadlines"
    assert isinstance(result, (int, float))
    if result < 0:
        return "select rejects a negative timeout: a deadline already past means 0"
    if deadlines[0] != earliest and same_timeout(max(0.0, deadlines[0] - now), result):
        return "the list is not sorted: the earliest deadline is min(deadlines)"
    if same_timeout(max(0.0, max(deadlines) - now), result):
        return "the loop must wake for the earliest deadline: min(deadlines), not max"
    if same_timeout(earliest, result) or same_timeout(max(0.0, earliest), result):
        return "that is a deadline (a moment), not a timeout (a duration): subtract now"
    if timeout >= 1 and result in (round(timeout), math.floor(timeout), math.ceil(timeout)):
        return "keep the fraction: round() or int() makes the loop wake early or late"
    if same_timeout(abs(earliest - now), result):
        return "a deadline already past means 0, not how long ago it was: max(0.0, ...)"
    if abs(result - max(0.0, earliest - time.monotonic())) < 5.0:
        return (
            "use the now you are given, not time.monotonic(): the loop passes the moment it "
            "read once for the whole iteration (and a test passes a made-up one)"
        )
    if result == 2.5:
        return "the 2.5 of the example is one case: compute min(deadlines) - now"
    return (
        "subtract now (the argument, not a clock you read) from the earliest deadline, and "
        "never return a negative timeout"
    )


NEXT_TIMEOUT = Exercise(
    "next_timeout",
    reference_next_timeout,
    describe=lambda case: f"deadlines {show_deadlines(case[0])}, now {case[1]!r}",
    explain=explain_7_1,
    differs=differs_7_1,
    smaller=smaller_7_1,
)


def check_7_1(
    next_timeout: Callable[[list[float], float], float | None],
    time_limit: float = 5,
    seed: int | None = None,
) -> Verdict:
    """``next_timeout``: None without deadlines, 0 when one is past, else time to the earliest."""
    return judge("7.1", {"next_timeout": next_timeout}, run_7_1, time_limit=time_limit, seed=seed)


def run_7_1(trial: Trial) -> None:
    labels = ["small cases"] + [f"round {n + 1}" for n in range(ROUNDS)]
    for label, cases in zip(labels, next_timeout_rounds(trial.seed)):
        compare(trial, NEXT_TIMEOUT, label, cases, one_by_one=label == labels[0])


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
