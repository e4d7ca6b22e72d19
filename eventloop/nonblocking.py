"""Stage 02: non-blocking sockets, and a loop that polls them all.

Grows from: ``blocking`` (chapter 01), where each call waited for one socket,
so one slow client stalled the others, and the fix needed a thread per client.
Adds: ``setblocking(False)``. A call that cannot complete now no longer waits:
it raises ``BlockingIOError`` (errno EAGAIN, "Resource temporarily
unavailable"; EWOULDBLOCK on Windows). A ``connect`` returns at once
with EINPROGRESS and finishes in the background; ``SO_ERROR`` tells how it went.
With that, one thread can try every socket in turn: ``poll_loop``.

Why the next stage exists: ``poll_loop`` works, but it asks "anything yet?"
as fast as it can, hundreds of thousands of times a second, and burns a whole
CPU core to learn "no". ``PollStats`` counts those wasted tries and measures
the CPU time. Chapter 03's ``select`` asks the kernel to *wait* until a socket
is ready, which costs nothing while idle.

The errno numbers differ between systems (EAGAIN is 11 on Linux, 35 on
macOS, and Windows reports WSAEWOULDBLOCK, 10035; EINPROGRESS is 115 and 36):
catch ``BlockingIOError``, which covers them all, and never compare numbers.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from eventloop.blocking import MAX_DATAGRAM
from eventloop.recorder import Recorder

MISS_HANDLER = "loop: poll"
"""How a recording names the polling loop itself (a timeline row of its own)."""

MISS_ACTION = "nothing ready"
"""How a recording labels a sweep over every socket that found nothing."""


def recv_now(sock: socket.socket, size: int = MAX_DATAGRAM) -> bytes | None:
    """What a non-blocking socket holds right now, or ``None`` if nothing (EAGAIN).

    ``None`` and ``b''`` mean different things: ``None`` is "nothing yet, try
    later"; ``b''`` from a TCP socket is "the peer closed" (EOF).
    """
    try:
        return sock.recv(size)
    except BlockingIOError:
        return None


def start_connect(address: tuple[str, int]) -> socket.socket:
    """Begin a TCP connect without waiting for it; return the socket.

    ``connect_ex`` returns the errno instead of raising: EINPROGRESS (or 0 if
    it completed at once). The socket becomes *writable* when the connect
    has finished, successfully or not; ``connect_error`` then says which.
    """
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    code = sock.connect_ex(address)
    if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
        sock.close()
        raise OSError(code, f"connect to {address[0]}:{address[1]} failed at once")
    return sock


def connect_error(sock: socket.socket) -> int:
    """The outcome of a finished non-blocking connect: 0, or an errno such as ECONNREFUSED.

    A refused connect makes the socket readable *and* writable (PITFALL 6), so
    readiness alone cannot tell success from failure: ``SO_ERROR`` can.
    """
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


def echo_datagram(sock: socket.socket) -> None:
    """A ``poll_loop`` handler: send one waiting datagram back (raises EAGAIN if none)."""
    data, sender = sock.recvfrom(MAX_DATAGRAM)
    sock.sendto(data, sender)


@dataclass
class PollStats:
    """What a run of ``poll_loop`` cost: tries, wasted tries, and time."""

    iterations: int = 0
    eagains: int = 0
    handled: int = 0
    wall: float = 0.0
    cpu: float = 0.0

    @property
    def cpu_share(self) -> float:
        """CPU time / wall time of the loop's thread: 1.0 means a whole core busy."""
        return self.cpu / self.wall if self.wall > 0 else 0.0


def poll_loop(
    sockets: list[socket.socket],
    handle: Callable[[socket.socket], None],
    *,
    duration: float,
    max_iterations: int | None = None,
    until: Callable[[], bool] | None = None,
    pause: float = 0.0,
    recorder: Recorder | None = None,
    record_misses: bool = False,
) -> PollStats:
    """Try ``handle(sock)`` on every socket, over and over, until time is up.

    Invariant of one iteration: call ``handle`` once for each socket in
    ``sockets`` (read afresh, so a handler may add or remove sockets); a
    ``BlockingIOError`` from it means "nothing for me now" and is counted,
    never fatal. Then sleep ``pause`` seconds (0: do not sleep, a busy loop).

    Stops after ``duration`` seconds, ``max_iterations``, or when ``until()``
    is true. CPU time is this thread's own (``time.thread_time``), so client
    threads in the same process are not counted.

    The recorder gets every call that did something. With ``record_misses``
    it also gets every sweep that found nothing, as a call of ``"loop: poll"``
    with action ``"nothing ready"`` and no descriptor (fd -1): on a timeline
    that is a row of its own, busy nearly all the time. Off by default, since
    a busy loop makes hundreds of thousands of them a second.
    """
    for sock in sockets:
        sock.setblocking(False)
    stats = PollStats()
    started, cpu_started = time.monotonic(), time.thread_time()
    deadline = started + duration
    while time.monotonic() < deadline:
        if max_iterations is not None and stats.iterations >= max_iterations:
            break
        if until is not None and until():
            break
        began, handled = (recorder.now() if recorder is not None else 0.0), stats.handled
        for sock in list(sockets):
            try_once(sock, handle, stats, recorder)
        if record_misses and recorder is not None and stats.handled == handled:
            recorder.record_handler(
                stats.iterations, MISS_HANDLER, -1, MISS_ACTION, began, recorder.now()
            )
        stats.iterations += 1
        if pause > 0:
            time.sleep(pause)
    stats.wall = time.monotonic() - started
    stats.cpu = time.thread_time() - cpu_started
    if recorder is not None:
        recorder.note(
            stats.iterations,
            f"stopped after {stats.iterations} iterations, {stats.eagains} EAGAINs, "
            f"{stats.handled} handled",
        )
    return stats


def try_once(
    sock: socket.socket,
    handle: Callable[[socket.socket], None],
    stats: PollStats,
    recorder: Recorder | None,
) -> None:
    """Call ``handle(sock)`` once; count EAGAIN; record only calls that did something."""
    fd = sock.fileno()
    if fd < 0:
        return  # closed by an earlier handler in this iteration
    began = recorder.now() if recorder is not None else 0.0
    try:
        handle(sock)
    except BlockingIOError:
        stats.eagains += 1  # "not now": the normal answer of a non-blocking socket
        return
    stats.handled += 1
    if recorder is not None:
        name = getattr(handle, "__name__", "handle")
        recorder.record_handler(stats.iterations, name, fd, "handle", began, recorder.now())
