"""Stage 10: coroutines on our own loop. ``Future``, ``Task``, ``async``/``await``.

Grows from: ``selectors_loop`` and ``readers`` (chapter 09), a loop that calls
``callback(*args)`` soon (``call_soon``), later (``call_later``) or when a
descriptor is ready (``add_reader``/``add_writer``).
Adds: a way to write "wait for this, then go on" as straight-line code. A
protocol written with callbacks scatters its state over methods and
attributes; a coroutine keeps it in local variables and pauses at each wait.

* ``Future``: a result that is not there yet. ``set_result`` stores it and
  *schedules* the done callbacks with ``call_soon``: calling them at once,
  from inside ``set_result``, would run a waiting task's next step in the
  middle of whoever set the result (a bug of the 500 Lines crawler).
* ``Task``: drives one coroutine. Each step is ``coro.send(None)``, run by
  the loop; the coroutine stops at an ``await`` of a pending ``Future`` and
  the task asks that future to wake it when done. ``StopIteration`` carries the
  result; any other exception becomes the task's exception, never the loop's.
  ``coro.throw`` is used for one thing only: cancellation. A task starts in the
  loop's next iteration, not inside its constructor.
* ``await`` works on our ``Future`` because of ``__await__``; the attribute
  ``_asyncio_future_blocking`` is asyncio's own marker for "a future, waiting",
  so asyncio's ``Task`` can await our ``Future`` and ours can await any object
  that follows the same protocol.

The awaitables built on these (``sleep``, socket operations, ``wait_for``,
``gather``) are in ``eventloop.awaitables``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Literal

from eventloop.selectors_loop import SelectorLoop

State = Literal["pending", "finished", "cancelled"]


class CancelledError(BaseException):
    """The task or future was cancelled. A ``BaseException``, like asyncio's since 3.8:
    a coroutine's ``except Exception:`` must not swallow a cancellation."""


class InvalidStateError(Exception):
    """A result asked for too early, or set twice."""


class RunningTasks(threading.local):
    """The tasks whose step is running now, innermost last: what ``sleep()`` and friends use.

    One list per thread (a ``threading.local`` gives each thread its own ``tasks``), as
    asyncio and trio keep theirs: each thread runs its own loop, and with one shared list
    two loops in two threads saw each other's tasks as current, so a task's timer landed
    on the other loop.
    """

    def __init__(self) -> None:
        self.tasks: list[Task] = []


_running = RunningTasks()


def current_task(loop: Any = None) -> Task:
    """The task running now in this thread (on ``loop``, if given); a clear error outside one."""
    for task in reversed(_running.tasks):
        if loop is None or task.loop is loop:
            return task
    raise RuntimeError(
        "no task is running: call this from a coroutine run by eventloop.coroutines.Task "
        "(or run_until_complete)" + ("" if loop is None else " on this loop")
    )


class Future:
    """A result that will be set later, by someone else, and callbacks waiting for it."""

    _asyncio_future_blocking = False  # asyncio's marker: True while a task waits on it

    def __init__(self, loop: Any) -> None:
        self.loop = loop  # anything with call_soon: our loops, or asyncio's
        self._state: State = "pending"
        self._result: Any = None
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[[Future], object]] = []

    def get_loop(self) -> Any:
        return self.loop

    def done(self) -> bool:
        return self._state != "pending"

    def cancelled(self) -> bool:
        return self._state == "cancelled"

    def result(self) -> Any:
        """The result; raises the exception if one was set, ``CancelledError`` if cancelled."""
        if self._state == "cancelled":
            raise CancelledError(f"{self!r} was cancelled")
        if self._state == "pending":
            raise InvalidStateError("the result is not set yet: await the future first")
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self) -> BaseException | None:
        """The exception set, or None; the same errors as ``result()`` when there is none yet."""
        if self._state != "finished":
            self.result()  # raises CancelledError or InvalidStateError
        return self._exception

    def set_result(self, result: Any) -> None:
        self._finish("finished", result=result)

    def set_exception(self, exception: BaseException) -> None:
        self._finish("finished", exception=exception)

    def cancel(self) -> bool:
        """Cancel a pending future (``False`` if it was done already)."""
        if self.done():
            return False
        self._finish("cancelled")
        return True

    def add_done_callback(self, callback: Callable[[Future], object], **_: Any) -> None:
        """``callback(self)`` once done: scheduled with ``call_soon``, never called from here."""
        if self.done():
            self.loop.call_soon(callback, self)
        else:
            self._callbacks.append(callback)

    def remove_done_callback(self, callback: Callable[[Future], object]) -> int:
        before = len(self._callbacks)
        self._callbacks = [c for c in self._callbacks if c != callback]
        return before - len(self._callbacks)

    def _finish(self, state: State, result: Any = None, exception: BaseException | None = None):
        if self.done():
            raise InvalidStateError(f"{self!r} is already done: a result is set only once")
        self._state, self._result, self._exception = state, result, exception
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:  # later, from the loop: whoever set the result goes on first
            self.loop.call_soon(callback, self)

    def __await__(self) -> Generator[Future, None, Any]:
        """``await future``: pause the task until the future is done, then return its result."""
        if not self.done():
            self._asyncio_future_blocking = True
            yield self  # the task sees the future, and asks to be woken when it is done
        if not self.done():
            raise RuntimeError("the task went on before the future was done")
        return self.result()

    __iter__ = __await__  # `yield from future` works too, as in the 500 Lines crawler

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._state}>"


