"""Checks for chapter 06's exercises (framing).

* 6.1 ``split_lines(buffer) -> list[bytes]``: cut every complete line off a ``bytearray``.
* 6.2 ``parse_messages(buffer) -> list[bytes]``: the same for 4-byte length-prefixed messages.
* 6.3 ``Shouter``: a server that takes each ``recv`` result for a message, fixed
  (``eventloop.checks.ch06_shouter``, re-exported here).

6.1 and 6.2 are judged differentially (``eventloop.checks.differential``): the
learner's function runs in a candidate process on generated buffers, the worked
answer (``reference_split_lines``, ``reference_parse_messages``) runs in the
judge on the same bytes, and the check compares the frames returned **and**
what was left in the buffer. The buffers vary what the old examples fixed: empty,
one byte, a stream cut at every position (and the rest of it arriving next),
white space at either end of a line, ``\\r\\n``, binary bytes, lengths past 65,535,
many frames at once, partial length prefixes.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable

from eventloop.checks import CheckFailed, Verdict
from eventloop.checks.ch06_shouter import check_6_3 as check_6_3
from eventloop.checks.differential import (
    Case,
    Exercise,
    apply,
    compare,
    shorter_bytes,
    show_bytes,
    show_frames,
)
from eventloop.judge.candidate import LearnerRaised
from eventloop.judge.trial import Trial, judge

WHILE_HINT = "a buffer can hold several complete frames: loop (while), not if, until none is left"

GENERIC_HINT = "only complete frames; an incomplete one stays in the buffer for later"

ROUNDS = 3
"""Generated rounds per check, all in one candidate: state kept between calls shows."""


def binary(rng: random.Random, size: int, without: bytes = b"") -> bytes:
    """``size`` random bytes (not UTF-8, most of the time), none of them in ``without``."""
    data = rng.randbytes(size)
    for byte in without:
        data = data.replace(bytes([byte]), b"x")
    return data


def text(rng: random.Random) -> bytes:
    """A line's content: empty, a word, padded with white space, binary, ending in ``\\r``..."""
    kind = rng.randrange(8)
    if kind == 0:
        return b""
    if kind == 1:
        return rng.choice([b"a", b"x", b" ", b"\t", b"\r", b"\x00", b"\xff"])
    if kind == 2:
        return rng.choice([b" ", b"  ", b"\t"]) + rng.choice([b"hello", b"GET /", b"ok"]) + b" "
    if kind == 3:
        return binary(rng, rng.randint(2, 40), without=b"\n")
    if kind == 4:
        return rng.choice([b"quit", b"hi there", b"caf\xc3\xa9"]) + b"\r"  # a \r\n line ending
    return bytes(rng.choice(b"abcdefgh ") for _ in range(rng.randint(2, 30)))


def final_outcome(reference: Callable[[bytearray], object], given: bytes) -> bytes:
    """What ``reference`` leaves in a buffer holding ``given``."""
    buffer = bytearray(given)
    reference(buffer)
    return bytes(buffer)


def cut_everywhere(reference: Callable[[bytearray], object], stream: bytes) -> list[bytes]:
    """Buffers of ``stream`` cut at every position: the first part as it arrives, then what the
    reference leaves of it with the rest of the stream appended (the next ``recv``)."""
    cases = []
    for cut in range(len(stream) + 1):
        cases.append(stream[:cut])
        cases.append(final_outcome(reference, stream[:cut]) + stream[cut:])
    return cases


def as_frames(result: object) -> object:
    """A list of frames as bytes (a frame may come back as ``bytearray``); else as it is."""
    return (
        result
        if not isinstance(result, list)
        else [bytes(f) if isinstance(f, bytes) else f for f in result]
    )


