"""Running a coroutine on our loop the way ``asyncio.run`` does, on Python 3.10-3.13.

``asyncio.run(main(), loop_factory=...)`` exists from 3.12; 3.11 has
``asyncio.Runner(loop_factory=...)``; 3.10 has neither, so there an event loop
policy makes ``asyncio.run`` create our loop. All three do the same work: a new
loop, the coroutine as a task, then the clean-up (cancel what is left, close
async generators, shut the default thread pool down, close the loop).
"""

from __future__ import annotations

import asyncio
import functools
import sys
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from eventloop.aio.loop import EventLoop
from eventloop.recorder import Recorder


def new_event_loop(
    *, recorder: Recorder | None = None, instruments: Iterable[Any] = ()
) -> EventLoop:
    """A new ``eventloop.aio.EventLoop``, as ``asyncio.new_event_loop()`` makes asyncio's."""
    return EventLoop(recorder=recorder, instruments=instruments)


class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """A policy whose new loops are ours: for Python 3.10, and for CPython's test suites."""

    def __init__(self, make_loop: Any = EventLoop) -> None:
        super().__init__()
        self.make_loop = make_loop

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return self.make_loop()


def run(
    coro: Coroutine[Any, Any, Any],
    *,
    debug: bool | None = None,
    recorder: Recorder | None = None,
    instruments: Iterable[Any] = (),
) -> Any:
    """``asyncio.run(coro)``, on our loop; chapter 12 passes a recorder or instruments."""
    make_loop = functools.partial(new_event_loop, recorder=recorder, instruments=instruments)
    if sys.version_info >= (3, 12):
        return asyncio.run(coro, debug=debug, loop_factory=make_loop)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(debug=debug, loop_factory=make_loop) as runner:
            return runner.run(coro)
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(EventLoopPolicy(make_loop))
    try:
        return asyncio.run(coro, debug=debug)  # None: as PYTHONASYNCIODEBUG says
    finally:
        asyncio.set_event_loop_policy(previous)


def run_in_thread(
    main: Callable[[], Coroutine[Any, Any, Any]], *, timeout: float = 10.0, **options: Any
) -> Any:
    """``run(main(), **options)`` in a thread of its own; its result, within ``timeout`` s.

    For Jupyter, whose own asyncio loop already runs in the notebook's thread
    (chapter 11): ``run`` there would refuse. Past ``timeout`` the coroutine is
    cancelled through ``call_soon_threadsafe``; if it finishes within 2 s more,
    its result (or error) is returned as usual; if not, ``TimeoutError`` says
    that the loop's thread is still blocked (a cancellation only lands at an
    ``await``: a blocking call cannot be cancelled).
    """
    started: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = []
    outcome: dict[str, Any] = {}

    async def wrapper() -> Any:
        started.append((asyncio.get_running_loop(), asyncio.current_task()))  # type: ignore[arg-type]
        return await main()

    def target() -> None:
        try:
            outcome["result"] = run(wrapper(), **options)
        except BaseException as error:  # handed to the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="eventloop-aio-run", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        for loop, task in started:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:
                pass  # the loop closed in the meantime: the thread is finishing
        thread.join(CANCEL_GRACE)
        if thread.is_alive():
            raise TimeoutError(
                f"the coroutine was still running after {timeout:g} s, and its loop's thread is "
                f"still blocked {CANCEL_GRACE:g} s after it was cancelled: a blocking call "
                "cannot be cancelled"
            )
        if isinstance(outcome.get("error"), asyncio.CancelledError):
            raise TimeoutError(f"the coroutine was still running after {timeout:g} s: cancelled")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


CANCEL_GRACE = 2.0
"""Seconds ``run_in_thread`` waits for a cancelled coroutine to finish."""
