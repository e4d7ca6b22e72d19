"""Wrong and right answers to the exercises whose answer is a function of plain values.

5.4 ``should_read``, 6.1 ``split_lines``, 6.2 ``parse_messages`` and 7.1
``next_timeout`` are judged differentially: the learner's function in a
candidate, the worked answer in the judge, on the same generated cases, the
argument's state after the call compared too (``eventloop.checks.differential``).
The wrong answers here are of the kinds learners write (state kept between
calls, ``strip()``, decoding, an off-by-one at the delimiter, sizes fitted to
the example, consuming the whole buffer); the right ones are written
differently from the worked answer. Each runs with three seeds. And each
reference is the solution notebook's answer: they agree on the generated cases.
"""

from __future__ import annotations

import ast
import heapq
import socket
import struct
import sys
import time
from pathlib import Path

import nbformat
import pytest
from exercise_checks import hint_of, verdict_of

from eventloop.checks import ch06_shouter
from eventloop.checks.ch05_watermarks import (
    check_5_4,
    reference_should_read,
    watermark_rounds,
)
from eventloop.checks.ch06 import (
    check_6_1,
    check_6_2,
    check_6_3,
    parse_messages_rounds,
    reference_parse_messages,
    reference_split_lines,
    split_lines_rounds,
)
from eventloop.checks.ch07 import check_7_1, next_timeout_rounds, reference_next_timeout
from eventloop.checks.differential import apply, shorter_bytes
from eventloop.tcp import TCPConnection

SEEDS = [11, 22, 33]
SOLUTIONS = Path(__file__).parent.parent / "solutions"


def solution_of(notebook: str, exercise: str, name: str) -> object:
    """The function the solutions notebook's exercise cell defines."""
    cells = nbformat.read(SOLUTIONS / notebook, as_version=4).cells
    (source,) = [c.source for c in cells if c.source.startswith(f"# Exercise {exercise}:")]
    namespace: dict[str, object] = {"struct": struct}
    exec(compile(source, f"<{notebook} {exercise}>", "exec"), namespace)
    return namespace[name]


# --- 5.4 should_read -----------------------------------------------------------------------------


def should_read_with_the_examples_numbers(reading, queued, high, low):
    """Fitted to the example: 64 KiB and 16 KiB."""
    return queued <= (64 * 1024 if reading else 16 * 1024)


paused = {"now": False}


def should_read_keeping_its_own_state(reading, queued, high, low):
    """State kept between calls instead of the reading it is given."""
    if queued > high:
        paused["now"] = True
    elif queued <= low:
        paused["now"] = False
    ShouterWithAClassBuffer.buffer.clear()
    return not paused["now"]


def should_read_resuming_below_low(reading, queued, high, low):
    return queued <= high if reading else queued < low


def should_read_with_one_threshold_at_low(reading, queued, high, low):
    return queued <= low


def should_read_at_the_midpoint(reading, queued, high, low):
    return queued <= (high + low) // 2


def should_read_flipping(reading, queued, high, low):
    """Flips whenever a watermark is crossed, whatever state it is in."""
    if queued > high or queued <= low:
        return not reading
    return reading


def should_read_states_swapped(reading, queued, high, low):
    if not reading:
        return queued <= high
    return queued <= low


def should_read_forgetting_in_between(reading, queued, high, low):
    if queued > high:
        return False
    if queued <= low:
        return True
    return False


def should_read_with_early_returns(reading, queued, high, low):
    """Right: only the two changes, else keep on."""
    if reading and queued > high:
        return False
    if not reading and queued <= low:
        return True
    return reading


def should_read_by_index(reading, queued, high, low):
    """Right: the threshold picked by the state."""
    return queued <= (low, high)[reading]


# --- 6.1 split_lines -----------------------------------------------------------------------------


def split_lines_stripped(buffer):
    lines = []
    while (end := buffer.find(b"\n")) >= 0:
        lines.append(bytes(buffer[:end]).strip())
        del buffer[: end + 1]
    return lines


def split_lines_as_text(buffer):
    *lines, rest = buffer.decode().split("\n")
    buffer[:] = rest.encode()
    return [line.encode() for line in lines]


def split_lines_with_splitlines(buffer):
    end = buffer.rfind(b"\n")
    if end < 0:
        return []
    lines = bytes(buffer[: end + 1]).splitlines()
    del buffer[: end + 1]
    return lines


