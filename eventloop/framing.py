"""Stage 06: messages on a byte stream (lines, length prefixes) and a key-value server.

Grows from: ``tcp`` (chapter 05), whose ``data_received`` gets whatever
bytes ``recv`` returned. TCP is a byte stream: it keeps the order of the
bytes, not the boundaries of the sends. One ``send`` can arrive as several
``recv`` results, several sends as one. A server that treats each ``recv``
as one message works on a quiet laptop and fails under load.

Adds: *framing*, a rule that says where a message ends, and a buffer that
keeps the bytes of a message that has not fully arrived:

* ``LineProtocol``: a message ends at ``\\n`` (``line_received``).
* ``LengthPrefixedProtocol``: a 4-byte big-endian length, then that many
  bytes (``message_received``); binary-safe.
* ``KeyValueProtocol``: the chapter's project, a line-based key-value
  server (``SET key value``, ``GET key``, ``DEL key``, ``KEYS``).

Both protocols refuse a frame larger than their limit: without one, a client
that never sends ``\\n`` (or announces a 4 GB message) makes the buffer grow
until the server runs out of memory. The offending client gets one clear
error message, then the server half-closes and discards what it still sends
until it closes (closing at once, with unread data, would send a reset that
can destroy the error message before the client reads it). Other clients
are not affected.

The connections also share one budget for their unfinished frames
(``frame_budget.BufferBudget``): 200 clients just under the 1 MiB limit would
otherwise hold 200 MiB.
"""

from __future__ import annotations

import socket
import struct
from bisect import bisect_right
from collections.abc import MutableSequence
from typing import Any

from eventloop.blocking import recv_exactly
from eventloop.frame_budget import SHARED_BUDGET, TOO_MUCH_UNFINISHED, BufferBudget
from eventloop.handlers import EventHandler
from eventloop.tcp import TCPConnection

MAX_LINE = 64 * 1024
"""The longest line ``LineProtocol`` accepts, without its ``\\n``."""

MAX_MESSAGE = 1024 * 1024
"""The largest message ``LengthPrefixedProtocol`` accepts."""

HEADER = struct.Struct("!I")
"""The length prefix: 4 bytes, unsigned, network (big-endian) byte order."""


class FramedConnection(TCPConnection):
    """A connection that collects bytes until a whole frame has arrived.

    Guarantee: after ``frame_error`` nothing more is parsed; the client gets
    the error, then EOF, and the connection closes when the client does.
    """

    def __init__(
        self,
        sock: socket.socket,
        handlers: MutableSequence[EventHandler],
        *,
        budget: BufferBudget = SHARED_BUDGET,
        **options: Any,
    ) -> None:
        super().__init__(sock, handlers, **options)
        self.buffer = bytearray()
        self.budget = budget
        self.counted = 0  # how much of the budget this connection's buffer holds
        self.frames = 0  # complete frames received
        self.pieces = 0  # how many pieces the stream arrived in: one per recv with data
        self.refused = False  # set by frame_error: discard everything from now on

    def data_received(self, data: bytes) -> None:
        """Add ``data`` to the buffer and parse what is complete (nothing once refused)."""
        self.pieces += 1
        if self.refused:
            return
        if not self.budget.make_room(self, len(data)):
            self.frame_error(TOO_MUCH_UNFINISHED)
        else:
            self.buffer += data
            self.parse_frames()
        self.count_buffer()

    def count_buffer(self) -> None:
        """Tell the shared budget how much this connection's buffer holds now."""
        self.budget.count(self, len(self.buffer))
        self.counted = len(self.buffer)

    def close(self, error: Exception | None = None) -> None:
        """Close, and give this connection's share of the budget back."""
        super().close(error)
        self.buffer.clear()
        self.count_buffer()

    def parse_frames(self) -> None:
        """Hand every complete frame in the buffer to the protocol; keep the rest.

        Each protocol below defines it; it stops at the first incomplete frame,
        calls ``frame_error`` for one that breaks the protocol's limit, and stops
        while reading is paused by backpressure (``self.reading`` is False): one
        64 KiB read can hold thousands of short commands, and answering them all
        at once would fill the outgoing buffer far past its high-water mark.
        """
        raise NotImplementedError

    def reading_resumed(self) -> None:
        """The outgoing buffer drained: parse the frames that waited in the buffer."""
        self.parse_frames()
        self.count_buffer()

    def frame_error(self, problem: str) -> None:
        """Tell the client what was wrong, send EOF, and stop listening to it."""
        self.refused = True
        self.buffer.clear()
        self.count_buffer()  # its share goes back to the budget now, not when it closes
        self.send(self.error_frame(problem))
        self.write_eof()

    def error_frame(self, problem: str) -> bytes:
        """The error message as this protocol frames it: here, one line."""
        return f"error: {problem}\n".encode()


