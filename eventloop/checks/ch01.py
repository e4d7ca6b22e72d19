"""Checks for chapter 01's exercises (blocking sockets).

    check_1_1(udp_request)                 a blocking UDP client with a timeout
    check_1_2(serve_with_threads)          serve N TCP clients, a thread each
    check_1_3(upper_once)                  the fixed-port, leaky server, fixed

Each runs the learner's function against real sockets on 127.0.0.1, port 0,
and prints one verdict line (see ``eventloop.checks``).
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable

from eventloop.blocking import Background, recv_exactly, serve_udp_echo, tcp_listener, udp_socket
from eventloop.checks import CheckFailed, Verdict, expect_equal, verdict


def check_1_1(udp_request: Callable[[tuple[str, int], bytes, float], bytes | None]) -> Verdict:
    """``udp_request(address, message, timeout)``: the reply, or ``None`` after ``timeout``."""

    def check() -> None:
        with udp_socket(timeout=3.0) as echo:
            with Background(serve_udp_echo, echo, 1) as server:
                try:
                    reply = udp_request(echo.getsockname(), b"ping", 1.0)
                finally:
                    if server.thread.is_alive():
                        unblock(echo.getsockname())  # the server waits for a datagram
        expect_equal(
            "the reply from an echo server",
            reply,
            b"ping",
            hint="send with sendto(message, address), then return recvfrom(...)[0].",
        )
        with udp_socket() as silent:  # bound, but nobody ever answers
            began = time.monotonic()
            try:
                reply = udp_request(silent.getsockname(), b"anyone?", 0.2)
            except TimeoutError as error:
                raise CheckFailed(
                    "when no reply comes, udp_request lets TimeoutError escape",
                    expected="None",
                    got=f"TimeoutError: {error}",
                    hint="catch socket.timeout (TimeoutError) around recvfrom and return None.",
                ) from None
            waited = time.monotonic() - began
        expect_equal(
            "the result when nobody answers",
            reply,
            None,
            hint="return None when recvfrom times out, not b'' or an error message.",
        )
        if waited > 1.0:
            raise CheckFailed(
                "udp_request ignored its timeout",
                expected="about 0.2 s",
                got=f"{waited:.1f} s",
                hint="call sock.settimeout(timeout) before recvfrom.",
            )

    return verdict("1.1", check, time_limit=5.0)


def unblock(address: tuple[str, int]) -> None:
    """Send one empty datagram, so that a server waiting in ``recvfrom`` returns."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as poke:
        poke.sendto(b"", address)


def check_1_2(serve_with_threads: Callable[[socket.socket, int], list[bytes]]) -> Verdict:
    """``serve_with_threads(listener, n)``: echo ``n`` clients at once; return their transcripts.

    Client 1 connects first and says nothing until clients 2 and 3 got their
    echoes: a server that serves one client at a time never answers them.
    """

    def check() -> None:
        with tcp_listener(timeout=3.0) as listener:
            address = listener.getsockname()
            clients = [socket.create_connection(address, timeout=3.0) for _ in range(3)]
            # a copy of the list at the moment it is returned: threads still
            # filling it after the return would hide a missing join
            server = Background(lambda: snapshot(serve_with_threads(listener, 3)))
            try:
                server.thread.join(0.2)
                if server.error is not None:  # a stub, or a crash at once
                    raise server.error
                outcome = conversation(clients)
            finally:
                for client in clients:
                    client.close()
            server.thread.join(3.0)
        if server.thread.is_alive():
            raise CheckFailed(
                "serve_with_threads did not return after every client had closed",
                hint="when recv returns b'' the client is done: close that connection; "
                "join every thread, then return.",
            )
        transcripts = server.result()
        if outcome == "no echo":
            raise CheckFailed(
                "client 1 got no echo of its message",
                hint="send back (sendall) everything recv returns, until it returns b''.",
            )
        if outcome == "late":
            raise CheckFailed(
                "clients 2 and 3 got no echo while client 1 was silent",
                expected="each client served in its own thread, at the same time",
                got="client 2 waited until client 1 was done",
                hint="start a threading.Thread per accepted connection, and only join them "
                "after accepting all n clients.",
            )
        expect_equal(
            "the transcripts (what each client sent, in accept order)",
            transcripts,
            [b"one, and bye", b"two", b"three"],
            hint="keep one transcript per client, filled by its thread; join every thread "
            "before returning, so each transcript is complete.",
        )

    return verdict("1.2", check, time_limit=8.0)