def split_lines_for_windows_too(buffer):
    lines = []
    while (end := buffer.find(b"\n")) >= 0:
        lines.append(bytes(buffer[:end]).rstrip(b"\r"))
        del buffer[: end + 1]
    return lines


pending = bytearray()


def split_lines_into_a_module_buffer(buffer):
    """State kept between calls: the bytes move into a buffer of its own."""
    pending.extend(buffer)
    buffer.clear()
    lines = []
    while (end := pending.find(b"\n")) >= 0:
        lines.append(bytes(pending[:end]))
        del pending[: end + 1]
    return lines


def split_lines_one_byte_too_far(buffer):
    lines = []
    while (end := buffer.find(b"\n")) >= 0:
        lines.append(bytes(buffer[:end]))
        del buffer[: end + 2]
    return lines


def split_lines_two_at_most(buffer):
    """Fitted to the example: it had two complete lines."""
    lines = []
    for _ in range(2):
        end = buffer.find(b"\n")
        if end < 0:
            break
        lines.append(bytes(buffer[:end]))
        del buffer[: end + 1]
    return lines


def split_lines_thirty_at_most(buffer):
    """Fitted to a cap: at most 30 lines per call, the rest left for a call that may not come."""
    lines = []
    while len(lines) < 30 and (end := buffer.find(b"\n")) >= 0:
        lines.append(bytes(buffer[:end]))
        del buffer[: end + 1]
    return lines


def split_lines_skipping_blank_lines(buffer):
    *lines, rest = bytes(buffer).split(b"\n")
    buffer[:] = rest
    return [line for line in lines if line]


def split_lines_with_a_default_list(buffer, lines=[]):  # noqa: B006 - the mistake itself
    while (end := buffer.find(b"\n")) >= 0:
        lines.append(bytes(buffer[:end]))
        del buffer[: end + 1]
    return lines


def split_lines_consuming_everything(buffer):
    *lines, _rest = bytes(buffer).split(b"\n")
    del buffer[:]
    return lines


def split_lines_with_split(buffer):
    """Right: split once, put the incomplete rest back."""
    *lines, rest = bytes(buffer).split(b"\n")
    buffer[:] = rest
    return lines


def split_lines_with_index(buffer):
    """Right: index and ValueError, and bytearray frames."""
    lines = []
    while True:
        try:
            end = buffer.index(b"\n")
        except ValueError:
            return lines
        lines.append(buffer[:end])
        buffer[: end + 1] = b""


def split_lines_from_the_last_newline(buffer):
    """Right: one cut at the last newline."""
    end = buffer.rfind(b"\n")
    if end < 0:
        return []
    lines = bytes(buffer[:end]).split(b"\n")
    del buffer[: end + 1]
    return lines


# --- 6.2 parse_messages --------------------------------------------------------------------------


def parse_little_endian(buffer):
    messages = []
    while len(buffer) >= 4:
        size = int.from_bytes(buffer[:4], "little")
        if len(buffer) < 4 + size:
            break
        messages.append(bytes(buffer[4 : 4 + size]))
        del buffer[: 4 + size]
    return messages


def parse_signed(buffer):
    messages = []
    while len(buffer) >= 4:
        (size,) = struct.unpack("!i", buffer[:4])
        if len(buffer) < 4 + size:
            break
        messages.append(bytes(buffer[4 : 4 + size]))
        del buffer[: 4 + size]
        if size < 0:
            break
    return messages


def parse_stripped(buffer):
    messages = []
    while len(buffer) >= 4:
        (size,) = struct.unpack("!I", buffer[:4])
        if len(buffer) < 4 + size:
            break
        messages.append(bytes(buffer[4 : 4 + size]).strip())
        del buffer[: 4 + size]
    return messages


def parse_as_text(buffer):
    messages = []
    while len(buffer) >= 4:
        (size,) = struct.unpack("!I", buffer[:4])
        if len(buffer) < 4 + size:
            break
        messages.append(buffer[4 : 4 + size].decode().encode())
        del buffer[: 4 + size]
    return messages


def parse_needing_one_more_byte(buffer):
    """Off by one: a message that fills the buffer exactly waits for a byte more."""
    messages = []
    while len(buffer) > 4:
        (size,) = struct.unpack("!I", buffer[:4])
        if len(buffer) <= 4 + size:
            break
        messages.append(bytes(buffer[4 : 4 + size]))
        del buffer[: 4 + size]
    return messages


