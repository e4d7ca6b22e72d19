"""The chapter 02 checks pass right answers (also written differently), fail the mistakes
learners really make with a hint that names the mistake, and call a stub "not attempted yet".

``WRONG`` lists every known wrong answer with a word its hint must contain.
"""

from __future__ import annotations

import errno
import select
import socket
import sys
import time
from pathlib import Path

import nbformat
import pytest
from exercise_checks import hint_of, stub, verdict_of

from eventloop.checks.ch02 import check_2_1, check_2_2, check_2_3

LINUX = sys.platform.startswith("linux")

# --- 2.1 drain a non-blocking socket -------------------------------------------------------------


def drain_datagrams(sock):
    datagrams = []
    while True:
        try:
            datagrams.append(sock.recv(65535))
        except BlockingIOError:
            return datagrams


def drain_with_recvfrom_and_a_flag(sock):
    datagrams, more = [], True
    while more:
        try:
            data, _ = sock.recvfrom(65535)
            datagrams.append(data)
        except BlockingIOError:
            more = False
    return datagrams


def drain_one(sock):
    try:
        return [sock.recv(65535)]
    except BlockingIOError:
        return []


def drain_lets_eagain_escape(sock):
    return [sock.recv(65535)]


def drain_but_make_blocking(sock):
    datagrams = drain_datagrams(sock)
    sock.setblocking(True)
    return datagrams


def drain_pairs(sock):
    pairs = []
    while True:
        try:
            pairs.append(sock.recvfrom(65535))
        except BlockingIOError:
            return pairs


def drain_and_continue_on_eagain(sock):
    datagrams = []
    while True:
        try:
            datagrams.append(sock.recv(65535))
        except BlockingIOError:
            continue


# --- 2.2 a non-blocking connect ------------------------------------------------------------------


