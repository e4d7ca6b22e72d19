"""Checks for chapter 08's exercises (threads and the loop), bounded in time.

* 8.1 ``answer_later(loop, slow_square, n, reply)``: blocking work off the loop.
* 8.2 ``Mailbox``: a handler that receives items posted from other threads.
* 8.3 ``compute_in_thread(loop, fn, arg, callback)``: a worker that forgot to
  wake the loop (PITFALL 20), fixed.

Each check runs ``eventloop.threads.Loop`` (or chapter 04's ``event_loop``)
with a deadline, and joins or shuts down every thread it starts.
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Callable
from typing import Any

from eventloop.checks import CheckFailed, Verdict, expect_equal, verdict
from eventloop.handlers import EventHandler, event_loop
from eventloop.recorder import Recorder
from eventloop.threads import Loop
from eventloop.udp import UDPServer

# --- 8.1 -----------------------------------------------------------------------------------------


def check_8_1(answer_later: Callable[..., object]) -> Verdict:
    """``answer_later``: the loop runs on while the square is computed; reply in its thread."""
    return verdict("8.1", lambda: run_8_1(answer_later), time_limit=5)


def run_8_1(answer_later: Callable[..., object]) -> None:
    loop_thread = threading.get_ident()
    events: list[str] = []
    threads: list[int] = []

    def slow_square(n: int) -> int:
        time.sleep(0.2)  # a blocking call
        return n * n

    def reply(result: object) -> None:
        events.append(f"reply {result!r}")
        threads.append(threading.get_ident())

    with Loop() as loop:
        loop.call_later(0.05, events.append, "timer at 50 ms")
        answer_later(loop, slow_square, 7, reply)
        loop.run(duration=2, until=lambda: len(events) == 2)
    if events == ["reply 49", "timer at 50 ms"]:
        raise CheckFailed(
            "the loop was blocked: a 50 ms timer ran only after the 200 ms computation",
            expected=repr(["timer at 50 ms", "reply 49"]),
            got=repr(events),
            hint="do not call slow_square in the loop's thread: "
            "loop.run_in_executor(slow_square, n, callback=...)",
        )
    expect_equal(
        "what happened, in order", events, ["timer at 50 ms", "reply 49"],
        hint="reply(result) once, with slow_square(n)'s result; the callback of "
        "run_in_executor gets a future: use future.result()",
    )  # fmt: skip
    if threads != [loop_thread]:
        raise CheckFailed(
            "reply ran in another thread, not in the loop's thread",
            hint="let the loop call reply: run_in_executor's callback runs in the loop's thread",
        )


# --- 8.2 -----------------------------------------------------------------------------------------


def check_8_2(mailbox_class: type) -> Verdict:
    """``Mailbox``: every item posted from four threads arrives once, in order; no byte left."""
    return verdict("8.2", lambda: run_8_2(mailbox_class), time_limit=10)


def run_8_2(mailbox_class: type) -> None:
    mailbox = mailbox_class()
    try:
        errors: list[BaseException] = []

        def post_many(sender: int) -> None:
            try:
                for i in range(300):
                    mailbox.post((sender, i))
            except BaseException as error:  # reported below, in the checking thread
                errors.append(error)

        posters = [threading.Thread(target=post_many, args=(k,)) for k in range(4)]
        for poster in posters:
            poster.start()
        for poster in posters:  # 1200 posts, all before the loop reads anything
            poster.join(5)
        if errors:
            error = errors[0]
            hint = "each post writes a byte; what if the socket's buffer is full?"
            if isinstance(error, BlockingIOError):
                hint = (
                    "the socket's buffer is full, so a wake-up byte is already waiting: "
                    "catch BlockingIOError in post and carry on"
                )
            elif isinstance(error, NotImplementedError):
                raise error
            raise CheckFailed(
                f"post raised {type(error).__name__}: {error}", hint=hint
            )  # fmt: skip
        event_loop([mailbox], duration=2, until=lambda: len(mailbox.received) >= 1200)
        received = list(mailbox.received)
        if sorted(received) != sorted((k, i) for k in range(4) for i in range(300)):
            raise CheckFailed(
                f"{len(received)} items arrived, expected each of the 1200 posted exactly once",
                got=f"{len(received)} items, {len(set(received))} different",
                hint="handle_receive should move every queued item to self.received",
            )
        for k in range(4):
            mine = [i for sender, i in received if sender == k]
            expect_equal(f"the order of thread {k}'s items", mine, list(range(300)))
        still_ready, _, _ = select.select([mailbox], [], [], 0)
        if still_ready:
            raise CheckFailed(
                "after every item was delivered, the socket is still readable: bytes were "
                "left unread, so the loop will wake up again for nothing (or spin)",
                hint="in handle_receive, recv until BlockingIOError before emptying the queue",
            )
    finally:
        close = getattr(mailbox, "close", None)
        if close is not None:
            close()


# --- 8.3 -----------------------------------------------------------------------------------------


class WaitingLoop(Loop):
    """A ``Loop`` that sets ``asleep`` just before it blocks in ``select``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.asleep = threading.Event()

    def wait_for_readiness(
        self, timeout: float | None
    ) -> tuple[list[EventHandler], list[EventHandler]]:
        self.asleep.set()
        return super().wait_for_readiness(timeout)


def check_8_3(compute_in_thread: Callable[..., object]) -> Verdict:
    """``compute_in_thread``: the result wakes the loop at once and runs in the loop's thread."""
    return verdict("8.3", lambda: run_8_3(compute_in_thread), time_limit=5)


def run_8_3(compute_in_thread: Callable[..., object]) -> None:
    recorder = Recorder()
    results: list[tuple[object, int]] = []
    with WaitingLoop(recorder=recorder) as loop, UDPServer() as quiet:
        loop.add(quiet)  # a socket nobody writes to: only a wake-up can end the wait early

        def double(x: int) -> int:
            loop.asleep.wait(2)  # finish while the loop is asleep in select
            return 2 * x

        def callback(result: object) -> None:
            results.append((result, threading.get_ident()))

        before = set(threading.enumerate())
        compute_in_thread(loop, double, 21, callback)
        loop.run(duration=0.5, until=lambda: bool(results))
        for thread in set(threading.enumerate()) - before:
            thread.join(2)
    if not results:
        raise CheckFailed(
            "the callback never ran",
            hint="call the callback with fn(arg)'s result, through the loop",
        )
    expect_equal("the callback's result", results[0][0], 42)
    if results[0][1] != threading.get_ident():
        raise CheckFailed(
            "the callback ran in the worker thread, not in the loop's thread",
            hint="hand the callback to the loop; do not call it from the thread",
        )
    first_wait = recorder.selects()[0]
    if not first_wait.ready_read:
        raise CheckFailed(
            "the result was ready while the loop slept, but nothing woke it: it slept until "
            "its timeout (0.5 s)",
            expected="the waker's socket to become ready and end the wait at once",
            got="select returned with nothing ready, at its timeout",
            hint="loop.call_soon is not thread-safe and does not wake select: which method is "
            "made for other threads? (PITFALL 20)",
        )
