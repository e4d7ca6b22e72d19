"""Checks for chapter 01's exercises (blocking sockets), judged outside the learner's process.

    check_1_1(udp_request)                 a blocking UDP client with a timeout
    check_1_2(serve_with_threads)          serve N TCP clients, a thread each
    check_1_3(upper_once)                  the fixed-port, leaky server, fixed

The learner's function runs in a candidate process (``eventloop.judge``); the
judge plays the other side on its own sockets, in threads: the server a
``udp_request`` asks (at once, late, with another reply, or never), the clients
of ``serve_with_threads`` (one silent while the others talk, one sending a few
hundred kilobytes), the client of ``upper_once``. ``upper_once``'s ``ready`` is
a course function (``tell_ready``) that writes the address to a socket the
judge holds. Cases are generated (sizes, payloads, counts, timeouts, delays)
and the seed printed with a ✗ replays them. What decides: what the judge's
sockets see, lower bounds on time, and the descriptors and threads the
candidate has left, read from outside.
"""

from __future__ import annotations

import functools
import json
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eventloop.checks import CheckFailed, Verdict
from eventloop.checks.ch03 import MAX_DATAGRAM, payload, udp_socket
from eventloop.checks.network import ShortSendListener, echo_of, shut
from eventloop.judge.candidate import CallTimedOut, LearnerRaised, Named, Usage
from eventloop.judge.trial import Trial, judge

Address = tuple[str, int]

CLOSE_HINT = (
    "open it with `with socket.socket(...) as sock:` so it is closed on every path, also "
    "when recvfrom times out or raises."
)


def expect_closed(trial: Trial, before_descriptors: int, when: str) -> None:
    """No socket left open by the call, nor dropped without closing (read from outside)."""
    left = trial.usage().descriptors - before_descriptors
    if trial.candidate.unclosed or left > 0:
        raise CheckFailed(
            f"{when}, your socket was left open",
            got=(trial.candidate.unclosed or [f"{left} descriptor(s) still open"])[0],
            hint=CLOSE_HINT,
        )


# --- 1.1 -----------------------------------------------------------------------------------------


def check_1_1(
    udp_request: Callable[[tuple[str, int], bytes, float], bytes | None],
    time_limit: float = 4.0,
    seed: int | None = None,
) -> Verdict:
    """``udp_request(address, message, timeout)``: the reply, or ``None`` after ``timeout``."""
    return judge("1.1", {"udp_request": udp_request}, run_1_1, time_limit=time_limit, seed=seed)


