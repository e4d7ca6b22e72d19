"""``sock_sendfile`` and ``sendfile``: a file to a socket, by the kernel or as reads and writes.

Grows from: ``sockets`` (``sock_sendall``), ``transports`` (a transport's
flow control: ``pause_writing``/``resume_writing``) and chapter 08 (a blocking
call, here ``file.readinto``, runs in the thread pool).
Adds: asyncio's two sendfile methods.

``sock_sendfile`` first tries ``os.sendfile``, a system call that copies from
the file to the socket inside the kernel. On a non-blocking socket it is
chapter 02's rule once more: it sends what fits now and says how much, or
raises ``BlockingIOError``; then the loop waits until the socket is writable.
Where it cannot be used (no ``os.sendfile``, a file object with no descriptor)
it *falls back*, as asyncio does, to reading blocks and writing them: a copy
through user space that asks nothing new of the loop. ``fallback=False``
raises ``SendfileNotAvailableError`` instead of falling back.

``sendfile`` through a transport only has the fallback here (asyncio's native
path reaches into its transport's internals), so with ``fallback=False`` it
raises ``SendfileNotAvailableError``, as asyncio does without the system call.

Reading a file blocks (a disk is never "not ready" to ``select``), so each
block is read in the default executor. Through a transport, a block waits
while the transport's buffer is above its high-water mark: for the duration,
a small protocol stands in for the user's to hear ``pause_writing`` and
``resume_writing`` (asyncio's design), then hands the transport back.
"""

from __future__ import annotations

import asyncio
import errno
import io
import os
import socket
from typing import Any

from eventloop.aio.transports import SocketTransport

BLOCK = 256 * 1024  # bytes read per block through sock_sendfile (asyncio's)
TRANSPORT_BLOCK = 16 * 1024  # through a transport (asyncio's)
NO_NATIVE = "the sendfile syscall is not supported by eventloop.aio: use fallback=True"
NOT_A_FILE = (errno.EINVAL, errno.ENOTSOCK, errno.EOPNOTSUPP, errno.ENOSYS)


class SendfileMethods:
    """``sock_sendfile`` and ``sendfile``; mixed into ``EventLoop``."""

    async def sock_sendfile(
        self, sock: socket.socket, file: Any, offset: int = 0, count: int | None = None,
        *, fallback: bool = True,
    ) -> int:  # fmt: skip
        """Send ``file`` (from ``offset``, ``count`` bytes or to its end) on ``sock``."""
        check_params(sock, file, offset, count)
        try:
            return await self._sendfile_by_the_kernel(sock, file, offset, count)
        except asyncio.SendfileNotAvailableError:
            if not fallback:
                raise
        file_blocks, sent = Blocks(self, file, offset, count, BLOCK), 0
        try:
            while block := await file_blocks.next():
                await self.sock_sendall(sock, block)  # type: ignore[attr-defined]
                sent += len(block)
            return sent
        finally:
            if sent and hasattr(file, "seek"):  # where the next byte would come from
                file.seek(offset + sent)

    async def _sendfile_by_the_kernel(
        self, sock: socket.socket, file: Any, offset: int, count: int | None
    ) -> int:
        """``os.sendfile`` from ``offset``, waiting for writability whenever the socket is full."""
        if not hasattr(os, "sendfile"):
            raise asyncio.SendfileNotAvailableError("os.sendfile() is not available")
        try:
            fileno = file.fileno()
            size = os.fstat(fileno).st_size
        except (AttributeError, io.UnsupportedOperation, OSError) as error:
            raise asyncio.SendfileNotAvailableError("not a regular file") from error
        end = offset + count if count else size
        sent = 0
        try:
            while offset + sent < end:
                try:
                    just_sent = os.sendfile(
                        sock.fileno(), fileno, offset + sent, end - offset - sent
                    )
                except (BlockingIOError, InterruptedError):
                    await self._wait_until_ready(sock, "write")  # type: ignore[attr-defined]
                    continue
                except OSError as error:
                    if sent == 0 and error.errno in NOT_A_FILE:  # nothing sent: fall back
                        raise asyncio.SendfileNotAvailableError(
                            "os.sendfile call failed"
                        ) from error
                    raise
                if just_sent == 0:
                    break  # the end of the file came before ``end``
                sent += just_sent
            return sent
        finally:
            if sent:
                file.seek(offset + sent)

    async def sendfile(
        self, transport: Any, file: Any, offset: int = 0, count: int | None = None,
        *, fallback: bool = True,
    ) -> int:  # fmt: skip
        """Send ``file`` through a stream ``transport``; its protocol hears nothing meanwhile."""
        if transport.is_closing():
            raise RuntimeError("Transport is closing")
        if not isinstance(transport, SocketTransport):
            raise RuntimeError(f"sendfile is not supported for transport {transport!r}")
        if not fallback:
            raise asyncio.SendfileNotAvailableError(NO_NATIVE)
        check_params(transport.get_extra_info("socket"), file, offset, count)
        file_blocks, sent = Blocks(self, file, offset, count, TRANSPORT_BLOCK), 0
        stand_in = StandIn(self, transport)
        try:
            while block := await file_blocks.next():
                await stand_in.drain()
                transport.write(block)  # copied: the next block reuses the buffer
                sent += len(block)
            return sent
        finally:
            if sent and hasattr(file, "seek"):
                file.seek(offset + sent)
            stand_in.restore()


