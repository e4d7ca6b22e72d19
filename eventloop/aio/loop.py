"""``EventLoop``: chapter 09's loop presented as an ``asyncio.AbstractEventLoop``.

Every asyncio callback is an ``asyncio.Handle`` (or ``TimerHandle``): ``call_soon``
puts it on a ready queue that our loop drains right after each wait (before
the I/O callbacks that wait found, as asyncio's ``_run_once``); ``call_at`` and
``add_reader`` hand it to our loop's own; ``_run_handle`` runs it. asyncio's own ``Future``
and ``Task`` do the rest: they only ever ask the loop for ``call_soon``,
``create_future``, ``get_debug`` and ``call_exception_handler``.

Not a subclass of ``asyncio.BaseEventLoop``: everything asyncio needs from a
loop is written here, on top of the loop this course built.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
import sys
import threading
import weakref
from asyncio import events, futures, tasks
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from eventloop.aio import sockets
from eventloop.aio.errors import ErrorMethods
from eventloop.aio.watching import COROUTINE_ORIGIN_DEPTH, WatchedMethods
from eventloop.handlers import call_recorded
from eventloop.recorder import Recorder
from eventloop.select_loop import callback_name
from eventloop.selectors_loop import SelectorLoop

MAXIMUM_SELECT_TIMEOUT = 24 * 3600
"""The longest one wait may last, in seconds (asyncio's): a longer timer is waited for in steps."""


class InnerLoop(SelectorLoop):
    """Chapter 09's loop, never "idle": an asyncio loop with nothing to do still waits,
    for a ``call_soon_threadsafe`` or a ``stop()``, until it is told to stop.

    One iteration keeps asyncio's order (``_run_once``): wait (not at all while callbacks
    are ready); run the callbacks that were ready *before* the wait (``ready``, asyncio's
    ready queue: what ``call_soon`` queued, in order); then the I/O callbacks the wait
    found; then the timers now due. So an I/O callback never overtakes a callback queued
    before it, and what any of them queues waits for the next iteration.
    """

    def __init__(
        self,
        *,
        recorder: Recorder | None = None,
        instruments: list[Any],
        tell: Callable[..., None],
        ready: deque[events.Handle],
        run_ready: Callable[[], None],
    ) -> None:
        super().__init__(recorder=recorder)
        self.instruments = instruments  # the outer loop's list: chapter 12's I/O wait hooks
        self.tell = tell  # calls a hook on each of them (EventLoop._tell)
        self.ready = ready  # the outer loop's ready queue (EventLoop._ready)
        self.run_ready = run_ready  # runs what it held when called (EventLoop._run_ready)

    def is_idle(self) -> bool:
        return False

    def timeout(self, deadline: float | None) -> float | None:
        """No wait while callbacks are ready, and none longer than a day, as asyncio's
        ``_run_once``: epoll cannot wait more than ~24.8 days (2**31 ms) and raises
        ``OverflowError`` for a longer timeout; waking once a day to wait again costs nothing."""
        if self.ready:
            return 0.0
        timeout = super().timeout(deadline)
        return timeout if timeout is None else min(timeout, MAXIMUM_SELECT_TIMEOUT)

    def wait_for_readiness(self, timeout: float | None) -> tuple[list[Any], list[Any]]:
        """Chapter 09's wait, with the instruments told before and after it; then the
        callbacks that were ready before it, so that they run before its I/O callbacks."""
        if not self.instruments:
            readable, writable = super().wait_for_readiness(timeout)
        else:
            self.tell("before_io_wait", timeout)
            readable, writable = super().wait_for_readiness(timeout)
            self.tell("after_io_wait", timeout, len(readable) + len(writable))
        if self.ready:
            self.drain()
        return readable, writable

    def drain(self) -> None:
        """Run the ready callbacks; a recorder sees the drain as one callback (chapter 11)."""
        if self.recorder is None:
            self.run_ready()
            return
        name = callback_name(self.run_ready)
        error = call_recorded(self.run_ready, name, -1, "callback", self.iteration, self.recorder)
        if error is not None:
            raise error


class EventLoop(ErrorMethods, WatchedMethods, sockets.SocketMethods, asyncio.AbstractEventLoop):
    """An asyncio event loop whose engine is ``eventloop.selectors_loop.SelectorLoop``."""

    inner_class: type[InnerLoop] = InnerLoop  # chapter 12's fault injection swaps it

    def __init__(
        self, *, recorder: Recorder | None = None, instruments: Iterable[Any] = ()
    ) -> None:
        self._instruments: list[Any] = list(instruments)  # chapter 12: eventloop.observe
        self._spawned: weakref.WeakSet[Any] = weakref.WeakSet()
        # a recorder draws asyncio code's timeline, one row per task
        self._ready: deque[events.Handle] = deque()  # call_soon's queue, in order
        self._inner = self.inner_class(
            recorder=recorder,
            instruments=self._instruments,
            tell=self._tell,
            ready=self._ready,
            run_ready=self._run_ready,
        )
        self.recorder = recorder
        self._closed = False
        self._stopping = False
        self._thread_id: int | None = None
        self._debug = sys.flags.dev_mode or bool(os.environ.get("PYTHONASYNCIODEBUG"))
        self.slow_callback_duration = 0.1
        self._exception_handler: Callable[..., object] | None = None
        self._task_factory: Callable[..., Any] | None = None
        self._default_executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._executor_shutdown_called = False
        self._asyncgens: weakref.WeakSet[Any] = weakref.WeakSet()
        self._asyncgens_shutdown_called = False
        self._timers: dict[int, Any] = {}  # id(TimerHandle) -> our loop's Timer

    # --- callbacks and time --------------------------------------------------------------------

    def time(self) -> float:
        return self._inner.time()

    def call_soon(self, callback: Callable[..., object], *args: Any, context: Any = None):
        self._check_closed()
        if self._debug:
            self._check_thread()
        handle = events.Handle(callback, args, self, context)
        self._ready.append(handle)
        if self._instruments:
            self._scheduled(handle)
        return handle

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any, context=None):
        return self.call_at(self.time() + delay, callback, *args, context=context)

    def call_at(self, when: float, callback: Callable[..., object], *args: Any, context=None):
        self._check_closed()
        if self._debug:
            self._check_thread()
        handle = events.TimerHandle(when, callback, args, self, context)
        handle._scheduled = True
        if when == math.inf:  # asyncio's "never" (sleep(math.inf), timeout(math.inf)): no timer
            return handle
        # NaN is refused by our timer heap (it would never be due and block every later timer)
        when = max(when, -sys.float_info.max)  # -inf: due at once, as on asyncio's heap
        self._timers[id(handle)] = self._inner.call_at(when, self._run_handle, handle)
        return handle

    def _timer_handle_cancelled(self, handle: events.TimerHandle) -> None:
        """asyncio calls this from ``TimerHandle.cancel()``: take it off our heap too."""
        timer = self._timers.pop(id(handle), None)
        if timer is not None:
            timer.cancel()

    def call_soon_threadsafe(self, callback: Callable[..., object], *args: Any, context=None):
        """From any thread, or a signal handler: no lock. The handle joins the same queue as
        ``call_soon``'s (a deque append is atomic), then the waker's byte wakes the loop."""
        self._check_closed()
        handle = events.Handle(callback, args, self, context)
        self._ready.append(handle)  # instruments hear of it on the loop's thread, when it runs
        self._inner.waker.wake()
        return handle

    def _run_ready(self) -> None:
        """Run the callbacks queued before this iteration, in order; later ones wait for the
        next iteration (asyncio's rule: a callback cannot starve I/O by scheduling another).

        A ``KeyboardInterrupt`` or ``SystemExit`` from one of them leaves the rest queued:
        the next ``run_forever`` runs them, as asyncio's does."""
        ready = self._ready
        for _ in range(len(ready)):
            self._run_handle(ready.popleft())

    def _run_handle(self, handle: events.Handle) -> None:
        """Every asyncio callback runs here: the seam where chapter 12 watches them."""
        self._timers.pop(id(handle), None)
        if handle.cancelled():
            return
        if self._watching():  # a recorder, instruments or debug mode (eventloop/aio/watching.py)
            self._run_watched(handle)
        else:
            handle._run()  # runs it in its context; an exception goes to call_exception_handler
        handle = None  # type: ignore[assignment]  # no cycle through this frame (watching.py)

    # --- running and stopping ------------------------------------------------------------------

    def run_forever(self) -> None:
        """Run iterations of our loop until ``stop()``; asyncio's conventions around it."""
        self._check_closed()
        self._check_running()
        self._thread_id = threading.get_ident()
        old_hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(firstiter=self._asyncgens.add, finalizer=self._finalize_asyncgen)
        events._set_running_loop(self)
        old_depth = sys.get_coroutine_origin_tracking_depth()
        if self._debug:  # "coroutine ... was never awaited" then says where it was created
            sys.set_coroutine_origin_tracking_depth(COROUTINE_ORIGIN_DEPTH)
        try:
            while True:
                # stop() before or during the run: this iteration must not sleep
                self._inner.run_once(self.time() if self._stopping else None)
                if self._stopping:
                    break
        finally:
            self._stopping = False
            self._thread_id = None
            sys.set_coroutine_origin_tracking_depth(old_depth)
            events._set_running_loop(None)
            sys.set_asyncgen_hooks(*old_hooks)

    def run_until_complete(self, future: Any) -> Any:
        """Run until ``future`` (a coroutine becomes a task) is done; return its result."""
        self._check_closed()
        self._check_running()
        new_task = not futures.isfuture(future)
        future = tasks.ensure_future(future, loop=self)
        future.add_done_callback(_stop_loop)
        try:
            self.run_forever()
        except BaseException:
            if new_task and future.done() and not future.cancelled():
                future.exception()  # the exception is reported here, not again at GC
            raise
        finally:
            future.remove_done_callback(_stop_loop)
        if not future.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return future.result()

    def stop(self) -> None:
        self._stopping = True
        if self._thread_id is not None and self._thread_id != threading.get_ident():
            self._inner.waker.wake()

    def is_running(self) -> bool:
        return self._thread_id is not None

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self._closed:
            return
        self._closed = True
        executor, self._default_executor = self._default_executor, None
        if executor is not None:
            executor.shutdown(wait=False)
        self._inner.close()

    def _check_closed(self) -> None:
        if self._closed:
            raise RuntimeError("Event loop is closed")

    def _check_running(self) -> None:
        if self.is_running():
            raise RuntimeError("This event loop is already running")
        if events._get_running_loop() is not None:
            raise RuntimeError("Cannot run the event loop while another loop is running")

    # --- futures and tasks ---------------------------------------------------------------------

    def create_future(self) -> asyncio.Future[Any]:
        return futures.Future(loop=self)

    def create_task(self, coro: Any, *, name: str | None = None, context: Any = None):
        self._check_closed()
        extra = {} if context is None else {"context": context}  # context: Python 3.11+
        if self._task_factory is not None:
            task = self._task_factory(self, coro, **extra)
            if name is not None:
                task.set_name(name)
            return task
        task = tasks.Task(coro, loop=self, name=name, **extra)
        if task._source_traceback:  # debug mode: "created at" names the caller, not this line
            del task._source_traceback[-1]
        return task

    def set_task_factory(self, factory: Callable[..., Any] | None) -> None:
        self._task_factory = factory

    def get_task_factory(self) -> Callable[..., Any] | None:
        return self._task_factory

    # --- threads and async generators ----------------------------------------------------------

    def run_in_executor(self, executor: Any, func: Callable[..., Any], *args: Any):
        self._check_closed()
        if executor is None:
            if self._executor_shutdown_called:
                raise RuntimeError("Executor shutdown has been called")
            if self._default_executor is None:
                self._default_executor = concurrent.futures.ThreadPoolExecutor(
                    thread_name_prefix="eventloop-aio"
                )
            executor = self._default_executor
        return futures.wrap_future(executor.submit(func, *args), loop=self)

    def set_default_executor(self, executor: Any) -> None:
        self._default_executor = executor

    async def shutdown_default_executor(self, timeout: float | None = None) -> None:
        """Wait for the default pool's threads in a thread of its own (never in the loop)."""
        self._executor_shutdown_called = True
        executor = self._default_executor
        if executor is None:
            return
        done = self.create_future()

        def shut_down() -> None:
            executor.shutdown(wait=True)
            if not self.is_closed():
                self.call_soon_threadsafe(futures._set_result_unless_cancelled, done, None)

        thread = threading.Thread(target=shut_down, name="eventloop-aio-shutdown")
        thread.start()
        try:
            await asyncio.wait_for(asyncio.shield(done), timeout)
        except asyncio.TimeoutError:
            pass
        thread.join(0)

    def _finalize_asyncgen(self, agen: Any) -> None:
        self._asyncgens.discard(agen)
        if not self.is_closed():
            self.call_soon_threadsafe(self.create_task, agen.aclose())

    async def shutdown_asyncgens(self) -> None:
        """Close every async generator still suspended (``asyncio.run`` calls this)."""
        self._asyncgens_shutdown_called = True
        if not self._asyncgens:
            return
        closing = list(self._asyncgens)
        self._asyncgens.clear()
        results = await asyncio.gather(*(agen.aclose() for agen in closing), return_exceptions=True)
        for result, agen in zip(results, closing, strict=True):
            if isinstance(result, Exception):
                self.call_exception_handler(
                    {
                        "message": f"an error occurred during closing of asynchronous generator "
                        f"{agen!r}",
                        "exception": result,
                        "asyncgen": agen,
                    }
                )

    # --- descriptors ---------------------------------------------------------------------------

    def add_reader(self, fd: Any, callback: Callable[..., object], *args: Any) -> events.Handle:
        """Call ``callback(*args)`` whenever ``fd`` is readable; return its ``Handle``
        (as asyncio's ``_add_reader`` does: a waiter can tell whether it is still the reader)."""
        self._check_closed()
        handle = events.Handle(callback, args, self, None)
        self._inner.add_reader(file_descriptor(fd), self._run_handle, handle)
        return handle

    def remove_reader(self, fd: Any) -> bool:
        return False if self._closed else self._inner.remove_reader(file_descriptor(fd))

    def add_writer(self, fd: Any, callback: Callable[..., object], *args: Any) -> events.Handle:
        self._check_closed()
        handle = events.Handle(callback, args, self, None)
        self._inner.add_writer(file_descriptor(fd), self._run_handle, handle)
        return handle

    def remove_writer(self, fd: Any) -> bool:
        return False if self._closed else self._inner.remove_writer(file_descriptor(fd))

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "closed" if self._closed else "idle"
        return f"<eventloop.aio.EventLoop {state} debug={self._debug}>"


def _stop_loop(future: asyncio.Future[Any]) -> None:
    future.get_loop().stop()


def file_descriptor(fd: Any) -> int:
    """An int, or the ``fileno()`` of a socket (asyncio accepts both)."""
    return fd if isinstance(fd, int) else fd.fileno()
