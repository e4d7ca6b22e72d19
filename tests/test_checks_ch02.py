"""The chapter 02 checks pass right answers, fail typical wrong ones with a useful message,
and call a stub "not attempted yet"."""

from __future__ import annotations

import errno
import select
import socket
import sys
import time

import pytest
from exercise_checks import stub

from eventloop.checks.ch02 import check_2_1, check_2_2, check_2_3


def verdict_of(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().out.splitlines()
    assert lines, "the check printed nothing"
    return "\n".join(lines)


# --- 2.1 drain a non-blocking socket -------------------------------------------------------------


def drain_datagrams(sock):
    datagrams = []
    while True:
        try:
            datagrams.append(sock.recv(65535))
        except BlockingIOError:
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


def test_2_1_right_answer_passes(capsys):
    assert check_2_1(drain_datagrams).passed
    assert verdict_of(capsys) == "✓ Exercise 2.1 passed"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (drain_one, "the datagrams read from a socket holding three is not right"),
        (drain_lets_eagain_escape, "let BlockingIOError escape"),
        (drain_but_make_blocking, "made the socket blocking again"),
    ],
)
def test_2_1_wrong_answers_fail_with_a_hint(capsys, wrong, says):
    assert not check_2_1(wrong).passed
    out = verdict_of(capsys)
    assert out.startswith("✗ Exercise 2.1 failed:") and says in out and "hint:" in out


def test_2_1_stub_is_not_attempted(capsys):
    assert not check_2_1(stub).passed
    assert verdict_of(capsys).startswith("○ Exercise 2.1 not attempted yet")


# --- 2.2 a non-blocking connect ------------------------------------------------------------------


def connect_status(address, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        sock.connect_ex(address)
        _, writable, _ = select.select([], [sock], [], timeout)
        if not writable:
            return errno.ETIMEDOUT
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


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


def test_2_2_right_answer_passes(capsys):
    assert check_2_2(connect_status).passed
    assert verdict_of(capsys) == "✓ Exercise 2.2 passed"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (connect_without_catching, "raised EINPROGRESS"),
        (connect_never_checks, "a port where nobody listens: wrong status"),
        (connect_blocking, "ConnectionRefusedError escaped"),
    ],
)
def test_2_2_wrong_answers_fail_with_a_hint(capsys, wrong, says):
    assert not check_2_2(wrong).passed
    out = verdict_of(capsys)
    assert out.startswith("✗ Exercise 2.2 failed:") and says in out and "hint:" in out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux's full-queue rule")
def test_2_2_not_waiting_for_writability_fails_on_a_busy_server(capsys):
    assert not check_2_2(connect_without_waiting).passed
    out = verdict_of(capsys)
    assert "a server too busy to answer" in out
    assert "ETIMEDOUT" in out and "select.select" in out


def test_2_2_stub_is_not_attempted(capsys):
    assert not check_2_2(stub).passed
    assert verdict_of(capsys).startswith("○ Exercise 2.2 not attempted yet")


# --- 2.3 the polling loop, fixed -----------------------------------------------------------------


def poll_echo(sock, duration, pause=0.01):
    sock.setblocking(False)
    echoed = 0
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        try:
            data, sender = sock.recvfrom(65535)
        except BlockingIOError:
            time.sleep(pause)
            continue
        sock.sendto(data, sender)
        echoed += 1
    return echoed


def poll_echo_fatal_eagain(sock, duration, pause=0.01):
    sock.setblocking(False)
    echoed = 0
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        data, sender = sock.recvfrom(65535)
        sock.sendto(data, sender)
        echoed += 1
    return echoed


def poll_echo_never_sleeps(sock, duration, pause=0.01):
    sock.setblocking(False)
    echoed = 0
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        try:
            data, sender = sock.recvfrom(65535)
        except BlockingIOError:
            continue
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


def test_2_3_right_answer_passes(capsys):
    assert check_2_3(poll_echo).passed
    assert verdict_of(capsys) == "✓ Exercise 2.3 passed"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (poll_echo_fatal_eagain, "let BlockingIOError escape"),
        (poll_echo_never_sleeps, "burns a CPU core"),
        (poll_echo_gives_up_early, "returned before its duration was over"),
    ],
)
def test_2_3_wrong_answers_fail_with_a_hint(capsys, wrong, says):
    assert not check_2_3(wrong).passed
    out = verdict_of(capsys)
    assert out.startswith("✗ Exercise 2.3 failed:") and says in out and "hint:" in out


def test_2_3_a_loop_without_a_deadline_is_stopped(capsys):
    def forever(sock, duration, pause=0.01):
        sock.setblocking(False)
        while True:
            try:
                sock.recvfrom(65535)
            except BlockingIOError:
                time.sleep(pause)

    assert not check_2_3(forever).passed
    assert "still running after" in verdict_of(capsys)


def test_2_3_stub_is_not_attempted(capsys):
    assert not check_2_3(stub).passed
    assert verdict_of(capsys).startswith("○ Exercise 2.3 not attempted yet")
