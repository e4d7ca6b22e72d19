"""Checks for chapter 03's exercises (select), judged from outside the learner's process.

* 3.1 ``wait_readable(sock, timeout) -> bool``: ``select`` on one socket.
* 3.2 ``echo_n(sockets, n)``: one select loop echoing ``n`` datagrams over several sockets.
* 3.3 ``tcp_echo(listener, clients)``: the buggy loop that keeps a closed socket (pitfall 2), fixed.

The learner's function runs in a candidate process (``eventloop.judge``); the
sockets it is given are the judge's own, handed over as descriptors, so every
reply is observed by the judge on its own sockets. Each check plays several
generated cases in the same candidate: sizes, counts, payloads (empty, binary,
up to a 65,507-byte datagram), timeouts and orders change from case to case,
and the seed printed with a ✗ replays them. A busy wait shows in the
candidate's CPU time, read from outside; no wall-clock threshold decides it.
"""

from __future__ import annotations

import errno
import random
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from eventloop.checks import CheckFailed, CheckTimedOut, Verdict, expect_equal, time_limit_of
from eventloop.checks.probes import watch_leaks
from eventloop.judge.candidate import LearnerRaised, Usage
from eventloop.judge.trial import Trial, judge

MAX_DATAGRAM = 65507
"""The largest UDP payload over IPv4 (65,535 less the IP and UDP headers)."""


