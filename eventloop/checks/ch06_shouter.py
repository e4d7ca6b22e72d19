"""Check for exercise 6.3: ``Shouter``, a server that took each ``recv`` result for a message.

Grows from: ``eventloop.checks.ch06`` (6.1, 6.2), which re-exports ``check_6_3``; kept apart so
each module stays short.

The learner's class runs in the candidate process (``eventloop.judge``) on one end of a
``SOCK_SEQPACKET`` pair: each packet the judge sends is exactly one ``recv`` result there, so
the check chooses where the stream is cut (all in one piece, a line per piece, cuts inside
lines, byte by byte) and reads the replies on its own end. Several connections run one after
another in the same candidate, so a buffer kept on the class instead of the connection shows.
What a client must receive is ``reference_shout``, the worked answer seen from outside.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable

from eventloop.checks import CheckFailed, Verdict
from eventloop.checks.differential import show_bytes
from eventloop.handlers import EventHandler, event_loop
from eventloop.judge.candidate import LearnerRaised, Named
from eventloop.judge.trial import Trial, judge
from eventloop.tcp import TCPConnection

ROUNDS = 3
"""Generated rounds of connections, all in one candidate."""


def reference_shout(stream: bytes) -> bytes:
    """The worked answer to 6.3, as a client sees it: each complete line in upper case, ``!``."""
    *lines, _rest = stream.split(b"\n")
    return b"".join(line.upper() + b"!\n" for line in lines)


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
            previous = stream.rsplit(b"\n", 1)[-1]  # what a right answer keeps for later


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
