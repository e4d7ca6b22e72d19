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
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from eventloop.checks import CheckFailed, Verdict, expect_equal, verdict
from eventloop.checks.probes import measure
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
    reply_threads: list[int] = []
    square_threads: list[int] = []

    def slow_square(n: int) -> int:
        square_threads.append(threading.get_ident())
        time.sleep(0.2)  # a blocking call
        return n * n

    def reply(result: object) -> None:
        events.append(f"reply {result!r}")
        reply_threads.append(threading.get_ident())

    with Loop() as loop, UDPServer() as quiet:
        # A socket nobody writes to keeps the loop running until the reply comes, even
        # when the answer uses its own thread, which the loop does not know about.
        loop.add(quiet)
        loop.call_later(0.05, events.append, "timer at 50 ms")
        with measure() as call:
            answer_later(loop, slow_square, 7, reply)
        loop.run(duration=2, until=lambda: len(events) >= 2)
    for thread in threading.enumerate():  # the answer's own threads, if any (pool's are shut)
        if thread.ident in square_threads and thread is not threading.current_thread():
            thread.join(2)
    if call.wall > 0.1 or square_threads[:1] == [loop_thread]:
        raise CheckFailed(
            "slow_square ran in the loop's thread: the loop could do nothing else for 0.2 s",
            expected=repr(["timer at 50 ms", "reply 49"]),
            got=repr(events),
            hint="do not call slow_square (or wait for its result) in the loop's thread: "
            "loop.run_in_executor(slow_square, n, callback=...) runs it in a worker",
        )
    if any(event.startswith("reply <Future") for event in events):
        raise CheckFailed(
            "reply was given the Future, not the square",
            got=repr(events),
            hint="run_in_executor's callback gets the finished future: "
            "callback=lambda future: reply(future.result())",
        )
    if not any(event.startswith("reply") for event in events):
        raise CheckFailed(
            "reply was never called (the loop waited 2 s)",
            got=repr(events),
            hint="give run_in_executor a callback that calls reply(...) with the result",
        )
    expect_equal(
        "what happened, in order", events, ["timer at 50 ms", "reply 49"],
        hint="call reply exactly once, with slow_square(n)'s result",
    )  # fmt: skip
    if reply_threads != [loop_thread]:
        raise CheckFailed(
            "reply ran in another thread, not in the loop's thread",
            hint="let the loop call reply: run_in_executor's callback runs in the loop's thread",
        )


# --- 8.2 -----------------------------------------------------------------------------------------


def check_8_2(mailbox_class: type) -> Verdict:
    """``Mailbox``: every item posted from four threads arrives once, in order; no byte left."""
    return verdict("8.2", lambda: run_8_2(mailbox_class), time_limit=10)


class WakeUpOrder:
    """Stands in for a mailbox's ``writer``: at each wake-up byte, is the item queued yet?

    A byte written before the item is queued lets the loop wake, find the queue
    empty, and go back to sleep with the item left inside until the next post.
    """

    def __init__(self, mailbox: Any) -> None:
        self.mailbox = mailbox
        self.writer = mailbox.writer
        self.posting: object = None
        self.too_early = 0

    def wrote(self) -> None:
        queue = getattr(self.mailbox, "queue", None)
        if self.posting is not None and queue is not None and self.posting not in queue:
            self.too_early += 1

    def send(self, data: bytes, *args: Any) -> int:
        self.wrote()
        return self.writer.send(data, *args)

    def sendall(self, data: bytes, *args: Any) -> None:
        self.wrote()
        self.writer.sendall(data, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.writer, name)


def expect_queued_before_waking(mailbox: Any) -> None:
    """Post three items through ``WakeUpOrder``; then restore the real writer."""
    if not isinstance(getattr(mailbox, "writer", None), socket.socket):
        return
    order = WakeUpOrder(mailbox)
    mailbox.writer = order
    try:
        for item in ("first", "second", "third"):
            order.posting = item
            mailbox.post(item)
    finally:
        mailbox.writer = order.writer
    if order.too_early:
        raise CheckFailed(
            "post wrote the wake-up byte before it queued the item",
            expected="the item in the queue first, then the byte",
            got=f"{order.too_early} of 3 wake-ups sent with the item not queued yet",
            hint="the loop may wake at once, find the queue empty and sleep again with your "
            "item inside: append to the queue first, then write the byte",
        )


def run_8_2(mailbox_class: type) -> None:
    mailbox = mailbox_class()
    try:
        expect_queued_before_waking(mailbox)
        try:
            event_loop([mailbox], duration=1, until=lambda: len(mailbox.received) >= 3,
                       on_error="raise")  # fmt: skip
        except BlockingIOError:
            raise CheckFailed(
                "handle_receive let BlockingIOError escape",
                hint="read the wake-up bytes until recv raises BlockingIOError, and catch it: "
                "it means 'no more bytes now'",
            ) from None
        mailbox.received.clear()
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
        event_loop([mailbox], duration=2, until=lambda: len(mailbox.received) >= 1200,
                   on_error="raise")  # fmt: skip
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

        worked_in: list[int] = []

        def double(x: int) -> int:
            worked_in.append(threading.get_ident())
            loop.asleep.wait(1)  # finish while the loop is asleep in select
            return 2 * x

        def callback(result: object) -> None:
            results.append((result, threading.get_ident()))

        before = set(threading.enumerate())
        with measure() as call:
            compute_in_thread(loop, double, 21, callback)
        if call.wall > 0.5 or worked_in[:1] == [threading.get_ident()]:
            for thread in set(threading.enumerate()) - before:
                thread.join(2)
            raise CheckFailed(
                f"compute_in_thread kept its caller (the loop's thread) busy for {call.wall:.1f} s",
                expected="it starts the thread and returns at once",
                hint="call fn(arg) in the new thread, and do not join it: the loop must go on "
                "while the thread works",
            )
        loop.call_later(0.5, lambda: None)  # ends a wait that no wake-up ended, at 0.5 s
        loop.run(duration=1.0, until=lambda: bool(results))  # a late callback runs after it
        started = set(threading.enumerate()) - before
    for thread in started:  # joined once the loop (and any pool of its own) has shut down
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
    first_wait, *later_waits = recorder.selects()
    if not first_wait.ready_read and any(wait.ready_read for wait in later_waits):
        raise CheckFailed(
            "a wake-up came, but only after the loop's first wait had timed out (0.5 s): the "
            "result reached the loop late",
            expected="the wake-up as soon as fn(arg) returned, while the loop slept",
            hint="hand the result to the loop right after fn(arg) returns, through the loop's "
            "thread-safe method; do not wait in the thread first",
        )
    if not first_wait.ready_read:
        raise CheckFailed(
            "the result was ready while the loop slept, but nothing woke it: it slept until "
            "its timeout (0.5 s)",
            expected="the waker's socket to become ready and end the wait at once",
            got="select returned with nothing ready, at its timeout",
            hint="loop.call_soon is not thread-safe and does not wake select: which method is "
            "made for other threads? (PITFALL 20)",
        )