def snapshot(result: object) -> object:
    """A shallow copy of a returned list, so later changes to it do not count."""
    return list(result) if isinstance(result, list) else result


def conversation(clients: list[socket.socket]) -> str:
    """Clients 2 and 3 talk first, client 1 last: "ok", "late" (2 or 3 waited) or "no echo"."""
    first, *others = clients
    outcome = "ok"
    for client, message in zip(others, (b"two", b"three"), strict=True):
        client.sendall(message)
        client.settimeout(1.0)
        try:
            recv_exactly(client, len(message))
        except TimeoutError:
            outcome = "late"
        client.shutdown(socket.SHUT_WR)  # EOF: this client is done
    first.sendall(b"one, and bye")
    try:
        recv_exactly(first, len(b"one, and bye"))
    except (TimeoutError, ConnectionError):
        return "no echo"
    first.shutdown(socket.SHUT_WR)
    return outcome


def check_1_3(upper_once: Callable[..., bytes]) -> Verdict:
    """``upper_once(ready, timeout)``: bind 127.0.0.1:0, call ``ready(address)``,
    answer one datagram in upper case, return it; close the socket on every path."""

    def check() -> None:
        first = reply_round(upper_once)
        host, port = first
        if host != "127.0.0.1":
            raise CheckFailed(
                "the server does not listen on loopback only",
                expected="127.0.0.1",
                got=host,
                hint="bind ('127.0.0.1', 0); '' means every network interface.",
            )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
            squatter.bind(first)  # someone else now holds the port the server used
            try:
                reply_round(upper_once)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    raise CheckFailed(
                        f"the server binds the fixed port {port}: a second server (or a "
                        f"re-run cell) fails with Address already in use",
                        hint="bind port 0 and pass sock.getsockname() to ready().",
                    ) from None
                raise
        expect_leak_free(upper_once)

    return verdict("1.3", check, time_limit=8.0)


def reply_round(upper_once: Callable[..., bytes]) -> tuple[str, int]:
    """Run one request through ``upper_once``; return the address it reported."""
    seen: list[tuple[str, int]] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.bind(("127.0.0.1", 0))
        client.settimeout(2.0)

        def ready(address: tuple[str, int]) -> None:
            seen.append(tuple(address)[:2])
            client.sendto(b"hello", ("127.0.0.1", address[1]))

        got = upper_once(ready, 2.0)
        if not seen:
            raise CheckFailed(
                "ready(address) was never called", hint="call ready(sock.getsockname()) after bind."
            )
        reply = client.recvfrom(100)[0]
    expect_equal("what upper_once returned", got, b"hello", hint="return the datagram received.")
    expect_equal("the reply the client got", reply, b"HELLO", hint="send data.upper() back.")
    return seen[0]


def expect_leak_free(upper_once: Callable[..., bytes]) -> None:
    """When ``ready`` raises, the port must be free again: the socket was closed."""
    seen: list[tuple[str, int]] = []

    def ready(address: tuple[str, int]) -> None:
        seen.append(tuple(address)[:2])
        raise ConnectionAbortedError("the client went away")

    try:
        upper_once(ready, 0.5)
    except ConnectionAbortedError as error:
        kept = error  # holds the traceback, so a leaked socket is still open now
    else:
        raise CheckFailed(
            "upper_once swallowed the error raised by ready()",
            hint="let errors propagate; close the socket in `finally` or with `with`.",
        )
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", seen[0][1]))
            except OSError:
                raise CheckFailed(
                    "after an error the socket stays open (the port is still taken)",
                    expected="the port free again",
                    got=f"{kept!r} and the port still bound",
                    hint="use `with socket.socket(...) as sock:` or close it in `finally`.",
                ) from None
    finally:
        kept = None  # let the leaked socket (held by the traceback) be collected now
