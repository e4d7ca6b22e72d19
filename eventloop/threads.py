"""Stage 08: blocking work in threads, and waking the loop from them.

Grows from: ``timers`` (chapter 07), a ``Loop`` that sleeps in ``select``
until a descriptor is ready or a timer is due.
Adds: ``run_in_executor`` (blocking work in a thread pool) and
``call_soon_threadsafe`` (a thread hands a function to the loop).

Why. A handler that blocks (``time.sleep``, a slow computation, a blocking
library call such as a DNS lookup or a database driver) stalls the whole
loop: every other client waits until it returns. Running that work in a
thread keeps the loop free, but brings a new problem: the loop sleeps in
``select``, and a result a thread has computed is invisible to it until
``select`` returns, at the next timer, or never (PITFALL 20).

The fix is the *self-pipe trick*: the loop also watches one end of a
``socketpair``; a thread that has something for the loop writes one byte to
the other end, and ``select`` returns at once. Two rules make it race-free:

1. a thread first puts its function in a thread-safe queue
   (``collections.deque.append`` is atomic), then writes the byte;
2. the loop first reads *all* the bytes, then empties the queue.

Whatever the interleaving, each function is either taken by this drain or
announced by a byte that wakes the next ``select``. The byte count does not
matter: a full socket buffer just means a wake-up is already pending.
The Python Cookbook's ``ThreadPoolHandler`` (recipe 11.12, kept below as
``CookbookThreadPoolHandler`` to show the bug) breaks both rules: it runs a
plain list's callbacks and then replaces the list, losing a result a thread
appends in between; that result's byte is never read, so the loop spins.
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal

from eventloop import timers
from eventloop.error_report import report_error
from eventloop.handlers import EventHandler, StopLoop, StopReason
from eventloop.recorder import Recorder
from eventloop.timers import Timer, callback_name


class Waker(EventHandler):
    """A handler that runs, in the loop's thread, functions sent from other threads.

    Guarantee: every function passed to ``call_soon_threadsafe`` runs exactly
    once, in the order sent, inside this handler's ``handle_receive``, which
    the loop calls as soon as it next waits (the byte makes the socket ready).
    """

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._inbox: deque[tuple[Callable[..., object], tuple[Any, ...]]] = deque()

    def fileno(self) -> int:
        return self._reader.fileno()

    def wants_to_receive(self) -> bool:
        return True

    def call_soon_threadsafe(self, fn: Callable[..., object], *args: Any) -> None:
        """From any thread: queue ``fn(*args)`` first, then wake the loop (rule 1)."""
        self._inbox.append((fn, args))
        self.wake()

    def wake(self) -> None:
        """Make the loop's ``select`` return. Safe from any thread, any number of times."""
        try:
            self._writer.send(b"\0")
        except OSError:  # buffer full: a wake-up is pending anyway; or closed: loop is gone
            pass

    def handle_receive(self) -> None:
        """Read every wake-up byte, then run every queued function (rule 2)."""
        try:
            while self._reader.recv(4096):
                pass
        except BlockingIOError:
            pass  # all read
        try:
            while self._inbox:
                fn, args = self._inbox.popleft()
                try:
                    fn(*args)
                except StopLoop:
                    raise
                except Exception as error:  # one bad function must not lose the others
                    report_error(f"Waker: {callback_name(fn)}", error, "The others go on.")
        finally:
            if self._inbox:  # stopped half-way: what is left must not wait for another byte
                self.wake()

    def close(self) -> None:
        """Close both ends of the socketpair."""
        self._reader.close()
        self._writer.close()


