"""Stage 01: blocking sockets, and why one slow client stalls everyone.

Grows from: nothing. This is the starting point: plain ``socket`` calls that
wait (``accept``, ``recv``, ``recvfrom``) until something happens.
Adds: a UDP echo server, a TCP echo server that serves one client at a time,
and the first fix, a thread per client.

Why the next stages exist: a blocking call waits for *one* socket. While the
one-at-a-time server sits in ``recv`` for a slow client, a second client's
connection waits in the kernel's queue, unserved. A thread per client fixes
that, but each thread costs a stack, a kernel task and a context switch; an
event loop (chapters 03 onwards) serves many sockets from one thread.

Every function is bounded (a number of messages or clients, and the socket's
timeout), so a notebook cell that runs it always ends. Pass ``recorder=`` to
log each blocking call as a ``"... (blocked)"`` handler event: that is what the
chapter's timeline draws.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from eventloop.recorder import Recorder

MAX_DATAGRAM = 65535
"""A receive size that fits any UDP datagram, so none is cut short.

A smaller buffer silently drops the rest of the datagram (PITFALL 14); IPv4
payloads are at most 65507 bytes. Later stages import this constant."""

CHUNK = 4096
"""How much a TCP server asks ``recv`` for at a time."""


def bound_socket(
    kind: socket.SocketKind, host: str = "127.0.0.1", port: int = 0, *, backlog: int | None = None
) -> socket.socket:
    """A socket of ``kind`` (``SOCK_DGRAM`` or ``SOCK_STREAM``) bound to ``(host, port)``.

    Every server of the course makes its socket here, so that a failed bind
    (port in use, no such address) always closes the socket instead of leaking
    it. IPv6 when ``host`` has a colon. With ``backlog`` the socket listens, with
    ``SO_REUSEADDR`` set first: a restarted server can then bind its port again
    while old connections linger in TIME_WAIT; without it, that bind fails with
    ``OSError: [Errno 98] Address already in use``.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if backlog is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        if backlog is not None:
            sock.listen(backlog)
    except OSError:
        sock.close()  # without this, a failed bind leaks the socket
        raise
    return sock


def udp_socket(host: str = "127.0.0.1", port: int = 0, timeout: float = 5.0) -> socket.socket:
    """A bound UDP socket with a timeout. Port 0: the system picks a free port."""
    sock = bound_socket(socket.SOCK_DGRAM, host, port)
    sock.settimeout(timeout)
    return sock


def tcp_listener(
    host: str = "127.0.0.1", port: int = 0, backlog: int = 16, timeout: float = 5.0
) -> socket.socket:
    """A listening TCP socket (see ``bound_socket``) with a timeout on ``accept``."""
    sock = bound_socket(socket.SOCK_STREAM, host, port, backlog=backlog)
    sock.settimeout(timeout)
    return sock


def record_blocked(
    recorder: Recorder | None, iteration: int, who: str, fd: int, call: str, began: float
) -> None:
    """Log one blocking call that has just returned (a no-op without a recorder).

    It is logged as a handler event whose action ends in ``(blocked)``, e.g.
    ``"recv (blocked)"``: the timeline draws those as time spent waiting.
    """
    if recorder is not None:
        recorder.record_handler(iteration, who, fd, f"{call} (blocked)", began, recorder.now())


def serve_udp_echo(
    sock: socket.socket, max_messages: int, *, recorder: Recorder | None = None
) -> list[bytes]:
    """Send back each datagram that arrives, ``max_messages`` times; return them.

    Each ``recvfrom`` waits for the next datagram (or raises ``TimeoutError``
    after the socket's timeout). UDP needs no connection, so one blocking
    loop serves any number of senders, one datagram at a time.
    """
    received = []
    for number in range(max_messages):
        began = recorder.now() if recorder is not None else 0.0
        data, sender = sock.recvfrom(MAX_DATAGRAM)
        record_blocked(recorder, number, "udp echo", sock.fileno(), "recvfrom", began)
        sock.sendto(data, sender)
        received.append(data)
    return received