class Blocks:
    """The file's bytes from ``offset``, ``count`` of them or to its end, one block at a time."""

    def __init__(self, loop: Any, file: Any, offset: int, count: int | None, size: int) -> None:
        if offset:
            file.seek(offset)
        self.loop, self.file, self.left = loop, file, count
        self.buffer = bytearray(min(count, size) if count else size)

    async def next(self) -> memoryview:
        """The next block, empty at the end. Read in a thread: a file read blocks."""
        if self.left == 0:
            return memoryview(b"")
        size = len(self.buffer) if self.left is None else min(self.left, len(self.buffer))
        read = await self.loop.run_in_executor(
            None, self.file.readinto, memoryview(self.buffer)[:size]
        )
        if self.left is not None:
            self.left -= read
        return memoryview(self.buffer)[:read]


class StandIn(asyncio.Protocol):
    """The transport's protocol while a file goes through it: hears flow control, reads nothing."""

    def __init__(self, loop: Any, transport: SocketTransport) -> None:
        self.loop = loop
        self.transport = transport
        self.protocol = transport.get_protocol()
        self.was_reading = transport.is_reading()
        self.was_paused = transport.connection.writing_paused
        self.ready: asyncio.Future[None] | None = loop.create_future() if self.was_paused else None
        transport.pause_reading()
        transport.set_protocol(self)

    async def drain(self) -> None:
        if self.transport.is_closing():
            raise ConnectionError("Connection closed by peer")
        if self.ready is not None:
            await self.ready

    def pause_writing(self) -> None:
        if self.ready is None:
            self.ready = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.ready is not None:
            self.ready.set_result(None)
            self.ready = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ready is not None and not self.ready.done():  # done: cancelled with sendfile
            self.ready.set_exception(exc or ConnectionError("Connection is closed by peer"))
        self.ready = None
        self.protocol.connection_lost(exc)

    def restore(self) -> None:
        """The user's protocol back, reading as before; told to resume if it was paused."""
        self.transport.set_protocol(self.protocol)
        if self.ready is not None:
            self.ready.cancel()
        if self.was_reading:
            self.transport.resume_reading()
        if self.was_paused:
            self.protocol.resume_writing()  # type: ignore[attr-defined]


def check_params(sock: socket.socket, file: Any, offset: int, count: int | None) -> None:
    """asyncio's checks, with asyncio's words."""
    if "b" not in getattr(file, "mode", "b"):
        raise ValueError("file should be opened in binary mode")
    if sock.type != socket.SOCK_STREAM:
        raise ValueError("only SOCK_STREAM type sockets are supported")
    if count is not None:
        if not isinstance(count, int):
            raise TypeError(f"count must be a positive integer (got {count!r})")
        if count <= 0:
            raise ValueError(f"count must be a positive integer (got {count!r})")
    if not isinstance(offset, int):
        raise TypeError(f"offset must be a non-negative integer (got {offset!r})")
    if offset < 0:
        raise ValueError(f"offset must be a non-negative integer (got {offset!r})")
