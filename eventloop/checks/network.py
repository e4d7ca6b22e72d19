"""What loopback hides: network conditions the checks create on purpose, and watch.

Grows from the checks of chapters 01 and 05, which talked to servers on loopback,
where a connect finishes at once and ``send`` takes everything. Answers that
forget the real network (``send`` instead of ``sendall``, a connect never waited
for, or waited for as readable) then pass. Here:

* ``ShortSends``/``ShortSendListener``: connections whose ``send`` takes at most
  1000 bytes per call, as ``send`` may on a busy network.
* ``connect_in_progress``: a ``SlowPeer``, where a connect stays in progress ~1 s
  once ``connect_seen()`` starts its clock.
* ``watching_connects`` and ``expect_non_blocking_connect``: was the connect
  non-blocking, waited for with ``select`` on writability, its socket closed?
* ``echo_of``, ``slow_reader``, ``exchange``, ``receive_all``: clients that talk
  to a server under test the way a real, slower peer does.
"""

from __future__ import annotations

import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from eventloop.blocking import Background
from eventloop.checks import CheckFailed
from eventloop.checks.probes import Call, Leaks, replaced, spy_on, watch_leaks
from eventloop.handlers import EventHandler, event_loop
from eventloop.tcp_server import TCPServer


class ShortSends:
    """A connection whose ``send`` sends at most 1000 bytes per call, as ``send`` may.

    ``send`` returns how many bytes it took: on a busy network, or with a full
    buffer, that is less than it was given. Loopback rarely shows it; this
    connection always does, so an echo written with ``send`` instead of ``sendall``
    loses bytes here as it would one day in the field. Everything else, ``sendall``
    included, goes to the real socket. (A wrapper, not a subclass: a dropped,
    unclosed socket then still says so with a ``ResourceWarning``.)
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, data: Any, flags: int = 0) -> int:
        return self.sock.send(bytes(memoryview(data)[:1000]), flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)

    def __enter__(self) -> ShortSends:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()


class ShortSendListener(socket.socket):
    """A listener whose accepted connections are ``ShortSends``."""

    def accept(self) -> tuple[Any, Any]:
        conn, address = super().accept()
        return ShortSends(conn), address


def shut(client: socket.socket, how: int) -> None:
    """``shutdown``, unless the server has already reset the connection."""
    try:
        client.shutdown(how)
    except OSError:
        pass


def echo_of(client: socket.socket, data: bytes) -> tuple[int, bool]:
    """Send ``data`` from a thread and read the echo; return how many bytes came back right
    (the length of the echo's prefix that matches) and whether all of ``data`` was sent."""
    client.settimeout(2.0)

    def send_all() -> None:
        client.sendall(data)
        client.shutdown(socket.SHUT_WR)

    received = bytearray()
    with Background(send_all) as sender:
        deadline = time.monotonic() + 3.0
        while len(received) < len(data) and time.monotonic() < deadline:
            try:
                chunk = client.recv(4096)
            except (TimeoutError, ConnectionError):
                break
            if not chunk:
                break
            received += chunk
        if sender.thread.is_alive():
            shut(client, socket.SHUT_RDWR)  # the server stopped reading: unblock sendall
    sent_all = sender.error is None
    if received == data:
        return len(data), sent_all
    same = 0
    while same < min(len(received), len(data)) and received[same] == data[same]:
        same += 1
    return same, sent_all


class SlowPeer:
    """Where a connect stays in progress about 1 s, then is refused: see ``connect_in_progress``."""

    def __init__(self, listener: socket.socket, close_after: float) -> None:
        self.address: tuple[str, int] = listener.getsockname()
        self.listener = listener
        self.close_after = close_after
        self.timer: threading.Timer | None = None

    def connect_seen(self) -> None:
        """The candidate's connect has sent its SYN: close the listener ``close_after`` s later.

        Counting from here, not from the set-up, makes the case independent of how long
        the machine took to reach the connect (a busy CI runner, a slow garbage collection).
        """
        if self.timer is None:
            self.timer = threading.Timer(self.close_after, self.listener.close)
            self.timer.start()

    def stop(self) -> None:
        """Cancel the timer (or wait for it), so nothing happens after the check."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer.join()


@contextmanager
def connect_in_progress(close_after: float = 0.9) -> Iterator[SlowPeer | None]:
    """A peer where a new connect stays in progress ~1 s, then is refused (Linux).

    A listener with ``listen(0)`` and one connection already queued: Linux drops
    the next SYN, so that connect is in progress and ``SO_ERROR`` reads 0. The
    listener closes ``close_after`` s after ``connect_seen()`` is called; the SYN
    sent again ~1 s after the first meets a closed port and the connect fails
    with ECONNREFUSED. 0.9 s stays below the 1 s retransmission. Yields ``None``
    where this rule does not hold (macOS, Windows): a check then skips that case.
    """
    if not sys.platform.startswith("linux"):
        yield None
        return
    listener = socket.socket()
    queued = socket.socket()
    peer: SlowPeer | None = None
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        queued.settimeout(2)
        queued.connect(listener.getsockname())
        peer = SlowPeer(listener, close_after)
        yield peer
    finally:
        try:
            if peer is not None:
                peer.stop()  # the timer first: it must not close the listener after this
        finally:  # even when the check's time limit interrupts the wait for the timer
            listener.close()
            queued.close()


class ConnectsSeen:
    """What ``watching_connects`` saw: connect calls (with the socket's timeout), selects."""

    def __init__(self) -> None:
        self.timeouts: list[float | None] = []
        self.selects: list[Call] = []
        self.leaks = Leaks()


@contextmanager
def watching_connects(
    candidate: object, on_connect: Callable[[], None] | None = None
) -> Iterator[ConnectsSeen]:
    """Record each ``connect``/``connect_ex`` with the socket's timeout then (``None``:
    blocking), every ``select.select``, and the sockets left open. ``on_connect`` is
    called once each connect has been started (``SlowPeer.connect_seen``)."""
    seen = ConnectsSeen()
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(sock: socket.socket, address: object) -> None:
        seen.timeouts.append(sock.gettimeout())
        try:
            return real_connect(sock, address)
        finally:  # also when it raised BlockingIOError: the SYN is on its way
            if on_connect is not None:
                on_connect()

    def connect_ex(sock: socket.socket, address: object) -> int:
        seen.timeouts.append(sock.gettimeout())
        try:
            return real_connect_ex(sock, address)
        finally:
            if on_connect is not None:
                on_connect()

    with (
        watch_leaks() as seen.leaks,
        spy_on(select, "select", candidate) as seen.selects,
        replaced(socket.socket, "connect", connect),
        replaced(socket.socket, "connect_ex", connect_ex),
    ):
        yield seen


def expect_non_blocking_connect(seen: ConnectsSeen, took: float) -> None:
    """The connect was non-blocking, waited for with select on writability, socket closed."""
    if any(timeout != 0.0 for timeout in seen.timeouts):
        raise CheckFailed(
            "the connect was a blocking one",
            expected="sock.setblocking(False) before connect",
            got="connect on a blocking socket (or one with a timeout)",
            hint="a blocking connect stops the whole loop until the server answers: "
            "setblocking(False), then wait with select([], [sock], [], 2)",
        )
    waits = [call for call in seen.selects if len(call.args) >= 2]
    if not waits:
        raise CheckFailed(
            "connect_result never waited with select",
            hint="loopback connects finish at once, real ones do not: wait with "
            "select.select([], [sock], [], 2) until the socket is writable",
        )
    if all(not call.args[1] for call in waits) or took > 1.5:
        raise CheckFailed(
            "connect_result waited for the socket to become readable, not writable",
            expected="select.select([], [sock], [], 2): writable means the connect is over",
            got=f"a wait of {took:.1f} s" if took > 1.5 else "the socket in the read list only",
            hint="a connected socket is readable only when data comes: put it in the second "
            "list (writable), which is what a finished connect makes it",
        )
    if seen.leaks:
        raise CheckFailed(
            "connect_result left its socket open",
            got=seen.leaks.unclosed[0],
            hint="use `with socket.socket() as sock:` so it is closed when you return",
        )


def receive_all(client: socket.socket) -> bytes:
    chunks = []
    client.settimeout(2)
    while chunk := client.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def slow_reader(address: tuple[str, int]) -> socket.socket:
    """A client with a small receive buffer: the server's sends soon find it full."""
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    client.settimeout(3)
    client.connect(address)
    return client


def exchange(client: socket.socket, handlers: list, data: bytes, deadline: float) -> bytes:
    """Send ``data``, reading the reply only when sending is blocked; loop in between."""
    client.setblocking(False)
    sent, received = 0, bytearray()
    while len(received) < len(data) and time.monotonic() < deadline:
        blocked = sent == len(data)
        if not blocked:
            try:
                sent += client.send(data[sent : sent + 65536])
            except BlockingIOError:
                blocked = True
        event_loop(handlers, max_iterations=1, duration=0.01, on_error="raise")
        if blocked:
            try:
                received += client.recv(1 << 20)
            except BlockingIOError:
                pass
    return bytes(received)


@contextmanager
def serving(connection: Callable) -> Iterator[tuple[TCPServer, list[EventHandler]]]:
    """A ``TCPServer`` on 127.0.0.1 whose connections are ``connection(sock, handlers)``."""
    handlers: list[EventHandler] = []
    with TCPServer(handlers, connection=connection) as server:
        yield server, handlers


def loop_until(handlers: list[EventHandler], done: Callable[[], bool], seconds: float) -> None:
    event_loop(handlers, until=done, duration=seconds, on_error="raise")