class LineProtocol(FramedConnection):
    """Messages are lines ending in ``\\n`` (a ``\\r`` before it is dropped)."""

    max_line = MAX_LINE

    def parse_frames(self) -> None:
        while not self.refused and self.reading:
            end = self.buffer.find(b"\n")
            if end < 0:
                if len(self.buffer) > self.max_line:
                    self.frame_error(f"line longer than {self.max_line} bytes")
                return
            if end > self.max_line:
                self.frame_error(f"line longer than {self.max_line} bytes")
                return
            line = bytes(self.buffer[:end]).removesuffix(b"\r")
            del self.buffer[: end + 1]
            self.frames += 1
            self.line_received(line)

    def line_received(self, line: bytes) -> None:
        """Called with each complete line, without its line ending."""

    def send_line(self, line: bytes) -> None:
        """Send ``line`` as one frame: ``line`` must not contain ``\\n`` itself."""
        self.send(line + b"\n")


class LengthPrefixedProtocol(FramedConnection):
    """Messages are a 4-byte big-endian length, then that many bytes."""

    max_size = MAX_MESSAGE

    def parse_frames(self) -> None:
        while not self.refused and self.reading and len(self.buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self.buffer)
            if size > self.max_size:
                self.frame_error(f"message of {size} bytes is larger than {self.max_size}")
                return
            if len(self.buffer) < HEADER.size + size:
                return  # the rest has not arrived yet
            message = bytes(self.buffer[HEADER.size : HEADER.size + size])
            del self.buffer[: HEADER.size + size]
            self.frames += 1
            self.message_received(message)

    def message_received(self, message: bytes) -> None:
        """Called with each complete message."""

    def send_message(self, message: bytes) -> None:
        """Send ``message`` with its length prefix."""
        self.send(frame_message(message))

    def error_frame(self, problem: str) -> bytes:
        """The error message as this protocol frames it: one length-prefixed message."""
        return frame_message(f"error: {problem}".encode())


def frame_message(message: bytes) -> bytes:
    """``message`` with its length prefix, ready to send."""
    return HEADER.pack(len(message)) + message


def recv_message(sock: socket.socket) -> bytes:
    """For blocking clients: read one length-prefixed message."""
    (size,) = HEADER.unpack(recv_exactly(sock, HEADER.size))
    return recv_exactly(sock, size)


KEYS_PIECE = 16 * 1024
"""About how many bytes of a ``KEYS`` reply are made at a time (``KeyValueProtocol.send_keys``)."""

MAX_VALUE = 16 * 1024
"""The largest value ``SET`` accepts, in bytes."""

MAX_STORE = 64 * 1024 * 1024
"""How many bytes of keys and values a ``KeyValueStore`` holds at most, by default."""


