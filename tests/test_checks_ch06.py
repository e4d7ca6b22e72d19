"""The chapter 06 checks pass a right answer and fail typical wrong ones, with a useful verdict."""

from __future__ import annotations

import struct

import pytest
from exercise_checks import hint_of, stub, verdict_of

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


# --- every further wrong answer, with a word its hint must contain --------------------------------


def first_line_only(buffer):
    end = buffer.find(b"\n")
    if end < 0:
        return []
    line = bytes(buffer[:end])
    del buffer[: end + 1]
    return [line]


def keeps_the_newline(buffer):
    lines = []
    while (end := buffer.find(b"\n")) >= 0:
        lines.append(bytes(buffer[: end + 1]))
        del buffer[: end + 1]
    return lines


def rebinds_the_buffer(buffer):
    *lines, rest = bytes(buffer).split(b"\n")
    buffer = bytearray(rest)  # a new local name: the caller's buffer is unchanged
    return lines


def split_lines_with_partition(buffer):
    lines = []
    while b"\n" in buffer:
        line, _, rest = bytes(buffer).partition(b"\n")
        lines.append(line)
        buffer[:] = rest
    return lines


def parse_one_message(buffer):
    if len(buffer) < 4:
        return []
    (size,) = struct.unpack("!I", buffer[:4])
    if len(buffer) < 4 + size:
        return []
    message = bytes(buffer[4 : 4 + size])
    del buffer[: 4 + size]
    return [message]


def parse_keeping_the_prefix(buffer):
    messages = []
    while len(buffer) >= 4:
        (size,) = struct.unpack("!I", buffer[:4])
        if len(buffer) < 4 + size:
            break
        messages.append(bytes(buffer[: 4 + size]))
        del buffer[: 4 + size]
    return messages


def parse_native_order(buffer):
    return parse_messages(buffer, "=I")


def parse_with_int_from_bytes(buffer):
    messages = []
    while len(buffer) >= 4 and len(buffer) >= 4 + (size := int.from_bytes(buffer[:4], "big")):
        messages.append(bytes(buffer[4 : 4 + size]))
        del buffer[: 4 + size]
    return messages


class AssignsTheBuffer(TCPConnection):
    def __init__(self, sock, handlers):
        super().__init__(sock, handlers)
        self.buffer = bytearray()

    def data_received(self, data):
        self.buffer = bytearray(data)  # = instead of +=
        for line in split_lines(self.buffer):
            self.send(line.upper() + b"!\n")


class ShouterWithoutBang(Shouter):
    def data_received(self, data):
        self.buffer += data
        for line in split_lines(self.buffer):
            self.send(line.upper() + b"\n")


class ShouterWithoutNewline(Shouter):
    def data_received(self, data):
        self.buffer += data
        for line in split_lines(self.buffer):
            self.send(line.upper() + b"!")


class ShouterDecoding(Shouter):
    def data_received(self, data):
        self.buffer += data
        for line in split_lines(self.buffer):
            self.send(line.decode().upper().encode() + b"!\n")


RIGHT = [
    pytest.param(check_6_1, split_lines_with_partition, id="6.1 partition"),
    pytest.param(check_6_2, parse_with_int_from_bytes, id="6.2 int.from_bytes"),
    pytest.param(check_6_3, ShouterDecoding, id="6.3 through str"),
]

WRONG = [
    pytest.param(check_6_1, keeps_nothing, "must stay in the buffer", id="6.1 keeps nothing"),
    pytest.param(check_6_1, leaves_buffer_alone, "remove what you returned", id="6.1 no del"),
    pytest.param(check_6_1, rest_as_a_line, "only complete frames", id="6.1 rest as a line"),
    pytest.param(check_6_1, first_line_only, "while", id="6.1 if instead of while"),
    pytest.param(check_6_1, keeps_the_newline, "without its", id="6.1 keeps the newline"),
    pytest.param(check_6_1, rebinds_the_buffer, "remove what you returned", id="6.1 rebinds"),
    pytest.param(check_6_2, lambda b: parse_messages(b, "<I"), "big-endian", id="6.2 <I"),
    pytest.param(check_6_2, parse_native_order, "big-endian", id="6.2 native order"),
    pytest.param(check_6_2, no_partial_header_check, "at least 4 bytes", id="6.2 no header check"),
    pytest.param(check_6_2, parse_one_message, "while", id="6.2 if instead of while"),
    pytest.param(check_6_2, parse_keeping_the_prefix, "length prefix", id="6.2 keeps the prefix"),
    pytest.param(check_6_3, OneRecvOneLine, "split at every", id="6.3 one recv, one line"),
    pytest.param(check_6_3, FirstLineOnly, "split at every", id="6.3 first line only"),
    pytest.param(check_6_3, AssignsTheBuffer, "append each chunk", id="6.3 = instead of +="),
    pytest.param(check_6_3, ShouterWithoutBang, "upper case plus", id="6.3 no !"),
    pytest.param(check_6_3, ShouterWithoutNewline, "upper case plus", id="6.3 no newline"),
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
