"""Checks for chapter 06's exercises (framing).

* 6.1 ``split_lines(buffer) -> list[bytes]``: cut every complete line off a ``bytearray``.
* 6.2 ``parse_messages(buffer) -> list[bytes]``: the same for 4-byte length-prefixed messages.
* 6.3 ``Shouter``: a server that takes each ``recv`` result for a message, fixed.

6.1 and 6.2 are judged differentially (``eventloop.checks.differential``): the
learner's function runs in a candidate process on generated buffers, the worked
answer (``reference_split_lines``, ``reference_parse_messages``) runs in the
judge on the same bytes, and the check compares the frames returned **and**
what was left in the buffer. The buffers vary what the old examples fixed: empty,
one byte, a stream cut at every position (and the rest of it arriving next),
white space at either end of a line, ``\\r\\n``, binary bytes, lengths past 65,535,
many frames at once, partial length prefixes. 6.3 runs the learner's class in
a real server on 127.0.0.1 whose client delivers the stream in chosen pieces.
"""

from __future__ import annotations

import random
import socket
import struct
from collections.abc import Callable

from eventloop.checks import CheckFailed, Verdict
from eventloop.checks.differential import (
    Case,
    Exercise,
    apply,
    compare,
    shorter_bytes,
    show_bytes,
    show_frames,
)
from eventloop.handlers import EventHandler, event_loop
from eventloop.judge.candidate import LearnerRaised, Named
from eventloop.judge.trial import Trial, judge
from eventloop.tcp import TCPConnection

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


# --- 6.3 -----------------------------------------------------------------------------------------
#
# The learner's class runs in the candidate on one end of a SOCK_SEQPACKET pair: each packet the
# judge sends is exactly one recv result there, so the check chooses where the stream is cut
# (one piece, a line per piece, a cut inside a line, byte by byte) and reads the replies on its
# own end. Several connections run one after another in the same candidate: a buffer kept on the
# class instead of the connection shows. The reference is ``reference_shout``.


def reference_shout(stream: bytes) -> bytes:
    """The worked answer to 6.3, as a client sees it: each complete line in upper case, ``!``."""
    buffer = bytearray(stream)
    return b"".join(line.upper() + b"!\n" for line in reference_split_lines(buffer))


def serve_pieces(cls: type, sock: socket.socket, limit: float = 3.0) -> str:
    """The course driver, in the candidate: serve one connection with the learner's class.

    Returns "" once the connection closed, else what went wrong in words.
    """
    if not (isinstance(cls, type) and issubclass(cls, TCPConnection)):
        return f"{getattr(cls, '__name__', cls)!r} is not a TCPConnection class"
    handlers: list[EventHandler] = []
    connection = cls(sock, handlers)
    handlers.append(connection)
    event_loop(handlers, until=lambda: connection.closed, duration=limit, on_error="raise")
    return "" if connection.closed else "the connection was still open after the client closed"


def packet_pair() -> tuple[socket.socket, socket.socket]:
    """Two connected sockets that keep message boundaries (one send, one recv).

    Where ``SOCK_SEQPACKET`` is missing (macOS), a stream pair: the pieces may then
    arrive joined, which a right answer handles too; the check is weaker there.
    """
    try:
        return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except (OSError, AttributeError):
        return socket.socketpair()


def typed(rng: random.Random) -> bytes:
    """A line's content as a person types it into ``nc``: ASCII, maybe padded, maybe empty.

    (Text, not binary: the exercise speaks of lines in upper case, so an answer that
    decodes, upper-cases and encodes again is right for what it is asked.)
    """
    kind = rng.randrange(6)
    if kind == 0:
        return b""
    word = bytes(
        rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789 ,.?") for _ in range(rng.randint(1, 20))
    )
    if kind == 1:
        return rng.choice([b" ", b"  ", b"\t"]) + word + rng.choice([b"", b" "])
    if kind == 2:
        return word + b"\r"  # a \r\n line ending
    return word


def shout_cases(rng: random.Random) -> list[list[bytes]]:
    """One round of connections, each a list of pieces (one recv result each)."""
    cases = []
    for count in [1, 2, rng.randint(3, 8)]:
        lines = [typed(rng) for _ in range(count)]
        stream = b"".join(line + b"\n" for line in lines)
        tail = rng.choice([b"", typed(rng)])
        cuts = sorted(rng.sample(range(1, len(stream) + 1), min(3, len(stream))))
        cases.append([stream + tail])  # all in one recv
        cases.append([line + b"\n" for line in lines])  # a line per recv
        cases.append([stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])] + [tail])
    short = typed(rng)[:6] + b"\n" + typed(rng)[:4] + b"\n"
    cases.append([bytes([byte]) for byte in short])  # byte by byte
    cut = rng.randrange(1, len(short))
    cases.append([short[:cut], short[cut:]])
    return [[piece for piece in case if piece] or [b"\n"] for case in cases]


FIXED_6_3 = [
    [b"hello\n"],
    [b"one\ntwo\n"],
    [b"hel", b"lo\nwor", b"ld\n"],
    [b" padded \n"],
    [b"unfinished"],
    [b"next\n"],
]


def shout_rounds(seed: int) -> list[list[list[bytes]]]:
    """Every connection a run of check 6.3 with ``seed`` plays: the fixed ones, then rounds."""
    rng = random.Random(seed)
    return [FIXED_6_3] + [shout_cases(rng) for _ in range(ROUNDS)]