@dataclass
class Answerer:
    """The judge's server for one request: answers ``reply`` after ``delay``, or never (None)."""

    reply: bytes | None
    delay: float
    received: list[tuple[bytes, Address]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


def answer(sock: socket.socket, server: Answerer) -> None:
    """Receive the request (and any more), send the reply ``delay`` s after the first."""
    due: float | None = None
    while not server.done.is_set():
        if due is not None and time.monotonic() >= due and server.reply is not None:
            sock.sendto(server.reply, server.received[0][1])
            due = None
        if select.select([sock], [], [], 0.01)[0]:
            try:
                server.received.append(sock.recvfrom(MAX_DATAGRAM))
            except (BlockingIOError, ConnectionError):
                continue
            if len(server.received) == 1:
                due = time.monotonic() + server.delay
    while True:  # what came while this thread was not looking (the socket is non-blocking)
        try:
            server.received.append(sock.recvfrom(MAX_DATAGRAM))
        except (BlockingIOError, ConnectionError):
            return


def run_1_1(trial: Trial) -> None:
    rng = trial.random
    plans = [  # (request size, reply: "echo" / "other" / None, delay, timeout)
        (rng.randint(1025, 4000), "echo", 0.0, 2.0),
        (rng.choice([0, 1, rng.randint(2, 200)]), "other", rng.choice([0.2, 0.3, 0.4]), 2.0),
        (rng.randint(2, 100), None, 0.0, rng.choice([0.2, 0.3, 0.5])),
        (rng.choice([MAX_DATAGRAM, rng.randint(5000, 60000)]), "echo", 0.0, 1.5),
        (rng.randint(1, 50), None, 0.0, rng.choice([0.2, 0.3])),
    ]
    for round_, (size, kind, delay, timeout) in enumerate(plans):
        message = payload(rng, size)
        reply = {"echo": message, "other": payload(rng, rng.randint(1, 3000)), None: None}[kind]
        said = {
            "echo": "an echo server that answers at once",
            "other": f"a server that answers {len(reply or b'')} other bytes after {delay} s",
            None: "a server that never answers",
        }[kind]
        trial.case = f"round {round_ + 1}: udp_request(<{said}>, <{size} bytes>, timeout={timeout})"
        request_round(trial, message, Answerer(reply, delay), timeout)


def request_round(trial: Trial, message: bytes, server: Answerer, timeout: float) -> None:
    """One call of ``udp_request`` against the judge's server; judge the result and the time."""
    sock = udp_socket(blocking=False)
    player = threading.Thread(target=answer, args=(sock, server), daemon=True)
    try:
        player.start()
        before, began = trial.usage(), time.monotonic()
        try:
            got = trial["udp_request"](sock.getsockname(), message, timeout)
        except LearnerRaised as raised:
            if raised.raised.type in ("TimeoutError", "timeout") and server.reply is None:
                raise CheckFailed(
                    "when no reply comes, udp_request lets TimeoutError escape",
                    expected="None",
                    got=f"TimeoutError: {raised.raised.message}",
                    hint="catch socket.timeout (TimeoutError) around recvfrom and return None.",
                ) from None
            raise
        except CallTimedOut:
            raise CheckFailed(
                f"udp_request was still waiting long after its timeout of {timeout} s, "
                "and was stopped",
                hint="call sock.settimeout(timeout) before recvfrom: without it, recvfrom "
                "waits forever.",
            ) from None
        took = time.monotonic() - began
    finally:
        server.done.set()
        player.join(5)
        sock.close()
    requests = [data for data, _ in server.received]
    if requests != [message]:
        raise CheckFailed(
            "the server did not receive the message, once, unchanged",
            expected=f"one datagram of {len(message)} bytes",
            got=f"{len(requests)} datagram(s) of {[len(r) for r in requests]} bytes",
            hint="send the message as it is, in one datagram: sock.sendto(message, address).",
        )
    if server.reply is None:
        expect_none(got, took, timeout)
    else:
        expect_reply(got, server.reply, took, timeout, server.delay)
    expect_closed(
        trial, before.descriptors, "after a reply" if server.reply else "when no reply came"
    )


def expect_none(got: object, took: float, timeout: float) -> None:
    """None, and not before the timeout (a lower bound: load only makes a wait longer)."""
    if got is not None:
        raise CheckFailed(
            "the result when nobody answers is not None",
            expected="None",
            got=repr(got)[:100],
            hint="return None when recvfrom times out, not b'' or an error message.",
        )
    if took < 0.8 * timeout:
        raise CheckFailed(
            f"udp_request gave up after {took:.2f} s, before its timeout of {timeout} s",
            hint="pass the caller's timeout to sock.settimeout(timeout), not one of your own.",
        )


def expect_reply(got: object, reply: bytes, took: float, timeout: float, delay: float) -> None:
    """The reply's bytes, whole, as soon as it came."""
    if isinstance(got, tuple):
        raise CheckFailed(
            "udp_request returned a (data, address) pair",
            expected=f"the {len(reply)} bytes of the reply",
            got=repr(got)[:100],
            hint="recvfrom returns (data, address): return recvfrom(...)[0].",
        )
    if isinstance(got, bytes) and got != reply and reply.startswith(got):
        raise CheckFailed(
            f"the {len(reply)}-byte reply came back cut to {len(got)} bytes",
            hint="recvfrom(n) drops the rest of a datagram longer than n: use 65535.",
        )
    if got is None:
        raise CheckFailed(
            f"the server answered after {delay} s, within the timeout of {timeout} s, "
            "but udp_request returned None",
            hint="pass the caller's timeout to sock.settimeout(timeout), not one of your own, "
            "and return the reply's bytes.",
        )
    if isinstance(got, str):
        raise CheckFailed(
            "udp_request returned text (str), not the reply's bytes",
            got=repr(got)[:100],
            hint="return the bytes recvfrom gave you, as they came: a datagram need not be "
            "text, and decoding changes it.",
        )
    if isinstance(got, bytes) and got != reply and got in (reply.strip(), reply.rstrip()):
        raise CheckFailed(
            "the reply came back with its white space removed",
            hint="return the bytes recvfrom gave you, as they came: no strip().",
        )
    if got != reply:
        raise CheckFailed(
            "the result is not the reply's bytes",
            expected=f"the {len(reply)} bytes the server sent back, starting {reply[:12]!r}",
            got=repr(got)[:100],
            hint="send with sendto(message, address), then return recvfrom(...)[0]: what the "
            "server answered, which need not be your message.",
        )
    if took > max(0.9 * timeout, delay + 1.0):  # a safety net, far above an answer that waits
        raise CheckFailed(
            f"the server answered after {delay} s, but udp_request returned only after "
            f"{took:.1f} s",
            expected="the reply as soon as it arrives",
            got=f"{took:.1f} s (the timeout was {timeout} s)",
            hint="do not sleep for the timeout: recvfrom on a socket with settimeout(timeout) "
            "returns as soon as a datagram arrives.",
        )


# --- 1.2 -----------------------------------------------------------------------------------------


def check_1_2(
    serve_with_threads: Callable[[socket.socket, int], list[bytes]],
    time_limit: float = 8.0,
    seed: int | None = None,
) -> Verdict:
    """``serve_with_threads(listener, n)``: echo ``n`` clients at once; return their transcripts.

    Client 1 connects first and says nothing until the others got their echoes:
    a server that serves one client at a time never answers them. Then client 1
    sends a few hundred kilobytes over a connection whose ``send`` takes at most
    1000 bytes a call (as ``send`` may): ``send`` instead of ``sendall`` loses
    bytes, ``=`` instead of ``+=`` keeps only the last piece.
    """
    answers = {"serve_with_threads": serve_with_threads}
    return judge("1.2", answers, run_1_2, time_limit=time_limit, seed=seed)


def drive_1_2(serve: Callable[..., object], listener: socket.socket, n: int) -> object:
    """In the candidate: call ``serve`` with a listener whose connections' ``send`` is short.

    Returns a copy of the list it returned: threads still filling it afterwards
    would otherwise hide a missing join.
    """
    short = ShortSendListener(listener.family, listener.type, fileno=os.dup(listener.fileno()))
    try:
        short.settimeout(listener.gettimeout())
        result = serve(short, n)
        return list(result) if isinstance(result, list) else result
    finally:
        short.close()


@dataclass
class Talk:
    """What the judge's clients send and what they observe."""

    first: bytes  # client 1's many bytes, sent last
    others: list[bytes]
    hold: set[int] = field(default_factory=set)  # others that stay open until client 1 is done
    last_eof: float | None = None  # when the judge ended the last connection (monotonic)
    late: bool = False
    short: list[tuple[int, int]] = field(default_factory=list)  # (sent, echoed) cut short
    echoed: int = 0
    sent_all: bool = True
    errors: list[str] = field(default_factory=list)


def play_1_2(address: Address, talk: Talk) -> None:
    """Connect every client (client 1 first), let the others talk, then client 1."""
    clients: list[socket.socket] = []
    try:
        for _ in range(1 + len(talk.others)):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            clients.append(client)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.settimeout(3.0)
            client.connect(address)
        for client, message in zip(clients[1:], talk.others):
            client.settimeout(1.5)
            try:
                client.sendall(message)
                received = b""
                while len(received) < len(message):
                    chunk = client.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            except TimeoutError:
                if received:
                    talk.short.append((len(message), len(received)))
                else:
                    talk.late = True
            except (ConnectionError, OSError):
                pass
            else:
                if len(received) < len(message):
                    talk.short.append((len(message), len(received)))
            if clients.index(client) - 1 not in talk.hold:
                shut(client, socket.SHUT_WR)  # EOF: this client is done
        if not talk.hold:
            talk.last_eof = time.monotonic()
        talk.echoed, talk.sent_all = echo_of(clients[0], talk.first)
        if talk.hold:  # the last to leave are not client 1: a server must wait for them too
            time.sleep(0.2)
            talk.last_eof = time.monotonic()
            for index in sorted(talk.hold, reverse=True):
                shut(clients[index + 1], socket.SHUT_WR)
    except OSError as error:
        talk.errors.append(f"{type(error).__name__}: {error}")
    finally:
        for client in clients:
            client.close()


def run_1_2(trial: Trial) -> None:
    rng = trial.random
    for round_, n in enumerate([3, rng.randint(2, 5), 1]):
        first = payload(rng, rng.randint(100_000, 300_000))
        others = [payload(rng, rng.choice([1, rng.randint(2, 100), rng.randint(101, 5000)]))
                  for _ in range(n - 1)]  # fmt: skip
        # some of the others close before client 1 (so finishing order is not accept
        # order), and, from three clients on, some after it (a return must wait for them)
        hold = set(rng.sample(range(n - 1), rng.randint(1, n - 2))) if n > 2 else set()
        trial.case = (
            f"round {round_ + 1}: serve_with_threads(listener, {n}); client 1 connects first"
            + (
                f", silent until the other {n - 1} got echoes of {[len(o) for o in others]} bytes"
                if others
                else ""
            )  # fmt: skip
            + f", then sends {len(first)} bytes"
            + (f"; clients {sorted(i + 2 for i in hold)} close last" if hold else "")
        )
        serve_round(trial, Talk(first, others, hold))


def serve_round(trial: Trial, talk: Talk) -> None:
    n = 1 + len(talk.others)
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        listener.settimeout(3.0)
        player = threading.Thread(target=play_1_2, args=(listener.getsockname(), talk), daemon=True)
        before = trial.usage()
        player.start()
        try:
            drive = trial.candidate.wrap(
                "drive_1_2", drive_1_2, trial["serve_with_threads"].time_limit
            )
            try:
                transcripts = drive(Named("serve_with_threads"), listener, n)
            except LearnerRaised as raised:
                if raised.raised.type in GAVE_UP:
                    player.join(6)
                    if talk.late:  # what it raised came of the clients giving up on it
                        raise late_failure() from None
                if raised.raised.type in ("TimeoutError", "timeout") and "accept" in (
                    raised.raised.traceback
                ):
                    raise CheckFailed(
                        f"your server waited to accept more than the n={n} clients that came",
                        got=str(raised.raised),
                        hint="accept exactly n clients: for number in range(n), not a "
                        "number of your own.",
                    ) from None
                raise
            returned = time.monotonic()
        finally:
            player.join(6)
    after = trial.left_behind(before)
    if talk.late:
        raise late_failure()
    if talk.errors:
        raise CheckFailed(
            f"a client could not talk to your server: {talk.errors[0]}",
            hint="accept n connections and echo what each sends until recv returns b''.",
        )
    for sent, echoed in talk.short:
        raise CheckFailed(
            f"a client sent {sent} bytes and got back only {echoed}",
            expected=f"{sent} bytes echoed",
            got=f"{echoed} bytes",
            hint="conn.send(data) may send only part of data and returns how much: "
            "use conn.sendall(data), which sends it all; and echo until recv returns b''.",
        )
    if talk.echoed == 0:
        raise CheckFailed(
            "client 1 got no echo of its message",
            hint="send back (sendall) everything recv returns, until it returns b''.",
        )
    expected = [talk.first, *talk.others]
    read_all = isinstance(transcripts, list) and transcripts[:1] == [talk.first]
    if talk.echoed != len(talk.first) and not (talk.sent_all and read_all):
        raise CheckFailed(
            f"client 1's connection was closed after {talk.echoed} of its {len(talk.first)} bytes",
            hint="one recv returns one piece: loop, echoing each piece, until it returns b''.",
        )
    if talk.echoed != len(talk.first):
        raise CheckFailed(
            f"client 1 sent {len(talk.first)} bytes and got back only {talk.echoed}",
            expected=f"{len(talk.first)} bytes echoed",
            got=f"{talk.echoed} bytes",
            hint="conn.send(data) may send only part of data and returns how much: "
            "use conn.sendall(data), which sends it all.",
        )
    if talk.last_eof is None or returned < talk.last_eof:
        raise CheckFailed(
            "serve_with_threads returned before every client was done",
            expected="a return only after the last client closed its connection",
            hint="join every thread before returning (not only the first): a client is done "
            "only when its thread is.",
        )
    if after.threads > 0:
        raise CheckFailed(
            f"serve_with_threads returned with {after.threads} thread(s) still running",
            hint="join every thread before returning: a client is done only when its thread is.",
        )
    expect_transcripts(transcripts, expected)
    if trial.candidate.unclosed or after.descriptors > 0:
        raise CheckFailed(
            "a connection was never closed",
            got=(trial.candidate.unclosed or [f"{after.descriptors} descriptor(s) still open"])[0],
            hint="in each thread, `with conn:` around the echo loop closes it at EOF.",
        )


GAVE_UP = ("BrokenPipeError", "ConnectionResetError", "ConnectionAbortedError", "TimeoutError")
"""What a server meets on a connection whose client gave up waiting and closed it."""


def late_failure() -> CheckFailed:
    return CheckFailed(
        "the other clients got no echo while client 1 was silent",
        expected="each client served in its own thread, at the same time",
        got="client 2 waited until client 1 was done",
        hint="start a threading.Thread per accepted connection, and only join them "
        "after accepting all n clients.",
    )


def expect_transcripts(transcripts: object, expected: list[bytes]) -> None:
    """One transcript per client, in accept order; say which is wrong, briefly."""
    if transcripts == expected:
        return
    hint = (
        "keep one transcript per client, filled by its thread; join every thread "
        "before returning, so each transcript is complete."
    )
    if not isinstance(transcripts, list) or len(transcripts) != len(expected):
        text = repr(transcripts)
        raise CheckFailed(
            f"the transcripts should be a list of {len(expected)} bytes objects, one per client",
            got=text if len(text) < 200 else text[:200] + "…",
            hint=hint,
        )
    sizes = [len(t) if isinstance(t, (bytes, bytearray)) else repr(t) for t in transcripts]
    if any(
        isinstance(t, bytes) and t != e and t in (e.strip(), e.rstrip())
        for t, e in zip(transcripts, expected)
    ):
        hint = "keep what each client sent as it came, bytes and white space: no strip()."
    first = transcripts[0]
    if (
        isinstance(first, (bytes, bytearray))
        and 0 < len(first) < len(expected[0])
        and expected[0].endswith(first)
    ):
        hint = "add each piece to the transcript (transcript += data): `=` keeps the last recv."
    raise CheckFailed(
        "the transcripts (what each client sent, in accept order) are not right",
        expected=f"sizes {[len(t) for t in expected]}",
        got=f"sizes {sizes}",
        hint=hint,
    )


# --- 1.3 -----------------------------------------------------------------------------------------


def check_1_3(
    upper_once: Callable[..., bytes], time_limit: float = 4.0, seed: int | None = None
) -> Verdict:
    """``upper_once(ready, timeout)``: bind 127.0.0.1:0, call ``ready(address)``,
    answer one datagram in upper case, return it; close the socket on every path."""
    return judge("1.3", {"upper_once": upper_once}, run_1_3, time_limit=time_limit, seed=seed)


def tell_ready(control: socket.socket, fail: bool, address: object) -> None:
    """In the candidate: the ``ready`` the learner's code calls. Tells the judge the
    address; raises ``ConnectionAbortedError`` when the case says the client went away."""
    try:
        shown = [str(address[0]), int(address[1])]  # type: ignore[index]
    except (TypeError, IndexError, ValueError):
        shown = [repr(address)[:60], -1]
    control.sendall(json.dumps(shown).encode() + b"\n")
    if fail:
        raise ConnectionAbortedError("the client went away")


@dataclass
class Asking:
    """The judge's client for one round of ``upper_once``."""

    data: bytes | None  # None: say nothing (the timeout case)
    address: list | None = None
    reply: bytes | None = None
    sender: Address | None = None
    exposed: tuple[str, ...] = ()  # addresses beyond loopback the candidate was bound on
    done: threading.Event = field(default_factory=threading.Event)


def ask_1_3(control: socket.socket, asking: Asking, usage: Callable[[], Usage]) -> None:
    """Wait for the address ``ready`` reports, send the datagram, read the reply."""
    deadline, line = time.monotonic() + 4.0, b""
    while not asking.done.is_set() and time.monotonic() < deadline and not line.endswith(b"\n"):
        if select.select([control], [], [], 0.02)[0]:
            chunk = control.recv(200)
            if not chunk:
                return
            line += chunk
    try:
        asking.address = json.loads(line)
        asking.exposed = usage().non_loopback  # read from outside while the socket is bound
    except ValueError:
        return
    if asking.data is None or not isinstance(asking.address, list) or asking.address[1] <= 0:
        return
    with udp_socket(blocking=True) as client:
        client.settimeout(0.05)
        client.sendto(asking.data, ("127.0.0.1", int(asking.address[1])))
        while time.monotonic() < deadline:
            ended = asking.done.is_set()  # the call returned: its reply, if any, is queued now
            try:
                asking.reply, asking.sender = client.recvfrom(MAX_DATAGRAM)
                return
            except TimeoutError:
                if ended:
                    return


def upper_round(
    trial: Trial, asking: Asking, fail: bool, timeout: float
) -> tuple[object, LearnerRaised | None, float, int]:
    """Call ``upper_once(ready, timeout)`` while the judge's client plays ``asking``."""
    ours, theirs = socket.socketpair()
    player = threading.Thread(target=ask_1_3, args=(ours, asking, trial.usage), daemon=True)
    try:
        before, began = trial.usage(), time.monotonic()
        player.start()
        got: object = None
        raised: LearnerRaised | None = None
        try:
            got = trial["upper_once"](functools.partial(tell_ready, theirs, fail), timeout)
        except LearnerRaised as error:
            raised = error
        except CallTimedOut:
            raise CheckFailed(
                f"upper_once was still waiting long after its timeout of {timeout} s, and "
                "was stopped",
                hint="call sock.settimeout(timeout) before recvfrom.",
            ) from None
        took = time.monotonic() - began
    finally:
        asking.done.set()
        player.join(5)
        ours.close()
        theirs.close()
    if asking.address is None and raised is None:
        raise CheckFailed(
            "ready(address) was never called",
            hint="call ready(sock.getsockname()) after bind.",
        )
    return got, raised, took, before.descriptors


def explain_address_in_use(raised: LearnerRaised, port: int) -> None:
    if "Address already in use" in raised.raised.message or "Errno 98" in raised.raised.message:
        raise CheckFailed(
            f"the server binds the fixed port {port}: a second server (or a re-run cell) "
            "fails with Address already in use",
            hint="bind port 0 and pass sock.getsockname() to ready().",
        ) from None


def run_1_3(trial: Trial) -> None:
    rng = trial.random
    port = 0
    for round_ in range(2):
        size = rng.choice([1, rng.randint(2, 100)]) if round_ == 0 else rng.randint(1500, 9000)
        data = bytearray(payload(rng, size))
        for at in rng.sample(range(len(data)), min(len(data), 4)):
            data[at] = rng.randint(ord("a"), ord("z"))
        trial.case = (
            f"round {round_ + 1}: upper_once(ready, 2.0) and a client that sends "
            f"{len(data)} bytes"
            + (" (the port of round 1 now taken by another socket)" if round_ else "")
        )
        asking = Asking(bytes(data))
        squatter = udp_socket()
        try:
            if round_:
                squatter.close()
                squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    squatter.bind(("127.0.0.1", port))  # someone else now holds that port
                except OSError:
                    pass  # another program took it meanwhile: the port is taken all the same
            got, raised, _, descriptors = upper_round(trial, asking, False, 2.0)
        finally:
            squatter.close()
        if raised is not None:
            explain_address_in_use(raised, port)
            if asking.address and asking.address[1] <= 0:
                raise CheckFailed(
                    f"ready() was told the address {tuple(asking.address)}: no port to send to",
                    hint="bind first, then call ready(sock.getsockname()): before bind the "
                    "socket has no port.",
                ) from None
            raise raised
        expect_answered(trial, asking, got, descriptors)
        port = int(asking.address[1]) if asking.address else 0
    trial.case = "round 3: upper_once(ready, 2.0) where ready raises ConnectionAbortedError"
    expect_error_passes(trial, Asking(b"never sent"), True, 2.0, "ConnectionAbortedError")
    timeout = rng.choice([0.2, 0.3, 0.4])
    trial.case = f"round 4: upper_once(ready, {timeout}) and nobody sends anything"
    took = expect_error_passes(trial, Asking(None), False, timeout, "TimeoutError")
    if took < 0.8 * timeout:
        raise CheckFailed(
            f"upper_once gave up after {took:.2f} s, before its timeout of {timeout} s",
            hint="pass the caller's timeout to sock.settimeout(timeout).",
        )


def expect_answered(trial: Trial, asking: Asking, got: object, descriptors: int) -> None:
    """The reply in upper case from the address ``ready`` was told; the datagram returned."""
    host = asking.address[0] if asking.address else None
    if host != "127.0.0.1" or asking.exposed:
        if host == "127.0.0.1":
            host = f"127.0.0.1 told to ready(), but bound on {asking.exposed[0]}"
        raise CheckFailed(
            "the server does not listen on loopback only",
            expected="127.0.0.1",
            got=repr(host),
            hint="bind ('127.0.0.1', 0); '' means every network interface.",
        )
    data = asking.data or b""
    if asking.reply != data.upper():
        raise CheckFailed(
            "the reply the client got is not its datagram in upper case",
            expected=f"{len(data)} bytes starting {data.upper()[:12]!r}",
            got="no reply"
            if asking.reply is None
            else f"{len(asking.reply)} bytes starting {asking.reply[:12]!r}",
            hint=(
                "a reply cut short: recvfrom(n) keeps only n bytes of a datagram; use 65535."
                if asking.reply and data.upper().startswith(asking.reply)
                else "send data.upper() back to the sender, the whole datagram (recvfrom(65535))."
            ),
        )
    if asking.sender != ("127.0.0.1", int(asking.address[1])):
        raise CheckFailed(
            "the reply came from another socket than the one ready() was told",
            expected=f"from ('127.0.0.1', {asking.address[1]})",
            got=f"from {asking.sender}",
            hint="reply with sock.sendto(data.upper(), sender) on the socket you bound.",
        )
    if got != data:
        raise CheckFailed(
            "upper_once did not return the datagram it received",
            expected=f"{len(data)} bytes starting {data[:12]!r}",
            got=repr(got)[:100],
            hint="return the datagram received (data), as it came.",
        )
    left = trial.usage().descriptors - descriptors
    if trial.candidate.unclosed or left > 0:
        raise CheckFailed(
            "after answering, upper_once left its socket open",
            got=(trial.candidate.unclosed or [f"{left} descriptor(s) still open"])[0],
            hint="use `with socket.socket(...) as sock:`, which closes it on every path.",
        )


def expect_error_passes(
    trial: Trial, asking: Asking, fail: bool, timeout: float, error: str
) -> float:
    """``error`` must reach the caller, and the socket be closed all the same."""
    got, raised, took, descriptors = upper_round(trial, asking, fail, timeout)
    if raised is None:
        raise CheckFailed(
            f"upper_once swallowed the {error} and returned {repr(got)[:60]}",
            expected=f"{error} raised to the caller",
            hint="let errors propagate; close the socket in `finally` or with `with`.",
        )
    if raised.raised.type != error:
        raise raised
    left = trial.usage().descriptors - descriptors
    if trial.candidate.unclosed or left > 0:
        raise CheckFailed(
            f"after {error} the socket stays open",
            got=(trial.candidate.unclosed or [f"{left} descriptor(s) still open"])[0],
            hint="use `with socket.socket(...) as sock:` or close it in `finally`.",
        )
    return took
