"""Running a coroutine on our loop the way ``asyncio.run`` does, on Python 3.10-3.13.

``asyncio.run(main(), loop_factory=...)`` exists from 3.12; 3.11 has
``asyncio.Runner(loop_factory=...)``; 3.10 has neither, so there an event loop
policy makes ``asyncio.run`` create our loop. All three do the same work: a new
loop, the coroutine as a task, then the clean-up (cancel what is left, close
async generators, shut the default thread pool down, close the loop).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

from eventloop.aio.loop import EventLoop


def new_event_loop() -> EventLoop:
    """A new ``eventloop.aio.EventLoop``, as ``asyncio.new_event_loop()`` makes asyncio's."""
    return EventLoop()


class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """A policy whose new loops are ours: for Python 3.10, and for CPython's test suites."""

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return EventLoop()


def run(coro: Coroutine[Any, Any, Any], *, debug: bool | None = None) -> Any:
    """``asyncio.run(coro)``, on our loop."""
    if sys.version_info >= (3, 12):
        return asyncio.run(coro, debug=debug, loop_factory=new_event_loop)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
            return runner.run(coro)
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(EventLoopPolicy())
    try:
        return asyncio.run(coro, debug=bool(debug))
    finally:
        asyncio.set_event_loop_policy(previous)
