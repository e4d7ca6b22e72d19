"""asyncio's stream ``Transport``, built on chapter 05's ``TCPConnection``.

An asyncio ``Protocol`` is chapter 05's hooks under other names:
``data_received``, ``eof_received`` (return True to keep the connection
half-open) and ``connection_lost``. So the transport is a thin facade: a
``ProtocolConnection`` (a ``TCPConnection`` handler in our loop's list) calls
the protocol, and ``SocketTransport`` gives the protocol asyncio's methods to
call back: ``write``, ``writelines``, ``write_eof``, ``close``, ``abort``,
``pause_reading``/``resume_reading`` and the write-buffer limits.

One difference from chapter 05: an asyncio transport does not stop *reading*
when its outgoing buffer is full. It tells the protocol to stop *writing*
(``pause_writing``/``resume_writing``) and leaves reading to the protocol.

Another, that every asyncio transport makes: ``TCP_NODELAY``. By default the
kernel holds back a small segment while an earlier one is unacknowledged
(Nagle's algorithm), to save packets. A protocol that writes a request in two
pieces (a header, then a body) then waits a whole delayed-ACK round trip
(tens of milliseconds) for every exchange. A transport hands the kernel whole
messages already, so it turns Nagle off where it is made (``set_nodelay``).
"""

from __future__ import annotations

import asyncio
import socket
from asyncio import events
from collections.abc import Iterable
from typing import Any

from eventloop.tcp import TCPConnection

HIGH_WATER = 64 * 1024  # asyncio's defaults
LOW_WATER = HIGH_WATER // 4


class ProtocolConnection(TCPConnection):
    """A chapter 05 connection whose hooks are an asyncio ``Protocol``'s."""

    def __init__(self, sock: socket.socket, loop: Any, protocol: asyncio.BaseProtocol) -> None:
        set_nodelay(sock)
        super().__init__(sock, loop._inner.handlers, high_water=None)
        self.loop = loop
        self.protocol = protocol
        self.buffered = isinstance(protocol, asyncio.BufferedProtocol)  # reads into its buffer
        self.write_high, self.write_low = HIGH_WATER, LOW_WATER
        self.writing_paused = False
        self.server: Any = None  # the servers.Server that accepted it, if one did
        self.transport = SocketTransport(self)

    def start(self) -> None:
        """``connection_made``, then start reading: the protocol hears nothing before it.
        A ``connection_made`` that raises is reported and ends the connection: its client
        is let go, not left connected and never served."""
        self.guarded(self.protocol.connection_made, self.transport)
        if not self.closed:
            self.handlers.append(self)

    def handle_receive(self) -> None:
        """Chapter 05's, run through the loop's seam when something watches (chapter 12):
        a protocol that blocks in ``data_received`` is then timed, named and instrumented,
        as asyncio's debug mode times a transport's ``_read_ready``.

        Not while reading is paused: a callback that ran after the wait may have paused it.
        """
        if not self.reading:
            return
        read = self.receive_into if self.buffered else super().handle_receive
        if self.loop._watching():
            self.loop._run_watched(events.Handle(read, (), self.loop, None))
        else:
            read()

    def receive_into(self) -> None:
        """A ``BufferedProtocol`` lends its own buffer (``get_buffer``), the kernel copies
        into it (``recv_into``), and ``buffer_updated(n)`` says how much came: no new
        ``bytes`` object per read, which is the point of the protocol."""
        try:
            buffer = self.protocol.get_buffer(-1)  # type: ignore[attr-defined]
            if not len(buffer):
                raise RuntimeError("get_buffer() returned an empty buffer")
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as error:
            self.protocol_failed(self.protocol.get_buffer, error)  # type: ignore[attr-defined]
            return
        try:
            size = self.sock.recv_into(buffer)
        except (BlockingIOError, InterruptedError):
            return  # readable a moment ago, nothing now
        except OSError as error:
            self.close(error)
            return
        if not size:
            self.eof = True
            self.interest_changed()
            self.eof_received()
            return
        self.bytes_in += size
        self.guarded(self.protocol.buffer_updated, size)  # type: ignore[attr-defined]

    # Chapter 05 closes the connection and lets the loop report a hook's error;
    # asyncio reports it through the loop's exception handler: ``guarded`` does
    # that. data_received runs once per message, so it is guarded in place.
    def data_received(self, data: bytes) -> None:
        try:
            self.protocol.data_received(data)  # type: ignore[attr-defined]
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as error:
            self.protocol_failed(self.protocol.data_received, error)  # type: ignore[attr-defined]

    def eof_received(self) -> None:
        keep_open = self.guarded(self.protocol.eof_received)  # type: ignore[attr-defined]
        if not keep_open and not self.closed:
            self.close_when_flushed()

    def connection_lost(self, error: Exception | None) -> None:
        self.loop.call_soon(self.protocol.connection_lost, error)
        if self.server is not None:  # then its server may stop waiting (wait_closed)
            self.loop.call_soon(self.server.detach, self.transport)

    def guarded(self, hook: Any, *args: Any) -> Any:
        """Run a protocol callback; an error is the loop's to report, and ends this connection."""
        try:
            return hook(*args)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as error:
            self.protocol_failed(hook, error)
            return None

    def protocol_failed(self, hook: Any, error: BaseException) -> None:
        """asyncio's way: tell the loop's exception handler, then end this connection."""
        self.loop.call_exception_handler(
            {
                "message": f"Fatal error: protocol.{hook.__name__}() call failed.",
                "exception": error,
                "transport": self.transport,
                "protocol": self.protocol,
            }
        )
        self.close(error if isinstance(error, Exception) else None)

    def apply_watermarks(self) -> None:
        """Tell the protocol to pause writing above the high mark, resume at the low one."""
        queued = len(self.outgoing)
        if not self.writing_paused and queued > self.write_high:
            self.writing_paused = True
            self.guarded(self.protocol.pause_writing)
        elif self.writing_paused and queued <= self.write_low:
            self.writing_paused = False
            self.guarded(self.protocol.resume_writing)


