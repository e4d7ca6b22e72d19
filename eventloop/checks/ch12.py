"""Checks for chapter 12's exercises (observability), bounded in time.

* 12.1 ``to_trace_event(event, tid)``: one ``HandlerEvent`` as a Chrome trace's complete slice.
* 12.2 ``LongestStep``: an instrument that keeps each task's longest step, by task name.
* 12.3 ``handle_request(name)``: find the blocking call (``lookup_user``) and move it to a thread.

12.2 and 12.3 run on ``eventloop.aio.EventLoop`` in a thread of their own, with chapter 11's
``on_our_loop``, and compare the learner's numbers with ``StepTimes`` measuring the same run:
the right answer passes however loaded the machine is.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from eventloop.checks import CheckFailed, Verdict, expect_equal, verdict
from eventloop.checks.ch11 import on_our_loop
from eventloop.checks.probes import spy_on
from eventloop.observe.instruments import Instrument, StepTimes
from eventloop.observe.monitor import StallWatchdog
from eventloop.recorder import HandlerEvent

MICROSECONDS = 1_000_000
UNITS_HINT = "ts and dur are microseconds: multiply seconds by 1,000,000"
SHAPE = 'return {"name": ..., "ph": "X", "ts": ..., "dur": ..., "pid": 1, "tid": tid}'

# --- 12.1 ----------------------------------------------------------------------------------------


def check_12_1(to_trace_event: Callable[[HandlerEvent, int], Any]) -> Verdict:
    """``to_trace_event(event, tid)``: a slice named ``event.label`` (or ``event.handler``)."""
    return verdict("12.1", lambda: run_12_1(to_trace_event), time_limit=5)


EVENTS_12_1 = (
    (HandlerEvent(3, "EchoHandler", 5, "handle_receive", 1.25, 1.2506), 2),
    (HandlerEvent(4, "Task main", -1, "step", 2.5, 2.503), 7),  # a task's step
)


def run_12_1(to_trace_event: Callable[[HandlerEvent, int], Any]) -> None:
    for event, tid in EVENTS_12_1:
        got = to_trace_event(event, tid)
        if not isinstance(got, dict):
            raise CheckFailed("to_trace_event should return a dict", got=repr(got), hint=SHAPE)
        check_phase(got.get("ph"))
        check_time("ts", got.get("ts"), event.began, event)
        check_time("dur", got.get("dur"), event.duration, event)
        if got.get("name") not in (event.label, event.handler):
            raise CheckFailed(
                'the "name" of the slice is not right',
                expected=f"{event.label!r} (event.label) or {event.handler!r} (event.handler)",
                got=repr(got.get("name")),
                hint="name the slice by what ran: event.label, e.g. 'handle_receive(fd 5)'",
            )
        expect_equal('"pid"', got.get("pid"), 1, hint="one process: the loop; pid is always 1")
        expect_equal(
            f'"tid" for to_trace_event(event, {tid})',
            got.get("tid"),
            tid,
            hint="use the tid you are given: it chooses the track (row) the slice is drawn on",
        )


def check_phase(phase: object) -> None:
    """A complete slice is ``"X"``; ``"B"`` needs a matching ``"E"`` event to end it."""
    if phase == "X":
        return
    hint = '"ph": "X" is a complete slice: one event, with its start ts and its length dur'
    if phase == "B":
        hint = '"B" begins a slice that an "E" event must end; ' + hint
    elif phase is None:
        hint = '"ph" (the phase) is missing: ' + hint
    raise CheckFailed(
        'the "ph" of the slice is not right', expected="'X'", got=repr(phase), hint=hint
    )


def check_time(key: str, got: object, seconds: float, event: HandlerEvent) -> None:
    """``got`` should be ``seconds`` in microseconds; name the mistake when it is not."""
    wanted = seconds * MICROSECONDS
    if is_number(got) and math.isclose(got, wanted, abs_tol=1.0):  # type: ignore[arg-type]
        return
    hint = f'"{key}" is missing: {UNITS_HINT}' if got is None else UNITS_HINT
    if near(got, seconds):
        hint = f"{key} is in seconds: {UNITS_HINT}"
    elif near(got, seconds * 1000):
        hint = f"{key} is in milliseconds: {UNITS_HINT}"
    elif key == "dur" and any(near(got, event.ended * unit) for unit in (1, 1000, MICROSECONDS)):
        hint = "dur is how long, not when it ended: (event.ended - event.began) * 1,000,000"
    raise CheckFailed(
        f'"{key}" is not right for began={event.began}, ended={event.ended}',
        expected=f"{wanted:.1f}",
        got=repr(got),
        hint=hint,
    )


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def near(got: object, wanted: float) -> bool:
    """``got`` is a number within 1% of ``wanted``: the same quantity, perhaps rounded."""
    return is_number(got) and math.isclose(got, wanted, rel_tol=0.01)  # type: ignore[arg-type]


# --- 12.2 ----------------------------------------------------------------------------------------


def check_12_2(instrument_class: type) -> Verdict:
    """``instrument_class().longest``: each task's name -> its longest single step, in seconds."""
    return verdict("12.2", lambda: run_12_2(instrument_class), time_limit=10)


