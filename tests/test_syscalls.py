"""System calls per echo on the epoll loop, counted by instrumenting the socket and selector.

No timing here: what scales is what the loop asks of the kernel. On the
selectors loop an echo costs one ``recv`` and one ``send``; the descriptor
stays registered, so there is no ``epoll_ctl`` (``register``/``modify``) per
message unless a send is partial.
"""

from __future__ import annotations

import select
import selectors
import socket
import time
from collections import Counter
from collections.abc import Iterator, MutableSequence
from typing import Any

import pytest

from eventloop.handlers import EventHandler
from eventloop.selectors_loop import SelectorLoop
from eventloop.tcp import TCPEchoConnection
from eventloop.tcp_server import TCPServer

pytestmark = pytest.mark.skipif(
    not hasattr(selectors, "EpollSelector"), reason="epoll is Linux-only"
)

TIMEOUT = 5.0
MESSAGES = 100


class CountingEpoll(selectors.EpollSelector if hasattr(selectors, "EpollSelector") else object):  # type: ignore[misc]
    """An epoll selector that counts the calls that become system calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        self.calls["register"] += 1  # epoll_ctl(EPOLL_CTL_ADD)
        return super().register(fileobj, events, data)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        self.calls["modify"] += 1  # epoll_ctl(EPOLL_CTL_MOD)
        return super().modify(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        self.calls["unregister"] += 1  # epoll_ctl(EPOLL_CTL_DEL)
        return super().unregister(fileobj)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self.calls["select"] += 1  # epoll_wait
        return super().select(timeout)


class CountingSocket:
    """A socket that counts ``recv`` and ``send``; everything else goes straight through."""

    def __init__(self, sock: socket.socket, calls: Counter[str]) -> None:
        self._sock, self.calls = sock, calls

    def recv(self, size: int) -> bytes:
        self.calls["recv"] += 1
        return self._sock.recv(size)

    def send(self, data: bytes) -> int:
        self.calls["send"] += 1
        return self._sock.send(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@pytest.fixture
def loop() -> Iterator[SelectorLoop]:
    with SelectorLoop(selector=CountingEpoll()) as loop:
        yield loop


def counting_echo(calls: Counter[str]):  # type: ignore[no-untyped-def]
    """A connection factory for ``TCPServer``: chapter 05's echo on a counting socket."""

    def make(sock: socket.socket, handlers: MutableSequence[EventHandler]) -> TCPEchoConnection:
        return TCPEchoConnection(CountingSocket(sock, calls), handlers)  # type: ignore[arg-type]

    return make


def readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def arrived_whole(conn: TCPEchoConnection, size: int) -> None:
    """Wait until the server's socket holds all ``size`` bytes of the message (peeking,
    so nothing is read or counted). On a busy machine the kernel may deliver a message
    in two parts; the loop would then rightly read twice, and the count would say
    nothing about the loop."""
    sock: socket.socket = conn.sock._sock  # type: ignore[attr-defined]  # not the counting one
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        select.select([sock], [], [], 0.05)
        try:
            if len(sock.recv(size, socket.MSG_PEEK)) >= size:
                return
        except BlockingIOError:
            pass
    raise TimeoutError(f"{size} bytes never arrived whole at the server")


def echo_many(loop: SelectorLoop, server: TCPServer, size: int) -> Counter[str]:
    """Send MESSAGES messages of ``size`` bytes one at a time; return the selector's counts
    for the messages alone (the connection's accept and registration excluded)."""
    with socket.create_connection(server.address, timeout=TIMEOUT) as client:
        loop.run(until=lambda: server.accepted == 1, duration=TIMEOUT)
        loop.run(max_iterations=1, duration=0.05)  # the connection gets registered
        conn = next(h for h in loop.handlers if isinstance(h, TCPEchoConnection))
        before = Counter(loop.selector.calls)
        for n in range(MESSAGES):
            message = bytes([n % 256]) * size
            client.sendall(message)
            arrived_whole(conn, size)
            loop.run(until=lambda: readable(client), duration=TIMEOUT)
            got = b""
            while len(got) < size:
                got += client.recv(size - len(got))
            assert got == message
        return Counter(loop.selector.calls) - before


def test_one_recv_and_one_send_per_echo_and_no_epoll_ctl(loop: SelectorLoop) -> None:
    socket_calls: Counter[str] = Counter()
    with TCPServer(loop.handlers, connection=counting_echo(socket_calls)) as server:
        selector_calls = echo_many(loop, server, 100)
    assert socket_calls == {"recv": MESSAGES, "send": MESSAGES}
    assert selector_calls == {"select": MESSAGES}  # no register, modify or unregister at all


def test_registration_happens_once_per_connection(loop: SelectorLoop) -> None:
    socket_calls: Counter[str] = Counter()
    with TCPServer(loop.handlers, connection=counting_echo(socket_calls)) as server:
        echo_many(loop, server, 10)
        loop.run(until=lambda: len(loop.handlers) == 2, duration=TIMEOUT)  # waker + server
    # the waker, the listening socket, the connection: one register each, ever
    assert loop.selector.calls["register"] == 3
    assert loop.selector.calls["modify"] == 0
    assert loop.selector.calls["unregister"] == 2  # the connection, then the server
    assert socket_calls["recv"] == MESSAGES + 1  # the last one read EOF (b'')


def test_the_select_loop_asks_every_handler_every_iteration() -> None:
    """The contrast: chapter 07's Loop calls wants_to_receive on every handler, every time."""
    from eventloop.timers import Loop

    class Idle(EventHandler):
        asked = 0

        def __init__(self, sock: socket.socket) -> None:
            self.sock = sock

        def fileno(self) -> int:
            return self.sock.fileno()

        def wants_to_receive(self) -> bool:
            Idle.asked += 1
            return True

    pairs = [socket.socketpair() for _ in range(20)]
    pairs[0][1].send(b"!")  # never read: one handler is ready in every iteration
    try:
        for make in (Loop, SelectorLoop):
            Idle.asked = 0
            with make([Idle(a) for a, _ in pairs]) as some_loop:
                some_loop.run(max_iterations=10, duration=5)
                ran = some_loop.iteration  # 10, unless a very slow machine hit the deadline
            assert ran >= 2
            if make is Loop:
                assert Idle.asked >= 20 * ran  # O(handlers) per iteration
            else:
                assert Idle.asked == 20 + (ran - 1)  # each once to register; then the one that ran
    finally:
        for a, b in pairs:
            a.close()
            b.close()
