"""Checks for chapter 06's exercises (framing): real sockets on loopback, bounded in time.

* 6.1 ``split_lines(buffer) -> list[bytes]``: cut every complete line off a ``bytearray``.
* 6.2 ``parse_messages(buffer) -> list[bytes]``: the same for 4-byte length-prefixed messages.
* 6.3 ``Shouter``: a server that takes each ``recv`` result for a message, fixed.

Each check first tries plain buffers, then runs the learner's code in a real server on
127.0.0.1 whose client delivers the stream in chosen pieces, one ``recv`` result each.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable

from eventloop.checks import CheckFailed, Verdict, expect_equal, verdict
from eventloop.handlers import EventHandler, event_loop
from eventloop.tcp import TCPConnection
from eventloop.tcp_server import TCPServer


def deliver(connection: Callable, pieces: list[bytes]) -> bytes:
    """Serve one client that sends ``pieces`` one ``recv`` at a time; return all it got back."""
    handlers: list[EventHandler] = []
    with TCPServer(handlers, connection=connection) as server:
        with socket.create_connection(server.address, timeout=3) as client:
            event_loop(handlers, until=lambda: len(handlers) == 2, duration=3, on_error="raise")
            conn = handlers[1]
            for piece in pieces:
                before = conn.bytes_in
                client.sendall(piece)
                event_loop(
                    handlers,
                    until=lambda b=before: conn.bytes_in > b or conn.closed,
                    duration=3,
                    on_error="raise",
                )
            client.shutdown(socket.SHUT_WR)
            event_loop(handlers, until=lambda: conn.closed, duration=3, on_error="raise")
            client.settimeout(3)
            reply = b""
            while chunk := client.recv(65536):
                reply += chunk
    return reply


def expect_split(
    name: str, parse: Callable[[bytearray], list[bytes]], given: bytes, frames: list, rest: bytes
) -> None:
    """``parse(bytearray(given))`` returns ``frames`` and leaves ``rest`` in the buffer."""
    buffer = bytearray(given)
    got = parse(buffer)
    if not isinstance(got, list):
        raise CheckFailed(f"{name} should return a list of bytes", got=repr(got))
    got = [bytes(frame) for frame in got]
    if got != frames:
        raise CheckFailed(
            f"{name}(bytearray({given!r})) returned the wrong frames",
            expected=repr(frames),
            got=repr(got),
            hint=diagnose(name, given, frames, got),
        )
    if bytes(buffer) != rest:
        hint = "remove what you returned from the buffer, e.g. del buffer[: end + 1]"
        if bytes(buffer) == b"" and rest:
            hint = "the incomplete frame must stay in the buffer: its rest comes with the next recv"
        raise CheckFailed(
            f"after {name}(bytearray({given!r})), the buffer holds the wrong bytes",
            expected=repr(rest),
            got=repr(bytes(buffer)),
            hint=hint,
        )


def diagnose(name: str, given: bytes, frames: list[bytes], got: list[bytes]) -> str:
    """The hint for wrong frames: name the mistake when it can be recognised."""
    if name == "parse_messages" and len(given) >= 4 and frames and not got:
        (little,) = struct.unpack("<I", given[:4])
        if little > len(given) - 4:
            return (
                f"the length prefix is big-endian ('network order'): {given[:4]!r} is "
                f"{struct.unpack('!I', given[:4])[0]}; read little-endian it is {little}, so "
                "the message never looks complete. Use struct.unpack('!I', buffer[:4])"
            )
    if (
        name == "parse_messages"
        and got
        and all(len(g) >= 4 and g[:4] == struct.pack("!I", len(g) - 4) for g in got)
    ):
        return "return the message without its 4-byte length prefix: buffer[4 : 4 + size]"
    if got and len(got) < len(frames) and got == frames[: len(got)]:
        return "a buffer can hold several complete frames: loop (while), not if, until none is left"
    if got and all(g.endswith(b"\n") for g in got):
        return "return each line without its b'\\n'"
    return "only complete frames; an incomplete one stays in the buffer for later"


# --- 6.1 -----------------------------------------------------------------------------------------


def check_6_1(split_lines: Callable[[bytearray], list[bytes]]) -> Verdict:
    """``split_lines(buffer)``: complete lines, without ``\\n``; the rest stays in the buffer."""
    return verdict("6.1", lambda: run_6_1(split_lines), time_limit=8)


def run_6_1(split_lines: Callable[[bytearray], list[bytes]]) -> None:
    cases = [
        (b"hello\n", [b"hello"], b""),
        (b"one\ntwo\nthr", [b"one", b"two"], b"thr"),
        (b"no newline yet", [], b"no newline yet"),
        (b"\n\nx", [b"", b""], b"x"),
        (b"", [], b""),
    ]
    for given, frames, rest in cases:
        expect_split("split_lines", split_lines, given, frames, rest)

    class Lines(TCPConnection):
        def __init__(self, sock: socket.socket, handlers: list[EventHandler]) -> None:
            super().__init__(sock, handlers)
            self.buffer = bytearray()

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            for line in split_lines(self.buffer):
                self.send(bytes(line).upper() + b"\n")

    reply = deliver(Lines, [b"hel", b"lo\nwor", b"ld\nand ", b"more\n"])
    expect_equal(
        "the replies of a server using split_lines, fed b'hel', b'lo\\nwor', b'ld\\nand ', "
        "b'more\\n'",
        reply,
        b"HELLO\nWORLD\nAND MORE\n",
    )


# --- 6.2 -----------------------------------------------------------------------------------------


def frame(message: bytes) -> bytes:
    return struct.pack("!I", len(message)) + message


def check_6_2(parse_messages: Callable[[bytearray], list[bytes]]) -> Verdict:
    """``parse_messages(buffer)``: complete 4-byte big-endian length-prefixed messages."""
    return verdict("6.2", lambda: run_6_2(parse_messages), time_limit=8)


def run_6_2(parse_messages: Callable[[bytearray], list[bytes]]) -> None:
    two = frame(b"hi") + frame(b"there\n")
    cases = [
        (frame(b"hello"), [b"hello"], b""),
        (two, [b"hi", b"there\n"], b""),
        (two + b"\x00\x00", [b"hi", b"there\n"], b"\x00\x00"),
        (frame(b"hello")[:7], [], frame(b"hello")[:7]),
        (frame(b"") + frame(b"\x00\n"), [b"", b"\x00\n"], b""),
    ]
    try:
        for given, frames, rest in cases:
            expect_split("parse_messages", parse_messages, given, frames, rest)
    except struct.error as error:
        raise CheckFailed(
            f"parse_messages raised struct.error: {error}",
            hint="wait until the buffer holds at least 4 bytes before unpacking the length",
        ) from None
    big = frame(b"x" * 300)
    if parse_messages(bytearray(big)) != [b"x" * 300]:
        raise CheckFailed(
            "a 300-byte message was not parsed",
            hint="the length is big-endian ('network order'): struct.unpack('!I', buffer[:4])",
        )

    class Messages(TCPConnection):
        def __init__(self, sock: socket.socket, handlers: list[EventHandler]) -> None:
            super().__init__(sock, handlers)
            self.buffer = bytearray()

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            for message in parse_messages(self.buffer):
                self.send(frame(bytes(message)[::-1]))

    stream = frame(b"abc") + frame(b"") + frame(b"event loop")
    reply = deliver(Messages, [stream[:2], stream[2:8], stream[8:13], stream[13:]])
    expect_equal(
        "the replies of a server using parse_messages, fed in 4 pieces",
        reply,
        frame(b"cba") + frame(b"") + frame(b"pool tneve"),
    )


# --- 6.3 -----------------------------------------------------------------------------------------


def check_6_3(cls: type) -> Verdict:
    """``cls``: answers each line with it in upper case plus ``!``, however the stream is cut."""
    return verdict("6.3", lambda: run_6_3(cls), time_limit=8)


def run_6_3(cls: type) -> None:
    if not (isinstance(cls, type) and issubclass(cls, TCPConnection)):
        raise CheckFailed(
            f"{getattr(cls, '__name__', cls)!r} is not a TCPConnection class",
            hint="keep `class Shouter(TCPConnection):` and fix its data_received",
        )
    expect_equal(
        "the reply to b'hello\\n' in one piece",
        deliver(cls, [b"hello\n"]),
        b"HELLO!\n",
        hint="each reply is the line in upper case plus b'!\\n' (the line without its b'\\n')",
    )
    got = deliver(cls, [b"one\ntwo\n"])
    if got != b"ONE!\nTWO!\n":
        raise CheckFailed(
            "two lines that arrived in one recv did not get two replies",
            expected=repr(b"ONE!\nTWO!\n"),
            got=repr(got),
            hint="one recv result can hold several messages: split at every b'\\n'",
        )
    got = deliver(cls, [b"hel", b"lo\nwor", b"ld\n"])
    if got != b"HELLO!\nWORLD!\n":
        raise CheckFailed(
            "lines cut across recv results came back broken",
            expected=repr(b"HELLO!\nWORLD!\n"),
            got=repr(got),
            hint="keep a buffer: append each chunk, reply to every complete line, "
            "keep the incomplete rest for the next chunk",
        )
