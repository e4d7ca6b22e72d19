"""Stage 10, the things a coroutine awaits: sleep, sockets, timeouts, several tasks at once.

Grows from: ``coroutines`` (``Future``, ``Task``) and chapter 09's loop.
Adds: each wait a program needs, written once as a coroutine, so that the
program itself reads top to bottom:

* ``sleep(delay)``: a future that a ``call_later`` timer completes.
* ``sock_recv``, ``sock_sendall``, ``sock_accept``, ``sock_connect``: try the
  non-blocking call; if the socket is not ready, wait for readiness with
  ``add_reader``/``add_writer`` (chapter 09), then try again. A connect that
  finishes later is judged by ``SO_ERROR`` (chapter 02), never by readiness.
* ``wait_for(awaitable, timeout)``: cancel what takes too long; ``TimeoutError``.
* ``gather(*awaitables)``: run several at once; their results in order.
  Cancelling it (or a ``wait_for`` around it timing out) cancels them all.

Every wait cleans up after itself in ``finally``: a cancelled ``sleep`` cancels
its timer, a cancelled ``sock_recv`` removes its reader.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from eventloop.coroutines import CancelledError, Future, Task, current_task


async def sleep(delay: float, result: Any = None) -> Any:
    """Pause the current task for ``delay`` seconds; the loop runs others meanwhile."""
    loop = current_task().loop
    future = Future(loop)
    timer = loop.call_later(delay, settle, future, result)
    try:
        return await future
    finally:
        timer.cancel()  # cancelled early: the timer must not fire into a cancelled future


def settle(future: Future, result: Any = None) -> None:
    """Set ``future``'s result unless it was cancelled meanwhile."""
    if not future.done():
        future.set_result(result)


async def ready(sock: socket.socket, direction: str) -> None:
    """Wait until ``sock`` is readable (``"read"``) or writable (``"write"``)."""
    loop = current_task().loop
    future = Future(loop)
    fd = sock.fileno()
    if direction == "read":
        loop.add_reader(fd, settle, future)
    else:
        loop.add_writer(fd, settle, future)
    try:
        await future
    finally:
        if direction == "read":
            loop.remove_reader(fd)
        else:
            loop.remove_writer(fd)


Wait = Callable[[socket.socket, str], Awaitable[None]]
"""How to wait until a socket is ready: ``ready`` here; chapter 11's loop passes its own."""


async def sock_recv(sock: socket.socket, size: int, wait: Wait = ready) -> bytes:
    """Up to ``size`` bytes; ``b''`` at the end of the stream."""
    while True:
        try:
            return sock.recv(size)
        except (BlockingIOError, InterruptedError):
            await wait(sock, "read")


async def sock_recv_into(sock: socket.socket, buffer: Any, wait: Wait = ready) -> int:
    """Read into ``buffer``; how many bytes came (0 at the end of the stream)."""
    while True:
        try:
            return sock.recv_into(buffer)
        except (BlockingIOError, InterruptedError):
            await wait(sock, "read")


async def sock_sendall(sock: socket.socket, data: bytes, wait: Wait = ready) -> None:
    """Send all of ``data``, waiting for room in the kernel's buffer as often as needed."""
    view = memoryview(data)
    while view:
        try:
            sent = sock.send(view)
        except (BlockingIOError, InterruptedError):
            sent = 0
        view = view[sent:]
        if view:
            await wait(sock, "write")


async def sock_accept(listener: socket.socket, wait: Wait = ready) -> tuple[socket.socket, Any]:
    """The next connection, made non-blocking, and its address."""
    while True:
        try:
            connection, address = listener.accept()
        except (BlockingIOError, InterruptedError):
            await wait(listener, "read")
        else:
            connection.setblocking(False)
            return connection, address


async def sock_connect(sock: socket.socket, address: tuple[str, int]) -> None:
    """Connect a non-blocking ``sock``; raise ``OSError`` (e.g. refused) if it fails."""
    code = sock.connect_ex(address)
    if code in (errno.EINPROGRESS, errno.EWOULDBLOCK):
        await ready(sock, "write")  # writable: finished, one way or the other
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code != 0:
        raise OSError(code, f"connect to {address[0]}:{address[1]}: {os.strerror(code)}")


def as_task(awaitable: Awaitable[Any] | Coroutine[Any, Any, Any]) -> Future:
    """A future for ``awaitable``: itself if it is one, else a new task running it."""
    if isinstance(awaitable, Future):
        return awaitable
    return Task(awaitable, current_task().loop)  # type: ignore[arg-type]


async def wait_for(awaitable: Awaitable[Any], timeout: float) -> Any:
    """Its result, or ``TimeoutError`` after ``timeout`` seconds (and it is cancelled)."""
    task = as_task(awaitable)
    timed_out = False

    def on_timeout() -> None:
        nonlocal timed_out
        timed_out = task.cancel()

    timer = current_task().loop.call_later(timeout, on_timeout)
    try:
        return await task
    except CancelledError:
        if timed_out:
            raise TimeoutError(f"not done after {timeout:g} s: cancelled") from None
        raise
    finally:
        timer.cancel()


class GatheringFuture(Future):
    """``gather``'s future. Cancelling it cancels its children, as asyncio's does: otherwise
    they would run on after a ``wait_for`` around them gave up (the card charged anyway)."""

    def __init__(self, loop: Any, children: list[Future]) -> None:
        super().__init__(loop)
        self.children = children

    def cancel(self) -> bool:
        if self.done():
            return False
        for child in self.children:
            child.cancel()
        return super().cancel()


def gather(*awaitables: Awaitable[Any]) -> Future:
    """A future of all their results, in order; the first exception, if one raises.
    Cancelling it cancels every child still running."""
    children = [as_task(awaitable) for awaitable in awaitables]
    outer = GatheringFuture(current_task().loop, children)
    if not children:
        outer.set_result([])
        return outer
    remaining = [len(children)]

    def child_done(child: Future) -> None:
        remaining[0] -= 1
        if outer.done():
            return
        if child.cancelled():
            outer.set_exception(CancelledError("a gathered task was cancelled"))
        elif child.exception() is not None:
            outer.set_exception(child.exception())  # type: ignore[arg-type]
        elif remaining[0] == 0:
            outer.set_result([c.result() for c in children])

    for child in children:
        child.add_done_callback(child_done)
    return outer
