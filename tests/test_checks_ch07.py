"""The checks of chapter 07's exercises, against right answers and typical wrong ones."""

from __future__ import annotations

import heapq
import time

import pytest
from exercise_checks import stub

from eventloop.checks.ch07 import check_7_1, check_7_2, check_7_3
from eventloop.timers import Loop

# --- 7.1 -----------------------------------------------------------------------------------------


def next_timeout(deadlines, now):
    if not deadlines:
        return None
    return max(0.0, min(deadlines) - now)


def returns_the_deadline(deadlines, now):
    return min(deadlines) if deadlines else None


def goes_negative(deadlines, now):
    return min(deadlines) - now if deadlines else None


def zero_when_empty(deadlines, now):
    return max(0.0, min(deadlines) - now) if deadlines else 0.0


def pops_the_callers_list(deadlines, now):
    if not deadlines:
        return None
    heapq.heapify(deadlines)
    return max(0.0, heapq.heappop(deadlines) - now)


# --- 7.2 -----------------------------------------------------------------------------------------


def every(loop: Loop, interval, callback):
    def run(when):
        if callback() is not False:
            loop.call_at(when + interval, run, when + interval)

    first = loop.time() + interval
    loop.call_at(first, run, first)


def every_drifting(loop: Loop, interval, callback):
    def run():
        if callback() is not False:
            loop.call_later(interval, run)

    loop.call_later(interval, run)


def every_never_stopping(loop: Loop, interval, callback):
    def run(when):
        callback()
        loop.call_at(when + interval, run, when + interval)

    loop.call_at(loop.time() + interval, run, loop.time() + interval)


def every_starting_at_once(loop: Loop, interval, callback):
    def run(when):
        if callback() is not False:
            loop.call_at(when + interval, run, when + interval)

    loop.call_at(loop.time(), run, loop.time())


# --- 7.3 -----------------------------------------------------------------------------------------


class Reminders:
    def __init__(self):
        self.heap = []
        self.count = 0

    def call_later(self, delay, callback):
        heapq.heappush(self.heap, (time.monotonic() + delay, self.count, callback))
        self.count += 1

    def run_due(self):
        now = time.monotonic()
        while self.heap and self.heap[0][0] <= now:
            _, _, callback = heapq.heappop(self.heap)
            callback()


class WallClockReminders(Reminders):
    def call_later(self, delay, callback):
        heapq.heappush(self.heap, (time.time() + delay, self.count, callback))
        self.count += 1

    def run_due(self):
        now = time.time()
        while self.heap and self.heap[0][0] <= now:
            _, _, callback = heapq.heappop(self.heap)
            callback()


class HalfFixedReminders(Reminders):
    """call_later fixed, run_due still on the wall clock: nothing is ever due."""

    def run_due(self):
        now = time.time()
        while self.heap and self.heap[0][0] <= now:
            _, _, callback = heapq.heappop(self.heap)
            callback()


class EarlyReminders(Reminders):
    def run_due(self):
        while self.heap:
            heapq.heappop(self.heap)[2]()


class StubReminders(WallClockReminders):
    def call_later(self, delay, callback):
        raise NotImplementedError("Exercise 7.3: ...")


# --- the verdicts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "check, answer, exercise",
    [(check_7_1, next_timeout, "7.1"), (check_7_2, every, "7.2"), (check_7_3, Reminders, "7.3")],
)
def test_right_answers_pass(check, answer, exercise, capsys):
    assert check(answer).passed
    assert capsys.readouterr().out == f"✓ Exercise {exercise} passed\n"


@pytest.mark.parametrize(
    "check, wrong, words",
    [
        (check_7_1, returns_the_deadline, "a deadline (a moment), not a timeout"),
        (check_7_1, goes_negative, "negative timeout"),
        (check_7_1, zero_when_empty, "timeout should be None"),
        (check_7_1, pops_the_callers_list, "changes the caller's list"),
        (check_7_2, every_drifting, "drift"),
        (check_7_2, every_never_stopping, "still scheduled"),
        (check_7_2, every_starting_at_once, "one interval after"),
        (check_7_2, lambda loop, interval, callback: None, "times of the runs"),
        (check_7_3, WallClockReminders, "set back one hour"),
        (check_7_3, HalfFixedReminders, "before its delay passed"),
        (check_7_3, EarlyReminders, "before its delay passed"),
    ],
)
def test_typical_wrong_answers_fail_with_what_is_wrong(check, wrong, words, capsys):
    assert not check(wrong).passed
    out = capsys.readouterr().out
    assert out.startswith("✗ Exercise 7.")
    assert words in out


@pytest.mark.parametrize(
    "check, answer", [(check_7_1, stub), (check_7_2, stub), (check_7_3, StubReminders)]
)
def test_stubs_are_not_attempted(check, answer, capsys):
    assert not check(answer).passed
    assert "not attempted yet" in capsys.readouterr().out
