"""The chapter 04 checks pass a right answer and fail typical wrong ones, with a useful verdict."""

from __future__ import annotations

import socket

import pytest
from exercise_checks import hint_of, verdict_of

from eventloop.checks.ch04 import check_4_1, check_4_2, check_4_3, check_4_4
from eventloop.handlers import EventHandler, StopLoop
from eventloop.udp import MAX_DATAGRAM, UDPEchoServer, UDPServer


def server_replying(transform, size=MAX_DATAGRAM):
    """A UDPServer subclass whose handle_receive replies transform(data)."""

    class Server(UDPServer):
        def handle_receive(self) -> None:
            try:
                data, sender = self.sock.recvfrom(size)
            except BlockingIOError:
                return
            self.sock.sendto(transform(data), sender)

    return Server


class Stub(UDPServer):
    def handle_receive(self) -> None:
        raise NotImplementedError("Exercise 4.x: the stub")


# --- 4.1 UDPUpperServer ---------------------------------------------------------------------------


def test_4_1_passes_a_right_answer(capsys):
    assert check_4_1(server_replying(bytes.upper)).passed
    assert verdict_of(capsys)[0] == "passed"


def test_4_1_not_attempted(capsys):
    assert not check_4_1(Stub).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


@pytest.mark.parametrize(
    "wrong, clue",
    [
        (server_replying(bytes.upper, size=1), "recvfrom(1)"),
        (server_replying(lambda data: data), "upper()"),
        (UDPServer, "reply to every datagram"),
        (object, "not an EventHandler"),
    ],
    ids=["recvfrom(1)", "echoes", "never replies", "not a handler"],
)
def test_4_1_fails_wrong_answers(capsys, wrong, clue):
    assert not check_4_1(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and clue in out


def test_4_1_reports_an_error_in_the_handler(capsys):
    assert not check_4_1(server_replying(lambda data: data.upper() + 1)).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "TypeError" in out


# --- 4.2 CountingEchoServer -----------------------------------------------------------------------


def counting_server(stop_before_reply=False, stop_at=None):
    class CountingEchoServer(UDPEchoServer):
        def __init__(self, limit, host="127.0.0.1", port=0):
            super().__init__(host, port)
            self.limit = limit if stop_at is None else stop_at

        def handle_receive(self) -> None:
            if stop_before_reply and self.requests + 1 >= self.limit:
                raise StopLoop
            super().handle_receive()
            if self.requests >= self.limit:
                raise StopLoop

    return CountingEchoServer


def test_4_2_passes_a_right_answer(capsys):
    assert check_4_2(counting_server()).passed
    assert verdict_of(capsys)[0] == "passed"


def test_4_2_not_attempted(capsys):
    class NotYet(UDPEchoServer):
        def __init__(self, limit, host="127.0.0.1", port=0):
            super().__init__(host, port)

        def handle_receive(self) -> None:
            raise NotImplementedError("Exercise 4.2")

    assert not check_4_2(NotYet).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


def test_4_2_fails_a_server_that_never_stops(capsys):
    class Endless(UDPEchoServer):
        def __init__(self, limit, host="127.0.0.1", port=0):
            super().__init__(host, port)

    assert not check_4_2(Endless).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "never stopped" in out


@pytest.mark.parametrize(
    "wrong",
    [counting_server(stop_before_reply=True), counting_server(stop_at=4)],
    ids=["stops before the last reply", "off by one"],
)
def test_4_2_fails_a_server_that_stops_at_the_wrong_time(capsys, wrong):
    assert not check_4_2(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "before the loop stopped" in out


# --- 4.3 WordCountServer (pitfall 14) -------------------------------------------------------------


def count_words(data: bytes) -> bytes:
    return str(len(data.split())).encode()


def test_4_3_passes_a_right_answer(capsys):
    assert check_4_3(server_replying(count_words)).passed
    assert verdict_of(capsys)[0] == "passed"


def test_4_3_fails_the_post_recvfrom_1(capsys):
    assert not check_4_3(server_replying(count_words, size=1)).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "b'hello big world'" in out


def test_4_3_fails_the_post_8192_byte_buffer(capsys):
    assert not check_4_3(server_replying(count_words, size=8192)).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "65507" in out


def test_4_3_not_attempted(capsys):
    assert not check_4_3(Stub).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


# --- every wrong answer, with a word its hint must contain --------------------------------------


class UpperUnguarded(UDPServer):
    def handle_receive(self) -> None:
        data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        self.reply(data.upper(), sender)


class UpperGuarded(UDPServer):
    def handle_receive(self) -> None:
        try:
            data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        except BlockingIOError:
            return
        self.reply(data.upper(), sender)


class UpperFirstWordOnly(UDPServer):
    def handle_receive(self) -> None:
        try:
            data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        except BlockingIOError:
            return
        self.reply(data.split()[0].upper(), sender)


class CountingWithAssignment(UDPEchoServer):
    def __init__(self, limit, host="127.0.0.1", port=0):
        super().__init__(host, port)
        self.limit, self.count = limit, 0

    def handle_receive(self) -> None:
        super().handle_receive()
        self.count = 1  # = instead of +=
        if self.count >= self.limit:
            raise StopLoop


class CountingReturnsInsteadOfRaising(UDPEchoServer):
    def __init__(self, limit, host="127.0.0.1", port=0):
        super().__init__(host, port)
        self.limit = limit

    def handle_receive(self) -> None:
        super().handle_receive()
        if self.requests >= self.limit:
            return StopLoop  # returned, not raised


def words_split_on_space(data: bytes) -> bytes:
    return str(len(data.split(b" "))).encode()


class WordCountUnguarded(UDPServer):
    def handle_receive(self) -> None:
        data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        self.reply(count_words(data), sender)


class WordCountGuarded(UDPServer):
    def handle_receive(self) -> None:
        try:
            data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        except BlockingIOError:
            return
        self.reply(count_words(data), sender)


RIGHT = [
    pytest.param(check_4_1, UpperGuarded, id="4.1 guarded, self.reply"),
    pytest.param(check_4_3, WordCountGuarded, id="4.3 guarded"),
    # the exercise texts of 4.1 and 4.3 ask for no BlockingIOError guard (4.4's does):
    # without one, an answer is still right
    pytest.param(check_4_1, UpperUnguarded, id="4.1 unguarded"),
    pytest.param(check_4_3, WordCountUnguarded, id="4.3 unguarded"),
]

WRONG = [
    pytest.param(check_4_1, server_replying(bytes.upper, size=1), "recvfrom(1)", id="4.1 recv 1"),
    pytest.param(check_4_1, server_replying(lambda data: data), "upper", id="4.1 echoes"),
    pytest.param(check_4_1, UDPServer, "handle_receive", id="4.1 never replies"),
    pytest.param(check_4_1, object, "UDPServer", id="4.1 not a handler"),
    pytest.param(check_4_1, UpperFirstWordOnly, "split()", id="4.1 first word only"),
    pytest.param(
        check_4_2,
        counting_server(stop_before_reply=True),
        "echo first",
        id="4.2 stops before the reply",
    ),  # fmt: skip
    pytest.param(check_4_2, counting_server(stop_at=4), "as soon as", id="4.2 off by one"),
    pytest.param(check_4_2, CountingWithAssignment, "+=", id="4.2 = instead of +="),
    pytest.param(
        check_4_2, CountingReturnsInsteadOfRaising, "raise StopLoop", id="4.2 returns StopLoop"
    ),  # fmt: skip
    pytest.param(check_4_2, counting_server(stop_at=10**9), "raise StopLoop", id="4.2 never stops"),
    pytest.param(
        check_4_3, server_replying(count_words, size=1), "whole datagram", id="4.3 recvfrom(1)"
    ),  # fmt: skip
    pytest.param(check_4_3, server_replying(count_words, size=8192), "65507", id="4.3 8192"),
    pytest.param(
        check_4_3, server_replying(words_split_on_space), "split(b' ')", id="4.3 split(b' ')"
    ),  # fmt: skip
    pytest.param(
        check_4_3, server_replying(lambda d: str(len(d)).encode()), "split", id="4.3 counts bytes"
    ),  # fmt: skip
]


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


# --- 4.4 UDPAsker: a whole EventHandler from scratch ------------------------------------------


class Asker(EventHandler):
    """The model answer: one question per handle_send, close after the last reply."""

    blocking = False

    def __init__(self, server, questions):
        self.server, self.to_send = server, list(questions)
        self.expected, self.replies = len(self.to_send), []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(self.blocking)

    def fileno(self):
        return self.sock.fileno()

    def wants_to_send(self):
        return bool(self.to_send)

    def handle_send(self):
        self.sock.sendto(self.to_send.pop(0), self.server)

    def wants_to_receive(self):
        return len(self.replies) < self.expected

    def handle_receive(self):
        try:
            self.replies.append(self.sock.recv(MAX_DATAGRAM))
        except BlockingIOError:
            return
        if len(self.replies) == self.expected:
            self.sock.close()


class AskerOneAtATime(Asker):
    """Right, written differently: a connected socket, one question in flight at a time."""

    def __init__(self, server, questions):
        super().__init__(server, questions)
        self.sock.connect(server)

    def wants_to_send(self):
        return bool(self.to_send) and len(self.replies) == self.expected - len(self.to_send)

    def handle_send(self):
        self.sock.send(self.to_send.pop(0))

    def wants_to_receive(self):
        return len(self.replies) < self.expected - len(self.to_send)


class AskerAllAtOnce(Asker):
    """Right, written differently: every question in one handle_send call."""

    def handle_send(self):
        while self.to_send:
            self.sock.sendto(self.to_send.pop(0), self.server)


class AskerAlwaysWantsToSend(Asker):
    def wants_to_send(self):
        return True  # the socket is always writable: a busy loop

    def handle_send(self):
        if self.to_send:
            super().handle_send()


class AskerResendsForever(Asker):
    def handle_send(self):
        self.sock.sendto(self.to_send[0], self.server)  # never taken off the list


class AskerNeverReceives(Asker):
    def wants_to_receive(self):
        return False


class AskerNeverCloses(Asker):
    def handle_receive(self):
        try:
            self.replies.append(self.sock.recv(MAX_DATAGRAM))
        except BlockingIOError:
            return


class AskerUnguarded(Asker):
    def handle_receive(self):
        self.replies.append(self.sock.recv(MAX_DATAGRAM))
        if len(self.replies) == self.expected:
            self.sock.close()


class AskerBlocking(Asker):
    blocking = True


class AskerNeverStarts(Asker):
    def wants_to_send(self):
        return False


class AskerNotAHandler:
    def __init__(self, server, questions):
        pass


class AskerStub(EventHandler):
    def __init__(self, server, questions):
        raise NotImplementedError("Exercise 4.4: the stub")

    def fileno(self):
        raise NotImplementedError("Exercise 4.4: the stub")


@pytest.mark.parametrize("right", [Asker, AskerOneAtATime, AskerAllAtOnce])
def test_4_4_passes_right_answers_written_differently(capsys, right):
    assert check_4_4(right).passed, capsys.readouterr().out
    assert verdict_of(capsys)[0] == "passed"


def test_4_4_not_attempted(capsys):
    assert not check_4_4(AskerStub).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


@pytest.mark.parametrize(
    ("wrong", "clue"),
    [
        pytest.param(AskerAlwaysWantsToSend, "busy loop", id="wants_to_send always True"),
        pytest.param(AskerResendsForever, "take it off the list", id="question never removed"),
        pytest.param(AskerNeverReceives, "wants_to_receive", id="never wants to receive"),
        pytest.param(AskerNeverCloses, "close the socket", id="never closes"),
        pytest.param(AskerUnguarded, "BlockingIOError", id="no EAGAIN guard"),
        pytest.param(AskerBlocking, "setblocking(False)", id="blocking socket"),
        pytest.param(AskerNeverStarts, "wants_to_send", id="never wants to send"),
        pytest.param(AskerNotAHandler, "EventHandler", id="not a handler"),
    ],
)
def test_4_4_fails_wrong_answers_naming_the_mistake(capsys, wrong, clue):
    assert not check_4_4(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed", out
    assert clue in hint_of(out), out