def explain_split(
    name: str,
    given: bytes,
    expected: tuple,
    got: tuple,
    mistakes: list[tuple[Callable[[bytearray], object], str]],
) -> CheckFailed:
    """The ``CheckFailed`` for a buffer on which the learner's frames or leftover differ.

    ``mistakes`` pairs a function that makes a known mistake with its hint: when
    the learner's frames are exactly what that mistake gives, its hint is the one.
    """
    (frames, rest), (result, after) = expected, got
    call = f"{name}(bytearray({show_bytes(given)}))"
    if not isinstance(result, list) or not all(isinstance(f, bytes) for f in result):
        return CheckFailed(
            f"{name} should return a list of bytes",
            expected=show_frames(frames),
            got=show_frames(result),
            hint="collect the frames in a list and return it (each frame as bytes)",
        )
    if result != frames:
        hint = GENERIC_HINT
        for mistake, says in mistakes:
            try:
                made = apply(mistake, given)[0]
            except Exception:
                continue
            if made == result:
                hint = says
                break
        else:
            if result and len(result) < len(frames) and result == frames[: len(result)]:
                hint = WHILE_HINT
        return CheckFailed(
            f"{call} returned the wrong frames",
            expected=show_frames(frames),
            got=show_frames(result),
            hint=hint,
        )
    hint = "remove what you returned from the buffer, e.g. del buffer[: end + 1]"
    if after == b"" and rest:
        hint = "the incomplete frame must stay in the buffer: its rest comes with the next recv"
    elif len(after) < len(rest) and rest.endswith(after):
        hint = (
            "you removed more than the frames you returned: the next frame's first bytes are lost"
        )
    elif len(after) > len(rest) and after.endswith(rest) and after != given:
        hint = "remove each frame with its delimiter or prefix too, and nothing more"
    return CheckFailed(
        f"after {call}, the buffer holds the wrong bytes",
        expected=show_bytes(rest),
        got=show_bytes(after),
        hint=hint,
    )


# --- 6.1 -----------------------------------------------------------------------------------------


def reference_split_lines(buffer: bytearray) -> list[bytes]:
    """The worked answer to 6.1 (the same as solutions/06-framing.ipynb)."""
    lines = []
    while (end := buffer.find(b"\n")) >= 0:
        lines.append(bytes(buffer[:end]))
        del buffer[: end + 1]
    return lines


FIXED_6_1 = [
    b"hello\n",
    b"one\ntwo\nthr",
    b"no newline yet",
    b"\n\nx",
    b"",
    b"x",
    b"\n",
    b"x\n",
    b"\nx",
    b" padded \n\tand more\t",
    b"quit\r\nok\r\n\r",
    b"caf\xc3\xa9\n\xff\xfe\x00\n\x80",
]
"""Small cases first: a mistake they show is shown on its smallest example."""


def buffers_6_1(rng: random.Random) -> list[bytes]:
    """One round of buffers for ``split_lines``: counts from none to hundreds, every cut."""
    cases = []
    for count in [0, 1, 2, rng.randint(3, 12), rng.randint(40, 200)]:
        ending = rng.choice([b"\n", b"\r\n"])
        stream = b"".join(
            text(rng) + (ending if rng.random() < 0.8 else b"\n") for _ in range(count)
        )
        tail = rng.choice([b"", b"", text(rng), b"\r", b" ", binary(rng, 3, without=b"\n")])
        cases.append(stream + tail)
    cases.append(binary(rng, rng.randint(65536, 70000), without=b"\n") + b"\n" + text(rng))
    short = b"".join(text(rng)[:8] + b"\n" for _ in range(rng.randint(2, 3))) + b"ab"
    cases.extend(cut_everywhere(reference_split_lines, short))
    return cases


def split_lines_rounds(seed: int) -> list[list[bytes]]:
    """Every buffer a run of check 6.1 with ``seed`` tries: the fixed ones, then the rounds."""
    rng = random.Random(seed)
    return [FIXED_6_1] + [buffers_6_1(rng) for _ in range(ROUNDS)]


def lines_stripped(buffer: bytearray) -> list[bytes]:
    return [line.strip() for line in reference_split_lines(buffer)]