def udp_socket(blocking: bool = False) -> socket.socket:
    """A UDP socket on 127.0.0.1, any free port (non-blocking unless asked)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(blocking)
    return sock


WHITESPACE = [b" ", b"\n", b"\r\n", b"\t"]


def payload(rng: random.Random, size: int) -> bytes:
    """``size`` random bytes: binary, not text, and often with white space at either end.

    So an answer may neither decode the bytes nor ``strip`` them: a payload is
    echoed, framed and counted exactly as it came.
    """
    data = bytearray(rng.getrandbits(8) for _ in range(size))
    if size >= 4 and rng.random() < 0.6:
        end = rng.choice(WHITESPACE)
        data[-len(end) :] = end
    if size >= 4 and rng.random() < 0.4:
        data[0:1] = rng.choice([b" ", b"\t"])
    return bytes(data)


def datagram_sizes(rng: random.Random, count: int, large: bool) -> list[int]:
    """Sizes for ``count`` datagrams: mostly small, and one far larger than 4 KiB if ``large``."""
    sizes = [rng.choice([1, 2, rng.randint(3, 64), rng.randint(65, 1400)]) for _ in range(count)]
    if large:
        sizes[rng.randrange(count)] = rng.choice([MAX_DATAGRAM, rng.randint(5000, 60000)])
    return sizes


# --- 3.1 -----------------------------------------------------------------------------------------


def check_3_1(
    wait_readable: Callable[[socket.socket, float], bool],
    time_limit: float = 5,
    seed: int | None = None,
) -> Verdict:
    """``wait_readable``: False after the timeout, True when data or EOF waits; it reads nothing."""
    return judge("3.1", {"wait_readable": wait_readable}, run_3_1, time_limit=time_limit, seed=seed)


def run_3_1(trial: Trial) -> None:
    wait_readable = trial["wait_readable"]
    rng = trial.random
    for round_ in range(2):
        timeout = rng.choice([0.25, 0.3, 0.4])
        trial.case = f"round {round_ + 1}: a UDP socket with nothing to read, timeout {timeout}"
        with udp_socket(blocking=rng.random() < 0.5) as server, udp_socket() as client:
            with trial.stopwatch() as took:
                quiet = wait_readable(server, timeout)
            waited, used = took.active, took.used
            if quiet is True:
                raise CheckFailed(
                    "wait_readable said True for a socket with nothing to read",
                    expected="False",
                    got="True",
                    hint="when the timeout passes with nothing ready, select returns empty "
                    "lists: then return False. The first list is for reading, the second for "
                    "writing: a socket is nearly always writable.",
                )
            expect_bool(f"wait_readable(a quiet socket, {timeout})", quiet, False)
            if used.busy(took.elapsed):
                raise CheckFailed(
                    f"wait_readable polled: {used.describe_busy(took.elapsed)}",
                    expected="one select call that sleeps until data or the timeout",
                    got="a busy loop",
                    hint="select(..., 0) in a loop burns a CPU core: pass the timeout to "
                    "select.select(rlist, wlist, xlist, timeout) and let it sleep.",
                )
            if waited < 0.8 * timeout:  # what it slept or ran: the load cannot stretch it
                raise CheckFailed(
                    f"with nothing to read, wait_readable returned after {waited:.3f} s",
                    expected=f"about {timeout} s (the timeout)",
                    got=f"{waited:.3f} s",
                    hint="pass the timeout to select.select(rlist, wlist, xlist, timeout)",
                )
            size = rng.choice([0, 1, rng.randint(2, 1400)])
            data = payload(rng, size)
            trial.case = f"round {round_ + 1}: a {size}-byte datagram waiting, timeout 2"
            client.sendto(data, server.getsockname())
            ready = wait_readable(server, 2.0)
            expect_bool("wait_readable(a socket with a datagram waiting, 2)", ready, True,
                        hint="with a datagram waiting, select lists the socket in its first "
                        "list: return True then")  # fmt: skip
            expect_unread(server, data)
            delay = rng.choice([0.3, 0.45, 0.6])
            trial.case = f"round {round_ + 1}: a datagram that arrives {delay} s into a 3 s wait"
            expect_wakes_early(wait_readable, server, client, payload(rng, 3), delay)
    trial.case = "a TCP socket whose peer has closed"
    with socket.create_server(("127.0.0.1", 0)) as listener:
        with socket.create_connection(listener.getsockname(), timeout=2) as peer:
            conn, _ = listener.accept()
            with conn:
                peer.close()
                expect_bool("wait_readable(a TCP socket whose peer closed, 2)",
                            wait_readable(conn, 2.0), True,
                            hint="EOF is readable too: recv would return b'' at once")  # fmt: skip


def expect_unread(server: socket.socket, data: bytes) -> None:
    """The datagram ``wait_readable`` saw must still be there for the caller."""
    server.settimeout(0.5)
    try:
        left = server.recv(MAX_DATAGRAM)
    except (TimeoutError, BlockingIOError):
        raise CheckFailed(
            "wait_readable read the datagram: it should only wait, not receive",
            hint="select tells you that recv would not block; leave the recv to the caller",
        ) from None
    expect_equal("the datagram still waiting after wait_readable", left, data)


def expect_wakes_early(
    wait_readable: Callable[[socket.socket, float], object],
    server: socket.socket,
    client: socket.socket,
    data: bytes,
    delay: float,
) -> None:
    """A datagram ``delay`` s into a 3 s wait: True, long before the 3 s are up."""
    sender = threading.Timer(delay, client.sendto, (data, server.getsockname()))
    began = time.monotonic()
    sender.start()
    try:
        ready = wait_readable(server, 3.0)
    finally:
        sender.join()
    waited = time.monotonic() - began
    expect_bool(
        f"wait_readable(socket, 3) when a datagram comes after {delay} s",
        ready,
        True,
        hint="pass the caller's timeout on to select: do not choose one of your own",
    )
    if waited > 2.5:  # a safety net for "slept the whole timeout", far from any real answer
        raise CheckFailed(
            f"wait_readable slept {waited:.1f} s although a datagram came after {delay} s",
            hint="let select wait for the socket itself: it returns as soon as data arrives",
        )
    expect_unread(server, data)


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
    echo_n: Callable[[list[socket.socket], int], object],
    time_limit: float = 5,
    seed: int | None = None,
) -> Verdict:
    """``echo_n`` echoes exactly ``n`` datagrams, whichever sockets they arrive on, then returns."""
    return judge("3.2", {"echo_n": echo_n}, run_3_2, time_limit=time_limit, seed=seed)


def run_3_2(trial: Trial) -> None:
    for round_ in range(3):
        shape = round_shape(trial.random, round_)
        sockets = [udp_socket() for _ in shape.per_socket]
        clients = [udp_socket(blocking=True) for _ in range(2 if round_ == 0 else 1 + round_ % 2)]
        try:
            echo_round(trial, round_, shape, sockets, clients)
        finally:
            for sock in sockets + clients:
                sock.close()
    trial.case = "echo_n(sockets, 1) with the datagram arriving 0.5 s later"
    with udp_socket() as server, udp_socket(blocking=True) as client:
        expect_resting(trial, [server], client)


@dataclass(frozen=True)
class RoundShape:
    """How many datagrams wait on each socket, and how many ``echo_n`` must echo."""

    per_socket: list[int]
    n: int


def round_shape(rng: random.Random, round_: int) -> RoundShape:
    """Shapes that tell the usual mistakes apart, sizes drawn afresh each time.

    Rounds 1 and 3: every socket holds two or more datagrams and ``n`` falls in the
    middle of the second pass, so one pass is too few and a pass finished is too
    many. Round 2: a single socket with several datagrams waiting.
    """
    if round_ == 1:
        waiting = rng.randint(2, 4)
        return RoundShape([waiting], rng.randint(1, waiting - 1))
    count = 3 if round_ == 0 else rng.randint(2, 4)
    per_socket = [2 if round_ == 0 else rng.randint(2, 3) for _ in range(count)]
    return RoundShape(per_socket, count + (1 if round_ == 0 else rng.randint(1, count - 1)))


def echo_round(
    trial: Trial,
    round_: int,
    shape: RoundShape,
    sockets: list[socket.socket],
    clients: list[socket.socket],
) -> None:
    """Send a generated plan of datagrams, run ``echo_n`` for some of them, compare the echoes."""
    rng = trial.random
    targets = [index for index, count in enumerate(shape.per_socket) for _ in range(count)]
    rng.shuffle(targets)
    queued = [0] * len(sockets)  # how many datagrams each socket holds so far
    senders = []  # the n-th datagram on socket s comes from client (s + n): clients take turns
    for server in targets:
        senders.append((server + queued[server]) % len(clients))
        queued[server] += 1
    sizes = datagram_sizes(rng, len(targets), large=round_ != 1 or rng.random() < 0.5)
    biggest = sizes.index(max(sizes))  # sent first, so the first pass must read it whole
    sizes[0], sizes[biggest] = sizes[biggest], sizes[0]
    plan = [(client, server, payload(rng, size))
            for client, server, size in zip(senders, targets, sizes)]  # fmt: skip
    trial.case = (
        f"round {round_ + 1}: echo_n(<{len(sockets)} sockets>, {shape.n}) with "
        f"{shape.per_socket} datagrams waiting on them, of {sizes} bytes, "
        f"from {len(clients)} client(s)"
    )
    for client, server, data in plan:
        clients[client].sendto(data, sockets[server].getsockname())
    wait_until_queued(sockets, plan)
    trial["echo_n"](sockets, shape.n)
    replies = [(index, data, sender) for index, client in enumerate(clients)
               for data, sender in replies_on(client)]  # fmt: skip
    left = [(index, data) for index, server in enumerate(sockets) for data in waiting_on(server)]
    expect_echoes(plan, shape.n, replies, left, sockets)
    if trial.candidate.unclosed:
        raise CheckFailed(
            "echo_n opened a socket and dropped it without closing it",
            got=trial.candidate.unclosed[0],
            hint="reply on the socket that received the datagram; there is no need for another",
        )


def wait_until_queued(sockets: list[socket.socket], plan: list[tuple[int, int, bytes]]) -> None:
    """Loopback delivers at once; give the kernel a moment (bounded) to queue every datagram."""
    readable: list[socket.socket] = []
    wanted = {sockets[server] for _, server, _ in plan}
    deadline = time.monotonic() + 1.0
    while len(readable) < len(wanted) and time.monotonic() < deadline:
        readable, _, _ = select.select(list(wanted), [], [], 0.05)


def replies_on(client: socket.socket) -> list[tuple[bytes, tuple[str, int]]]:
    """Every datagram waiting on the judge's client, with who sent it.

    Loopback queues a datagram on the receiving socket before ``sendto`` returns,
    so once the learner's function has returned its echoes are here; 20 ms is a margin.
    """
    received = []
    client.settimeout(0.02)
    for _ in range(100):
        try:
            received.append(client.recvfrom(MAX_DATAGRAM))
        except (TimeoutError, BlockingIOError):
            break
    return received


def waiting_on(server: socket.socket) -> list[bytes]:
    """The datagrams still queued on a server socket, emptied by the judge."""
    return [data for data, _ in replies_on(server)]


def expect_echoes(
    plan: list[tuple[int, int, bytes]],
    n: int,
    replies: list[tuple[int, bytes, tuple[str, int]]],
    left: list[tuple[int, bytes]],
    sockets: list[socket.socket],
) -> None:
    """Exactly ``n`` echoes, unchanged, to their sender, from the socket they came to."""
    sent = sorted(data for _, _, data in plan)
    echoed = [data for _, data, _ in replies]
    unmatched = Counter(sent)
    for data in echoed:
        if unmatched[data] == 0:
            raise_changed(data)
        unmatched[data] -= 1
    if len(echoed) < n and len(echoed) + len(left) == len(plan):
        raise CheckFailed(
            f"echo_n(sockets, {n}) echoed {len(echoed)} datagrams",
            expected=f"{n} echoes",
            got=f"{len(echoed)}",
            hint="loop until n datagrams are echoed, not once over the sockets; pass every "
            "socket to select",
        )
    if len(echoed) > n:
        raise CheckFailed(
            f"echo_n(sockets, {n}) echoed {len(echoed)} datagrams",
            expected=f"{n} echoes, the rest left waiting",
            got=f"{len(echoed)}",
            hint="count each echo and stop as soon as the count reaches n, even in the middle "
            "of the ready list",
        )
    expect_equal("the echoes and the datagrams left waiting, together (sorted by content)",
                 sorted(echoed + [data for _, data in left]), sent,
                 hint="receive each datagram once and echo it once")  # fmt: skip
    for client, data, sender in replies:
        origins = [(c, sockets[s].getsockname()) for c, s, d in plan if d == data]
        if (client, sender) not in origins:
            raise CheckFailed(
                "an echo came back to the wrong client, or from the wrong socket",
                expected=f"from {[address for _, address in origins]}",
                got=f"client {client + 1} got it from {sender}",
                hint="reply with sock.sendto(data, sender) on the socket that received the "
                "datagram, to the address recvfrom gave you",
            )


def raise_changed(data: bytes) -> None:
    """An echo that matches no datagram sent (or one echoed twice): say how it differs."""
    raise CheckFailed(
        "an echo is not a datagram that was sent (or was echoed twice)",
        got=f"{len(data)} bytes starting {data[:20]!r}",
        hint="echo each datagram exactly as it came: recvfrom(65535) (a datagram can be "
        "up to 65,507 bytes, and what does not fit is lost), then sendto the sender",
    )


def expect_resting(trial: Trial, servers: list[socket.socket], client: socket.socket) -> None:
    """``echo_n(servers, 1)`` while the datagram comes only 0.5 s later: it must sleep."""
    sender = threading.Timer(0.5, client.sendto, (b"late", servers[0].getsockname()))
    sender.start()
    try:
        with trial.stopwatch() as took:
            trial["echo_n"](servers, 1)
    finally:
        sender.join()
    waited, used = took.elapsed, took.used
    expect_equal(
        "the echo of a datagram that came 0.5 s after echo_n(sockets, 1) started",
        [data for data, _ in replies_on(client)],
        [b"late"],
        hint="wait for a datagram with select; do not give up when nothing is ready yet",
    )
    if used.busy(waited):
        raise CheckFailed(
            f"while waiting 0.5 s for the next datagram, echo_n polled: "
            f"{used.describe_busy(waited)}",
            expected="echo_n asleep in select while nothing arrives",
            got="a busy loop",
            hint="recvfrom in a loop, or select(..., 0), burns a CPU core: let "
            "select.select(sockets, [], [], timeout) sleep until a socket is readable.",
        )


# --- 3.3 -----------------------------------------------------------------------------------------


def check_3_3(
    tcp_echo: Callable[[socket.socket, int], None],
    time_limit: float = 8,
    seed: int | None = None,
) -> Verdict:
    """``tcp_echo`` serves its clients (one by one, or together) and returns once all have left."""
    return judge("3.3", {"tcp_echo": tcp_echo}, run_3_3, time_limit=time_limit, seed=seed)


def run_3_3(trial: Trial) -> None:
    rng = trial.random
    for round_ in range(3):
        clients = [1 + rng.randint(0, 2), 2, rng.randint(2, 4)][round_]
        together = round_ == 2
        sizes = [rng.choice([1, rng.randint(2, 100), rng.randint(101, 3000)])
                 for _ in range(clients)]  # fmt: skip
        trial.case = (
            f"round {round_ + 1}: tcp_echo(listener, {clients}) with {clients} client(s) "
            f"{'connected at the same time' if together else 'one after another'}, "
            f"sending {sizes} bytes"
        )
        messages = [payload(rng, size) for size in sizes]
        results, errors = serve_clients(trial, messages, together)
        if errors:
            raise CheckFailed(
                f"a client could not talk to tcp_echo: {errors[0]}",
                hint="accept every connection and echo what each client sends; with "
                "several clients connected, serve whichever select says is ready, not the "
                "first until it closes",
            )
        expect_equal(
            "what each client got back (byte counts)",
            [len(r) for r in results],
            sizes,
            hint="send back exactly what recv returned, unchanged, with sendall",
        )
        if results != messages:
            raise CheckFailed(
                "a client got back bytes that differ from what it sent",
                hint="send back exactly what recv returned, unchanged, with sendall",
            )


def serve_clients(
    trial: Trial, messages: list[bytes], together: bool
) -> tuple[list[bytes], list[str]]:
    """Run ``tcp_echo(listener, len(messages))`` while a judge thread plays the clients.

    One after another: each connects, sends, reads its echo and closes. Together:
    all connect first, then the *last* to connect speaks first and each waits for
    its echo before the next speaks, so a server that serves the first connection
    until it closes never answers.
    """
    results: list[bytes] = [b""] * len(messages)
    errors: list[str] = []

    def talk(index: int, sock: socket.socket) -> None:
        sock.sendall(messages[index])
        while len(results[index]) < len(messages[index]):
            chunk = sock.recv(65536)
            if not chunk:
                break
            results[index] += chunk

    def play(address: tuple[str, int]) -> None:
        connections: list[socket.socket] = []
        try:
            if together:
                connections = [socket.create_connection(address, timeout=4) for _ in messages]
                for index in reversed(range(len(messages))):
                    talk(index, connections[index])
            else:
                for index in range(len(messages)):
                    with socket.create_connection(address, timeout=4) as sock:
                        talk(index, sock)
        except OSError as error:
            errors.append(f"{type(error).__name__}: {error}")
        finally:
            for sock in connections:
                sock.close()

    with socket.create_server(("127.0.0.1", 0)) as listener:
        player = threading.Thread(target=play, args=(listener.getsockname(),), daemon=True)
        player.start()
        before = trial.usage()
        try:
            trial["tcp_echo"](listener, len(messages))
        except LearnerRaised as raised:
            explain_closed_socket(raised)
            raise
        finally:
            player.join(5)
        expect_nothing_left(trial, before)
    return results, errors


def explain_closed_socket(raised: LearnerRaised) -> None:
    """The two errors of pitfall 2, turned into a verdict that names the mistake."""
    error = raised.raised
    if error.type == "ValueError" and "negative" in error.message:
        raise CheckFailed(
            f"select was given a closed socket: ValueError: {error.message}",
            got=f"at {error.where}",
            hint="when recv returns b'', remove the socket from the list you pass "
            "to select, then close it",
        ) from None
    if error.type == "OSError" and f"[Errno {errno.EBADF}]" in error.message:
        raise CheckFailed(
            "select or recv was given a closed socket: OSError: [Errno 9] Bad file descriptor",
            got=f"at {error.where}",
            hint="remove the socket from the watched list before you close it",
        ) from None


def expect_nothing_left(trial: Trial, before: Usage) -> None:
    """No connection left open or dropped unclosed, no thread left running."""
    after = trial.left_behind(before)
    if trial.candidate.unclosed or after.descriptors > 0:
        raise CheckFailed(
            "a client's connection was never closed",
            got=(trial.candidate.unclosed or [f"{after.descriptors} descriptor(s) still open"])[0],
            hint="when recv returns b'', remove the socket from the watched list, then close it",
        )
    if after.threads > 0:
        raise CheckFailed(
            f"tcp_echo left {after.threads} thread(s) running after it returned",
            hint="serve every client from the one select loop; return when all have left",
        )


# --- the notebook's demonstration (no verdict) ---------------------------------------------------


def try_tcp_echo(tcp_echo: Callable[[socket.socket, int], None]) -> None:
    """Run a candidate for exercise 3.3 with two clients and print what happened (no verdict)."""
    results: list[bytes] = []
    errors: list[BaseException] = []
    try:
        with time_limit_of(10):
            serve_two_clients(tcp_echo, results, errors)
    except CheckTimedOut:
        print(f"{tcp_echo.__name__} was still running after 10 s and was stopped")
    except Exception as error:
        print(f"{tcp_echo.__name__} raised {type(error).__name__}: {error}")
    else:
        print(f"{tcp_echo.__name__} returned")
    print(f"the clients got back: {results}")


def serve_two_clients(
    tcp_echo: Callable[[socket.socket, int], None],
    results: list[bytes],
    errors: list[BaseException],
) -> None:
    """Run ``tcp_echo(listener, 2)`` in this process while a thread connects twice."""

    def clients(address: tuple[str, int]) -> None:
        try:
            for text in (b"first", b"second"):
                with socket.create_connection(address, timeout=3) as client:
                    client.sendall(text)
                    results.append(client.recv(100))
        except OSError as error:
            errors.append(error)

    with socket.create_server(("127.0.0.1", 0)) as listener:
        thread = threading.Thread(target=clients, args=(listener.getsockname(),), daemon=True)
        thread.start()
        with watch_leaks():
            try:
                tcp_echo(listener, 2)
            finally:
                thread.join(3)