def parse_low_two_bytes(buffer):
    """Fitted to small examples: only the low 16 bits of the length."""
    messages = []
    while len(buffer) >= 4:
        (size,) = struct.unpack("!H", buffer[2:4])
        if len(buffer) < 4 + size:
            break
        messages.append(bytes(buffer[4 : 4 + size]))
        del buffer[: 4 + size]
    return messages


def parse_consuming_everything(buffer):
    messages = []
    while len(buffer) >= 4:
        (size,) = struct.unpack("!I", buffer[:4])
        if len(buffer) < 4 + size:
            break
        messages.append(bytes(buffer[4 : 4 + size]))
        del buffer[: 4 + size]
    buffer.clear()
    return messages


seen = []


def parse_remembering(buffer):
    """State kept between calls: messages collected in a module list."""
    while len(buffer) >= 4:
        (size,) = struct.unpack("!I", buffer[:4])
        if len(buffer) < 4 + size:
            break
        seen.append(bytes(buffer[4 : 4 + size]))
        del buffer[: 4 + size]
    return seen


def parse_with_offsets(buffer):
    """Right: walk with an offset and unpack_from, cut once at the end."""
    messages, offset = [], 0
    while len(buffer) - offset >= 4:
        (size,) = struct.unpack_from(">I", buffer, offset)
        if len(buffer) - offset - 4 < size:
            break
        messages.append(bytes(buffer[offset + 4 : offset + 4 + size]))
        offset += 4 + size
    del buffer[:offset]
    return messages


def parse_with_int_from_bytes(buffer):
    """Right: int.from_bytes big-endian, and bytearray messages."""
    messages = []
    while len(buffer) >= 4:
        size = int.from_bytes(bytes(buffer[:4]), "big")
        if len(buffer) - 4 >= size:
            messages.append(buffer[4 : 4 + size])
            buffer[: 4 + size] = b""
        else:
            return messages
    return messages


# --- 7.1 next_timeout ----------------------------------------------------------------------------


def timeout_sorting_in_place(deadlines, now):
    if not deadlines:
        return None
    deadlines.sort()
    return max(0.0, deadlines[0] - now)


def timeout_popping_the_heap(deadlines, now):
    if not deadlines:
        return None
    heapq.heapify(deadlines)
    return max(0.0, deadlines[0] - now)


def timeout_from_the_clock(deadlines, now):
    """Reads a clock of its own instead of the now it is given."""
    if not deadlines:
        return None
    return max(0.0, min(deadlines) - time.monotonic())


def timeout_of_the_latest(deadlines, now):
    return max(0.0, max(deadlines) - now) if deadlines else None


def timeout_as_abs(deadlines, now):
    return abs(min(deadlines) - now) if deadlines else None


def timeout_in_whole_seconds(deadlines, now):
    return int(max(0.0, min(deadlines) - now)) if deadlines else None


last_now = []


def timeout_remembering_the_first_now(deadlines, now):
    """State kept between calls: the first now it saw."""
    if not last_now:
        last_now.append(now)
    return max(0.0, min(deadlines) - last_now[0]) if deadlines else None


def timeout_of_the_last_in_the_list(deadlines, now):
    """Assumes the list is sorted, latest first."""
    return max(0.0, deadlines[-1] - now) if deadlines else None


def timeout_with_a_loop(deadlines, now):
    """Right: one pass, no min()."""
    earliest = None
    for deadline in deadlines:
        if earliest is None or deadline < earliest:
            earliest = deadline
    if earliest is None:
        return None
    return earliest - now if earliest > now else 0


def timeout_with_nsmallest(deadlines, now):
    """Right: heapq.nsmallest on the list, which it leaves alone."""
    if len(deadlines) == 0:
        return None
    (earliest,) = heapq.nsmallest(1, deadlines)
    return float(max(earliest - now, 0))


# --- 6.3 Shouter ---------------------------------------------------------------------------------


class ShouterWithAClassBuffer(TCPConnection):
    """State kept between connections: one buffer on the class, shared by all."""

    buffer = bytearray()

    def data_received(self, data):
        self.buffer += data
        while (end := self.buffer.find(b"\n")) >= 0:
            self.send(bytes(self.buffer[:end]).upper() + b"!\n")
            del self.buffer[: end + 1]


