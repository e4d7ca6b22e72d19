"""Pipe transports: ``connect_read_pipe`` and ``connect_write_pipe``.

Grows from: ``transports`` (chapter 05's connection as an asyncio transport)
and chapter 02's rule that a non-blocking call either does some of the work
or says "not now" (``BlockingIOError``).
Adds: asyncio's ``ReadTransport`` and ``WriteTransport`` over one end of a
pipe (or of a socket, or a terminal), which is what a subprocess's stdin,
stdout and stderr are (``subprocesses``).

A pipe is readiness as before: ``select`` reports its reading end readable
when bytes (or the end of the stream) are waiting, its writing end writable
when the kernel's buffer has room. What differs from a TCP socket:

* it goes **one way**, so each end gets a transport of its own, and half of
  chapter 05's connection would be dead code: these transports are written out
  (``os.read``/``os.write`` instead of ``recv``/``send``), each in a few lines;
* the end of the stream is ``os.read`` returning ``b""``; the writer's
  "EOF" is closing its end: ``write_eof()`` and ``close()`` are the same;
* the writer learns that the reader has gone by *reading* its own end: Linux
  and macOS report the writing end readable (an error, in fact) once the
  reading end is closed. Without that, a writer with nothing to write would
  never notice, and a subprocess transport would wait for it forever.

Backpressure is asyncio's: above the high-water mark the protocol's
``pause_writing`` is called, ``resume_writing`` once the buffer has drained.
"""

from __future__ import annotations

import asyncio
import os
import stat
import warnings
from asyncio import futures
from typing import Any

from eventloop.aio.transports import HIGH_WATER

READ_SIZE = 256 * 1024  # asyncio's max_size for pipes


def nonblocking_fileno(pipe: Any, refusal: str) -> int:
    """The pipe's descriptor, made non-blocking; refuse a regular file (never "not ready")."""
    fd = pipe.fileno()
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
        raise ValueError(refusal)
    os.set_blocking(fd, False)
    return fd


class PipeTransport:
    """What both ends share: the pipe object, its protocol, closing once, ``connection_lost``."""

    refusal = ""  # asyncio's words for "not a pipe", which differ by direction

    def __init__(self, loop: Any, pipe: Any, protocol: asyncio.BaseProtocol) -> None:
        self.loop = loop
        self.fd = nonblocking_fileno(pipe, self.refusal)
        self.pipe: Any = pipe
        self.protocol = protocol
        self.extra = {"pipe": pipe}
        self.closing = False
        self.lost = False  # connection_lost is scheduled: it must run once

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def is_closing(self) -> bool:
        return self.closing

    def lose(self, error: Exception | None) -> None:
        """Closing: ``connection_lost`` at the next turn, once whatever happens."""
        self.closing = True
        if not self.lost:
            self.lost = True
            self.loop.call_soon(self.connection_lost, error)

    def connection_lost(self, error: Exception | None) -> None:
        """Last call: the protocol hears of it, then the pipe is closed."""
        try:
            self.protocol.connection_lost(error)
        finally:
            self.pipe.close()
            self.pipe = None

    def fatal_error(self, error: BaseException, message: str) -> None:
        """An OSError (the other end vanished) just closes, as asyncio; anything else is
        also reported through the loop's exception handler."""
        if not isinstance(error, OSError):
            self.loop.call_exception_handler(
                {
                    "message": message,
                    "exception": error,
                    "transport": self,
                    "protocol": self.protocol,
                }
            )
        self.force_close(error if isinstance(error, Exception) else None)

    def force_close(self, error: Exception | None) -> None:
        raise NotImplementedError

    def __del__(self) -> None:
        if getattr(self, "pipe", None) is not None:
            warnings.warn(f"unclosed transport {self!r}", ResourceWarning, 2, source=self)
            self.pipe.close()

    def __repr__(self) -> str:
        state = "closed" if self.pipe is None else "closing" if self.closing else "open"
        return f"<{type(self).__name__} fd={self.fd} {state}>"