class Shielded(Instrument):
    """Passes the task and callback hooks to the learner's instrument; keeps its first error.

    An exception raised in a hook would break the loop itself, and the check's clean-up with it.
    A hook the learner's class lacks is skipped; the I/O wait hooks are not passed on.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.error: Exception | None = None

    def pass_on(self, hook: str, *args: Any) -> None:
        method = getattr(self.inner, hook, None)
        if self.error is None and method is not None:
            try:
                method(*args)
            except Exception as error:  # reported after the run, as the learner's error
                self.error = error

    def task_spawned(self, task: asyncio.Task[Any]) -> None:
        self.pass_on("task_spawned", task)

    def task_scheduled(self, task: asyncio.Task[Any]) -> None:
        self.pass_on("task_scheduled", task)

    def before_task_step(self, task: asyncio.Task[Any]) -> None:
        self.pass_on("before_task_step", task)

    def after_task_step(self, task: asyncio.Task[Any]) -> None:
        self.pass_on("after_task_step", task)

    def task_exited(self, task: asyncio.Task[Any]) -> None:
        self.pass_on("task_exited", task)

    def before_callback(self, handle: asyncio.Handle) -> None:
        self.pass_on("before_callback", handle)

    def after_callback(self, handle: asyncio.Handle, seconds: float) -> None:
        self.pass_on("after_callback", handle, seconds)


async def steps_to_time() -> None:
    """A task "slow" whose steps block 20, 50 and 20 ms, and a task "quick" of tiny steps."""

    async def slow() -> None:
        for seconds in (0.02, 0.05, 0.02):
            time.sleep(seconds)  # blocks on purpose: a step this long is what 12.2 finds
            await asyncio.sleep(0)

    async def quick() -> None:
        for _ in range(5):
            await asyncio.sleep(0)

    await asyncio.gather(
        asyncio.create_task(slow(), name="slow"), asyncio.create_task(quick(), name="quick")
    )


def run_12_2(instrument_class: type) -> None:
    learner = Shielded(instrument_class())
    reference = StepTimes()
    on_our_loop(steps_to_time, instruments=[reference, learner])
    if learner.error is not None:
        raise learner.error
    longest = getattr(learner.inner, "longest", None)
    if not isinstance(longest, dict):
        raise CheckFailed(
            "the instrument has no dict `longest`",
            got=repr(longest),
            hint="set self.longest = {} in __init__, and fill it in a hook",
        )
    check_names(longest)
    truth = {steps.name: steps for steps in reference.tasks}
    for name in ("slow", "quick"):
        check_longest(name, longest[name], truth[name].longest, truth[name].total)


def check_names(longest: dict[Any, Any]) -> None:
    """The keys are task names: ``"slow"`` and ``"quick"``."""
    if "slow" in longest and "quick" in longest:
        return
    keys = sorted(map(str, longest))[:6]
    hint = "name a step by its task: task_of(handle).get_name()"
    if any(isinstance(key, int) for key in longest):
        hint = f"the keys look like id(task): {hint}"
    elif any(isinstance(key, asyncio.Task) for key in longest):
        hint = f"the keys are Task objects: {hint}"
    elif any("slow" in key for key in keys):
        hint = f'the key is the task\'s name itself, "slow": {hint}'
    raise CheckFailed("longest has no key 'slow' or 'quick'", got=f"keys {keys}", hint=hint)


def check_longest(name: str, got: object, wanted: float, total: float) -> None:
    """``got`` is the longest step of task ``name`` (measured by ``StepTimes`` as ``wanted``)."""
    if is_number(got) and abs(got - wanted) <= max(0.01, 0.2 * wanted):  # type: ignore[operator]
        return
    hint = "keep the longest: self.longest[name] = max(self.longest.get(name, 0.0), seconds)"
    if is_number(got) and abs(got - total) <= max(0.01, 0.2 * total):  # type: ignore[operator]
        hint = f"that is the total of every step, not the longest one: {hint}"
    elif is_number(got) and got < wanted:  # type: ignore[operator]
        hint = f"that is shorter than its longest step: was it the last step's time? {hint}"
    raise CheckFailed(
        f'longest["{name}"] is not its longest step',
        expected=f"{wanted:.3f} s",
        got=f"{got:.3f} s" if is_number(got) else repr(got),
        hint=hint,
    )


# --- 12.3 ----------------------------------------------------------------------------------------


def lookup_user(name: str) -> str:
    """A legacy client library's lookup: it blocks 0.1 s, then answers ``user:<name>``."""
    time.sleep(0.1)  # the network call, the blocking way
    return f"user:{name}"