def connect_status(address, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        sock.connect_ex(address)
        _, writable, _ = select.select([], [sock], [], timeout)
        if not writable:
            return errno.ETIMEDOUT
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


def connect_status_try_finally(address, timeout):
    sock = socket.socket()
    try:
        sock.setblocking(False)
        try:
            sock.connect(address)
        except BlockingIOError:
            pass
        if not select.select([], [sock], [], timeout)[1]:
            return errno.ETIMEDOUT
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    finally:
        sock.close()


def connect_without_catching(address, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        sock.connect(address)
        return 0


def connect_blocking(address, timeout):
    with socket.create_connection(address, timeout=timeout):
        return 0


def connect_never_checks(address, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        sock.connect_ex(address)
        select.select([], [sock], [], timeout)
        return 0


def connect_without_waiting(address, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        sock.connect_ex(address)
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


def connect_ex_result(address, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        return sock.connect_ex(address)


def connect_never_closing(address, timeout):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.connect_ex(address)
    _, writable, _ = select.select([], [sock], [], timeout)
    if not writable:
        return errno.ETIMEDOUT
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


# --- 2.3 the polling loop, fixed -----------------------------------------------------------------


def poll_echo_with(clock="monotonic", sleep_for=None, catch=True, count=True, stop=True):
    """A polling echo loop, right by default; each argument puts one mistake in.
    ``clock`` names the function of the time module it reads, looked up at each call
    as ``time.time()`` in a learner's cell is."""

    def now():
        value = getattr(time, clock)()
        return value / 1e9 if clock.endswith("_ns") else value

    def poll_echo(sock, duration, pause=0.01):
        sock.setblocking(False)
        echoed = 0
        deadline = now() + duration
        while now() < deadline or not stop:
            try:
                data, sender = sock.recvfrom(65535)
            except BlockingIOError:
                if not catch:
                    raise
                if sleep_for != 0:
                    time.sleep(pause if sleep_for is None else sleep_for)
                continue
            sock.sendto(data, sender)
            echoed = echoed + 1 if count else 1
        return echoed

    return poll_echo


def poll_echo_with_select(sock, duration, pause=0.01):
    sock.setblocking(False)
    echoed = 0
    deadline = time.monotonic() + duration
    while (left := deadline - time.monotonic()) > 0:
        if select.select([sock], [], [], min(left, pause))[0]:
            data, sender = sock.recvfrom(65535)
            sock.sendto(data, sender)
            echoed += 1
    return echoed


def poll_echo_gives_up_early(sock, duration, pause=0.01):
    sock.setblocking(False)
    try:
        data, sender = sock.recvfrom(65535)
    except BlockingIOError:
        return 0
    sock.sendto(data, sender)
    return 1


RIGHT = [
    pytest.param(check_2_1, drain_datagrams, id="2.1 while True"),
    pytest.param(check_2_1, drain_with_recvfrom_and_a_flag, id="2.1 recvfrom and a flag"),
    pytest.param(check_2_2, connect_status, id="2.2 connect_ex"),
    pytest.param(check_2_2, connect_status_try_finally, id="2.2 connect, try/finally"),
    pytest.param(check_2_3, poll_echo_with(), id="2.3 sleep on EAGAIN"),
    pytest.param(check_2_3, poll_echo_with(clock="perf_counter"), id="2.3 perf_counter"),
    pytest.param(check_2_3, poll_echo_with_select, id="2.3 select with a timeout"),
]

WRONG = [
    pytest.param(check_2_1, drain_one, "in a loop", id="2.1 if instead of while"),
    pytest.param(check_2_1, drain_lets_eagain_escape, "catch it", id="2.1 EAGAIN escapes"),
    pytest.param(check_2_1, drain_but_make_blocking, "blocking", id="2.1 makes it blocking"),
    pytest.param(check_2_1, drain_pairs, "keep only the data", id="2.1 (data, address) pairs"),
    pytest.param(check_2_1, drain_and_continue_on_eagain, "stop condition", id="2.1 continue"),
    pytest.param(check_2_2, connect_without_catching, "catch it", id="2.2 EINPROGRESS escapes"),
    pytest.param(check_2_2, connect_never_checks, "SO_ERROR", id="2.2 never reads SO_ERROR"),
    pytest.param(check_2_2, connect_blocking, "non-blocking", id="2.2 blocking connect"),
    pytest.param(check_2_2, connect_ex_result, "still going", id="2.2 connect_ex's EINPROGRESS"),
    pytest.param(check_2_2, connect_never_closing, "with socket", id="2.2 never closes"),
    pytest.param(check_2_3, poll_echo_with(catch=False), "EAGAIN", id="2.3 EAGAIN escapes"),
    pytest.param(check_2_3, poll_echo_with(sleep_for=0), "time.sleep(pause)", id="2.3 spins"),
    pytest.param(check_2_3, poll_echo_gives_up_early, "deadline", id="2.3 gives up early"),
    pytest.param(check_2_3, poll_echo_with(stop=False), "stop condition", id="2.3 no deadline"),
    pytest.param(check_2_3, poll_echo_with(clock="time"), "monotonic", id="2.3 time.time"),
    pytest.param(
        check_2_3,
        poll_echo_with(clock="time_ns"),
        "monotonic",
        id="2.3 time.time_ns",
    ),
    pytest.param(check_2_3, poll_echo_with(sleep_for=0.5), "pause", id="2.3 naps too long"),
    pytest.param(check_2_3, poll_echo_with(count=False), "count", id="2.3 = instead of +="),
]
if LINUX:  # a connect that stays in progress needs Linux's full-queue rule
    WRONG.append(
        pytest.param(check_2_2, connect_without_waiting, "select.select", id="2.2 no select")
    )


@pytest.mark.parametrize(("check", "answer"), RIGHT)
def test_right_answers_pass(capsys, check, answer):
    assert check(answer).passed
    assert verdict_of(capsys)[0] == "passed"


@pytest.mark.parametrize(("check", "wrong", "clue"), WRONG)
def test_wrong_answers_fail_naming_the_mistake(capsys, check, wrong, clue):
    assert not check(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed", out
    assert clue in hint_of(out), out


@pytest.mark.parametrize("check", [check_2_1, check_2_2, check_2_3])
def test_stubs_are_not_attempted(capsys, check):
    assert not check(stub).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


# --- the solutions notebook's own answer to 2.2 --------------------------------------------------

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions" / "02-non-blocking-sockets.ipynb"


def solution_2_2():
    """``connect_status`` as solutions/02 defines it: its import cell, then its 2.2 cell."""
    notebook = nbformat.read(SOLUTIONS, as_version=4)
    cells = [c.source for c in notebook.cells if c.cell_type == "code"]
    namespace: dict[str, object] = {}
    exec(next(s for s in cells if s.startswith("import")), namespace)
    exec(next(s for s in cells if s.startswith("# Exercise 2.2")), namespace)
    return namespace["connect_status"]


class RefusedAtOnce(socket.socket):
    """A TCP socket whose connect some systems refuse at once on loopback: ``connect_ex``
    returns ECONNREFUSED, and SO_ERROR, the error already reported, then reads 0."""

    def connect_ex(self, address):
        return errno.ECONNREFUSED


def test_solution_2_2_returns_a_refusal_that_connect_ex_reported_at_once(monkeypatch):
    """Issue 12: the solution used to ignore connect_ex's return value, and answered 0 here."""
    connect = solution_2_2()
    monkeypatch.setattr(socket, "socket", RefusedAtOnce)
    assert connect(("127.0.0.1", 9), 0.1) == errno.ECONNREFUSED
    # an answer that ignores connect_ex's return value misses it: this test can fail
    assert connect_status(("127.0.0.1", 9), 0.1) != errno.ECONNREFUSED