class BufferedShouter(TCPConnection):
    def __init__(self, sock, handlers):
        super().__init__(sock, handlers)
        self.buffer = bytearray()


class ShouterStripping(BufferedShouter):
    def data_received(self, data):
        self.buffer += data
        while (end := self.buffer.find(b"\n")) >= 0:
            self.send(bytes(self.buffer[:end]).strip().upper() + b"!\n")
            del self.buffer[: end + 1]


class ShouterDroppingTheRest(BufferedShouter):
    """Consumes the whole buffer: the incomplete rest of a line is lost."""

    def data_received(self, data):
        self.buffer += data
        for line in bytes(self.buffer).split(b"\n")[:-1]:
            self.send(line.upper() + b"!\n")
        self.buffer.clear()


class ShouterOffByOne(BufferedShouter):
    """Leaves the newline in the buffer: it starts the next line."""

    def data_received(self, data):
        self.buffer += data
        start = 0
        while (end := self.buffer.find(b"\n", start)) >= 0:
            self.send(bytes(self.buffer[start:end]).upper() + b"!\n")
            start = end
            if start >= len(self.buffer) - 1:
                break
            start += 1
        del self.buffer[:start]


class ShouterOfTheLastLine(BufferedShouter):
    """Replies only to the last complete line in the buffer."""

    def data_received(self, data):
        self.buffer += data
        *lines, rest = bytes(self.buffer).split(b"\n")
        if lines:
            self.send(lines[-1].upper() + b"!\n")
        self.buffer[:] = rest


class ShouterWithoutCarriageReturns(BufferedShouter):
    def data_received(self, data):
        self.buffer += data
        while (end := self.buffer.find(b"\n")) >= 0:
            self.send(bytes(self.buffer[:end]).rstrip(b"\r").upper() + b"!\n")
            del self.buffer[: end + 1]


class ShouterWithPartition(TCPConnection):
    """Right: bytes and partition."""

    def __init__(self, sock, handlers):
        super().__init__(sock, handlers)
        self.pending = b""

    def data_received(self, data):
        self.pending += data
        while b"\n" in self.pending:
            line, _, self.pending = self.pending.partition(b"\n")
            self.send(line.upper() + b"!\n")


class ShouterCollectingReplies(TCPConnection):
    """Right: one send for all the replies to a chunk, split once."""

    def __init__(self, sock, handlers):
        super().__init__(sock, handlers)
        self.rest = b""

    def data_received(self, data):
        *lines, self.rest = (self.rest + data).split(b"\n")
        self.send(b"".join(line.upper() + b"!\n" for line in lines))


# --- the verdicts --------------------------------------------------------------------------------