class KeyValueStore(dict):
    """The key-value server's store: a dict of bytes that counts its bytes and has a limit.

    Why: every client shares the store, so without a limit one client's ``SET``s
    grow the server's memory until it fails for everyone. Counting as we go keeps
    the check O(1): summing the store at every ``SET`` would be O(n).
    """

    def __init__(self, max_bytes: int = MAX_STORE) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self.bytes_used = 0
        self.sorted_keys: list[bytes] | None = None  # None: to sort again, keys changed

    def keys_after(self, key: bytes | None, size: int) -> tuple[list[bytes], bool]:
        """About ``size`` bytes of the keys that sort after ``key`` (None: from the first),
        and whether more keys follow them.

        For ``KEYS``: the caller keeps only the last key it sent, so a reply in
        progress costs no copy of the store. One sorted list, rebuilt only after
        a key was added or deleted, serves every client's reply.
        """
        if self.sorted_keys is None:
            self.sorted_keys = sorted(self)
        index = 0 if key is None else bisect_right(self.sorted_keys, key)
        keys: list[bytes] = []
        total = 0
        while index < len(self.sorted_keys) and total < size:
            keys.append(self.sorted_keys[index])
            total += len(self.sorted_keys[index]) + 1
            index += 1
        return keys, index < len(self.sorted_keys)

    def has_room_for(self, key: bytes, value: bytes) -> bool:
        """Would ``store[key] = value`` stay within ``max_bytes``?"""
        old = self.get(key)
        freed = 0 if old is None else len(key) + len(old)
        return self.bytes_used - freed + len(key) + len(value) <= self.max_bytes

    def __setitem__(self, key: bytes, value: bytes) -> None:
        old = self.get(key)
        if old is not None:
            self.bytes_used -= len(key) + len(old)
        else:
            self.sorted_keys = None  # a new key
        super().__setitem__(key, value)
        self.bytes_used += len(key) + len(value)

    def pop(self, key: bytes, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        value = super().pop(key, None)
        if value is None:
            return default
        self.sorted_keys = None
        self.bytes_used -= len(key) + len(value)
        return value


class KeyValueProtocol(LineProtocol):
    """The chapter's project: a key-value store shared by every client.

    ``SET key value`` -> ``OK``; ``GET key`` -> ``VALUE value`` or
    ``NOT FOUND``; ``DEL key`` -> ``OK`` or ``NOT FOUND``; ``KEYS`` -> the
    keys, sorted, space-separated (``(no keys)``). A malformed command gets ``error: ...``
    and the connection stays open; an oversized line closes it. A value over
    ``max_value`` bytes, or one the full store has no room for, gets ``error: ...``.

    A ``KEYS`` reply can be as large as the store (64 MiB), so it is made a piece
    at a time (``send_keys``), while the outgoing buffer is below its high-water
    mark: queued whole, 40 clients that send ``KEYS`` and never read held 519 MB.
    Keys added or deleted by others while a reply is being sent may or may not
    be in it (as with Redis's ``SCAN``); the commands after ``KEYS`` wait for it.
    Create the server with ``TCPServer(handlers, connection=partial(KeyValueProtocol,
    store=store))``, ``store = KeyValueStore()``, so that every connection shares it.
    """

    max_value = MAX_VALUE

    def __init__(
        self,
        sock: socket.socket,
        handlers: MutableSequence[EventHandler],
        *,
        store: KeyValueStore,
        **options: Any,
    ) -> None:
        super().__init__(sock, handlers, **options)
        if not isinstance(store, KeyValueStore):
            raise TypeError(
                f"store must be a KeyValueStore (a dict that counts its bytes, so the server's "
                f"memory has a limit), not {type(store).__name__}: store = KeyValueStore()"
            )
        self.store = store
        self.listing = False  # True while a KEYS reply is being sent
        self.listed: bytes | None = None  # the last key of that reply sent so far

    def line_received(self, line: bytes) -> None:
        """Answer each command on its own line, in the order the commands came."""
        words = line.split(b" ", 2)
        if words[0].upper() == b"KEYS" and len(words) == 1:
            self.listing, self.listed = True, None
            self.send_keys()
        else:
            self.send_line(self.answer(words))

    def send_keys(self) -> None:
        """Send the ``KEYS`` reply in pieces until it is done or backpressure pauses us.

        The reply goes on when the outgoing buffer has drained (``reading_resumed``);
        parsing stops while reading is paused, so the next command waits for it.
        """
        while self.listing and self.reading and not self.closed:
            keys, more = self.store.keys_after(self.listed, KEYS_PIECE)
            piece = b" ".join(keys)
            if keys and self.listed is not None:
                piece = b" " + piece  # it follows the keys already sent
            if keys:
                self.listed = keys[-1]
            elif self.listed is None:
                piece = b"(no keys)"
            if not more:
                self.listing = False
                piece += b"\n"  # in the last piece: a lone "\n" would wait for Nagle's delay
            self.send(piece)

    def reading_resumed(self) -> None:
        """The outgoing buffer drained: go on with a ``KEYS`` reply, then with the commands."""
        self.send_keys()
        super().reading_resumed()

    def answer(self, words: list[bytes]) -> bytes:
        """The reply to any command but ``KEYS``, already split into at most three words."""
        command = words[0].upper()
        if command == b"SET" and len(words) == 3:
            return self.set_value(words[1], words[2])
        if command == b"GET" and len(words) == 2:
            value = self.store.get(words[1])
            return b"NOT FOUND" if value is None else b"VALUE " + value
        if command == b"DEL" and len(words) == 2:
            return b"OK" if self.store.pop(words[1], None) is not None else b"NOT FOUND"
        return b"error: expected SET key value, GET key, DEL key or KEYS"

    def set_value(self, key: bytes, value: bytes) -> bytes:
        """``SET``, within the limits: one value, and the whole store."""
        if len(value) > self.max_value:
            return b"error: value larger than %d bytes" % self.max_value
        if not self.store.has_room_for(key, value):
            return b"error: the store is full (%d bytes)" % self.store.max_bytes
        self.store[key] = value
        return b"OK"
