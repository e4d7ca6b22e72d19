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
from collections.abc import Callable

from eventloop.blocking import Background, recv_exactly, serve_udp_echo, udp_socket
from eventloop.checks import (
    CheckFailed,
    CheckTimedOut,
    Verdict,
    expect_equal,
    time_limit_of,
    verdict,
)
from eventloop.checks.network import ShortSendListener, echo_of, shut
from eventloop.checks.probes import Leaks, measure, watch_leaks

MESSAGE = b"ping " * 400
"""2000 bytes: a reply read with ``recvfrom(1024)`` comes back cut."""


def check_1_1(udp_request: Callable[[tuple[str, int], bytes, float], bytes | None]) -> Verdict:
    """``udp_request(address, message, timeout)``: the reply, or ``None`` after ``timeout``.

    Also: the reply is returned as soon as it comes (no sleeping the whole timeout),
    the timeout is honoured, and the socket is closed on both paths.
    """

    def check() -> None:
        with udp_socket(timeout=3.0) as echo:
            with Background(serve_udp_echo, echo, 1) as server:
                try:
                    with watch_leaks() as leaks, measure() as took:
                        reply = udp_request(echo.getsockname(), MESSAGE, 2.0)
                finally:
                    if server.thread.is_alive():
                        unblock(echo.getsockname())  # the server waits for a datagram
        if isinstance(reply, bytes) and reply != MESSAGE and MESSAGE.startswith(reply):
            raise CheckFailed(
                f"the {len(MESSAGE)}-byte reply came back cut to {len(reply)} bytes",
                hint="recvfrom(n) drops the rest of a datagram longer than n: use 65535.",
            )
        expect_equal(
            "the reply from an echo server",
            reply,
            MESSAGE,
            hint="send with sendto(message, address), then return recvfrom(...)[0].",
        )
        if took.wall > 1.0:
            raise CheckFailed(
                f"the echo answered at once, but udp_request returned only after {took.wall:.1f} s",
                expected="the reply as soon as it arrives",
                got=f"{took.wall:.1f} s (the timeout was 2 s)",
                hint="do not sleep for the timeout: recvfrom on a socket with settimeout(timeout) "
                "returns as soon as a datagram arrives.",
            )
        expect_closed(leaks, "after a reply")
        with udp_socket() as silent:  # bound, but nobody ever answers
            try:
                with watch_leaks() as leaks, time_limit_of(1.5), measure() as waited:
                    reply = udp_request(silent.getsockname(), b"anyone?", 0.2)
            except TimeoutError as error:
                raise CheckFailed(
                    "when no reply comes, udp_request lets TimeoutError escape",
                    expected="None",
                    got=f"TimeoutError: {error}",
                    hint="catch socket.timeout (TimeoutError) around recvfrom and return None.",
                ) from None
            except CheckTimedOut:
                raise CheckFailed(
                    "when no reply comes, udp_request was still waiting 1.5 s later "
                    "(its timeout was 0.2 s)",
                    hint="call sock.settimeout(timeout) before recvfrom: without it, recvfrom "
                    "waits forever.",
                ) from None
        expect_equal(
            "the result when nobody answers",
            reply,
            None,
            hint="return None when recvfrom times out, not b'' or an error message.",
        )
        if waited.wall > 1.0:  # the call alone: watch_leaks' garbage collection is not its time
            raise CheckFailed(
                "udp_request ignored its timeout",
                expected="about 0.2 s",
                got=f"{waited.wall:.1f} s",
                hint="call sock.settimeout(timeout) before recvfrom.",
            )
        expect_closed(leaks, "when no reply came")

    return verdict("1.1", check, time_limit=6.0)


def expect_closed(leaks: Leaks, when: str) -> None:
    """Fail naming the socket the answer left open."""
    if leaks:
        raise CheckFailed(
            f"{when}, your socket was left open",
            got=leaks.unclosed[0],
            hint="open it with `with socket.socket(...) as sock:` so it is closed on every "
            "path, also when recvfrom times out.",
        )


