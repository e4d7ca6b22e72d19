"""The chapter 05 checks pass a right answer and fail typical wrong ones, with a useful verdict."""

from __future__ import annotations

import errno
import select
import socket
import sys
import time

import pytest
from exercise_checks import hint_of, stub, verdict_of

from eventloop.checks.ch05 import check_5_1, check_5_2, check_5_3, check_5_4
from eventloop.handlers import EventHandler
from eventloop.tcp import TCPConnection

# --- 5.1 connect_result ---


def connect_result(address):
    with socket.socket() as sock:
        sock.setblocking(False)
        try:
            sock.connect(address)
        except BlockingIOError:
            pass
        select.select([], [sock], [], 2)
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


def connect_ex_only(address):
    with socket.socket() as sock:
        sock.setblocking(False)
        return sock.connect_ex(address)  # EINPROGRESS: has not waited


def blocking_connect(address):
    with socket.create_connection(address, timeout=2):
        return 0


def writable_means_connected(address):
    with socket.socket() as sock:
        sock.setblocking(False)
        sock.connect_ex(address)
        _, writable, _ = select.select([], [sock], [], 2)
        return 0 if writable else 1


def test_5_1_passes_a_right_answer(capsys):
    assert check_5_1(connect_result).passed
    assert verdict_of(capsys)[0] == "passed"


