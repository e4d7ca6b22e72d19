"""Check for exercise 5.5: an echo handler's outgoing buffer, written by hand (PITFALLS 7, 8).

Grows from: ``eventloop.checks.ch05`` (5.1-5.4), which re-exports ``check_5_5``; kept apart so
each module stays short. The learner writes ``OutgoingEcho(sock, handlers)``, an
``EventHandler`` that queues what arrives in ``self.outgoing`` and sends what the kernel takes:
``wants_to_send`` only while something is queued, partial sends kept, and EOF handled only
after the queue has drained. The check runs it under a real ``TCPServer`` on loopback, first
with five bytes and an EOF, then with about 1 MB through 8 KiB kernel buffers.
"""

from __future__ import annotations

import socket
import time

from eventloop.checks import CheckFailed, Verdict, expect_equal, verdict
from eventloop.checks.network import exchange, loop_until, receive_all, serving, slow_reader
from eventloop.handlers import EventHandler

# --- 5.5 -----------------------------------------------------------------------------------------


def check_5_5(cls: type) -> Verdict:
    """``cls(sock, handlers)``: echoes through an outgoing buffer, partial sends and EOF handled."""
    return verdict("5.5", lambda: run_5_5(cls), time_limit=10)


def close_sockets_of(handlers: list[EventHandler]) -> None:
    """Close every socket the learner's handlers keep, whatever they did."""
    for handler in handlers:
        for value in vars(handler).values():
            if isinstance(value, socket.socket):
                value.close()


def run_5_5(cls: type) -> None:
    if not (isinstance(cls, type) and issubclass(cls, EventHandler)):
        raise CheckFailed(
            f"{getattr(cls, '__name__', cls)!r} is not an EventHandler class",
            hint="define it as `class OutgoingEcho(EventHandler):`",
        )
    made: list[EventHandler] = []
    try:
        expect_nothing_to_send(cls, made)
        expect_small_echo_then_eof(cls, made)
        expect_big_echo(cls, made)
    finally:
        close_sockets_of(made)


def expect_nothing_to_send(cls: type, made: list[EventHandler]) -> None:
    """A fresh connection with an empty buffer must not ask to be watched for writing."""
    left, right = socket.socketpair()
    with left:
        made.append(cls(right, []))
        if made[-1].wants_to_send():
            raise CheckFailed(
                "a new connection with nothing queued says wants_to_send() == True",
                hint="return len(self.outgoing) > 0: a socket is nearly always writable, so a "
                "handler that always wants to send wakes the loop for nothing (a busy loop)",
            )


def expect_small_echo_then_eof(cls: type, made: list[EventHandler]) -> None:
    """b"hello" then EOF: the echo comes back, then the server closes (EOF for the client)."""

    def connection(sock: socket.socket, handlers: list[EventHandler]) -> EventHandler:
        made.append(cls(sock, handlers))
        return made[-1]

    with (
        serving(connection) as (server, handlers),
        socket.create_connection(server.address, 2) as client,
    ):
        client.sendall(b"hello")
        client.shutdown(socket.SHUT_WR)
        loop_until(handlers, lambda: server.accepted == 1 and len(handlers) == 1, 1.0)
        client.settimeout(0.5)
        try:
            reply = receive_all(client)
            ended = True
        except TimeoutError:
            reply, ended = b"", False
        except ConnectionError:
            reply, ended = b"", True
    if not ended:
        raise CheckFailed(
            "after the client's EOF the connection never closed",
            hint="recv returning b'' is EOF: remember it (self.eof = True), and close the socket "
            "and leave self.handlers once nothing is queued; otherwise the socket stays "
            "readable forever and the loop spins",
        )
    if reply == b"":
        raise CheckFailed(
            "the client got no echo of b'hello' before the connection closed",
            expected=repr(b"hello"),
            got=repr(reply),
            hint="on EOF, finish sending what is queued before closing: close at once only "
            "if self.outgoing is empty, else let handle_send close after the last byte",
        )
    expect_equal("the echo of b'hello'", reply, b"hello", hint="queue what recv returned")


def expect_big_echo(cls: type, made: list[EventHandler]) -> None:
    """About 1 MB through small kernel buffers: sends are partial; every byte must come back."""
    big = bytes(range(97, 123)) * 40_000

    def small_buffers(sock: socket.socket, handlers: list[EventHandler]) -> EventHandler:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)  # so that send goes partial
        made.append(cls(sock, handlers))
        return made[-1]

    with serving(small_buffers) as (server, handlers), slow_reader(server.address) as client:
        try:
            echoed = exchange(client, handlers, big, deadline=time.monotonic() + 6)
        except BlockingIOError:
            raise CheckFailed(
                "with about 1 MB to echo, your handler raised BlockingIOError",
                hint="sendall cannot wait on a non-blocking socket: call self.sock.send(...) "
                "once, and keep what it did not take in self.outgoing",
            ) from None
    if echoed != big:
        raise CheckFailed(
            f"of about 1 MB sent, {len(echoed)} bytes came back right",
            expected=f"{len(big)} bytes",
            got=f"{len(echoed)} bytes",
            hint="send returns how many bytes it took: sent = self.sock.send(self.outgoing), "
            "then del self.outgoing[:sent]; the rest waits for the next handle_send",
        )