def lines_splitlines(buffer: bytearray) -> list[bytes]:
    end = buffer.rfind(b"\n")
    return bytes(buffer[: end + 1]).splitlines() if end >= 0 else []


def lines_without_cr(buffer: bytearray) -> list[bytes]:
    return [line.rstrip(b"\r") for line in reference_split_lines(buffer)]


def lines_decoded(buffer: bytearray) -> list[bytes]:
    return [line.decode(errors="replace").encode() for line in reference_split_lines(buffer)]


def lines_with_newline(buffer: bytearray) -> list[bytes]:
    return [line + b"\n" for line in reference_split_lines(buffer)]


def lines_without_empty(buffer: bytearray) -> list[bytes]:
    return [line for line in reference_split_lines(buffer) if line]


def lines_and_rest(buffer: bytearray) -> list[bytes]:
    lines = reference_split_lines(buffer)
    return [*lines, bytes(buffer)] if buffer else lines


def lines_one_byte_more(buffer: bytearray) -> list[bytes]:
    lines = []
    while (end := buffer.find(b"\n")) >= 0:
        lines.append(bytes(buffer[:end]))
        del buffer[: end + 2]
    return lines


def one_line(buffer: bytearray) -> list[bytes]:
    return reference_split_lines(buffer)[:1]


LINE_MISTAKES = [
    (lines_and_rest, "only complete frames: what follows the last b'\\n' is not a line yet, "
     "it stays in the buffer for the next recv"),
    (one_line, WHILE_HINT),
    (lines_with_newline, "return each line without its b'\\n'"),
    (lines_one_byte_more, "del buffer[: end + 1] removes the line and its b'\\n', nothing more: "
     "one byte more cuts the first byte off the next line"),
    (lines_splitlines, "split at b'\\n' only: a b'\\r' belongs to the line (bytes.splitlines() "
     "also cuts at b'\\r')"),
    (lines_without_cr, "split at b'\\n' only: a b'\\r' before it belongs to the line"),
    (lines_stripped, "a line is returned exactly as it came: white space at either end is part "
     "of it, so do not strip() it"),
    (lines_decoded, "lines are bytes, and need not be UTF-8: do not decode them"),
    (lines_without_empty, "an empty line (a b'\\n' alone) is a line too: return b'' for it"),
]  # fmt: skip


def check_6_1(
    split_lines: Callable[[bytearray], list[bytes]], time_limit: float = 5, seed: int | None = None
) -> Verdict:
    """``split_lines(buffer)``: complete lines, without ``\\n``; the rest stays in the buffer."""
    return judge("6.1", {"split_lines": split_lines}, run_6_1, time_limit=time_limit, seed=seed)


SPLIT_LINES = Exercise(
    "split_lines",
    reference_split_lines,
    describe=lambda case: f"the buffer {show_bytes(case[0])}",
    explain=lambda case, expected, got: explain_split(
        "split_lines", case[0], expected, got, LINE_MISTAKES
    ),
    differs=lambda expected, got: expected != (as_frames(got[0]), got[1]),
    smaller=lambda case: [(shorter,) for shorter in shorter_bytes(case[0])],
)


def run_6_1(trial: Trial) -> None:
    labels = ["small buffers"] + [f"round {n + 1}" for n in range(ROUNDS)]
    for label, buffers in zip(labels, split_lines_rounds(trial.seed)):
        try:
            cases = [(given,) for given in buffers]
            compare(trial, SPLIT_LINES, label, cases, one_by_one=label == labels[0])
        except LearnerRaised as raised:
            raise explain_raised(raised) from None


def explain_raised(raised: LearnerRaised) -> Exception:
    """A known mistake that raises, as a ``CheckFailed`` with its hint; any other as it was."""
    error = raised.raised
    if error.type == "UnicodeDecodeError":
        return CheckFailed(
            f"your code raised {error}",
            hint="frames are bytes, and need not be UTF-8 (binary data, a character cut in "
            "half by recv): do not decode them",
        )
    if error.type == "error" and "unpack requires" in error.message:
        return CheckFailed(
            f"parse_messages raised struct.error: {error.message} ({error.where})",
            hint="wait until the buffer holds at least 4 bytes before unpacking the length",
        )
    return raised


