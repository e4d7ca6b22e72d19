"""The chapter 06 checks pass a right answer and fail typical wrong ones, with a useful verdict."""

from __future__ import annotations

import struct

import pytest
from exercise_checks import stub, verdict_of

from eventloop.checks.ch06 import check_6_1, check_6_2, check_6_3
from eventloop.tcp import TCPConnection

# --- 6.1 split_lines ---


def split_lines(buffer):
    lines = []
    while (end := buffer.find(b"\n")) >= 0:
        lines.append(bytes(buffer[:end]))
        del buffer[: end + 1]
    return lines


def keeps_nothing(buffer):
    *lines, _rest = bytes(buffer).split(b"\n")
    buffer.clear()
    return lines


def leaves_buffer_alone(buffer):
    return bytes(buffer).split(b"\n")[:-1]


def rest_as_a_line(buffer):
    lines = [line for line in bytes(buffer).split(b"\n") if line]
    buffer.clear()
    return lines


def test_6_1_passes_a_right_answer(capsys):
    assert check_6_1(split_lines).passed
    assert verdict_of(capsys)[0] == "passed"


def test_6_1_not_attempted(capsys):
    assert not check_6_1(stub).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (keeps_nothing, "must stay in the buffer"),
        (leaves_buffer_alone, "remove what you returned"),
        (rest_as_a_line, "returned the wrong frames"),
    ],
)
def test_6_1_fails_typical_mistakes(capsys, wrong, says):
    assert not check_6_1(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and says in out, out


# --- 6.2 parse_messages ---


def parse_messages(buffer, order="!I"):
    messages = []
    while len(buffer) >= 4:
        (size,) = struct.unpack(order, buffer[:4])
        if len(buffer) < 4 + size:
            break
        messages.append(bytes(buffer[4 : 4 + size]))
        del buffer[: 4 + size]
    return messages


def no_partial_header_check(buffer):
    messages = []
    while buffer:
        (size,) = struct.unpack("!I", buffer[:4])
        if len(buffer) < 4 + size:
            break
        messages.append(bytes(buffer[4 : 4 + size]))
        del buffer[: 4 + size]
    return messages


def test_6_2_passes_a_right_answer(capsys):
    assert check_6_2(parse_messages).passed
    assert verdict_of(capsys)[0] == "passed"


def test_6_2_not_attempted(capsys):
    assert not check_6_2(stub).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (lambda b: parse_messages(b, "<I"), "wrong"),
        (no_partial_header_check, "at least 4 bytes"),
    ],
)
def test_6_2_fails_typical_mistakes(capsys, wrong, says):
    assert not check_6_2(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and says in out, out


# --- 6.3 Shouter ---


class Shouter(TCPConnection):
    def __init__(self, sock, handlers):
        super().__init__(sock, handlers)
        self.buffer = bytearray()

    def data_received(self, data):
        self.buffer += data
        for line in split_lines(self.buffer):
            self.send(line.upper() + b"!\n")


class OneRecvOneLine(TCPConnection):
    def data_received(self, data):
        self.send(data.strip().upper() + b"!\n")


class FirstLineOnly(TCPConnection):
    def __init__(self, sock, handlers):
        super().__init__(sock, handlers)
        self.buffer = bytearray()

    def data_received(self, data):
        self.buffer += data
        end = self.buffer.find(b"\n")
        if end >= 0:
            self.send(bytes(self.buffer[:end]).upper() + b"!\n")
            del self.buffer[: end + 1]


class StubShouter(TCPConnection):
    def data_received(self, data):
        raise NotImplementedError("Exercise 6.3: the stub")


def test_6_3_passes_a_right_answer(capsys):
    assert check_6_3(Shouter).passed
    assert verdict_of(capsys)[0] == "passed"


def test_6_3_not_attempted(capsys):
    assert not check_6_3(StubShouter).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (OneRecvOneLine, "did not get two replies"),
        (FirstLineOnly, "did not get two replies"),
        (int, "is not a TCPConnection"),
    ],
)
def test_6_3_fails_typical_mistakes(capsys, wrong, says):
    assert not check_6_3(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and says in out, out


def test_6_3_catches_a_line_cut_across_recvs(capsys, monkeypatch):
    """A server that buffers only when a chunk has no newline at all still fails the cut case."""

    class HalfBuffered(TCPConnection):
        def data_received(self, data):
            for line in data.split(b"\n")[:-1]:
                self.send(line.upper() + b"!\n")

    assert not check_6_3(HalfBuffered).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "cut across recv results" in out, out