class Task(Future):
    """Runs a coroutine on ``loop``, one step per callback; is itself a future of its result."""

    _count = 0

    def __init__(
        self, coro: Coroutine[Any, Any, Any], loop: SelectorLoop, name: str | None = None
    ) -> None:
        super().__init__(loop)
        if not hasattr(coro, "send"):
            raise TypeError(
                f"Task needs a coroutine, such as main() (with the parentheses); got {coro!r}"
            )
        Task._count += 1
        self.coro = coro
        self.name = name or f"Task-{Task._count}"
        self.waiting_on: Any = None  # the future this task is waiting for
        self._must_cancel = False
        loop.call_soon(self.step)  # the first step runs in the loop, not in this constructor

    def get_name(self) -> str:
        return self.name

    def cancel(self) -> bool:
        """Ask the task to stop: its coroutine gets ``CancelledError`` where it waits."""
        if self.done():
            return False
        if self.waiting_on is not None and self.waiting_on.cancel():
            return True  # the future's callback wakes us; its result() raises CancelledError
        self._must_cancel = True  # not waiting on anything we can cancel: throw at next step
        return True

    def step(self) -> None:
        """Run the coroutine to its next ``await``; settle the task if it returns or raises."""
        if self.done():
            return
        self.waiting_on = None
        running = _running.tasks  # this thread's
        running.append(self)
        try:
            if self._must_cancel:
                self._must_cancel = False
                yielded = self.coro.throw(CancelledError(f"{self.name} was cancelled"))
            else:
                yielded = self.coro.send(None)
        except StopIteration as returned:
            self.set_result(returned.value)
        except CancelledError:
            super().cancel()
        except Exception as error:  # the coroutine's error is the task's, not the loop's
            self.set_exception(error)
        else:
            self.wait_for(yielded)
        finally:
            running.pop()

    def wait_for(self, yielded: object) -> None:
        """What the coroutine yielded: a future to wait on, ``None`` (a turn), or a mistake."""
        if getattr(yielded, "_asyncio_future_blocking", False):
            yielded._asyncio_future_blocking = False  # type: ignore[attr-defined]
            self.waiting_on = yielded
            yielded.add_done_callback(self.wake_up)  # type: ignore[attr-defined]
            if self._must_cancel and yielded.cancel():  # type: ignore[attr-defined]
                self._must_cancel = False
        elif yielded is None:
            self.loop.call_soon(self.step)  # a bare yield (asyncio.sleep(0)): let others run
        else:
            self._must_cancel = False
            self.coro.close()
            self.set_exception(
                TypeError(
                    f"{self.name} yielded {yielded!r}: a coroutine may only await futures "
                    "(await sleep(1), await fut); it must not yield values to the task"
                )
            )

    def wake_up(self, future: Any) -> None:
        """The awaited future is done: the next step reads its result (or its exception)."""
        self.step()

    def __repr__(self) -> str:
        waiting = f" waiting on {self.waiting_on!r}" if self.waiting_on is not None else ""
        return f"<Task {self.name} {self._state}{waiting}>"


def run_until_complete(
    loop: SelectorLoop,
    coro: Coroutine[Any, Any, Any],
    *,
    timeout: float = 10.0,
    name: str | None = None,
) -> Any:
    """Run ``coro`` as a task on ``loop`` until it is done, within ``timeout`` seconds.

    Returns its result or raises its exception. Past the deadline the task is
    cancelled and ``TimeoutError`` says so: a notebook cell never hangs.
    """
    task = Task(coro, loop, name)
    reason = loop.run(until=task.done, duration=timeout)
    if not task.done():
        waiting = repr(task.waiting_on)
        task.cancel()
        loop.run(until=task.done, duration=1.0)
        if reason == "no handlers":
            raise RuntimeError(
                f"{task.name} waits on {waiting}, but the loop has nothing left that could "
                "finish it (no descriptor, no timer): a future nobody will ever set?"
            )
        raise TimeoutError(f"{task.name} was not done after {timeout:g} s, so it was cancelled")
    return task.result()
