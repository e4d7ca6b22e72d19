"""Stage 07: timers, and the loop becomes an object.

Grows from: ``handlers`` (chapter 04), whose ``event_loop(handlers, ...)``
can only *react*: it sleeps in ``select`` until a descriptor is ready.
Adds: ``call_later`` / ``call_at``, so code can also run *at a time*: close a
connection that has been quiet for 30 s, send a heartbeat every second, give
up on a request. What fails without it:

* ``time.sleep`` inside a handler stalls every other client (chapter 08).
* Polling the clock with a short ``select`` timeout is a busy wait that
  still fires late, by up to one timeout.

Instead the loop keeps its timers in a heap ordered by deadline and gives
``select`` the time until the earliest one as its timeout. It sleeps exactly
until it has something to do: a descriptor is ready, or a deadline is due.

Decisions, and why:

* Time is ``time.monotonic()`` (``Loop.time()``), never ``time.time()``: the
  wall clock jumps when it is adjusted (PITFALL 19), which would fire timers
  early or hours late. Monotonic time only moves forward.
* Timers with the same deadline fire in the order they were scheduled: the
  heap compares ``(when, sequence)``, never the callbacks (which cannot be
  compared: ``TypeError: '<' not supported between instances of 'function'``).
* ``cancel()`` only marks a timer; the loop skips it when it reaches the top
  of the heap. Removing it from the middle of a heap would cost O(n). But a
  server that arms a timeout per request and cancels it when the answer comes
  would then keep every dead timer: once the cancelled timers are more than
  half of the heap (and more than ``MIN_TIMERS_TO_PRUNE``), the loop rebuilds
  it without them, as asyncio does: O(n) once per n/2 cancels, O(1) each.
* No wait lasts more than ``MAXIMUM_WAIT`` (a day): epoll and poll take the
  timeout in milliseconds as a C int, and a timer 25 days away would make them
  raise ``OverflowError: timeout is too large``. Waking once a day costs nothing.
* The loop is an object because timers and ``stop()`` are state shared by
  the loop and the code it calls. ``loop.handlers`` is still a plain list
  with ``event_loop``'s meaning, and the same helpers serve it.

Subclassing: ``run`` calls ``run_once`` per iteration, and ``run_once`` waits
through ``wait_for_readiness(timeout)``. A subclass that waits another way
(chapter 09: epoll with persistent registration) overrides only that method,
returning the ready handlers as two lists, readable and writable.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any, Literal

from eventloop.error_report import report_error
from eventloop.handlers import (
    EventHandler,
    StopLoop,
    StopReason,
    call_recorded,
    check_handlers,
    dispatch,
    drop_closed,
    wait_for_readiness,
)
from eventloop.recorder import Recorder
from eventloop.select_loop import callback_name  # chapter 03: how recordings name a callback

MAXIMUM_WAIT = 24 * 3600.0
"""The longest one wait may last, in seconds: a day, as asyncio's ``MAXIMUM_SELECT_TIMEOUT``."""

MIN_TIMERS_TO_PRUNE = 100
"""Cancelled timers are removed from the heap once more than this many are on it and they
are more than half of it (asyncio's rule); fewer cost less than a rebuild would."""

MIN_INTERVAL = 0.001
"""The shortest ``Periodic`` interval, in seconds (see ``Periodic``)."""


@dataclass(order=True)
class Timer:
    """A callback due at loop time ``when``. Guarantee: it never runs before ``when``,
    and never at all once ``cancel()`` was called."""

    when: float
    sequence: int
    callback: Callable[..., object] = field(compare=False)
    args: tuple[Any, ...] = field(compare=False, default=())
    action: str = field(compare=False, default="timer")
    cancelled: bool = field(compare=False, default=False)
    loop: Loop | None = field(compare=False, default=None, repr=False)  # None: off the heap

    def cancel(self) -> None:
        """Do not run this timer. Cancelling twice, or after it ran, is harmless."""
        if not self.cancelled:
            self.cancelled = True
            if self.loop is not None:  # still on a heap: it counts its dead timers
                self.loop.timer_cancelled()