class ReadPipeTransport(PipeTransport, asyncio.ReadTransport):
    """The reading end: each chunk to ``data_received``; ``b""`` ends it (``eof_received``)."""

    refusal = "Pipe transport is for pipes/sockets only."

    def __init__(self, loop: Any, pipe: Any, protocol: asyncio.BaseProtocol) -> None:
        asyncio.ReadTransport.__init__(self)
        PipeTransport.__init__(self, loop, pipe, protocol)
        self.paused = False
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(self.start_reading)  # the protocol hears nothing before connection_made

    def start_reading(self) -> None:
        if not self.closing and not self.paused:
            self.loop.add_reader(self.fd, self.read_ready)

    def read_ready(self) -> None:
        try:
            data = os.read(self.fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self.fatal_error(error, "Fatal read error on pipe transport")
            return
        if data:
            self.protocol.data_received(data)  # type: ignore[attr-defined]
            return
        self.loop.remove_reader(self.fd)  # the writer closed its end
        self.loop.call_soon(self.protocol.eof_received)  # type: ignore[attr-defined]
        self.lose(None)

    def pause_reading(self) -> None:
        if not self.closing and not self.paused:
            self.paused = True
            self.loop.remove_reader(self.fd)

    def resume_reading(self) -> None:
        if not self.closing and self.paused:
            self.paused = False
            self.loop.add_reader(self.fd, self.read_ready)

    def is_reading(self) -> bool:
        return not self.paused and not self.closing

    def close(self) -> None:
        if not self.closing:
            self.force_close(None)

    def force_close(self, error: Exception | None) -> None:
        if self.lost:  # the descriptor may be closed, its number someone else's
            return
        self.loop.remove_reader(self.fd)
        self.lose(error)


class WritePipeTransport(PipeTransport, asyncio.WriteTransport):
    """The writing end: ``write`` never blocks; what the pipe does not take waits in a buffer."""

    refusal = "Pipe transport is only for pipes, sockets and character devices"

    def __init__(self, loop: Any, pipe: Any, protocol: asyncio.BaseProtocol) -> None:
        asyncio.WriteTransport.__init__(self)
        PipeTransport.__init__(self, loop, pipe, protocol)
        self.buffer = bytearray()
        self.high, self.low = HIGH_WATER, HIGH_WATER // 4
        self.writing_paused = False
        loop.call_soon(protocol.connection_made, self)
        if stat.S_ISFIFO(os.fstat(self.fd).st_mode) or stat.S_ISSOCK(os.fstat(self.fd).st_mode):
            loop.call_soon(loop.add_reader, self.fd, self.reader_gone)

    def reader_gone(self) -> None:
        """Our end turned "readable": the reading end is closed. Unsent bytes are lost."""
        self.force_close(BrokenPipeError() if self.buffer else None)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"data argument must be a bytes-like object, not {type(data).__name__!r}"
            )
        if not data or self.closing:
            return  # as asyncio: writing to a closing transport is ignored
        if not self.buffer:  # try now: usually the pipe takes it all
            try:
                sent = os.write(self.fd, data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as error:  # BrokenPipeError: the reader has gone
                self.fatal_error(error, "Fatal write error on pipe transport")
                return
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
            self.loop.add_writer(self.fd, self.write_ready)
        self.buffer += data
        if not self.writing_paused and len(self.buffer) > self.high:
            self.writing_paused = True
            self.protocol.pause_writing()

    def write_ready(self) -> None:
        """Writable: send from the buffer; once empty, resume the protocol, or finish closing."""
        try:
            sent = os.write(self.fd, self.buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self.buffer.clear()
            self.loop.remove_writer(self.fd)
            self.fatal_error(error, "Fatal write error on pipe transport")
            return
        del self.buffer[:sent]
        if self.writing_paused and len(self.buffer) <= self.low:
            self.writing_paused = False
            self.protocol.resume_writing()  # may write more
        if self.buffer:
            return
        self.loop.remove_writer(self.fd)
        if self.closing:  # write_eof() was waiting for the buffer to drain
            self.loop.remove_reader(self.fd)
            self.lose(None)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        """Close our end once the buffer is sent: for a pipe, that is the end of the stream."""
        if self.closing:
            return
        self.closing = True
        if not self.buffer:
            self.loop.remove_reader(self.fd)
            self.lose(None)

    def close(self) -> None:
        if self.pipe is not None and not self.closing:
            self.write_eof()

    def abort(self) -> None:
        self.force_close(None)

    def force_close(self, error: Exception | None) -> None:
        if self.lost:  # the descriptor may be closed, its number someone else's
            return
        if self.buffer:
            self.loop.remove_writer(self.fd)
        self.buffer.clear()
        self.loop.remove_reader(self.fd)
        self.lose(error)

    def get_write_buffer_size(self) -> int:
        return len(self.buffer)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.low, self.high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        high = HIGH_WATER if high is None and low is None else high if high is not None else 4 * low  # type: ignore[operator]
        low = high // 4 if low is None else low
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self.high, self.low = high, low


class PipeMethods:
    """``connect_read_pipe`` and ``connect_write_pipe``; mixed into ``EventLoop``."""

    async def connect_read_pipe(self, protocol_factory: Any, pipe: Any) -> tuple[Any, Any]:
        """Read ``pipe`` (a file object) into a protocol from ``protocol_factory``."""
        protocol = protocol_factory()
        transport = ReadPipeTransport(self, pipe, protocol)
        await connection_made(self, transport)
        return transport, protocol

    async def connect_write_pipe(self, protocol_factory: Any, pipe: Any) -> tuple[Any, Any]:
        """Write to ``pipe`` (a file object) through a transport, with a protocol's flow control."""
        protocol = protocol_factory()
        transport = WritePipeTransport(self, pipe, protocol)
        await connection_made(self, transport)
        return transport, protocol


async def connection_made(loop: Any, transport: PipeTransport) -> None:
    """Return once the protocol's ``connection_made`` has run (it was queued first)."""
    waiter = loop.create_future()
    loop.call_soon(futures._set_result_unless_cancelled, waiter, None)
    try:
        await waiter
    except BaseException:
        transport.close()
        raise
