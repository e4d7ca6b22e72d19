"""Checks for chapter 02's exercises (non-blocking sockets).

    check_2_1(drain_datagrams)   read every datagram waiting now, without blocking
    check_2_2(connect_status)    a non-blocking connect, its result read from SO_ERROR
    check_2_3(poll_echo)         the polling loop that died on EAGAIN and never slept, fixed

Each runs the learner's function against real sockets on 127.0.0.1, port 0,
and prints one verdict line (see ``eventloop.checks``).
"""

from __future__ import annotations

import errno
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from eventloop.blocking import Background, udp_socket
from eventloop.checks import CheckFailed, Verdict, expect_equal, verdict
from eventloop.checks.probes import spy_on, watch_leaks, watch_wall_clocks

EAGAIN_HINT = (
    "BlockingIOError (EAGAIN) means 'nothing now, try later': catch it, never treat it "
    "as a failure."
)


def check_2_1(drain_datagrams: Callable[[socket.socket], list[bytes]]) -> Verdict:
    """``drain_datagrams(sock)``: every datagram waiting on a non-blocking socket, maybe []."""

    def check() -> None:
        with udp_socket() as sock, udp_socket() as client:
            sock.setblocking(False)
            got = drain_once(drain_datagrams, sock)
            expect_equal(
                "the result for a socket with nothing waiting",
                got,
                [],
                hint="stop at the first BlockingIOError and return what you have.",
            )
            for message in (b"one", b"two", b"three"):
                client.sendto(message, sock.getsockname())
            select.select([sock], [], [], 2.0)
            got = drain_once(drain_datagrams, sock)
            if isinstance(got, list) and got and all(isinstance(g, tuple) for g in got):
                raise CheckFailed(
                    "drain_datagrams returned (data, address) pairs",
                    expected="[b'one', b'two', b'three']",
                    got=repr(got)[:120],
                    hint="recvfrom returns (data, address): keep only the data, or use recv.",
                )
            expect_equal(
                "the datagrams read from a socket holding three",
                got,
                [b"one", b"two", b"three"],
                hint="keep calling recvfrom (or recv) in a loop until it raises BlockingIOError.",
            )

    return verdict("2.1", check, time_limit=3.0)


def drain_once(drain_datagrams: Callable[[socket.socket], list[bytes]], sock: socket.socket) -> Any:
    """Call the learner's function once; it must leave the socket non-blocking."""
    got = call_without_eagain(drain_datagrams, sock)
    if sock.getblocking():
        raise CheckFailed(
            "drain_datagrams made the socket blocking again",
            hint="leave the socket as you found it; with an empty socket a blocking "
            "recv would wait forever.",
        )
    return got


def call_without_eagain(function: Callable[..., Any], *args: Any) -> Any:
    """Call the learner's function; turn an escaping EAGAIN into a clear failure."""
    try:
        return function(*args)
    except BlockingIOError:
        raise CheckFailed("your function let BlockingIOError escape", hint=EAGAIN_HINT) from None


def check_2_2(connect_status: Callable[[tuple[str, int], float], int]) -> Verdict:
    """``connect_status(address, timeout)``: 0, or the errno from SO_ERROR, or ETIMEDOUT."""

    def check() -> None:
        with udp_socket() as placeholder:  # a port nobody listens on for TCP
            closed = placeholder.getsockname()
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(0)  # room for one waiting connection only (see below)
            expect_status(connect_status, listener.getsockname(), 0, "a listening server")
            expect_status(
                connect_status,
                closed,
                errno.ECONNREFUSED,
                "a port where nobody listens",
                hint="after the socket becomes writable, read "
                "sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) and return it.",
            )
            if sys.platform.startswith("linux"):
                # Linux keeps one connection waiting (the one made above) and ignores
                # further attempts: a new connect stays "in progress" until we give up.
                expect_status(
                    connect_status,
                    listener.getsockname(),
                    errno.ETIMEDOUT,
                    "a server too busy to answer (its queue is full)",
                    hint="wait for writability with select.select([], [sock], [], timeout); "
                    "if nothing is ready, the connect has not finished: return errno.ETIMEDOUT. "
                    "SO_ERROR is 0 while the connect is still in progress.",
                )

    return verdict("2.2", check, time_limit=5.0)


