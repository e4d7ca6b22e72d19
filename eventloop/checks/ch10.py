"""Checks for chapter 10's exercises (coroutines), bounded in time.

* 10.1 ``MyFuture``: ``set_result`` and ``add_done_callback``, callbacks scheduled.
* 10.2 ``my_sleep(loop, delay, result=None)``: a coroutine on ``call_later``.
* 10.3 ``FixedTask``: the crawler's ``Task`` whose exceptions escaped into the loop, fixed.

10.1 runs on ``RecordingLoop``: ``call_soon`` only writes the call down, so the
check sees whether a callback ran inside ``set_result`` or was scheduled.
10.2 and 10.3 run on chapter 09's real ``SelectorLoop`` for a fraction of a second.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

from eventloop.checks import CheckFailed, Verdict, expect_equal, verdict
from eventloop.coroutines import Task
from eventloop.selectors_loop import SelectorLoop

# --- 10.1 ----------------------------------------------------------------------------------------


class RecordingLoop:
    """A loop whose ``call_soon`` only remembers; ``run_soon()`` runs what was scheduled."""

    def __init__(self) -> None:
        self.soon: list[tuple[Callable[..., object], tuple[Any, ...]]] = []

    def call_soon(self, callback: Callable[..., object], *args: Any) -> None:
        self.soon.append((callback, args))

    def run_soon(self) -> None:
        soon, self.soon = self.soon, []
        for callback, args in soon:
            callback(*args)


def check_10_1(future_class: type) -> Verdict:
    """``future_class(loop)``: callbacks get the future, scheduled with ``call_soon``."""
    return verdict("10.1", lambda: run_10_1(future_class), time_limit=5)


def run_10_1(future_class: type) -> None:
    loop = RecordingLoop()
    future = future_class(loop)
    calls: list[object] = []
    future.add_done_callback(calls.append)
    future.set_result("page")
    if calls:
        raise CheckFailed(
            "the callback ran inside set_result",
            hint="schedule each callback with self.loop.call_soon(callback, self): called from "
            "set_result, it runs in the middle of whoever set the result (the crawler's bug 2)",
        )
    loop.run_soon()
    if calls != [future]:
        raise CheckFailed(
            "after set_result, the loop did not call the callback with the future",
            expected=f"[{future!r}]",
            got=repr(calls),
            hint="set_result must call self.loop.call_soon(callback, self) for every callback "
            "added so far, passing the future itself",
        )
    expect_equal("future.done after set_result", getattr(future, "done", None), True)
    expect_equal("future.value after set_result", getattr(future, "value", None), "page")
    late: list[object] = []
    future.add_done_callback(late.append)
    if late:
        raise CheckFailed(
            "a callback added to a done future ran inside add_done_callback",
            hint="when the future is already done, schedule the callback with call_soon",
        )
    loop.run_soon()
    if late != [future]:
        raise CheckFailed(
            "a callback added after the result was set never ran",
            hint="when self.done is True, add_done_callback must schedule the callback at once "
            "(self.loop.call_soon(callback, self)): nobody will call set_result again",
        )
    expect_once(future)


def expect_once(future: Any) -> None:
    try:
        future.set_result("another page")
    except Exception:
        return
    raise CheckFailed(
        "set_result accepted a second result",
        hint="a result is set only once: raise an error (RuntimeError or InvalidStateError) "
        "when self.done is already True; otherwise a late callback sees another value",
    )


# --- 10.2 ----------------------------------------------------------------------------------------


def check_10_2(my_sleep: Callable[..., Any]) -> Verdict:
    """``await my_sleep(loop, delay, result)``: ``result`` after ``delay``, blocking nobody."""
    return verdict("10.2", lambda: run_10_2(my_sleep), time_limit=5)


def run_10_2(my_sleep: Callable[..., Any]) -> None:
    with SelectorLoop() as loop:
        ticks: list[float] = []

        async def ticker() -> None:
            for _ in range(4):
                await my_sleep(loop, 0.02)
                ticks.append(loop.time())

        began = loop.time()
        sleeper = Task(my_sleep(loop, 0.1, "rested"), loop, name="sleeper")
        other = Task(ticker(), loop, name="ticker")
        loop.run(until=lambda: sleeper.done() and other.done(), duration=2)
        if not sleeper.done():
            raise CheckFailed(
                "await my_sleep(loop, 0.1) was not done after 2 s",
                hint="create a Future(loop), ask loop.call_later(delay, ...) to set its result, "
                "then await the future",
            )
        if sleeper.exception() is not None:
            raise sleeper.exception()  # type: ignore[misc]
        expect_equal(
            "what await my_sleep(loop, 0.1, 'rested') returned",
            sleeper.result(),
            "rested",
            hint="set the future's result to `result`, and return what `await future` gives",
        )
        if len(ticks) < 4 or ticks[0] - began > 0.09:
            raise CheckFailed(
                "another task could not run while one task slept",
                got=f"the other task woke {len(ticks)} time(s)",
                hint="time.sleep blocks the whole loop: await a future that a call_later timer "
                "completes instead",
            )
        expect_not_early(my_sleep)
        expect_timer_cancelled(my_sleep)


def expect_not_early(my_sleep: Callable[..., Any]) -> None:
    with SelectorLoop() as loop:
        began = loop.time()
        sleeper = Task(my_sleep(loop, 0.05), loop)
        loop.run(until=sleeper.done, duration=2)
        took = loop.time() - began
        if took < 0.045:
            raise CheckFailed(
                "await my_sleep(loop, 0.05) returned too early",
                got=f"after {took * 1000:.0f} ms",
                hint="do not return before the future is done: `return await future`",
            )


def expect_timer_cancelled(my_sleep: Callable[..., Any]) -> None:
    with SelectorLoop() as loop:
        sleeper = Task(my_sleep(loop, 10), loop)
        loop.run(until=lambda: sleeper.waiting_on is not None, duration=1)
        sleeper.cancel()
        loop.run(until=sleeper.done, duration=1)
        if not sleeper.cancelled():
            raise CheckFailed(
                "a cancelled my_sleep did not end with CancelledError",
                hint="let CancelledError go up from `await future`; clean up in `finally`",
            )
        if loop.next_timer() is not None:
            raise CheckFailed(
                "after cancelling a sleep of 10 s, its timer is still on the loop's heap",
                hint="keep what loop.call_later returns and cancel it in a `finally:` around "
                "the await: otherwise it fires later into a cancelled future",
            )


# --- 10.3 ----------------------------------------------------------------------------------------


def check_10_3(task_class: type) -> Verdict:
    """``task_class(coro, loop)``: a coroutine's exception is the task's, never the loop's."""
    return verdict("10.3", lambda: run_10_3(task_class), time_limit=5)


