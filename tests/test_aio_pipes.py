"""eventloop/aio/pipes.py: connect_read_pipe and connect_write_pipe, on our loop and asyncio's."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventloop.aio import EventLoop

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")

LOOPS = {"ours": EventLoop, "asyncio": asyncio.new_event_loop}


@pytest.fixture(params=list(LOOPS))
def loop(request) -> Iterator[asyncio.AbstractEventLoop]:
    loop = LOOPS[request.param]()
    try:
        yield loop
    finally:
        loop.close()


class Recording(asyncio.Protocol):
    """Writes down every call, and resolves ``lost`` with connection_lost's argument."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.events: list[object] = []
        self.lost = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append("connection_made")

    def data_received(self, data: bytes) -> None:
        self.events.append(("data_received", data))

    def eof_received(self) -> None:
        self.events.append("eof_received")

    def pause_writing(self) -> None:
        self.events.append("pause_writing")

    def resume_writing(self) -> None:
        self.events.append("resume_writing")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(("connection_lost", type(exc).__name__ if exc else None))
        self.lost.set_result(exc)


def test_a_read_pipe_delivers_data_then_eof_then_connection_lost(loop):
    async def main() -> tuple[list[object], bool]:
        read_end, write_end = os.pipe()
        with open(read_end, "rb", buffering=0) as pipe:
            transport, protocol = await loop.connect_read_pipe(lambda: Recording(loop), pipe)
            os.write(write_end, b"hello")
            while len(protocol.events) < 2:
                await asyncio.sleep(0)
            os.close(write_end)
            await asyncio.wait_for(protocol.lost, 10)
            return protocol.events, pipe.closed

    events, closed = loop.run_until_complete(main())
    assert events == [
        "connection_made",
        ("data_received", b"hello"),
        "eof_received",
        ("connection_lost", None),
    ]
    assert closed  # the transport closes the pipe object it was given


def test_pause_reading_stops_the_data_until_resume(loop):
    async def main() -> list[object]:
        read_end, write_end = os.pipe()
        seen: list[object] = []
        with open(read_end, "rb", buffering=0) as pipe:
            transport, protocol = await loop.connect_read_pipe(lambda: Recording(loop), pipe)
            transport.pause_reading()
            os.write(write_end, b"waits")
            for _ in range(5):  # several iterations: nothing may arrive while paused
                await asyncio.sleep(0)
            seen.append(list(protocol.events))
            transport.resume_reading()
            while len(protocol.events) < 2:
                await asyncio.sleep(0)
            seen.append(list(protocol.events))
            os.close(write_end)
            transport.close()
            await protocol.lost
        return seen

    assert loop.run_until_complete(main()) == [
        ["connection_made"],
        ["connection_made", ("data_received", b"waits")],
    ]


def test_is_reading_follows_pause_and_resume():  # asyncio's pipes have it from Python 3.11
    loop = EventLoop()
    read_end, write_end = os.pipe()
    try:
        with open(read_end, "rb", buffering=0) as pipe:
            transport, _ = loop.run_until_complete(loop.connect_read_pipe(asyncio.Protocol, pipe))
            seen = [transport.is_reading()]
            transport.pause_reading()
            seen.append(transport.is_reading())
            transport.resume_reading()
            seen.append(transport.is_reading())
            transport.close()
            seen.append(transport.is_reading())
            loop.run_until_complete(asyncio.sleep(0))
        assert seen == [True, False, True, False]
    finally:
        os.close(write_end)
        loop.close()


def test_a_write_pipe_sends_everything_before_closing(loop):
    async def main() -> tuple[bytes, list[object]]:
        read_end, write_end = os.pipe()
        with open(write_end, "wb", buffering=0) as pipe:
            transport, protocol = await loop.connect_write_pipe(lambda: Recording(loop), pipe)
            payload = bytes(range(256)) * 1024  # 256 KiB: more than a pipe holds (64 KiB)
            transport.write(payload)
            transport.write(bytearray(b"end"))
            transport.close()
            received = await loop.run_in_executor(None, read_all, read_end)
            await asyncio.wait_for(protocol.lost, 10)
            assert received == payload + b"end"
            return received[-3:], protocol.events

    tail, events = loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_default_executor())
    assert tail == b"end"
    assert events == [
        "connection_made",
        "pause_writing",
        "resume_writing",
        ("connection_lost", None),
    ]


def read_all(fd: int) -> bytes:
    """A blocking reader for the other end (in a thread), until the writer closes."""
    chunks = []
    with open(fd, "rb", buffering=0) as reader:
        while chunk := reader.read(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_writer_notices_that_the_reader_has_gone_without_writing(loop):
    """The reader trick: the write end turns readable when the read end closes."""

    async def main() -> list[object]:
        read_end, write_end = os.pipe()
        with open(write_end, "wb", buffering=0) as pipe:
            transport, protocol = await loop.connect_write_pipe(lambda: Recording(loop), pipe)
            os.close(read_end)
            await asyncio.wait_for(protocol.lost, 10)
            transport.write(b"ignored: the transport is closing")
            return [*protocol.events, transport.is_closing()]

    assert loop.run_until_complete(main()) == ["connection_made", ("connection_lost", None), True]


def test_writing_after_the_reader_has_gone_is_a_broken_pipe(loop):
    async def main() -> list[object]:
        read_end, write_end = os.pipe()
        with open(write_end, "wb", buffering=0) as pipe:
            transport, protocol = await loop.connect_write_pipe(lambda: Recording(loop), pipe)
            os.write(write_end, b"x" * 65536)  # fill the pipe: the next write must wait
            transport.write(b"queued")
            os.close(read_end)
            await asyncio.wait_for(protocol.lost, 10)
            return protocol.events

    assert loop.run_until_complete(main()) == [
        "connection_made",
        ("connection_lost", "BrokenPipeError"),
    ]


def test_a_regular_file_is_refused(loop, tmp_path: Path):
    path = tmp_path / "file"
    path.write_bytes(b"")

    async def main() -> list[str]:
        errors = []
        with open(path, "rb") as reading, open(path, "wb") as writing:
            for connect, pipe in (
                (loop.connect_read_pipe, reading),
                (loop.connect_write_pipe, writing),
            ):
                try:
                    await connect(asyncio.Protocol, pipe)
                except ValueError as error:
                    errors.append(str(error))
        return errors

    assert loop.run_until_complete(main()) == [
        "Pipe transport is for pipes/sockets only.",
        "Pipe transport is only for pipes, sockets and character devices",
    ]


def test_the_write_buffer_limits_are_asyncios(loop):
    async def main() -> list[object]:
        read_end, write_end = os.pipe()
        os.close(read_end)
        with open(write_end, "wb", buffering=0) as pipe:
            transport, protocol = await loop.connect_write_pipe(lambda: Recording(loop), pipe)
            seen: list[object] = [transport.get_write_buffer_limits()]
            transport.set_write_buffer_limits(high=1000)
            seen.append(transport.get_write_buffer_limits())
            try:
                transport.set_write_buffer_limits(high=10, low=20)
            except ValueError as error:
                seen.append(str(error))
            transport.abort()
            await protocol.lost
            return seen

    assert loop.run_until_complete(main()) == [
        (16384, 65536),
        (250, 1000),
        "high (10) must be >= low (20) must be >= 0",
    ]