def expect_status(
    connect_status: Callable[[tuple[str, int], float], int],
    address: tuple[str, int],
    expected: int,
    where: str,
    hint: str | None = None,
) -> None:
    """Run ``connect_status`` once and compare with ``expected``, naming errnos."""
    try:
        with watch_leaks() as leaks:
            got = connect_status(address, 0.3)
    except BlockingIOError as error:
        raise CheckFailed(
            f"connecting to {where}: connect() raised {errno_name(error.errno)}",
            hint="on a non-blocking socket connect() raises BlockingIOError EINPROGRESS: "
            "catch it, or use sock.connect_ex(address), which returns the errno instead.",
        ) from None
    except TimeoutError:
        raise CheckFailed(
            f"connecting to {where}: TimeoutError escaped",
            expected=errno_name(expected),
            hint="a blocking connect with a timeout raises; use a non-blocking socket, wait "
            "with select.select([], [sock], [], timeout) and return errno.ETIMEDOUT when "
            "nothing is ready.",
        ) from None
    except ConnectionRefusedError:
        raise CheckFailed(
            f"connecting to {where}: ConnectionRefusedError escaped",
            expected=errno_name(expected),
            hint="make the socket non-blocking before connecting, and report the outcome "
            "by returning SO_ERROR instead of raising.",
        ) from None
    if leaks:
        raise CheckFailed(
            f"connecting to {where}: your socket was left open",
            got=leaks.unclosed[0],
            hint="open it with `with socket.socket(...) as sock:`: it is closed on every "
            "return path.",
        )
    if got == errno.EINPROGRESS:
        hint = (
            "EINPROGRESS from connect_ex means 'still going': wait for writability with "
            "select.select([], [sock], [], timeout), then read SO_ERROR."
        )
    if got != expected:
        raise CheckFailed(
            f"connecting to {where}: wrong status",
            expected=f"{expected} ({errno_name(expected)})",
            got=f"{got!r} ({errno_name(got) if isinstance(got, int) else 'not an errno'})",
            hint=hint,
        )


def errno_name(number: int | None) -> str:
    """``ECONNREFUSED`` for 111 (Linux) or 61 (macOS): portable in messages."""
    if number == 0:
        return "success"
    return errno.errorcode.get(number or 0, f"errno {number}")


class CountingSocket:
    """A socket that counts ``recv``/``recvfrom`` calls and passes everything else on."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.receive_calls = 0

    def recvfrom(self, *args: Any) -> Any:
        self.receive_calls += 1
        return self.sock.recvfrom(*args)

    def recv(self, *args: Any) -> Any:
        self.receive_calls += 1
        return self.sock.recv(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


MAX_TRIES = 200
"""More receive calls than this in 0.4 s (pause 0.01 s) means the loop does not sleep."""


def check_2_3(poll_echo: Callable[[Any, float, float], int]) -> Verdict:
    """``poll_echo(sock, duration, pause)``: echo until ``duration`` is over; rest when idle."""

    def check() -> None:
        with udp_socket() as server, udp_socket(timeout=0.5) as client:
            counted = CountingSocket(server)
            messages = [b"one", b"two", b"three"]
            with Background(send_slowly, client, server.getsockname(), messages) as talk:
                began = time.monotonic()
                with (
                    watch_wall_clocks(poll_echo) as wall_clocks,
                    spy_on(time, "sleep", poll_echo) as sleeps,
                ):
                    echoed = call_without_eagain(poll_echo, counted, 0.4, 0.01)
                took = time.monotonic() - began
            replies = talk.result()
        if took < 0.35:
            raise CheckFailed(
                "poll_echo returned before its duration was over",
                expected="about 0.4 s",
                got=f"{took:.2f} s",
                hint="loop until time.monotonic() reaches the deadline, whatever happens.",
            )
        if took > 0.8:
            raise CheckFailed(
                "poll_echo went on long after its duration was over",
                expected="about 0.4 s",
                got=f"{took:.2f} s",
                hint="rest for `pause` seconds, not longer, and check the deadline every time "
                "round the loop.",
            )
        mine = threading.get_ident()
        naps = [call.args[0] for call in sleeps if call.thread == mine and call.args]
        if naps and max(naps) > 0.1:
            raise CheckFailed(
                f"poll_echo slept {max(naps):g} s at a time, with pause=0.01",
                expected="naps of `pause` seconds",
                got=f"a nap of {max(naps):g} s: datagrams wait that long for their echo",
                hint="sleep for `pause`, the argument, not a fixed longer time.",
            )
        if wall_clocks:
            raise CheckFailed(
                f"poll_echo measures its duration with the wall clock ({wall_clocks[0]})",
                hint="the wall clock jumps when the computer's clock is adjusted (PITFALL 19): "
                "use time.monotonic() for deadlines.",
            )
        expect_equal(
            "the replies the client got",
            replies,
            messages,
            hint="send each datagram back to the address recvfrom returned.",
        )
        expect_equal(
            "the number poll_echo returned", echoed, 3, hint="count each datagram you echoed."
        )
        if counted.receive_calls > MAX_TRIES:
            raise CheckFailed(
                "the loop never rests: it polls as fast as it can and burns a CPU core",
                expected=f"at most {MAX_TRIES} receive calls in 0.4 s with pause=0.01",
                got=f"{counted.receive_calls} calls",
                hint="after a BlockingIOError, time.sleep(pause) before trying again.",
            )

    return verdict("2.3", check, time_limit=3.0)


def send_slowly(
    client: socket.socket, address: tuple[str, int], messages: list[bytes]
) -> list[bytes]:
    """Send each message 0.08 s apart and collect the echoes (each waited for ≤ 0.5 s)."""
    replies = []
    for message in messages:
        time.sleep(0.08)  # spread the messages out, so the loop sees idle time between them
        client.sendto(message, address)
        try:
            replies.append(client.recvfrom(100)[0])
        except TimeoutError:
            break
    return replies