def echo_connection(
    conn: socket.socket, who: str, number: int, recorder: Recorder | None = None
) -> bytes:
    """Echo everything one TCP client sends until it closes; return what it sent.

    ``recv`` returning ``b''`` means the client closed its side (EOF).
    """
    transcript = bytearray()
    while True:
        began = recorder.now() if recorder is not None else 0.0
        data = conn.recv(CHUNK)
        record_blocked(recorder, number, who, conn.fileno(), "recv", began)
        if not data:
            return bytes(transcript)
        conn.sendall(data)
        transcript += data


def accept_client(
    listener: socket.socket, number: int, recorder: Recorder | None = None
) -> socket.socket:
    """Wait in ``accept`` for the next client; its socket gets the listener's timeout."""
    began = recorder.now() if recorder is not None else 0.0
    conn, _ = listener.accept()
    record_blocked(recorder, number, "listener", listener.fileno(), "accept", began)
    conn.settimeout(listener.gettimeout())  # a silent client must not hang us forever
    return conn


def serve_tcp_echo_one_at_a_time(
    listener: socket.socket, max_clients: int, *, recorder: Recorder | None = None
) -> list[bytes]:
    """Serve ``max_clients`` clients, each until it closes, strictly one after another.

    Returns what each client sent, in the order they were accepted. While this
    waits in ``recv`` for client 1, client 2 is connected (the kernel queued
    it) but nobody reads from it: that is the problem of chapter 01.
    """
    transcripts = []
    for number in range(max_clients):
        with accept_client(listener, number, recorder) as conn:
            transcripts.append(echo_connection(conn, f"client {number + 1}", number, recorder))
    return transcripts


def serve_tcp_echo_thread_per_client(
    listener: socket.socket, max_clients: int, *, recorder: Recorder | None = None
) -> list[bytes]:
    """Like ``serve_tcp_echo_one_at_a_time``, but each client gets its own thread.

    A slow client now blocks only its own thread. Every thread is joined
    before returning, so the transcripts are complete; the first error a
    client thread met (a timeout, a reset) is raised here, after the join.
    """
    transcripts: list[bytes] = [b""] * max_clients
    errors: list[BaseException] = []

    def serve(conn: socket.socket, number: int) -> None:
        """In a client's thread: echo until EOF, keep the error for the caller."""
        with conn:
            try:
                transcripts[number] = echo_connection(
                    conn, f"client {number + 1}", number, recorder
                )
            except OSError as error:
                errors.append(error)

    threads = []
    try:
        for number in range(max_clients):
            conn = accept_client(listener, number, recorder)
            name = f"client {number + 1}"
            thread = threading.Thread(target=serve, args=(conn, number), name=name)
            thread.start()
            threads.append(thread)
    finally:
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return transcripts


def tcp_echo_client(
    address: tuple[str, int], messages: list[bytes], *, timeout: float = 5.0
) -> list[bytes]:
    """Connect, send each message and wait for its echo; return the echoes."""
    replies = []
    with socket.create_connection(address, timeout=timeout) as sock:
        for message in messages:
            sock.sendall(message)
            replies.append(recv_exactly(sock, len(message)))
    return replies


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read exactly ``size`` bytes: TCP may deliver a message in several pieces.

    A peer that closes too early raises ``EOFError``, as asyncio's
    ``StreamReader.readexactly`` does (its ``IncompleteReadError`` is one).
    """
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError(f"the peer closed after {len(data)} of {size} bytes")
        data += chunk
    return bytes(data)


class Background:
    """Run one call in a thread; ``result()`` joins it and returns or re-raises.

    Use it as a context manager so the thread is always joined, even when the
    cell fails: a notebook must not leave a server thread running.

        with Background(serve_udp_echo, sock, 3) as server:
            ...talk to it...
        print(server.result())
    """

    def __init__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.value: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            """In the thread: keep the value, or the error, for ``result()``."""
            try:
                self.value = function(*args, **kwargs)
            except BaseException as error:  # handed to result(), never lost
                self.error = error

        self.thread = threading.Thread(target=run, name=getattr(function, "__name__", "call"))
        self.thread.start()

    def result(self, timeout: float = 10.0) -> Any:
        """Wait for the call to finish (at most ``timeout`` seconds) and return its value."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise TimeoutError(f"{self.thread.name} still running after {timeout} s")
        if self.error is not None:
            raise self.error
        return self.value

    def __enter__(self) -> Background:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.thread.join(10.0)
