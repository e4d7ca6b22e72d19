"""The checks of chapter 07's exercises, against right answers and typical wrong ones."""

from __future__ import annotations

import datetime
import heapq
import time
from time import time as wall_time

import pytest
from exercise_checks import hint_of, stub, verdict_of

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
    status, out = verdict_of(capsys)
    assert status == "passed" and out == f"✓ Exercise {exercise} passed\n"


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
        (check_7_3, WallClockReminders, "time.monotonic()"),
        (check_7_3, HalfFixedReminders, "before its delay passed"),
        (check_7_3, EarlyReminders, "before its delay passed"),
    ],
)
def test_typical_wrong_answers_fail_with_what_is_wrong(check, wrong, words, capsys):
    assert not check(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and out.startswith("✗ Exercise 7.")
    assert words in out


@pytest.mark.parametrize(
    "check, answer", [(check_7_1, stub), (check_7_2, stub), (check_7_3, StubReminders)]
)
def test_stubs_are_not_attempted(check, answer, capsys):
    assert not check(answer).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


# --- every further wrong answer, with a word its hint must contain --------------------------------


def first_in_the_list(deadlines, now):
    return max(0.0, deadlines[0] - now) if deadlines else None


def zero_becomes_none(deadlines, now):
    return (max(0.0, min(deadlines) - now) or None) if deadlines else None


def rounded(deadlines, now):
    return round(max(0.0, min(deadlines) - now)) if deadlines else None


def next_timeout_sorted(deadlines, now):
    if len(deadlines) == 0:
        return None
    earliest = sorted(deadlines)[0]
    return 0 if earliest <= now else earliest - now


def every_if_truthy(loop: Loop, interval, callback):
    def run(when):
        if callback():
            loop.call_at(when + interval, run, when + interval)

    loop.call_at(loop.time() + interval, run, loop.time() + interval)


def every_from_now_after_the_work(loop: Loop, interval, callback):
    def run():
        if callback() is not False:
            loop.call_at(loop.time() + interval, run)

    loop.call_at(loop.time() + interval, run)


def every_with_a_counter(loop: Loop, interval, callback):
    start = loop.time()
    k = 1

    def run():
        nonlocal k
        if callback() is False:
            return
        k += 1
        loop.call_at(start + k * interval, run)

    loop.call_at(start + interval, run)


class ReminderWithAWallClockAlias(Reminders):
    def call_later(self, delay, callback):
        heapq.heappush(self.heap, (wall_time() + delay, self.count, callback))
        self.count += 1

    def run_due(self):
        now = wall_time()
        while self.heap and self.heap[0][0] <= now:
            heapq.heappop(self.heap)[2]()


class TimeNsReminders(Reminders):
    def call_later(self, delay, callback):
        heapq.heappush(self.heap, (time.time_ns() + int(delay * 1e9), self.count, callback))
        self.count += 1

    def run_due(self):
        now = time.time_ns()
        while self.heap and self.heap[0][0] <= now:
            heapq.heappop(self.heap)[2]()


class DatetimeReminders(Reminders):
    def call_later(self, delay, callback):
        due = datetime.datetime.now() + datetime.timedelta(seconds=delay)
        heapq.heappush(self.heap, (due, self.count, callback))
        self.count += 1

    def run_due(self):
        now = datetime.datetime.now()
        while self.heap and self.heap[0][0] <= now:
            heapq.heappop(self.heap)[2]()


class IfInsteadOfWhile(Reminders):
    def run_due(self):
        now = time.monotonic()
        if self.heap and self.heap[0][0] <= now:
            heapq.heappop(self.heap)[2]()


class CountAssigned(Reminders):
    def call_later(self, delay, callback):
        heapq.heappush(self.heap, (time.monotonic() + delay, self.count, callback))
        self.count = 1  # = instead of +=


class CountNeverIncremented(Reminders):
    def call_later(self, delay, callback):
        heapq.heappush(self.heap, (time.monotonic() + delay, self.count, callback))


class ListNotHeap(Reminders):
    def call_later(self, delay, callback):
        self.heap.append((time.monotonic() + delay, self.count, callback))
        self.count += 1

    def run_due(self):
        now = time.monotonic()
        while self.heap and self.heap[0][0] <= now:
            self.heap.pop(0)[2]()


class PerfCounterReminders(Reminders):
    def call_later(self, delay, callback):
        heapq.heappush(self.heap, (time.perf_counter() + delay, self.count, callback))
        self.count += 1

    def run_due(self):
        now = time.perf_counter()
        while self.heap and self.heap[0][0] <= now:
            heapq.heappop(self.heap)[2]()


RIGHT = [
    pytest.param(check_7_1, next_timeout_sorted, id="7.1 sorted, int 0"),
    pytest.param(check_7_2, every_with_a_counter, id="7.2 start + k * interval"),
    pytest.param(check_7_3, PerfCounterReminders, id="7.3 perf_counter"),
]

WRONG = [
    pytest.param(check_7_1, first_in_the_list, "not sorted", id="7.1 deadlines[0]"),
    pytest.param(check_7_1, zero_becomes_none, "or None", id="7.1 0 or None"),
    pytest.param(check_7_1, rounded, "round()", id="7.1 rounded"),
    pytest.param(check_7_2, every_if_truthy, "is False", id="7.2 if callback():"),
    pytest.param(check_7_2, every_from_now_after_the_work, "deadline", id="7.2 from loop.time()"),
    pytest.param(
        check_7_3, ReminderWithAWallClockAlias, "time.monotonic()", id="7.3 from time import time"
    ),  # fmt: skip
    pytest.param(check_7_3, TimeNsReminders, "time.monotonic()", id="7.3 time.time_ns"),
    pytest.param(check_7_3, DatetimeReminders, "time.monotonic()", id="7.3 datetime.now"),
    pytest.param(check_7_3, IfInsteadOfWhile, "while", id="7.3 if instead of while"),
    pytest.param(check_7_3, CountAssigned, "+= 1", id="7.3 = instead of +="),
    pytest.param(check_7_3, CountNeverIncremented, "+= 1", id="7.3 count never moves"),
    pytest.param(check_7_3, ListNotHeap, "heappop", id="7.3 a list, not a heap"),
]


@pytest.mark.parametrize(("check", "answer"), RIGHT)
def test_more_right_answers_pass(capsys, check, answer):
    assert check(answer).passed
    assert verdict_of(capsys)[0] == "passed"


@pytest.mark.parametrize(("check", "wrong", "clue"), WRONG)
def test_wrong_answers_fail_naming_the_mistake(capsys, check, wrong, clue):
    assert not check(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed", out
    assert clue in hint_of(out), out