class Loop(timers.Loop):
    """Chapter 07's loop, plus ``call_soon``, ``call_soon_threadsafe`` and ``run_in_executor``.

    The loop owns a ``Waker`` (it is in ``loop.handlers``) and, once needed, a
    thread pool. ``close()`` (or ``with Loop() as loop:``) shuts the pool down
    and closes the waker's sockets. A run ends with ``"no handlers"`` when
    nothing is left: no handler but the waker, no timer, no job in a thread.
    """

    def __init__(
        self,
        handlers: list[EventHandler] | None = None,
        *,
        recorder: Recorder | None = None,
        on_error: Literal["drop", "raise"] = "drop",
        max_workers: int = 4,
    ) -> None:
        super().__init__(handlers, recorder=recorder, on_error=on_error)
        self.waker = Waker()
        self.handlers.append(self.waker)
        self.max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        self._jobs: set[Future[Any]] = set()  # submitted, result not yet back in the loop
        self._running_in: int | None = None  # the thread inside run(), if any

    def run(
        self,
        duration: float | None = None,
        max_iterations: int | None = None,
        until: Callable[[], bool] | None = None,
    ) -> StopReason:
        """Chapter 07's ``run``, remembering which thread runs it (for ``stop``)."""
        self._running_in = threading.get_ident()
        try:
            return super().run(duration, max_iterations, until)
        finally:
            self._running_in = None

    def stop(self) -> None:
        """End ``run`` after the current iteration; from any thread.

        From another thread the loop may be asleep in ``select`` with nothing due
        for hours: the flag alone would wait for that. So it also wakes the loop.
        """
        super().stop()
        if self._running_in is not None and self._running_in != threading.get_ident():
            self.waker.wake()

    def call_soon(self, callback: Callable[..., object], *args: Any) -> Timer:
        """Run ``callback(*args)`` in the loop soon. Only from the loop's own thread."""
        return self._schedule(self.time(), callback, args, "callback")

    def call_soon_threadsafe(self, callback: Callable[..., object], *args: Any) -> None:
        """From any thread: run ``callback(*args)`` in the loop's thread, waking it now."""
        self.check_open()
        self.waker.call_soon_threadsafe(self.call_soon, callback, *args)

    def run_in_executor(
        self,
        fn: Callable[..., Any],
        *args: Any,
        callback: Callable[[Future[Any]], object] | None = None,
    ) -> Future[Any]:
        """Run ``fn(*args)`` in a worker thread; then ``callback(future)`` in the loop.

        The callback gets the finished ``Future``: ``future.result()`` is the
        return value, or raises what ``fn`` raised.
        """
        self.check_open()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="eventloop")
        future = self._executor.submit(fn, *args)
        self._jobs.add(future)
        future.add_done_callback(
            lambda done: self.waker.call_soon_threadsafe(self._job_done, done, callback)
        )
        return future

    def _job_done(
        self, future: Future[Any], callback: Callable[[Future[Any]], object] | None
    ) -> None:
        """In the loop's thread: the job is over; schedule its callback."""
        self._jobs.discard(future)
        if callback is not None:
            self.call_soon(callback, future)

    def is_idle(self) -> bool:
        """Nothing left: no handler but the waker, no timer, no job in a thread."""
        others = [h for h in self.handlers if h is not self.waker]
        return not others and not self._jobs and self.next_timer() is None

    def close(self) -> None:
        """Wait for running jobs, drop queued ones, close the waker; safe to call twice."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        self.remove(self.waker)
        self.waker.close()
        super().close()


class ThreadPoolHandler(Waker):
    """The Cookbook's thread-pool handler, fixed: for chapter 04's ``event_loop``.

    ``run(func, *args, callback=cb)`` runs ``func`` in a pool and then
    ``cb(result)`` in the loop's thread. Fixed by the two rules above: a
    thread-safe queue instead of a list, all bytes read before it is emptied.
    """

    def __init__(self, nworkers: int) -> None:
        super().__init__()
        self.pool = ThreadPoolExecutor(nworkers, thread_name_prefix="eventloop-pool")

    def run(self, func: Callable[..., Any], *args: Any, callback: Callable[[Any], object]) -> None:
        """Run ``func(*args)`` in the pool; ``callback(result)`` runs in the loop."""
        future = self.pool.submit(func, *args)
        future.add_done_callback(lambda done: self.call_soon_threadsafe(deliver, callback, done))

    def close(self) -> None:
        """Wait for running work, drop queued work, close the sockets."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        super().close()


def deliver(callback: Callable[[Any], object], future: Future[Any]) -> None:
    """``callback(result)``; raises, in the loop's thread, what the job raised."""
    callback(future.result())


class CookbookThreadPoolHandler(EventHandler):
    """Recipe 11.12's handler as published (plus ``close``). Kept to show its race: do not use.

    A worker appends to ``pending``, then sends a byte. ``handle_receive``
    runs ``pending`` and then rebinds it to ``[]``: a result appended after
    the ``for`` loop has ended, but before that line, is lost, and its byte
    is never read, so ``select`` reports the socket ready forever.
    """

    def __init__(self, nworkers: int) -> None:
        self.signal_done_sock, self.done_sock = socket.socketpair()
        self.pending: list[tuple[Callable[[Any], object], Any]] = []
        self.pool = ThreadPoolExecutor(nworkers)

    def fileno(self) -> int:
        return self.done_sock.fileno()

    def complete(self, callback: Callable[[Any], object], r: Future[Any]) -> None:
        """In the worker thread: record the result, then signal the loop."""
        self.pending.append((callback, r.result()))
        self.signal_done_sock.send(b"x")

    def run(self, func: Callable[..., Any], args: tuple[Any, ...] = (), *, callback) -> None:
        r = self.pool.submit(func, *args)
        r.add_done_callback(lambda r: self.complete(callback, r))

    def wants_to_receive(self) -> bool:
        return True

    def handle_receive(self) -> None:
        for callback, result in self.pending:
            callback(result)
            self.done_sock.recv(1)
        self.pending = []

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.signal_done_sock.close()
        self.done_sock.close()