def check_12_3(handle_request: Callable[[str], Coroutine[Any, Any, Any]]) -> Verdict:
    """``await handle_request(name)``: ``lookup_user(name)``'s answer, the loop never blocked."""
    return verdict("12.3", lambda: run_12_3(handle_request), time_limit=10)


NAMES_12_3 = ["ada", "bob", "cy", "dee", "eve"]
IN_A_THREAD = "return await loop.run_in_executor(None, lookup_user, name)"
STALL = 0.075  # longer than any step of a right answer; shorter than lookup_user's 0.1 s


def run_12_3(handle_request: Callable[[str], Coroutine[Any, Any, Any]]) -> None:
    async def main() -> list[Any]:
        return await asyncio.gather(*(handle_request(name) for name in NAMES_12_3))

    steps = StepTimes()
    try:
        with (
            spy_on(sys.modules[__name__], "lookup_user", handle_request) as lookups,
            StallWatchdog(threshold=0.05) as watchdog,
        ):
            results = on_our_loop(main, instruments=[steps, watchdog])
    except TypeError as error:
        if "'str' object is not callable" not in str(error):  # lookup_user's answer, called
            raise
        raise CheckFailed(
            "run_in_executor was given lookup_user's answer, not lookup_user",
            got=f"TypeError: {error}",
            hint="pass the function and its argument, not its result: "
            "run_in_executor(None, lookup_user, name)",
        ) from None
    if waiting := [result for result in results if inspect.isawaitable(result)]:
        raise CheckFailed(
            "handle_request returned something to wait for, not the user",
            got=f"a {type(waiting[0]).__name__}",
            hint=f"await it: {IN_A_THREAD}",
        )
    check_no_stall(steps, watchdog)
    if len(lookups) < len(NAMES_12_3):
        raise CheckFailed(
            f"lookup_user was called {len(lookups)} times for {len(NAMES_12_3)} requests",
            hint=f"still do the lookup, in a thread: {IN_A_THREAD}",
        )
    expected = [f"user:{name}" for name in NAMES_12_3]
    expect_equal(
        "the answers", results, expected, hint=f"return lookup_user's answer: {IN_A_THREAD}"
    )


def check_no_stall(steps: StepTimes, watchdog: StallWatchdog) -> None:
    """No task step kept the loop for ``STALL`` seconds; if one did, name its line."""
    slowest = steps.slowest()
    if slowest is None or slowest.longest < STALL:
        return
    where = f" at {watchdog.stalls[0].culprit}" if watchdog.stalls else ""
    raise CheckFailed(
        f"the loop stalled for {slowest.longest * 1000:.0f} ms in task {slowest.name}{where}",
        hint="lookup_user blocks the loop's thread: run it in a thread with "
        "await asyncio.get_running_loop().run_in_executor(None, lookup_user, name)",
    )