class SocketTransport(asyncio.Transport):
    """What an asyncio protocol holds: ``transport.write(...)`` and friends."""

    def __init__(self, connection: ProtocolConnection) -> None:
        super().__init__()
        self.connection = connection
        self.sock = connection.sock
        self.extra = {
            "socket": connection.sock,
            "sockname": connection.sock.getsockname(),
            "peername": peer_of(connection.sock),
        }
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.connection.protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.connection.protocol = protocol
        self.connection.buffered = isinstance(protocol, asyncio.BufferedProtocol)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"data argument must be a bytes-like object, not {type(data).__name__!r}"
            )
        if self.closing:
            return  # as asyncio: writing to a closing transport is ignored
        # bytes as they are (the common case); a bytearray or memoryview is copied, since
        # the caller may change it after write() returns while part of it is still queued
        self.connection.send(data if type(data) is bytes else bytes(data))

    def writelines(self, list_of_data: Iterable[bytes]) -> None:
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        self.connection.write_eof()

    def can_write_eof(self) -> bool:
        return True

    def is_closing(self) -> bool:
        return self.closing or self.connection.closed

    def close(self) -> None:
        """Stop reading; send what is queued; then close and call ``connection_lost(None)``."""
        if self.is_closing():
            return
        self.closing = True
        self.pause_reading()
        self.connection.close_when_flushed()

    def abort(self) -> None:
        """Close now, dropping whatever is queued."""
        self.closing = True
        self.connection.outgoing.clear()
        self.connection.close()

    def pause_reading(self) -> None:
        self.connection.reading = False
        self.connection.interest_changed()

    def resume_reading(self) -> None:
        if not self.closing:
            self.connection.reading = True
            self.connection.interest_changed()

    def is_reading(self) -> bool:
        return self.connection.reading and not self.is_closing()

    def get_write_buffer_size(self) -> int:
        return len(self.connection.outgoing)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.connection.write_low, self.connection.write_high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        high = HIGH_WATER if high is None and low is None else high if high is not None else 4 * low  # type: ignore[operator]
        low = high // 4 if low is None else low
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self.connection.write_high, self.connection.write_low = high, low
        self.connection.apply_watermarks()

    def __repr__(self) -> str:
        state = "closed" if self.connection.closed else "closing" if self.closing else "open"
        return f"<SocketTransport {state} fd={self.connection.fileno()}>"


def set_nodelay(sock: socket.socket) -> None:
    """Turn Nagle's algorithm off on a TCP socket (asyncio does it for every stream transport)."""
    if (
        sock.family in (socket.AF_INET, socket.AF_INET6)
        and sock.type == socket.SOCK_STREAM
        and sock.proto in (0, socket.IPPROTO_TCP)
    ):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def peer_of(sock: socket.socket) -> Any:
    try:
        return sock.getpeername()
    except OSError:
        return None