WRONG = [
    pytest.param(check_5_4, should_read_with_the_examples_numbers, "you are given", id="5.4 64K"),
    pytest.param(check_5_4, should_read_keeping_its_own_state, "", id="5.4 own state"),
    pytest.param(check_5_4, should_read_resuming_below_low, "queued <= low", id="5.4 < low"),
    pytest.param(check_5_4, should_read_with_one_threshold_at_low, "", id="5.4 low only"),
    pytest.param(check_5_4, should_read_at_the_midpoint, "", id="5.4 midpoint"),
    pytest.param(check_5_4, should_read_flipping, "", id="5.4 flips"),
    pytest.param(check_5_4, should_read_states_swapped, "two thresholds", id="5.4 swapped"),
    pytest.param(check_5_4, should_read_forgetting_in_between, "", id="5.4 in between"),
    pytest.param(check_6_1, split_lines_stripped, "strip()", id="6.1 strip"),
    pytest.param(check_6_1, split_lines_as_text, "do not decode", id="6.1 decode"),
    pytest.param(check_6_1, split_lines_with_splitlines, "splitlines", id="6.1 splitlines"),
    pytest.param(check_6_1, split_lines_for_windows_too, "b'\\r'", id="6.1 rstrip \\r"),
    pytest.param(check_6_1, split_lines_into_a_module_buffer, "", id="6.1 module buffer"),
    pytest.param(check_6_1, split_lines_one_byte_too_far, "nothing more", id="6.1 end + 2"),
    pytest.param(check_6_1, split_lines_two_at_most, "while", id="6.1 two lines at most"),
    pytest.param(check_6_1, split_lines_thirty_at_most, "while", id="6.1 thirty lines at most"),
    pytest.param(check_6_1, split_lines_skipping_blank_lines, "empty line", id="6.1 no blanks"),
    pytest.param(check_6_1, split_lines_with_a_default_list, "between calls", id="6.1 default"),
    pytest.param(
        check_6_1, split_lines_consuming_everything, "must stay", id="6.1 consumes everything"
    ),
    pytest.param(check_6_2, parse_little_endian, "big-endian", id="6.2 little-endian"),
    pytest.param(check_6_2, parse_signed, "unsigned", id="6.2 signed"),
    pytest.param(check_6_2, parse_stripped, "strip()", id="6.2 strip"),
    pytest.param(check_6_2, parse_as_text, "do not decode", id="6.2 decode"),
    pytest.param(check_6_2, parse_needing_one_more_byte, "", id="6.2 one byte more"),
    pytest.param(check_6_2, parse_low_two_bytes, "65,535", id="6.2 low 16 bits"),
    pytest.param(check_6_2, parse_consuming_everything, "must stay", id="6.2 consumes all"),
    pytest.param(check_6_2, parse_remembering, "between calls", id="6.2 module list"),
    pytest.param(check_6_3, ShouterWithAClassBuffer, "not on the class", id="6.3 class buffer"),
    pytest.param(check_6_3, ShouterStripping, "strip()", id="6.3 strip"),
    pytest.param(check_6_3, ShouterDroppingTheRest, "keep the incomplete rest", id="6.3 clear"),
    pytest.param(check_6_3, ShouterOffByOne, "", id="6.3 off by one"),
    pytest.param(check_6_3, ShouterOfTheLastLine, "split at every", id="6.3 last line only"),
    pytest.param(check_6_3, ShouterWithoutCarriageReturns, "", id="6.3 rstrip \\r"),
    pytest.param(check_7_1, timeout_sorting_in_place, "caller's list", id="7.1 sort()"),
    pytest.param(check_7_1, timeout_popping_the_heap, "caller's list", id="7.1 heapify"),
    pytest.param(check_7_1, timeout_from_the_clock, "not time.monotonic()", id="7.1 own clock"),
    pytest.param(check_7_1, timeout_of_the_latest, "not max", id="7.1 max"),
    pytest.param(check_7_1, timeout_as_abs, "max(0.0", id="7.1 abs"),
    pytest.param(check_7_1, timeout_in_whole_seconds, "int()", id="7.1 int"),
    pytest.param(check_7_1, timeout_remembering_the_first_now, "", id="7.1 first now kept"),
    pytest.param(check_7_1, timeout_of_the_last_in_the_list, "", id="7.1 deadlines[-1]"),
]

RIGHT = [
    pytest.param(check_5_4, should_read_with_early_returns, id="5.4 early returns"),
    pytest.param(check_5_4, should_read_by_index, id="5.4 by index"),
    pytest.param(check_6_1, split_lines_with_split, id="6.1 split"),
    pytest.param(check_6_1, split_lines_with_index, id="6.1 index"),
    pytest.param(check_6_1, split_lines_from_the_last_newline, id="6.1 rfind"),
    pytest.param(check_6_2, parse_with_offsets, id="6.2 offsets"),
    pytest.param(check_6_2, parse_with_int_from_bytes, id="6.2 int.from_bytes"),
    pytest.param(check_6_3, ShouterWithPartition, id="6.3 partition"),
    pytest.param(check_6_3, ShouterCollectingReplies, id="6.3 one send"),
    pytest.param(check_7_1, timeout_with_a_loop, id="7.1 a loop"),
    pytest.param(check_7_1, timeout_with_nsmallest, id="7.1 nsmallest"),
]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("check", "wrong", "clue"), WRONG)
def test_wrong_answers_fail_naming_the_mistake(capsys, check, wrong, clue, seed):
    pending.clear()
    seen.clear()
    last_now.clear()
    paused["now"] = False
    ShouterWithAClassBuffer.buffer.clear()
    assert not check(wrong, seed=seed).passed
    status, out = verdict_of(capsys)
    assert status == "failed", out
    assert f"seed {seed}" in out and "case:" in out, out
    assert clue in hint_of(out), out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("check", "right"), RIGHT)
def test_right_answers_written_differently_pass(capsys, check, right, seed):
    assert check(right, seed=seed).passed, capsys.readouterr().out


