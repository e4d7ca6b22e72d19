"""What chapter 12 watches a running asyncio loop with: debug mode, instruments, a recorder.

Every asyncio callback runs through ``EventLoop._run_handle``. With nothing
watching, it only runs the handle. With a recorder, instruments or debug mode,
``run_watched`` does what asyncio's ``_run_once`` does in debug mode, and more:

* **debug mode** (``loop.set_debug(True)``, ``run(main(), debug=True)``,
  ``PYTHONASYNCIODEBUG=1``): a callback or task step slower than
  ``loop.slow_callback_duration`` is logged, naming the *task* as asyncio does
  ("Executing <Task pending name='slowpoke' ...> took 0.201 seconds"); a
  ``call_soon`` from another thread raises instead of corrupting the queue;
  coroutines remember where they were created.
* **instruments**: objects with the hooks of ``eventloop.observe.Instrument``
  (in the spirit of trio's), told when a task is spawned, scheduled, stepped
  and exits, around every callback, and around every wait for I/O.
* **a recorder**: one ``HandlerEvent`` per callback, named after its task, so
  chapter 07's timeline draws asyncio code with one row per task.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from asyncio import events
from typing import Any

from eventloop.select_loop import callback_name

logger = logging.getLogger("asyncio")

COROUTINE_ORIGIN_DEPTH = 10
"""How many frames a coroutine remembers of where it was created, in debug mode (asyncio's)."""


class WatchedMethods:
    """Mixed into ``EventLoop``: the watched way to run a callback, and debug mode."""

    _debug: bool
    _instruments: list[Any]
    _spawned: weakref.WeakSet[asyncio.Task[Any]]  # tasks the instruments were told about
    _thread_id: int | None
    recorder: Any
    slow_callback_duration: float

    def _watching(self) -> bool:
        """Is anything watching? If not, a callback runs with no extra work at all."""
        return self._debug or bool(self._instruments) or self.recorder is not None

    def _run_watched(self, handle: events.Handle) -> None:
        """Run one callback with its instruments, its recording and debug mode's timing."""
        task = task_of(handle)
        self._tell("before_callback", handle)
        if task is not None:
            self._tell("before_task_step", task)
        began = self.time()  # type: ignore[attr-defined]
        started = self.recorder.now() if self.recorder is not None else 0.0
        handle._run()  # runs it in its context; an exception goes to call_exception_handler
        took = self.time() - began  # type: ignore[attr-defined]
        if self.recorder is not None:  # one row per task, as in chapter 10's recordings
            self.recorder.record_handler(
                self._inner.iteration,  # type: ignore[attr-defined]
                handle_name(handle),
                -1,
                "callback" if task is None else "step",
                started,
                self.recorder.now(),
                None,
            )
        if task is not None:
            self._tell("after_task_step", task)
            if task.done():
                self._tell("task_exited", task)
        self._tell("after_callback", handle, took)
        if self._debug and took >= self.slow_callback_duration:
            logger.warning("Executing %s took %.3f seconds", format_handle(handle), took)
        # A task's exception keeps its traceback, whose frames (in debug mode they exist as
        # objects) lead back here: drop our references, or the task lives on in a cycle and
        # "exception never retrieved" comes late. asyncio's _run_once does the same.
        handle = task = None  # type: ignore[assignment]

    def _scheduled(self, handle: events.Handle) -> None:
        """``call_soon`` queued ``handle``: tell the instruments if it is a task's next step."""
        task = task_of(handle)
        if task is None:
            return
        if task not in self._spawned:
            self._spawned.add(task)  # the first step of a new task: it was just spawned
            self._tell("task_spawned", task)
        self._tell("task_scheduled", task)

    def _tell(self, hook: str, *args: Any) -> None:
        """Call ``hook`` on every instrument. One that raises is reported and removed, as
        trio does: a broken tool must not lose the callback it was watching."""
        for instrument in list(self._instruments):
            try:
                getattr(instrument, hook)(*args)
            except Exception as error:
                self._instruments.remove(instrument)
                self.call_exception_handler(  # type: ignore[attr-defined]
                    {
                        "message": f"instrument {instrument!r} raised in {hook}(); removed",
                        "exception": error,
                    }
                )

    def add_instrument(self, instrument: Any) -> None:
        """Start telling ``instrument`` what the loop does (``eventloop.observe.Instrument``)."""
        self._instruments.append(instrument)

    def remove_instrument(self, instrument: Any) -> None:
        """Stop telling ``instrument``; ``ValueError`` if it was not added."""
        self._instruments.remove(instrument)

    # --- debug mode ----------------------------------------------------------------------------

    def get_debug(self) -> bool:
        return self._debug

    def set_debug(self, enabled: bool) -> None:
        self._debug = enabled

    def _check_thread(self) -> None:
        """Debug mode: a non-thread-safe call from another thread is a bug; say so at once.

        Without debug mode the handle joins the queue anyway, and the loop, asleep
        in ``select``, may not see it until something else wakes it.
        """
        if self._thread_id is None or self._thread_id == threading.get_ident():
            return
        raise RuntimeError(
            "Non-thread-safe operation invoked on an event loop other than the current one: "
            "from another thread, use loop.call_soon_threadsafe() or "
            "asyncio.run_coroutine_threadsafe()"
        )


STEP_CALLBACKS = ("TaskStepMethWrapper", "task_wakeup", "__step", "__wakeup")
"""How a task's step and wake-up callbacks are named: the C task's, then the Python task's
(3.10-3.13). Other methods of a task (``loop.call_soon(task.cancel)``) are not steps."""


def task_of(handle: events.Handle) -> asyncio.Task[Any] | None:
    """The task whose step (or wake-up) ``handle`` runs, or ``None`` for any other callback."""
    callback = handle._callback
    owner = getattr(callback, "__self__", None)
    if not isinstance(owner, asyncio.Task):
        return None
    name = getattr(callback, "__name__", type(callback).__name__)
    return owner if name in STEP_CALLBACKS else None


def handle_name(handle: events.Handle) -> str:
    """``Task main`` for a task's step, else the callback's name (``sleep``, ``Server.accept``)."""
    task = task_of(handle)
    if task is not None:
        return f"Task {task.get_name()}"
    return callback_name(handle._callback)


def format_handle(handle: events.Handle) -> str:
    """What debug mode's warning names: the task (as asyncio does), else the handle."""
    task = task_of(handle)
    return repr(task) if task is not None else repr(handle)