# --- 6.2 -----------------------------------------------------------------------------------------


def frame(message: bytes) -> bytes:
    return struct.pack("!I", len(message)) + message


def reference_parse_messages(buffer: bytearray) -> list[bytes]:
    """The worked answer to 6.2 (the same as solutions/06-framing.ipynb)."""
    messages = []
    while len(buffer) >= 4:
        (size,) = struct.unpack("!I", buffer[:4])
        if len(buffer) < 4 + size:
            break
        messages.append(bytes(buffer[4 : 4 + size]))
        del buffer[: 4 + size]
    return messages


TWO = frame(b"hi") + frame(b"there\n")
FIXED_6_2 = [
    frame(b"hello"),
    TWO,
    TWO + b"\x00\x00",
    frame(b"hello")[:7],
    frame(b"") + frame(b"\x00\n"),
    b"",
    b"\x00",
    b"\x00\x00\x00",
    frame(b""),
    frame(b"x"),
    frame(b" padded ") + frame(b"\r\n"),
    b"\xff\xff\xff\xffabc",
    b"\x00\x01\x00\x00ab",  # a 65,536-byte message, 2 bytes of it so far
    frame(b"x" * 300),
    frame(b"\xff\xfe\x80") + frame(b"ok")[:5],
]
"""Small cases first, the old examples among them."""


def body(rng: random.Random) -> bytes:
    """A message: empty, one byte, text with white space at either end, binary, or long."""
    kind = rng.randrange(10)
    if kind == 0:
        return b""
    if kind == 1:
        return rng.choice([b"\x00", b" ", b"\n", b"a"])
    if kind <= 4:
        return text(rng) + rng.choice([b"", b"\n", b" ", b"\r\n"])
    if kind <= 7:
        return binary(rng, rng.choice([2, 3, 4, rng.randint(5, 64), rng.randint(65, 1400)]))
    return binary(rng, rng.choice([255, 256, 1 << 16, rng.randint(65537, 70000)]))


def partial(rng: random.Random) -> bytes:
    """The beginning of a message that has not fully arrived (or nothing)."""
    whole = frame(body(rng) or b"late")
    kind = rng.randrange(6)
    if kind == 0:
        return b""
    if kind == 1:
        return whole[: rng.randint(1, 3)]  # part of the length prefix
    if kind == 2:
        return rng.choice([b"\xff\xff\xff\xff", b"\x80\x00\x00\x00", b"\x00\x01\x00\x00"]) + b"ab"
    return whole[: rng.randint(4, len(whole) - 1)]


def buffers_6_2(rng: random.Random) -> list[bytes]:
    """One round of buffers for ``parse_messages``: none to many messages, every cut."""
    cases = []
    for count in [0, 1, 2, rng.randint(3, 12), rng.randint(40, 120)]:
        messages = [body(rng) for _ in range(count)]
        if count > 10:  # keep the many-message buffer a reasonable size
            messages = [m[:64] for m in messages]
        cases.append(b"".join(frame(m) for m in messages) + partial(rng))
    short = b"".join(frame(body(rng)[:6]) for _ in range(rng.randint(2, 3)))
    cases.extend(cut_everywhere(reference_parse_messages, short))
    return cases


def parse_messages_rounds(seed: int) -> list[list[bytes]]:
    """Every buffer a run of check 6.2 with ``seed`` tries: the fixed ones, then the rounds."""
    rng = random.Random(seed)
    return [FIXED_6_2] + [buffers_6_2(rng) for _ in range(ROUNDS)]


