"""Checks for chapter 03's exercises (select): real sockets on loopback, bounded in time.

* 3.1 ``wait_readable(sock, timeout) -> bool``: ``select`` on one socket.
* 3.2 ``echo_n(sockets, n)``: one select loop echoing ``n`` datagrams over several sockets.
* 3.3 ``tcp_echo(listener, clients)``: the buggy loop that keeps a closed socket (pitfall 2), fixed.
"""

from __future__ import annotations

import errno
import select
import socket
import threading
import time
from collections.abc import Callable

from eventloop.checks import (
    CheckFailed,
    CheckTimedOut,
    Verdict,
    expect_equal,
    receive_datagrams,
    time_limit_of,
    verdict,
)
from eventloop.checks.probes import measure, spy_on, watch_leaks


def udp_socket() -> socket.socket:
    """A non-blocking UDP socket on 127.0.0.1, any free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


# --- 3.1 -----------------------------------------------------------------------------------------


def check_3_1(
    wait_readable: Callable[[socket.socket, float], bool], time_limit: float = 5
) -> Verdict:
    """``wait_readable``: False after the timeout, True when data or EOF waits; it reads nothing."""
    return verdict("3.1", lambda: run_3_1(wait_readable), time_limit=time_limit)


def run_3_1(wait_readable: Callable[[socket.socket, float], bool]) -> None:
    with udp_socket() as server, udp_socket() as client:
        with spy_on(select, "select", wait_readable) as selects, measure() as took:
            quiet = wait_readable(server, 0.2)
        waited = took.wall
        if any(server in call.args[1] for call in selects if len(call.args) > 1):
            raise CheckFailed(
                "wait_readable put the socket in select's write list",
                expected="select.select([sock], [], [], timeout)",
                got=f"{len(selects)} select call(s), the socket in the second list",
                hint="a socket is nearly always writable, so select returns at once: the "
                "first list is for reading, the second for writing.",
            )
        if len(selects) > 20 or took.busy():
            raise CheckFailed(
                f"wait_readable polled: {len(selects)} select calls in one 0.2 s wait, "
                f"{took.cpu:.2f} s of CPU",
                expected="one select call that sleeps until data or the timeout",
                got=f"{len(selects)} calls",
                hint="select(..., 0) in a loop burns a CPU core: pass the timeout to "
                "select.select(rlist, wlist, xlist, timeout) and let it sleep.",
            )
        expect_bool(
            "wait_readable(a socket with nothing to read, 0.2)",
            quiet,
            False,
            hint="when the timeout passes with nothing ready, select returns empty lists: "
            "then return False",
        )
        if waited < 0.1:
            raise CheckFailed(
                f"with nothing to read, wait_readable returned after {waited:.3f} s",
                expected="about 0.2 s (the timeout)",
                got=f"{waited:.3f} s",
                hint="pass the timeout to select.select(rlist, wlist, xlist, timeout)",
            )
        client.sendto(b"ping", server.getsockname())
        expect_bool(
            "wait_readable(a socket with a datagram waiting, 1.0)",
            wait_readable(server, 1.0),
            True,
            hint="with a datagram waiting, select lists the socket in its first list: "
            "return True then",
        )
        try:
            data = server.recv(100)
        except BlockingIOError:
            raise CheckFailed(
                "wait_readable read the datagram: it should only wait, not receive",
                hint="select tells you that recv would not block; leave the recv to the caller",
            ) from None
        expect_equal("the datagram still waiting after wait_readable", data, b"ping")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        with socket.create_connection(listener.getsockname(), timeout=2) as peer:
            conn, _ = listener.accept()
            with conn:
                peer.close()
                expect_bool(
                    "wait_readable(a TCP socket whose peer closed, 1.0)",
                    wait_readable(conn, 1.0),
                    True,
                    hint="EOF is readable too: recv would return b'' at once",
                )


def expect_bool(what: str, got: object, expected: bool, hint: str | None = None) -> None:
    """Like ``expect_equal``, but a list or None is not a bool even when it is falsy."""
    if not isinstance(got, bool):
        raise CheckFailed(
            f"{what} should return True or False",
            expected=repr(expected),
            got=repr(got),
            hint="select returns three lists; turn 'is my socket in the first one' into a bool",
        )
    expect_equal(what, got, expected, hint)


# --- 3.2 -----------------------------------------------------------------------------------------


def check_3_2(
    echo_n: Callable[[list[socket.socket], int], object], time_limit: float = 5
) -> Verdict:
    """``echo_n`` echoes exactly ``n`` datagrams, whichever sockets they arrive on, then returns."""
    return verdict("3.2", lambda: run_3_2(echo_n), time_limit=time_limit)


def run_3_2(echo_n: Callable[[list[socket.socket], int], object]) -> None:
    servers = [udp_socket() for _ in range(3)]
    try:
        with udp_socket() as client:
            # Five datagrams, spread over three sockets; only the first four get an answer.
            plan = [(0, b"a1"), (1, b"b1"), (2, b"c1"), (1, b"b2"), (2, b"c2")]
            for index, message in plan:
                client.sendto(message, servers[index].getsockname())
            echo_n(servers, 4)  # any return value: the exercise asks for none
            replies = receive_datagrams(client)
            left = [data for server in servers for data in receive_datagrams(server)]
            expect_counts(plan, replies, left)
            expect_resting(echo_n, servers, client)
    finally:
        for server in servers:
            server.close()


def expect_counts(plan: list[tuple[int, bytes]], replies: list[bytes], left: list[bytes]) -> None:
    """Four echoes, unchanged, and the fifth datagram left waiting."""
    everything = sorted(message for _, message in plan)
    expect_equal(
        "the echoes and the datagrams left unanswered, together (sorted)",
        sorted(replies + left),
        everything,
        hint="echo each datagram exactly as it came: recvfrom, then sendto the sender",
    )
    if len(replies) < 4 and len(left) == 2 and {b"b2", b"c2"} & set(left):
        raise CheckFailed(
            "each socket was echoed only once",
            expected="4 echoes: b2 and c2 are second datagrams on the same sockets",
            got=f"{len(replies)} echoes: {sorted(replies)}",
            hint="loop until n datagrams are echoed, not once over the sockets",
        )
    expect_equal(
        "the number of datagrams echoed by echo_n(sockets, 4)",
        len(replies),
        4,
        hint="count each echo and stop as soon as the count reaches n, even in the middle of "
        "the ready list; pass every socket to select",
    )


def expect_resting(
    echo_n: Callable[[list[socket.socket], int], object],
    servers: list[socket.socket],
    client: socket.socket,
) -> None:
    """``echo_n(servers, 1)`` while the datagram comes only 0.25 s later: it must sleep."""

    def later() -> None:
        time.sleep(0.25)
        client.sendto(b"late", servers[0].getsockname())

    for server in servers:
        server.setblocking(False)  # as they were before receive_datagrams gave them a timeout
    sender = threading.Thread(target=later)
    sender.start()
    try:
        with spy_on(select, "select", echo_n) as selects, measure() as took:
            echo_n(servers, 1)
    finally:
        sender.join()
    expect_equal(
        "the echo of a datagram that came 0.25 s after echo_n(sockets, 1) started",
        receive_datagrams(client),
        [b"late"],
        hint="wait for a datagram with select; do not give up when nothing is ready yet",
    )
    if took.busy() or len(selects) > 50:
        raise CheckFailed(
            f"while waiting 0.25 s for the next datagram, echo_n used {took.cpu:.2f} s of CPU "
            f"in {took.wall:.2f} s ({len(selects)} select calls): it polls",
            expected="echo_n asleep in select while nothing arrives",
            got="a busy loop",
            hint="recvfrom in a loop, or select(..., 0), burns a CPU core: let "
            "select.select(sockets, [], [], timeout) sleep until a socket is readable.",
        )


# --- 3.3 -----------------------------------------------------------------------------------------


def check_3_3(tcp_echo: Callable[[socket.socket, int], None], time_limit: float = 5) -> Verdict:
    """``tcp_echo`` serves two clients one after the other and returns once both have left."""
    return verdict("3.3", lambda: run_3_3(tcp_echo), time_limit=time_limit)


def run_3_3(tcp_echo: Callable[[socket.socket, int], None]) -> None:
    results: list[bytes] = []
    errors: list[BaseException] = []
    try:
        serve_two_clients(tcp_echo, results, errors)
    except ValueError as error:
        if "negative" in str(error):
            raise CheckFailed(
                f"select was given a closed socket: ValueError: {error}",
                hint="when recv returns b'', remove the socket from the list you pass "
                "to select, then close it",
            ) from None
        raise
    except OSError as error:
        if error.errno == errno.EBADF:
            raise CheckFailed(
                "select or recv was given a closed socket: OSError: [Errno 9] Bad file descriptor",
                hint="remove the socket from the watched list before you close it",
            ) from None
        raise
    if errors:
        raise CheckFailed(f"a client failed: {errors[0]!r}", hint="echo what each client sends")
    expect_equal(
        "what the two clients got back",
        results,
        [b"first", b"second"],
        hint="send back exactly what recv returned, unchanged, with sendall",
    )


def serve_two_clients(
    tcp_echo: Callable[[socket.socket, int], None],
    results: list[bytes],
    errors: list[BaseException],
) -> None:
    """Run ``tcp_echo(listener, 2)`` while a thread connects twice, sends, reads and closes."""

    def clients(address: tuple[str, int]) -> None:
        try:
            for text in (b"first", b"second"):
                with socket.create_connection(address, timeout=1) as client:
                    client.sendall(text)
                    results.append(client.recv(100))
        except OSError as error:
            errors.append(error)

    with socket.create_server(("127.0.0.1", 0)) as listener:
        thread = threading.Thread(target=clients, args=(listener.getsockname(),), daemon=True)
        thread.start()
        with watch_leaks() as leaks:
            try:
                tcp_echo(listener, 2)
            finally:
                thread.join(3)
    if leaks:
        raise CheckFailed(
            "a client's connection was never closed",
            got=leaks.unclosed[0],
            hint="when recv returns b'', remove the socket from the watched list, then close it",
        )


def try_tcp_echo(tcp_echo: Callable[[socket.socket, int], None]) -> None:
    """Run a candidate for exercise 3.3 with two clients and print what happened (no verdict)."""
    results: list[bytes] = []
    errors: list[BaseException] = []
    try:
        with time_limit_of(5):
            serve_two_clients(tcp_echo, results, errors)
    except CheckTimedOut:
        print(f"{tcp_echo.__name__} was still running after 5 s and was stopped")
    except Exception as error:
        print(f"{tcp_echo.__name__} raised {type(error).__name__}: {error}")
    else:
        print(f"{tcp_echo.__name__} returned")
    print(f"the clients got back: {results}")
