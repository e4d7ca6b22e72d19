"""Checks for chapter 02's exercises (non-blocking sockets), judged outside the learner's process.

    check_2_1(drain_datagrams)   read every datagram waiting now, without blocking
    check_2_2(connect_status)    a non-blocking connect, its result read from SO_ERROR
    check_2_3(poll_echo)         the polling loop that died on EAGAIN and never slept, fixed

The learner's function runs in a candidate process (``eventloop.judge``) on the
judge's own sockets, handed over as descriptors. Cases are generated (counts,
sizes, binary payloads, timeouts, durations, pauses) and replayed by the seed a
✗ prints. What load cannot move decides: counts and contents, lower bounds on
time (load only makes a wait longer), the candidate's runnable time (a poll) and
its voluntary context switches (each nap is one), read from outside.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from eventloop.blocking import udp_socket
from eventloop.checks import CheckFailed, Verdict, expect_equal
from eventloop.checks.ch03 import MAX_DATAGRAM, payload
from eventloop.judge.candidate import LearnerRaised
from eventloop.judge.trial import Trial, judge

EAGAIN_HINT = (
    "BlockingIOError (EAGAIN) means 'nothing now, try later': catch it, never treat it "
    "as a failure."
)


def is_non_blocking(sock: socket.socket) -> bool:
    """The descriptor's own flag: what the candidate did to it, not what our object remembers."""
    return bool(fcntl.fcntl(sock.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK)


def explain_escape(raised: LearnerRaised, where: str = "") -> None:
    """Turn the exceptions a learner lets escape here into a verdict that names the mistake."""
    error = raised.raised
    if error.type == "BlockingIOError":
        raise CheckFailed(f"{where}your function let BlockingIOError escape", hint=EAGAIN_HINT)


# --- 2.1 -----------------------------------------------------------------------------------------


def check_2_1(
    drain_datagrams: Callable[[socket.socket], list[bytes]], seed: int | None = None
) -> Verdict:
    """``drain_datagrams(sock)``: every datagram waiting on a non-blocking socket, maybe []."""
    return judge("2.1", {"drain_datagrams": drain_datagrams}, run_2_1, time_limit=3.0, seed=seed)


def run_2_1(trial: Trial) -> None:
    rng = trial.random
    with udp_socket() as sock, udp_socket() as client:
        sock.setblocking(False)
        counts = [0, rng.randint(4, 7), 1, rng.randint(2, 4)]
        for round_, count in enumerate(counts):
            sizes = [rng.choice([0, 1, rng.randint(2, 200), rng.randint(201, 1400)])
                     for _ in range(count)]  # fmt: skip
            if round_ == 3:
                sizes[0] = rng.choice([MAX_DATAGRAM, rng.randint(5000, 60000)])
            messages = [payload(rng, size) for size in sizes]
            trial.case = f"call {round_ + 1}: {count} datagram(s) of {sizes} bytes waiting"
            for message in messages:
                client.sendto(message, sock.getsockname())
            got = drain_once(trial, sock)
            expect_datagrams(got, messages)


def drain_once(trial: Trial, sock: socket.socket) -> Any:
    """Call the learner's function once; it must leave the socket non-blocking."""
    try:
        got = trial["drain_datagrams"](sock)
    except LearnerRaised as raised:
        explain_escape(raised)
        raise
    if not is_non_blocking(sock):
        sock.setblocking(False)
        raise CheckFailed(
            "drain_datagrams made the socket blocking again",
            hint="leave the socket as you found it; with an empty socket a blocking "
            "recv would wait forever.",
        )
    return got


def expect_datagrams(got: object, messages: list[bytes]) -> None:
    """Every datagram, whole and in order, as bytes (not (data, address) pairs)."""
    if isinstance(got, list) and got and all(isinstance(item, tuple) for item in got):
        raise CheckFailed(
            "drain_datagrams returned (data, address) pairs",
            expected=f"a list of {len(messages)} bytes objects",
            got=repr(got)[:120],
            hint="recvfrom returns (data, address): keep only the data, or use recv.",
        )
    if isinstance(got, list) and len(got) == len(messages) and got != messages:
        short = [len(g) for g in got if isinstance(g, bytes)]
        raise CheckFailed(
            "a datagram came back changed",
            expected=f"datagrams of {[len(m) for m in messages]} bytes",
            got=f"{short} bytes",
            hint="recv(65535): a datagram can be up to 65,507 bytes, and what does not fit "
            "in the buffer is lost. Keep the bytes as they are.",
        )
    expect_equal(
        f"the list of the {len(messages)} datagram(s) waiting (sizes shown)",
        [len(g) if isinstance(g, bytes) else g for g in got] if isinstance(got, list) else got,
        [len(m) for m in messages],
        hint="keep calling recvfrom (or recv) in a loop until it raises BlockingIOError, "
        "then return the list, [] when nothing waits.",
    )


# --- 2.2 -----------------------------------------------------------------------------------------


def check_2_2(
    connect_status: Callable[[tuple[str, int], float], int], seed: int | None = None
) -> Verdict:
    """``connect_status(address, timeout)``: 0, or the errno from SO_ERROR, or ETIMEDOUT."""
    return judge("2.2", {"connect_status": connect_status}, run_2_2, time_limit=5.0, seed=seed)


def run_2_2(trial: Trial) -> None:
    rng = trial.random
    with udp_socket() as placeholder:  # a port nobody listens on for TCP
        closed = placeholder.getsockname()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # room for one waiting connection only (see below)
        plans: list[tuple[tuple[str, int], int, str]] = [
            (listener.getsockname(), 0, "a listening server"),
            (closed, errno.ECONNREFUSED, "a port where nobody listens"),
        ]
        rng.shuffle(plans)
        for address, expected, where in plans:
            timeout = rng.choice([0.3, 0.5, 1.0])
            trial.case = f"connect_status(<{where}>, {timeout})"
            expect_status(trial, address, timeout, expected, where)
        if sys.platform.startswith("linux"):
            # Linux keeps one connection waiting (the one made above) and ignores
            # further attempts: a new connect stays "in progress" until we give up.
            timeout = rng.choice([0.2, 0.35, 0.5])
            where = "a server too busy to answer (its queue is full)"
            trial.case = f"connect_status(<{where}>, {timeout})"
            with trial.stopwatch() as took:
                expect_status(trial, listener.getsockname(), timeout, errno.ETIMEDOUT, where)
            waited = took.active  # what it slept or ran: the load cannot stretch it
            if waited < 0.8 * timeout:
                raise CheckFailed(
                    f"connecting to {where}: gave up after {waited:.2f} s, before the "
                    f"timeout of {timeout} s",
                    hint="pass the caller's timeout to select.select([], [sock], [], timeout).",
                )


def expect_status(
    trial: Trial, address: tuple[str, int], timeout: float, expected: int, where: str
) -> None:
    """Run ``connect_status`` once and compare with ``expected``, naming errnos."""
    before = trial.usage()
    try:
        got = trial["connect_status"](address, timeout)
    except LearnerRaised as raised:
        explain_connect_error(raised.raised.type, where, expected)
        raise
    left = trial.usage() - before
    if trial.candidate.unclosed or left.descriptors > 0:
        raise CheckFailed(
            f"connecting to {where}: your socket was left open",
            got=(trial.candidate.unclosed or [f"{left.descriptors} descriptor(s) open"])[0],
            hint="open it with `with socket.socket(...) as sock:`: it is closed on every "
            "return path.",
        )
    hint = None
    if got == errno.EINPROGRESS:
        hint = (
            "EINPROGRESS from connect_ex means 'still going': wait for writability with "
            "select.select([], [sock], [], timeout), then read SO_ERROR."
        )
    elif expected == errno.ECONNREFUSED:
        hint = (
            "after the socket becomes writable, read "
            "sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) and return it."
        )
    elif expected == errno.ETIMEDOUT:
        hint = (
            "wait for writability with select.select([], [sock], [], timeout); if nothing is "
            "ready, the connect has not finished: return errno.ETIMEDOUT. SO_ERROR is 0 while "
            "the connect is still in progress."
        )
    if got != expected:
        raise CheckFailed(
            f"connecting to {where}: wrong status",
            expected=f"{expected} ({errno_name(expected)})",
            got=f"{got!r} ({errno_name(got) if isinstance(got, int) else 'not an errno'})",
            hint=hint,
        )


def explain_connect_error(kind: str, where: str, expected: int) -> None:
    """The exceptions a blocking or unguarded connect lets escape, with what to do instead."""
    if kind == "BlockingIOError":
        raise CheckFailed(
            f"connecting to {where}: connect() raised EINPROGRESS",
            hint="on a non-blocking socket connect() raises BlockingIOError EINPROGRESS: "
            "catch it, or use sock.connect_ex(address), which returns the errno instead.",
        )
    if kind in ("TimeoutError", "timeout"):
        raise CheckFailed(
            f"connecting to {where}: TimeoutError escaped",
            expected=errno_name(expected),
            hint="a blocking connect with a timeout raises; use a non-blocking socket, wait "
            "with select.select([], [sock], [], timeout) and return errno.ETIMEDOUT when "
            "nothing is ready.",
        )
    if kind == "ConnectionRefusedError":
        raise CheckFailed(
            f"connecting to {where}: ConnectionRefusedError escaped",
            expected=errno_name(expected),
            hint="make the socket non-blocking before connecting, and report the outcome "
            "by returning SO_ERROR instead of raising.",
        )


def errno_name(number: int | None) -> str:
    """``ECONNREFUSED`` for 111 (Linux) or 61 (macOS): portable in messages."""
    if number == 0:
        return "success"
    return errno.errorcode.get(number or 0, f"errno {number}")


# --- 2.3 -----------------------------------------------------------------------------------------


def check_2_3(poll_echo: Callable[[Any, float, float], int], seed: int | None = None) -> Verdict:
    """``poll_echo(sock, duration, pause)``: echo until ``duration`` is over; rest when idle."""
    return judge("2.3", {"poll_echo": poll_echo}, run_2_3, time_limit=4.0, seed=seed)


def run_2_3(trial: Trial) -> None:
    rng = trial.random
    for round_ in range(2):
        duration, pause = rng.choice([0.6, 0.7, 0.8]), rng.choice([0.01, 0.02])
        count = rng.randint(2, 5) if round_ else 3
        messages = [payload(rng, rng.choice([1, rng.randint(2, 100), rng.randint(101, 1400)]))
                    for _ in range(count)]  # fmt: skip
        trial.case = (
            f"round {round_ + 1}: poll_echo(sock, {duration}, {pause}) while a client sends "
            f"{count} datagram(s) of {[len(m) for m in messages]} bytes in its first half"
        )
        with udp_socket() as server, udp_socket(timeout=1.0) as client:
            expect_polite_echo(trial, server, client, messages, duration, pause)


def expect_polite_echo(
    trial: Trial,
    server: socket.socket,
    client: socket.socket,
    messages: list[bytes],
    duration: float,
    pause: float,
) -> None:
    """Every datagram echoed, for the whole duration and no more, resting between polls."""
    replies: list[bytes] = []
    senders: list[tuple[str, int]] = []
    spacing = duration / 2 / len(messages)  # all sent in the first half, with idle time between
    talk = threading.Thread(
        target=send_slowly, args=(client, server, messages, replies, senders, spacing)
    )
    talk.start()
    try:
        with trial.stopwatch() as watch:
            echoed = trial["poll_echo"].watched(server, duration, pause)
    except LearnerRaised as raised:
        explain_escape(raised)
        raise
    finally:
        talk.join(5)
    took, used = watch.elapsed, watch.used
    if took < 0.9 * duration:  # the candidate's own time: a busy judge cannot stretch it
        raise CheckFailed(
            "poll_echo returned before its duration was over",
            expected=f"about {duration} s",
            got=f"{took:.2f} s",
            hint="loop until time.monotonic() reaches the deadline, whatever happens.",
        )
    if took > duration + 1.5:  # a safety net far above any answer that rests `pause`
        raise CheckFailed(
            "poll_echo went on long after its duration was over",
            expected=f"about {duration} s",
            got=f"{took:.2f} s",
            hint="rest for `pause` seconds, not longer, and check the deadline every time "
            "round the loop.",
        )
    if used.busy(took):
        raise CheckFailed(
            f"the loop never rests: it polls as fast as it can ({used.describe_busy(took)})",
            hint="after a BlockingIOError, time.sleep(pause) before trying again.",
        )
    naps = [float(nap) for nap in trial.candidate.observed.get("sleeps", [])]
    naps_expected = duration / pause
    if (naps and max(naps) > max(0.1, 5 * pause)) or used.sleeps < naps_expected / 10:
        longest = f"a nap of {max(naps):g} s" if naps else f"{used.sleeps} rests in {took:.2f} s"
        raise CheckFailed(
            f"poll_echo rests far longer than pause={pause} at a time",
            expected=f"naps of `pause` seconds, about {naps_expected:.0f} of them",
            got=f"{longest}: datagrams wait that long for their echo",
            hint="sleep for `pause`, the argument, not a fixed longer time.",
        )
    wall_clocks = trial.candidate.observed.get("wall_clocks", [])
    if wall_clocks:
        raise CheckFailed(
            f"poll_echo measures its duration with the wall clock ({wall_clocks[0]})",
            hint="the wall clock jumps when the computer's clock is adjusted (PITFALL 19): "
            "use time.monotonic() for deadlines.",
        )
    if replies != messages:
        raise CheckFailed(
            "the client did not get every datagram back, unchanged",
            expected=f"{len(messages)} echoes of {[len(m) for m in messages]} bytes",
            got=f"{len(replies)} of {[len(r) for r in replies]} bytes"
            + ("" if replies == messages[: len(replies)] else ", changed"),
            hint="send each datagram back, unchanged, to the address recvfrom returned.",
        )
    if any(sender != server.getsockname() for sender in senders):
        raise CheckFailed(
            "an echo came from another socket than the one the datagram was sent to",
            expected=f"from {server.getsockname()}",
            got=f"from {next(s for s in senders if s != server.getsockname())}",
            hint="reply with sock.sendto(data, sender) on the socket you were given.",
        )
    expect_equal(
        "the number poll_echo returned",
        echoed,
        len(messages),
        hint="count each datagram you echoed.",
    )


def send_slowly(
    client: socket.socket,
    server: socket.socket,
    messages: list[bytes],
    replies: list[bytes],
    senders: list[tuple[str, int]],
    spacing: float,
) -> None:
    """Send each message ``spacing`` s apart; collect the echoes and who sent them (≤ 1 s each)."""
    for message in messages:
        time.sleep(spacing)  # spread the messages out, so the loop sees idle time between them
        client.sendto(message, server.getsockname())
        try:
            reply, sender = client.recvfrom(MAX_DATAGRAM)
        except TimeoutError:
            break
        replies.append(reply)
        senders.append(sender)