def parse_with(order: str, keep_prefix: bool = False) -> Callable[[bytearray], list[bytes]]:
    """``parse_messages`` with another length format (a known mistake), or keeping the prefix."""
    width = struct.calcsize(order)

    def parse(buffer: bytearray) -> list[bytes]:
        messages = []
        for _ in range(len(buffer) + 1):  # a negative size ('!i') would loop for ever
            if len(buffer) < width:
                break
            (size,) = struct.unpack(order, buffer[:width])
            if len(buffer) < width + size:
                break
            messages.append(
                bytes(buffer[: width + size] if keep_prefix else buffer[width : width + size])
            )
            del buffer[: width + size]
        return messages

    return parse


def little_endian_hint(buffer: bytearray) -> str:
    """The little-endian mistake, said with the numbers of this buffer."""
    prefix = bytes(buffer[:4])
    return (
        f"the length prefix is big-endian ('network order'): {prefix!r} is "
        f"{struct.unpack('!I', prefix)[0]}; read little-endian (as '<I', or 'I' and '=I' on "
        f"this machine) it is {struct.unpack('<I', prefix)[0]}, so the message never looks "
        "complete. Use struct.unpack('!I', buffer[:4])"
    )


def check_6_2(
    parse_messages: Callable[[bytearray], list[bytes]],
    time_limit: float = 5,
    seed: int | None = None,
) -> Verdict:
    """``parse_messages(buffer)``: complete 4-byte big-endian length-prefixed messages."""
    answers = {"parse_messages": parse_messages}
    return judge("6.2", answers, run_6_2, time_limit=time_limit, seed=seed)


def explain_messages(case: Case, expected: tuple, got: tuple) -> CheckFailed:
    given = case[0]
    mistakes = [
        (parse_with("!I", keep_prefix=True), "return the message without its 4-byte length "
         "prefix: buffer[4 : 4 + size]"),
        (parse_with("!i"), "the length is unsigned: struct.unpack('!I', ...), not '!i'"),
        (parse_with("!H"), "the length prefix is 4 bytes: struct.unpack('!I', buffer[:4])"),
        (parse_with("!2xH"), "a length can be larger than 65,535: all 4 bytes of the prefix "
         "count, struct.unpack('!I', buffer[:4])"),
        (lambda b: reference_parse_messages(b)[:1], WHILE_HINT),
        (lambda b: [m.strip() for m in reference_parse_messages(b)], "a message is returned "
         "exactly as it came: do not strip() it"),
        (lambda b: [m.decode(errors="replace").encode() for m in reference_parse_messages(b)],
         "messages are bytes, and need not be UTF-8: do not decode them"),
    ]  # fmt: skip
    if len(given) >= 4:
        little = parse_with("<I")
        mistakes.insert(0, (little, little_endian_hint(bytearray(given))))
    failure = explain_split("parse_messages", given, expected, got, mistakes)
    rest = expected[1]
    if failure.hint == GENERIC_HINT and len(rest) >= 4 and rest[0] >= 0x80:
        failure.hint = (
            f"the length is unsigned: {rest[:4]!r} is {struct.unpack('!I', rest[:4])[0]}, "
            "a message still to come; read as '!i' it is negative. Use struct.unpack('!I', ...)"
        )
    return failure


PARSE_MESSAGES = Exercise(
    "parse_messages",
    reference_parse_messages,
    describe=lambda case: f"the buffer {show_bytes(case[0])}",
    explain=explain_messages,
    differs=lambda expected, got: expected != (as_frames(got[0]), got[1]),
    smaller=lambda case: [(shorter,) for shorter in shorter_bytes(case[0])],
)


def run_6_2(trial: Trial) -> None:
    labels = ["small buffers"] + [f"round {n + 1}" for n in range(ROUNDS)]
    for label, buffers in zip(labels, parse_messages_rounds(trial.seed)):
        try:
            cases = [(given,) for given in buffers]
            compare(trial, PARSE_MESSAGES, label, cases, one_by_one=label == labels[0])
        except LearnerRaised as raised:
            raise explain_raised(raised) from None