def run_10_3(task_class: type) -> None:
    from eventloop.awaitables import settle
    from eventloop.coroutines import Future

    async def fine() -> str:
        future = Future(loop)
        loop.call_later(0.01, settle, future, "ok")
        return await future

    async def fails_later() -> None:
        future = Future(loop)
        loop.call_later(0.01, settle, future)
        await future
        raise KeyError("page")

    async def fails_at_once() -> None:
        raise ValueError("empty")

    async def nothing() -> None:
        return None

    probe = nothing()
    try:
        with SelectorLoop() as loop:
            task_class(probe, loop).step()  # a stub's NotImplementedError: "not attempted"
    finally:
        probe.close()
    with SelectorLoop() as loop:
        tasks = [task_class(coro, loop) for coro in (fine(), fails_later(), fails_at_once())]
        errors = io.StringIO()
        with contextlib.redirect_stderr(errors):
            loop.run(until=lambda: all(t.done() for t in tasks), duration=1)
        if errors.getvalue():
            raise CheckFailed(
                "an exception escaped from step into the loop",
                got=errors.getvalue().strip().splitlines()[-1],
                hint="catch Exception around coro.send(None) in step and keep it on the task "
                "(self.set_exception(error)), as the StopIteration branch keeps the result",
            )
        expect_equal("the result of a task that returns 'ok'", tasks[0].result(), "ok")
        for task, kind in zip(tasks[1:], ("KeyError", "ValueError"), strict=True):
            if not task.done():
                raise CheckFailed(
                    f"a task whose coroutine raised {kind} never finished",
                    hint="an exception ends the task: self.set_exception(error), not `pass`",
                )
            expect_equal(
                "the exception kept by the task",
                type(task.exception()).__name__,
                kind,
                hint="keep every Exception, not only one kind: `except Exception as error:`",
            )