class Loop:
    """``event_loop`` as an object, with timers.

    Guarantees: handlers run when their descriptor is ready, as in chapter 04;
    a timer runs once, in the first iteration after its deadline, after that
    iteration's handlers; due timers run in deadline order, ties in the order
    they were scheduled; ``select`` never sleeps past the earliest deadline,
    nor longer than ``MAXIMUM_WAIT``; cancelled timers never make up more than
    half of the heap for long.
    """

    def __init__(
        self,
        handlers: list[EventHandler] | None = None,
        *,
        recorder: Recorder | None = None,
        on_error: Literal["drop", "raise"] = "drop",
    ) -> None:
        self.handlers: list[EventHandler] = handlers if handlers is not None else []
        self.recorder = recorder
        self.on_error = on_error
        self.iteration = 0
        self._timers: list[Timer] = []  # a heap: self._timers[0] is due first
        self._scheduled = 0  # how many timers were ever scheduled: the next sequence number
        self._cancelled = 0  # how many timers on the heap are cancelled
        self._stopping = False  # stop() was called: the run ends after this iteration
        self._closed = False

    # --- what user code calls ----------------------------------------------------------

    def time(self) -> float:
        """The loop's clock: ``time.monotonic()``, which never jumps (PITFALL 19)."""
        return time.monotonic()

    def add(self, handler: EventHandler) -> None:
        """Watch ``handler`` from the next iteration on."""
        self.check_open()
        self.handlers.append(handler)

    def remove(self, handler: EventHandler) -> None:
        """Stop watching ``handler`` (it is not closed)."""
        if handler in self.handlers:
            self.handlers.remove(handler)

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> Timer:
        """Run ``callback(*args)`` once ``self.time()`` has reached ``when``."""
        return self._schedule(when, callback, args, "timer")

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> Timer:
        """Run ``callback(*args)`` in ``delay`` seconds (or as soon as possible after)."""
        return self._schedule(self.time() + delay, callback, args, "timer")

    def stop(self) -> None:
        """End ``run`` after the current iteration; callable from a handler or a timer.

        Called before ``run``, it is kept: that run does one iteration, without
        sleeping, and returns (as asyncio's ``run_forever`` does). From another
        thread, use chapter 08's loop, whose ``stop`` also wakes the wait.
        """
        self._stopping = True

    def is_closed(self) -> bool:
        """True once ``close()`` was called: the loop can neither run nor schedule."""
        return self._closed

    def check_open(self) -> None:
        """Refuse to work for a closed loop, as asyncio's ``Event loop is closed`` does."""
        if self._closed:
            raise RuntimeError(
                f"{type(self).__name__} is closed: close() was called (or its with-block "
                f"ended), so it can neither run nor schedule; create a new loop"
            )

    def _schedule(
        self, when: float, callback: Callable[..., object], args: tuple[Any, ...], action: str
    ) -> Timer:
        """Push a timer on the heap; ``action`` is how the recorder labels its call.

        A NaN time is never "due" (every comparison with NaN is false), so it would sit at
        the top of the heap and block every later timer; an infinite one would make the
        wait's timeout overflow. Both are refused here, where the caller can see the mistake.
        """
        if not math.isfinite(when):
            raise ValueError(
                f"cannot schedule {callback_name(callback)} at loop time {when!r}: a timer needs "
                f"a finite delay or time (NaN is never due; for 'never', do not schedule it)"
            )
        self.check_open()
        timer = Timer(when, self._scheduled, callback, args, action, loop=self)
        self._scheduled += 1
        heapq.heappush(self._timers, timer)
        return timer

    # --- the loop ----------------------------------------------------------------------

    def run(
        self,
        duration: float | None = None,
        max_iterations: int | None = None,
        until: Callable[[], bool] | None = None,
    ) -> StopReason:
        """Run iterations until a stop condition holds; return why, as ``event_loop`` does.

        ``"no handlers"`` means nothing is left to wait for: no handlers and no timers.
        A ``stop()`` that came before ``run`` is not forgotten (another thread may call
        it just as ``run`` starts): this run does one iteration, then returns.
        """
        self.check_open()
        check_handlers(self.handlers)
        deadline = None if duration is None else self.time() + duration
        first = self.iteration
        try:
            while True:
                # chapter 04's stop conditions, in its order, written out rather than called:
                # this runs before every iteration, tens of thousands of times a second
                reason: StopReason | None = None
                if self.is_idle():  # no handlers, and no timers either
                    reason = "no handlers"
                elif max_iterations is not None and self.iteration - first >= max_iterations:
                    reason = "max_iterations"
                elif until is not None and until():
                    reason = "until"
                elif deadline is not None and self.time() >= deadline:  # on the loop's clock
                    reason = "duration"
                if reason is not None:
                    self.note(f"stopped: {reason}")
                    return reason
                try:
                    self.run_once(deadline)  # with a stop pending, it does not sleep
                except StopLoop:
                    self.note("stopped: a handler raised StopLoop")
                    return "stopped"
                if self._stopping:
                    self.note("stopped: loop.stop() was called")
                    return "stopped"
        finally:
            self._stopping = False  # this run has used the stop up

    # Invariant of one iteration: get ready to wait (forget closed handlers);
    # if nothing is left, return; wait until a descriptor is ready or the
    # earliest timer is due (never past the run's deadline); call the ready
    # handlers, readable ones first (one dropped for raising gets no handle_send);
    # then run every timer that is due *now*, earliest first. A timer scheduled
    # by this iteration's code runs in a later iteration, even with a delay of 0,
    # so timers cannot starve I/O (and it does not hold back an older timer that
    # is due, even one behind it). This is the only place that calls handlers
    # and timers. Later loops (chapter 09's SelectorLoop) keep this method and
    # change only the steps it calls.
    def run_once(self, deadline: float | None = None) -> None:
        """One iteration of the loop (see the invariant above)."""
        scheduled_before = self._scheduled  # timers this iteration schedules wait for the next
        try:
            self.prepare_to_wait()
            if self.is_idle():
                return  # the last handler closed: nothing to wait for
            readable, writable = self.wait_for_readiness(self.timeout(deadline))
            for handler in readable:
                if self.dispatch(handler, "handle_receive") and handler in writable:
                    writable.remove(handler)  # dropped for raising: no handle_send either
            for handler in writable:
                self.dispatch(handler, "handle_send")
            self.run_due_timers(scheduled_before)
        finally:
            self.iteration += 1

    def prepare_to_wait(self) -> None:
        """Forget handlers closed since the last wait: select cannot watch fd -1."""
        drop_closed(self.handlers, self.iteration, self.recorder)

    def wait_for_readiness(
        self, timeout: float | None
    ) -> tuple[list[EventHandler], list[EventHandler]]:
        """Block until a wanted descriptor is ready or ``timeout`` passed: the seam to override."""
        return wait_for_readiness(self.handlers, timeout, self.iteration, self.recorder)

    def dispatch(
        self, handler: EventHandler, action: Literal["handle_receive", "handle_send"]
    ) -> bool | None:
        """Call one handler method, as ``event_loop`` does; True if it raised and was dropped."""
        return dispatch(
            handler, action, self.handlers, self.iteration, self.recorder, self.on_error
        )

    def next_timer(self) -> Timer | None:
        """The earliest live timer. Cancelled timers are forgotten here, once on top."""
        while self._timers and self._timers[0].cancelled:
            skipped = heapq.heappop(self._timers)
            skipped.loop, self._cancelled = None, self._cancelled - 1
            self.note(f"skipped cancelled timer {callback_name(skipped.callback)}")
        return self._timers[0] if self._timers else None

    def timer_cancelled(self) -> None:
        """``Timer.cancel`` calls this for a timer still on this loop's heap."""
        self._cancelled += 1

    def timer_counts(self) -> tuple[int, int]:
        """How many timers are on the heap, and how many of those are cancelled."""
        return len(self._timers), self._cancelled

    def remove_cancelled(self) -> None:
        """Rebuild the heap without its cancelled timers: O(n), once per n/2 cancels."""
        live = []
        for timer in self._timers:
            if timer.cancelled:
                timer.loop = None
            else:
                live.append(timer)
        self.note(f"removed {len(self._timers) - len(live)} cancelled timers from the heap")
        self._timers[:] = live
        heapq.heapify(self._timers)
        self._cancelled = 0

    def timeout(self, deadline: float | None) -> float | None:
        """How long select may sleep: until the earliest live timer or ``deadline``, and
        never more than ``MAXIMUM_WAIT``; not at all once ``stop()`` was called. Dead
        timers that dominate the heap go first."""
        if self._stopping:
            return 0.0  # the run ends after this iteration: do not sleep through it
        if self._cancelled > MIN_TIMERS_TO_PRUNE and 2 * self._cancelled > len(self._timers):
            self.remove_cancelled()
        timer = self.next_timer() if self._timers else None  # no call at all without timers
        wake_at = deadline
        if timer is not None and (wake_at is None or timer.when < wake_at):
            wake_at = timer.when
        if wake_at is None:
            return None  # nothing to wake up for: wait for a descriptor as long as it takes
        return min(max(0.0, wake_at - self.time()), MAXIMUM_WAIT)

    def run_due_timers(self, scheduled_before: int) -> None:
        """Run the timers due now, earliest first, among those scheduled before this iteration.

        ``scheduled_before`` is how many timers existed when the iteration began: a timer
        that this iteration's handlers or timers scheduled (its sequence is at least that)
        waits for the next iteration, even with a delay of 0. It is set aside, not stopped
        at: an older timer behind it on the heap that is due runs now.
        """
        if not self._timers:
            return  # the common case on a busy server: no need even to read the clock
        now = self.time()
        new: list[Timer] = []  # due, but scheduled by this iteration: back on the heap after
        try:
            while (timer := self.next_timer()) and timer.when <= now:
                heapq.heappop(self._timers)
                if timer.sequence >= scheduled_before:
                    new.append(timer)
                else:
                    timer.loop = None  # off the heap: cancelling it now changes no count
                    self.run_timer(timer)
        finally:
            for timer in new:
                heapq.heappush(self._timers, timer)

    def run_timer(self, timer: Timer) -> None:
        """Call one due timer's callback; report (or raise) what it raised."""
        name = callback_name(timer.callback)
        call = partial(timer.callback, *timer.args)
        error = call_recorded(call, name, -1, timer.action, self.iteration, self.recorder)
        if error is not None:
            if self.on_error == "raise":
                raise error
            report_error(f"Loop: {timer.action} {name}", error, "The loop goes on.")

    def is_idle(self) -> bool:
        """True when nothing could happen any more: no handlers and no live timers."""
        return not self.handlers and self.next_timer() is None

    def note(self, text: str) -> None:
        """Record a decision of the loop, if there is a recorder."""
        if self.recorder is not None:
            self.recorder.note(self.iteration, text)

    # --- clean-up ------------------------------------------------------------------------

    def close(self) -> None:
        """Forget every timer; from now on, running or scheduling raises ``RuntimeError``.
        The handlers belong to their owners, who close them. Closing twice is harmless."""
        for timer in self._timers:
            timer.loop = None
        self._timers.clear()
        self._cancelled = 0
        self._closed = True

    def __enter__(self) -> Loop:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class IdleTimeout:
    """Call ``on_idle()`` once nobody called ``touch()`` for ``seconds``.

    One timer per connection, and no heap work per message: ``touch`` only
    notes the time. When the timer fires early (there was activity since),
    it re-arms itself for the new quiet deadline instead of closing.
    """

    def __init__(self, loop: Loop, seconds: float, on_idle: Callable[[], object]) -> None:
        self.loop, self.seconds, self.on_idle = loop, seconds, on_idle
        self.last_activity = loop.time()
        self.timer = loop.call_later(seconds, self.check)

    def touch(self) -> None:
        """Something happened on the connection: it is not idle."""
        self.last_activity = self.loop.time()

    def check(self) -> None:
        """The timer fired: close if quiet long enough, otherwise wait for the rest."""
        quiet_until = self.last_activity + self.seconds
        if self.loop.time() >= quiet_until:
            self.on_idle()
        else:
            self.timer = self.loop.call_at(quiet_until, self.check)

    def cancel(self) -> None:
        """The connection closed for another reason: forget the timer."""
        self.timer.cancel()