def check_6_3(cls: type, time_limit: float = 5, seed: int | None = None) -> Verdict:
    """``cls``: answers each line with it in upper case plus ``!``, however the stream is cut."""
    return judge("6.3", {"Shouter": cls}, run_6_3, time_limit=time_limit, seed=seed)


def serve_each(cls: type, socks: list[socket.socket], limit: float = 2.0) -> list[str]:
    """The course driver, in the candidate: ``serve_pieces`` on each socket, one after another,
    stopping at the first problem (one call for many connections: each call costs time)."""
    problems = []
    for sock in socks:
        problems.append(serve_pieces(cls, sock, limit))
        if problems[-1]:
            break
    return problems


def run_6_3(trial: Trial) -> None:
    serve = trial.candidate.wrap("serve_each", serve_each, trial["Shouter"].time_limit)
    previous = b""
    labels = ["the first connections"] + [f"round {n + 1}" for n in range(ROUNDS)]
    for label, connections in zip(labels, shout_rounds(trial.seed)):
        trial.case = f"{label}: {len(connections)} connections, one after another"
        try:
            replies = shout(serve, connections)
        except LearnerRaised:
            for pieces in connections:  # one at a time, to name the connection that raised
                trial.case = f"{label}: a connection whose recv results are {show_pieces(pieces)}"
                shout(serve, [pieces])
            raise
        for pieces, got in zip(connections, replies):
            trial.case = f"{label}: a connection whose recv results are {show_pieces(pieces)}"
            stream = b"".join(pieces)
            expected = reference_shout(stream)
            if got != expected:
                raise explain_6_3(pieces, previous, expected, got)
            previous = final_outcome(reference_split_lines, stream)


def shout(serve: Callable[..., object], connections: list[list[bytes]]) -> list[bytes]:
    """For each connection, send its pieces (one recv result each) and EOF; run the learner's
    class on them in turn; what each client received."""
    pairs = [packet_pair() for _ in connections]
    try:
        for (ours, _), pieces in zip(pairs, connections):
            for piece in pieces:
                ours.send(piece)
            ours.shutdown(socket.SHUT_WR)
        problems = serve(Named("Shouter"), [theirs for _, theirs in pairs])
        for _, theirs in pairs:
            theirs.close()
        problem = next((p for p in problems if p), "") if isinstance(problems, list) else "?"
        if problem:
            raise CheckFailed(
                str(problem),
                hint="keep `class Shouter(TCPConnection):` and fix its data_received; "
                "let the connection close when the client has",
            )
        replies = []
        for ours, _ in pairs:
            ours.settimeout(2)
            received = []
            while packet := ours.recv(1 << 20):
                received.append(packet)
            replies.append(b"".join(received))
        return replies
    finally:
        for ours, theirs in pairs:
            ours.close()
            theirs.close()


def show_pieces(pieces: list[bytes]) -> str:
    shown = [show_bytes(piece, 40) for piece in pieces]
    if len(shown) > 6:
        shown = [*shown[:4], f"... {len(shown) - 5} more ...", shown[-1]]
    return ", ".join(shown)


def explain_6_3(pieces: list[bytes], previous: bytes, expected: bytes, got: bytes) -> CheckFailed:
    """The ``CheckFailed`` for wrong replies, naming the mistake they show."""
    stream = b"".join(pieces)
    per_piece = b"".join(piece.strip().upper() + b"!\n" for piece in pieces)
    wanted, replied = expected.split(b"\n")[:-1], got.split(b"\n")[:-1]
    fewer = 0 < len(replied) < len(wanted) and all(reply in wanted for reply in replied)
    first_lines = b"".join(
        reference_shout(piece.split(b"\n")[0] + b"\n") for piece in pieces if b"\n" in piece
    )
    one_buffer = (
        "keep a buffer: append each chunk, reply to every complete line, "
        "keep the incomplete rest for the next chunk"
    )
    split_all = "one recv result can hold several messages: split at every b'\\n'"
    if len(pieces) > 1 and any(b"\n" not in piece[:-1] for piece in pieces):
        split_all = f"{one_buffer} (one recv can also hold several lines: split at every b'\\n')"
    no_bang, no_newline = got.replace(b"!", b""), got.replace(b"\n", b"")
    if got == reference_shout(previous + stream) and previous:
        hint = (
            "the buffer must belong to each connection: create it in __init__ "
            "(self.buffer = bytearray()), not on the class"
        )
    elif got == b"".join(line.strip().upper() + b"!\n" for line in stream.split(b"\n")[:-1]):
        hint = (
            "reply with the line exactly as it came, in upper case, white space and a b'\\r' "
            "before the b'\\n' included: do not strip() it"
        )
    elif got in (per_piece, first_lines):
        hint = split_all
    elif got == b"".join(reference_shout(piece) for piece in pieces):
        hint = one_buffer
    elif no_bang == expected.replace(b"!", b"") or no_newline == expected.replace(b"\n", b""):
        hint = "each reply is the line in upper case plus b'!\\n' (the line without its b'\\n')"
    elif fewer:
        hint = split_all
    else:
        hint = "each reply is the line in upper case plus b'!\\n', one per complete line"
    if hint == split_all and len(pieces) == 1:
        problem = "two lines that arrived in one recv did not get two replies"
    elif hint in (split_all, one_buffer):
        problem = "lines cut across recv results came back broken"
    else:
        problem = f"the replies to {show_pieces(pieces)} are not right"
    return CheckFailed(problem, expected=show_bytes(expected), got=show_bytes(got), hint=hint)