# --- the references are the worked answers -------------------------------------------------------

REFERENCES = [
    pytest.param(
        "05-tcp-connections.ipynb", "5.4", "should_read", reference_should_read, watermark_rounds,
        id="5.4",
    ),
    pytest.param(
        "06-framing.ipynb", "6.1", "split_lines", reference_split_lines, split_lines_rounds,
        id="6.1",
    ),
    pytest.param(
        "06-framing.ipynb", "6.2", "parse_messages", reference_parse_messages,
        parse_messages_rounds, id="6.2",
    ),
    pytest.param(
        "07-timers.ipynb", "7.1", "next_timeout", reference_next_timeout, next_timeout_rounds,
        id="7.1",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("notebook", "exercise", "name", "reference", "rounds"), REFERENCES)
def test_the_reference_is_the_solution_notebooks_answer(
    notebook, exercise, name, reference, rounds
):
    solution = solution_of(notebook, exercise, name)
    for seed in SEEDS:
        cases = [case for round_ in rounds(seed) for case in round_]
        assert len(cases) > 50
        for case in cases:
            args = case if isinstance(case, tuple) else (case,)
            assert apply(solution, *args) == apply(reference, *args), (seed, case)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_solution_notebooks_shouter_passes_6_3(capsys, seed):
    """6.3's reference is ``reference_shout`` (what a client must receive); the notebook's
    class, run by the check on the same generated connections, agrees with it."""
    cells = nbformat.read(SOLUTIONS / "06-framing.ipynb", as_version=4).cells
    (source,) = [c.source for c in cells if c.source.startswith("# Exercise 6.3:")]
    namespace: dict[str, object] = {"TCPConnection": TCPConnection}
    exec(compile(source, "<06-framing.ipynb 6.3>", "exec"), namespace)
    assert check_6_3(namespace["Shouter"], seed=seed).passed, capsys.readouterr().out


# --- the machinery -------------------------------------------------------------------------------


def test_a_seed_replays_the_same_verdict(capsys):
    """The seed printed with a ✗ gives the same case, expected and got when passed back."""
    check_6_2(parse_low_two_bytes, seed=4242)
    first = capsys.readouterr().out
    check_6_2(parse_low_two_bytes, seed=4242)
    assert capsys.readouterr().out == first and "seed 4242" in first


def test_a_failing_case_is_shrunk_keeping_its_mistake(capsys):
    """The cap shows first on a buffer of 40 to 200 lines; the ✗ shows the smallest buffer
    found that still shows it: 31 lines, nothing else."""
    assert not check_6_1(split_lines_thirty_at_most, seed=7).passed
    out = capsys.readouterr().out
    given = ast.literal_eval(out.splitlines()[0].split("bytearray(", 1)[1].split(")")[0])
    assert given.count(b"\n") == 31 and len(given) <= 40, out
    assert "while" in hint_of(out), out


def test_shorter_bytes_deletes_halves_first_then_single_bytes():
    assert shorter_bytes(b"abcd") == [b"cd", b"ab", b"bcd", b"acd", b"abd", b"abc"]
    assert shorter_bytes(b"") == []
    assert all(len(s) < 100_000 for s in shorter_bytes(bytes(100_000)))
    assert sum(map(len, shorter_bytes(bytes(100_000)))) <= 1 << 18


def test_6_3_on_a_stream_pair_where_packets_are_missing(capsys, monkeypatch):
    """Without SOCK_SEQPACKET (macOS) the pieces may arrive joined: a right answer still passes."""
    monkeypatch.setattr(ch06_shouter, "packet_pair", socket.socketpair)
    assert check_6_3(ShouterWithPartition, seed=1).passed, capsys.readouterr().out
    assert not check_6_3(ShouterWithAClassBuffer, seed=1).passed
    ShouterWithAClassBuffer.buffer.clear()


def split_lines_that_asks_for_too_much(buffer):
    return [bytes(bytearray(3 << 30))]  # more than the candidate may have


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS as Linux keeps it")
def test_a_candidate_running_a_driver_has_bounded_memory(capsys):
    """A runaway answer gets MemoryError in its own process, not the shared machine's memory."""
    assert not check_6_1(split_lines_that_asks_for_too_much, seed=1).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "MemoryError" in out.splitlines()[0], out