class Periodic:
    """Call ``callback(*args)`` every ``interval`` seconds until ``cancel()``.

    Each run is scheduled from the previous *deadline*, not from when the
    callback happened to run, so small delays do not add up (no drift). If
    the loop fell behind by more than an interval, missed runs are skipped.

    The interval is at least ``MIN_INTERVAL``, a millisecond: epoll and poll wait
    in whole milliseconds, so a shorter period could not be kept anyway, and an
    interval of 0 (or less) has no "next deadline" to find.
    """

    def __init__(
        self, loop: Loop, interval: float, callback: Callable[..., object], *args: Any
    ) -> None:
        if not interval >= MIN_INTERVAL:  # written so that NaN is refused too
            raise ValueError(
                f"Periodic({callback_name(callback)}) needs an interval of at least "
                f"{MIN_INTERVAL} s, got {interval!r}: epoll and poll wait in whole "
                f"milliseconds, so a shorter period could not be kept, and with 0 or less "
                f"there is no next deadline to schedule"
            )
        self.loop, self.interval, self.callback, self.args = loop, interval, callback, args
        self.timer = loop.call_later(interval, self.tick)

    def tick(self) -> None:
        """Run the callback, then schedule the next run."""
        when, now = self.timer.when + self.interval, self.loop.time()
        if when <= now:  # fell behind: skip the missed runs in one step, not one by one
            when += (math.floor((now - when) / self.interval) + 1) * self.interval
        while when <= now:  # rounding may leave it a hair short
            when += self.interval
        self.timer = self.loop.call_at(when, self.tick)
        self.callback(*self.args)

    def cancel(self) -> None:
        """No more runs."""
        self.timer.cancel()