def unblock(address: tuple[str, int]) -> None:
    """Send one empty datagram, so that a server waiting in ``recvfrom`` returns."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as poke:
        poke.bind(("127.0.0.1", 0))  # unbound, sendto would bind it on every interface
        poke.sendto(b"", address)


BIG = bytes(range(256)) * 800
"""200 kB from client 1: many recv results, and sends that do not all fit at once."""


def check_1_2(serve_with_threads: Callable[[socket.socket, int], list[bytes]]) -> Verdict:
    """``serve_with_threads(listener, n)``: echo ``n`` clients at once; return their transcripts.

    Client 1 connects first and says nothing until clients 2 and 3 got their
    echoes: a server that serves one client at a time never answers them. Then
    client 1 sends 200 kB: ``send`` instead of
    ``sendall`` loses bytes, ``=`` instead of ``+=`` keeps only the last piece.
    """

    def check() -> None:
        with ShortSendListener() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            listener.settimeout(3.0)
            address = listener.getsockname()
            clients = [connect_small(address) for _ in range(3)]
            # a copy of the list at the moment it is returned: threads still
            # filling it after the return would hide a missing join
            with watch_leaks() as leaks:
                server = Background(lambda: snapshot(serve_with_threads(listener, 3)))
                try:
                    server.thread.join(0.2)
                    if server.error is not None:  # a stub, or a crash at once
                        raise server.error
                    outcome, (echoed, sent_all) = conversation(clients)
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
        if outcome == "late":
            raise CheckFailed(
                "clients 2 and 3 got no echo while client 1 was silent",
                expected="each client served in its own thread, at the same time",
                got="client 2 waited until client 1 was done",
                hint="start a threading.Thread per accepted connection, and only join them "
                "after accepting all n clients.",
            )
        if echoed == 0:
            raise CheckFailed(
                "client 1 got no echo of its message",
                hint="send back (sendall) everything recv returns, until it returns b''.",
            )
        read_all = isinstance(transcripts, list) and transcripts[:1] == [BIG]
        if echoed != len(BIG) and not (sent_all and read_all):
            raise CheckFailed(
                f"client 1's connection was closed after {echoed} of its {len(BIG)} bytes",
                hint="one recv returns one piece: loop, echoing each piece, until it returns b''.",
            )
        if echoed != len(BIG):
            raise CheckFailed(
                f"client 1 sent {len(BIG)} bytes and got back only {echoed}",
                expected=f"{len(BIG)} bytes echoed",
                got=f"{echoed} bytes",
                hint="conn.send(data) may send only part of data and returns how much: "
                "use conn.sendall(data), which sends it all.",
            )
        expect_transcripts(transcripts)
        if leaks:
            raise CheckFailed(
                "a connection was never closed",
                got=leaks.unclosed[0],
                hint="in each thread, `with conn:` around the echo loop closes it at EOF.",
            )

    return verdict("1.2", check, time_limit=8.0)


def connect_small(address: tuple[str, int]) -> socket.socket:
    """A client with a small receive buffer, so the server's sends soon find it full."""
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.settimeout(3.0)
    client.connect(address)
    return client


def expect_transcripts(transcripts: object) -> None:
    """The transcripts are [BIG, b"two", b"three"]; say which is wrong, briefly."""
    expected = [BIG, b"two", b"three"]
    if transcripts == expected:
        return
    if not isinstance(transcripts, list) or len(transcripts) != 3:
        got = repr(transcripts) if len(repr(transcripts)) < 200 else repr(transcripts)[:200] + "…"
        raise CheckFailed(
            "the transcripts should be a list of 3 bytes objects, one per client",
            got=got,
            hint="keep one transcript per client, filled by its thread; join every thread "
            "before returning, so each transcript is complete.",
        )
    sizes = [len(t) if isinstance(t, (bytes, bytearray)) else repr(t) for t in transcripts]
    hint = (
        "keep one transcript per client, filled by its thread; join every thread "
        "before returning, so each transcript is complete."
    )
    first = transcripts[0]
    if isinstance(first, (bytes, bytearray)) and 0 < len(first) < len(BIG) and BIG.endswith(first):
        hint = "add each piece to the transcript (transcript += data): `=` keeps the last recv."
    raise CheckFailed(
        "the transcripts (what each client sent, in accept order) are not right",
        expected=f"sizes {[len(t) for t in expected]}: {len(BIG)} bytes, b'two', b'three'",
        got=f"sizes {sizes}",
        hint=hint,
    )


def snapshot(result: object) -> object:
    """A shallow copy of a returned list, so later changes to it do not count."""
    return list(result) if isinstance(result, list) else result


def conversation(clients: list[socket.socket]) -> tuple[str, tuple[int, bool]]:
    """Clients 2 and 3 talk first, client 1 last: "ok" or "late", and ``slow_echo``'s result."""
    first, *others = clients
    outcome = "ok"
    for client, message in zip(others, (b"two", b"three"), strict=True):
        client.sendall(message)
        client.settimeout(1.0)
        try:
            recv_exactly(client, len(message))
        except TimeoutError:
            outcome = "late"
        except (ConnectionError, EOFError):
            pass
        shut(client, socket.SHUT_WR)  # EOF: this client is done
    return outcome, echo_of(first, BIG)


def check_1_3(upper_once: Callable[..., bytes]) -> Verdict:
    """``upper_once(ready, timeout)``: bind 127.0.0.1:0, call ``ready(address)``,
    answer one datagram in upper case, return it; close the socket on every path."""

    def check() -> None:
        with watch_leaks() as leaks:
            first = reply_round(upper_once)
        if leaks:
            raise CheckFailed(
                "after answering, upper_once left its socket open",
                got=leaks.unclosed[0],
                hint="use `with socket.socket(...) as sock:`, which closes it on every path.",
            )
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
        with watch_leaks():  # closes what a leaky answer left, after it is reported
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
