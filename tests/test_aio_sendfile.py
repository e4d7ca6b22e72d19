"""eventloop/aio/sendfile.py: sock_sendfile and sendfile, on our loop and asyncio's.

What the receiver gets, the count returned and the file's position afterwards
must be the same on both, by the sendfile system call or by the fallback.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventloop.aio import EventLoop

LOOPS = {"ours": EventLoop, "asyncio": asyncio.new_event_loop}
DATA = os.urandom(600_000)


@pytest.fixture(params=list(LOOPS))
def loop(request) -> Iterator[asyncio.AbstractEventLoop]:
    loop = LOOPS[request.param]()
    try:
        yield loop
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.write_bytes(DATA)
    return path


async def receive_all(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    chunks = []
    while chunk := await loop.sock_recv(sock, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(("offset", "count"), [(0, None), (1000, 300_000), (599_999, 10)])
def test_sock_sendfile_sends_the_slice_and_moves_the_file_position(loop, data_file, offset, count):
    async def main() -> tuple[int, bytes, int]:
        sender, receiver = socket.socketpair()
        with sender, receiver, open(data_file, "rb") as file:
            sender.setblocking(False)
            receiver.setblocking(False)
            receiving = asyncio.ensure_future(receive_all(loop, receiver))
            sent = await loop.sock_sendfile(sender, file, offset, count)
            sender.shutdown(socket.SHUT_WR)
            return sent, await receiving, file.tell()

    expected = DATA[offset : None if count is None else offset + count]
    assert loop.run_until_complete(main()) == (len(expected), expected, offset + len(expected))


def test_sendfile_through_a_transport_then_the_protocol_has_it_back(loop, data_file):
    async def main() -> tuple[int, bytes]:
        async def count_then_reply(reader, writer) -> None:
            received = await reader.read()
            writer.write(b"%d %d" % (len(received), received == DATA + b"tail"))
            writer.close()

        server = await asyncio.start_server(count_then_reply, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
        with open(data_file, "rb") as file:
            sent = await loop.sendfile(writer.transport, file)
        writer.write(b"tail")
        writer.write_eof()
        reply = await reader.read()  # reading was resumed, with the stream's own protocol
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return sent, reply

    assert loop.run_until_complete(main()) == (len(DATA), b"%d 1" % (len(DATA) + 4))


def outcomes(loop: asyncio.AbstractEventLoop, data_file: Path) -> dict[str, str]:
    stream, peer = socket.socketpair()
    datagram = socket.socket(type=socket.SOCK_DGRAM)
    stream.setblocking(False)
    datagram.setblocking(False)
    seen = {}
    try:
        with open(data_file, "rb") as binary, open(data_file) as text:
            calls = {
                "text file": (stream, text, 0, None),
                "datagram socket": (datagram, binary, 0, None),
                "count 0": (stream, binary, 0, 0),
                "count 1.5": (stream, binary, 0, 1.5),
                "offset -1": (stream, binary, -1, None),
                "offset 'a'": (stream, binary, "a", None),
            }
            for name, args in calls.items():
                try:
                    loop.run_until_complete(loop.sock_sendfile(*args))
                    seen[name] = "ok"
                except Exception as error:
                    seen[name] = f"{type(error).__name__}: {error}"
    finally:
        for sock in (stream, peer, datagram):
            sock.close()
    return seen


def test_mistakes_raise_what_asyncio_raises(data_file):
    ours, theirs = EventLoop(), asyncio.new_event_loop()
    try:
        assert outcomes(ours, data_file) == outcomes(theirs, data_file)
    finally:
        ours.close()
        theirs.close()


def sendfile_outcome(loop: asyncio.AbstractEventLoop, file: Any, fallback: bool) -> object:
    """What sock_sendfile returns (the count and the bytes received), or the error's type."""

    async def main() -> object:
        sender, receiver = socket.socketpair()
        with sender, receiver:
            sender.setblocking(False)
            receiver.setblocking(False)
            receiving = asyncio.ensure_future(receive_all(loop, receiver))
            try:
                sent = await loop.sock_sendfile(sender, file, fallback=fallback)
            except asyncio.SendfileNotAvailableError:
                receiving.cancel()
                return "SendfileNotAvailableError"
            sender.shutdown(socket.SHUT_WR)
            return sent, await receiving

    return loop.run_until_complete(main())


def test_a_file_object_with_no_descriptor_falls_back_to_reads_and_writes(loop):
    expected = (len(DATA), DATA)
    assert sendfile_outcome(loop, io.BytesIO(DATA), fallback=True) == expected
    assert sendfile_outcome(loop, io.BytesIO(DATA), fallback=False) == "SendfileNotAvailableError"


def test_the_kernel_sends_a_regular_file_without_the_fallback(loop, data_file, monkeypatch):
    calls = []
    real = os.sendfile

    def counting_sendfile(*args: int) -> int:
        calls.append(args[2])  # the offset
        return real(*args)

    monkeypatch.setattr(os, "sendfile", counting_sendfile)
    with open(data_file, "rb") as file:
        assert sendfile_outcome(loop, file, fallback=False) == (len(DATA), DATA)
    assert calls[0] == 0 and len(calls) >= 2  # 600 kB do not fit a socketpair at once


def test_without_os_sendfile_only_the_fallback_is_left(loop, data_file, monkeypatch):
    monkeypatch.delattr(os, "sendfile")
    with open(data_file, "rb") as file:
        assert sendfile_outcome(loop, file, fallback=True) == (len(DATA), DATA)
        file.seek(0)
        assert sendfile_outcome(loop, file, fallback=False) == "SendfileNotAvailableError"


def test_without_the_fallback_a_transport_says_so_too(loop, data_file):
    """asyncio: its native path fails (patched here to fail, as on a system without it)."""
    if not isinstance(loop, EventLoop):
        loop._sendfile_native = asyncio.BaseEventLoop._sendfile_native.__get__(loop)

    async def main() -> tuple[str, int]:
        async def ignore(reader, writer) -> None:
            await reader.read()
            writer.close()

        server = await asyncio.start_server(ignore, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
        with open(data_file, "rb") as file:
            try:
                await loop.sendfile(writer.transport, file, fallback=False)
                outcome = "sent"
            except asyncio.SendfileNotAvailableError as error:
                outcome = "not supported" if "not supported" in str(error) else str(error)
            position = file.tell()
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return outcome, position

    assert loop.run_until_complete(main()) == ("not supported", 0)


def test_a_transport_that_is_not_a_stream_is_refused(data_file):
    loop = EventLoop()
    read_end, write_end = os.pipe()
    try:
        with open(write_end, "wb", buffering=0) as pipe, open(data_file, "rb") as file:
            transport, _ = loop.run_until_complete(loop.connect_write_pipe(asyncio.Protocol, pipe))
            with pytest.raises(RuntimeError, match="not supported for transport"):
                loop.run_until_complete(loop.sendfile(transport, file))
            transport.close()
            loop.run_until_complete(asyncio.sleep(0))
    finally:
        os.close(read_end)
        loop.close()