def test_5_1_not_attempted(capsys):
    assert not check_5_1(stub).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (connect_ex_only, "had not finished"),
        (blocking_connect, "a blocking one"),
        (writable_means_connected, "reported as a success"),
    ],
)
def test_5_1_fails_typical_mistakes(capsys, wrong, says):
    assert not check_5_1(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and says in out, out


# --- 5.2 UpperEchoConnection ---


class Upper(TCPConnection):
    def data_received(self, data: bytes) -> None:
        self.send(data.upper())


class RawSend(TCPConnection):
    def data_received(self, data: bytes) -> None:
        self.sock.send(data.upper())  # may send only part, or raise BlockingIOError


class NotUpper(TCPConnection):
    def data_received(self, data: bytes) -> None:
        self.send(data)


class StubConnection(TCPConnection):
    def data_received(self, data: bytes) -> None:
        raise NotImplementedError("Exercise 5.2: the stub")


def test_5_2_passes_a_right_answer(capsys):
    assert check_5_2(Upper).passed
    assert verdict_of(capsys)[0] == "passed"


def test_5_2_not_attempted(capsys):
    assert not check_5_2(StubConnection).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [(RawSend, "self.send(...)"), (NotUpper, "b'HELLO, WORLD'"), (int, "is not a TCPConnection")],
)
def test_5_2_fails_typical_mistakes(capsys, wrong, says):
    assert not check_5_2(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and says in out, out


# --- 5.3 ByteCounter ---


class Counter(EventHandler):
    def __init__(self, sock, handlers):
        self.sock, self.handlers, self.count = sock, handlers, 0

    def fileno(self):
        return self.sock.fileno()

    def wants_to_receive(self):
        return True


class FixedCounter(Counter):
    def handle_receive(self):
        data = self.sock.recv(65536)
        if not data:
            self.sock.close()
            self.handlers.remove(self)
            return
        self.count += len(data)


class SpinningCounter(Counter):
    def handle_receive(self):
        self.count += len(self.sock.recv(65536))


class ClosesButStays(Counter):
    def handle_receive(self):
        data = self.sock.recv(65536)
        if not data:
            self.sock.close()  # the loop drops it, but the handler should leave by itself
            return
        self.count += len(data)


class StubCounter(Counter):
    def handle_receive(self):
        raise NotImplementedError("Exercise 5.3: the stub")


def test_5_3_passes_a_right_answer(capsys):
    assert check_5_3(FixedCounter).passed
    assert verdict_of(capsys)[0] == "passed"


def test_5_3_not_attempted(capsys):
    assert not check_5_3(StubCounter).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


def test_5_3_fails_the_busy_loop(capsys):
    assert not check_5_3(SpinningCounter).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "a busy loop" in out and "b''" in out, out


def test_5_3_fails_a_handler_that_stays_in_the_list(capsys):
    assert not check_5_3(ClosesButStays).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "still in the handler list" in out, out


# --- 5.4 should_read ---


def should_read(reading, queued, high, low):
    if reading:
        return queued <= high
    return queued <= low


def test_5_4_passes_a_right_answer(capsys):
    assert check_5_4(should_read).passed
    assert verdict_of(capsys)[0] == "passed"


def test_5_4_not_attempted(capsys):
    assert not check_5_4(stub).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (lambda reading, queued, high, low: True, "above high: pause"),
        (lambda reading, queued, high, low: queued <= high, "flip on every recv"),
        (lambda reading, queued, high, low: reading and queued <= high, "drained to low"),
    ],
)
def test_5_4_fails_typical_mistakes(capsys, wrong, says):
    assert not check_5_4(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and says in out, out


def test_5_4_real_flood_catches_a_rule_that_never_resumes(capsys, monkeypatch):
    """Past the table, the flood itself fails a server that never reads again."""
    from eventloop.checks import ch05_watermarks

    monkeypatch.setattr(
        ch05_watermarks, "run_5_4", lambda trial: ch05_watermarks.flood_with(trial["should_read"])
    )
    assert not check_5_4(lambda reading, queued, high, low: reading and queued <= high).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "never resumed" in out, out


# --- every further wrong answer, with a word its hint must contain --------------------------------


def connect_and_read_at_once(address):
    with socket.socket() as sock:
        sock.setblocking(False)
        sock.connect_ex(address)
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


def connect_waiting_for_readable(address):
    with socket.socket() as sock:
        sock.setblocking(False)
        sock.connect_ex(address)
        select.select([sock], [], [], 2)
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


def connect_never_closing(address):
    sock = socket.socket()
    sock.setblocking(False)
    sock.connect_ex(address)
    select.select([], [sock], [], 2)
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


def connect_blocking_returning_errno(address):
    with socket.socket() as sock:
        try:
            sock.connect(address)
        except OSError as error:
            return error.errno
        return 0


def connect_with_a_short_wait(address):
    with socket.socket() as sock:
        sock.setblocking(False)
        sock.connect_ex(address)
        select.select([], [sock], [], 0.1)
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


def connect_result_with_connect_ex(address):
    sock = socket.socket()
    try:
        sock.setblocking(False)
        if sock.connect_ex(address) not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        select.select([], [sock], [], 2.0)
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    finally:
        sock.close()


class ClosesAfterFirstData(TCPConnection):
    def data_received(self, data: bytes) -> None:
        self.send(data.upper())
        self.close()


class SendallOnTheSocket(TCPConnection):
    def data_received(self, data: bytes) -> None:
        self.sock.sendall(data.upper())


class UpperWithABuffer(TCPConnection):
    def data_received(self, data: bytes) -> None:
        self.outgoing_text = getattr(self, "outgoing_text", b"") + data
        self.send(data.upper())


class RemovesButNeverCloses(Counter):
    def handle_receive(self):
        data = self.sock.recv(65536)
        if not data:
            self.handlers.remove(self)
            return
        self.count += len(data)


class CountsWithAssignment(Counter):
    def handle_receive(self):
        data = self.sock.recv(65536)
        if not data:
            self.sock.close()
            self.handlers.remove(self)
            return
        self.count = len(data)


class ChecksForNone(Counter):
    def handle_receive(self):
        data = self.sock.recv(65536)
        if data is None:
            self.sock.close()
            self.handlers.remove(self)
            return
        self.count += len(data)


class RemovesFirstThenCloses(Counter):
    def handle_receive(self):
        data = self.sock.recv(65536)
        if data == b"":
            self.handlers.remove(self)
            self.sock.close()
        else:
            self.count += len(data)


RIGHT = [
    pytest.param(check_5_1, connect_result_with_connect_ex, id="5.1 connect_ex, try/finally"),
    pytest.param(check_5_2, UpperWithABuffer, id="5.2 with extra state"),
    pytest.param(check_5_3, RemovesFirstThenCloses, id="5.3 remove, then close"),
    pytest.param(
        check_5_4,
        lambda reading, queued, high, low: queued <= (high if reading else low),
        id="5.4 one expression",
    ),  # fmt: skip
]

WRONG = [
    pytest.param(check_5_1, connect_and_read_at_once, "select", id="5.1 no select"),
    pytest.param(check_5_1, connect_waiting_for_readable, "writable", id="5.1 waits readable"),
    pytest.param(check_5_1, connect_never_closing, "with socket", id="5.1 never closes"),
    pytest.param(
        check_5_1,
        connect_blocking_returning_errno,
        "setblocking(False)",
        id="5.1 blocking, errno caught",
    ),  # fmt: skip
    pytest.param(check_5_2, ClosesAfterFirstData, "do not close", id="5.2 closes early"),
    pytest.param(check_5_2, SendallOnTheSocket, "self.send", id="5.2 sock.sendall"),
    pytest.param(check_5_3, RemovesButNeverCloses, "self.sock.close()", id="5.3 never closes"),
    pytest.param(check_5_3, CountsWithAssignment, "+=", id="5.3 = instead of +="),
    pytest.param(check_5_3, ChecksForNone, "b''", id="5.3 checks for None"),
    pytest.param(
        check_5_4, lambda reading, queued, high, low: queued < high, "above high", id="5.4 < high"
    ),  # fmt: skip
    pytest.param(
        check_5_4,
        lambda reading, queued, high, low: queued <= (high if reading else low) - 1,
        "above high",
        id="5.4 off by one",
    ),  # fmt: skip
    pytest.param(
        check_5_4,
        lambda reading, queued, high, low: queued <= (low if reading else high),
        "two thresholds",
        id="5.4 thresholds swapped",
    ),  # fmt: skip
]
if sys.platform.startswith("linux"):  # a connect that stays in progress needs Linux's rule
    WRONG.append(
        pytest.param(check_5_1, connect_with_a_short_wait, "still going", id="5.1 waits 0.1 s")
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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's full-queue rule")
def test_5_1_catches_a_short_wait_even_when_the_connect_comes_late(capsys):
    """On a busy machine the candidate may reach its connect long after the check set the
    slow peer up; the peer's clock starts at the connect, so the mistake is still caught."""
    calls = 0

    def late_short_wait(address):
        nonlocal calls
        calls += 1
        if calls == 3:  # the third case is the connect that stays in progress
            time.sleep(1.2)  # longer than the peer's 0.9 s: it used to be closed by now
        return connect_with_a_short_wait(address)

    assert not check_5_1(late_short_wait).passed
    status, out = verdict_of(capsys)
    assert status == "failed", out
    assert "still going" in hint_of(out), out
