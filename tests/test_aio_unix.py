"""eventloop/aio/unix.py: Unix domain sockets, on our loop and on asyncio's, observed the same."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventloop.aio import EventLoop

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no AF_UNIX")

LOOPS = {"ours": EventLoop, "asyncio": asyncio.new_event_loop}


@pytest.fixture(params=list(LOOPS))
def loop(request) -> Iterator[asyncio.AbstractEventLoop]:
    loop = LOOPS[request.param]()
    try:
        yield loop
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "s")


def test_streams_echo_over_a_unix_socket(loop, path):
    async def main() -> list[object]:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(("server sees peer", writer.get_extra_info("peername")))
            seen.append(("server sockname", writer.get_extra_info("sockname")))
            writer.write(await reader.readline())
            await writer.drain()
            writer.close()

        seen: list[object] = []
        server = await asyncio.start_unix_server(echo, path)
        seen.append(("listening on", server.sockets[0].getsockname()))
        reader, writer = await asyncio.open_unix_connection(path)
        seen.append(("client peername", writer.get_extra_info("peername")))
        writer.write(b"hello\n")
        seen.append(("echo", await reader.readline()))
        seen.append(("then", await reader.read()))
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return seen

    assert loop.run_until_complete(main()) == [
        ("listening on", path),
        ("client peername", path),
        ("server sees peer", ""),  # the client's socket has no name
        ("server sockname", path),
        ("echo", b"hello\n"),
        ("then", b""),
    ]


class Recording(asyncio.Protocol):
    def __init__(self, events: list[object], done: asyncio.Future[None] | None = None) -> None:
        self.events, self.done = events, done

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.events.append("connection_made")

    def data_received(self, data: bytes) -> None:
        self.events.append(("data_received", data))
        self.transport.write(data.upper())  # type: ignore[attr-defined]
        self.transport.write_eof()  # type: ignore[attr-defined]

    def eof_received(self) -> None:
        self.events.append("eof_received")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(("connection_lost", exc))
        if self.done is not None:
            self.done.set_result(None)


def test_protocols_hear_the_same_events_in_the_same_order(loop, path):
    async def main() -> list[object]:
        events: list[object] = []
        done = loop.create_future()
        server = await loop.create_unix_server(lambda: Recording(events, done), path)
        sock = socket.socket(socket.AF_UNIX)
        sock.setblocking(False)
        await loop.sock_connect(sock, path)
        await loop.sock_sendall(sock, b"ping")
        reply = await loop.sock_recv(sock, 100)
        events.append(("client got", reply, await loop.sock_recv(sock, 100)))
        sock.close()
        await done
        server.close()
        await server.wait_closed()
        return events

    assert loop.run_until_complete(main()) == [
        "connection_made",
        ("data_received", b"ping"),
        ("client got", b"PING", b""),
        "eof_received",
        ("connection_lost", None),
    ]


def test_a_connection_on_a_socket_of_a_socketpair(loop):
    async def main() -> bytes:
        ours, theirs = socket.socketpair()
        with theirs:
            transport, _ = await loop.create_unix_connection(asyncio.Protocol, sock=ours)
            transport.write(b"through a socketpair")
            theirs.settimeout(10)
            received = theirs.recv(100)
            transport.close()
            return received

    assert loop.run_until_complete(main()) == b"through a socketpair"


def test_a_stale_socket_file_is_replaced_but_a_regular_file_is_not(loop, path):
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # a server that died: its file stays
    assert os.path.exists(path)

    async def main() -> None:
        server = await loop.create_unix_server(asyncio.Protocol, path)
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())
    regular = Path(path + "-file")
    regular.write_text("not a socket")
    with pytest.raises(OSError, match="already in use") as raised:
        loop.run_until_complete(loop.create_unix_server(asyncio.Protocol, str(regular)))
    assert raised.value.errno == errno.EADDRINUSE
    assert regular.read_text() == "not a socket"


def test_closing_the_server_removes_its_socket_file(loop, path):
    if not isinstance(loop, EventLoop) and sys.version_info < (3, 13):
        pytest.skip("asyncio removes the file from Python 3.13 on (cleanup_socket)")

    async def main() -> tuple[bool, bool]:
        server = await loop.create_unix_server(asyncio.Protocol, path)
        existed = os.path.exists(path)
        server.close()
        await server.wait_closed()
        return existed, os.path.exists(path)

    assert loop.run_until_complete(main()) == (True, False)


def test_a_server_on_a_socket_made_elsewhere(loop, path):
    async def main() -> bytes:
        async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"hello")
            writer.close()

        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        server = await asyncio.start_unix_server(hello, sock=listener)
        reader, writer = await asyncio.open_unix_connection(path)
        received = await reader.read()
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return received

    assert loop.run_until_complete(main()) == b"hello"


@pytest.mark.skipif(sys.platform != "linux", reason="Linux's abstract namespace")
def test_an_abstract_address_has_no_file(loop):
    name = f"\0eventloop-aio-test-{os.getpid()}-{id(loop)}"

    async def main() -> bytes:
        async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"abstract")
            writer.close()

        server = await asyncio.start_unix_server(hello, name)
        reader, writer = await asyncio.open_unix_connection(name)
        received = await reader.read()
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return received

    assert loop.run_until_complete(main()) == b"abstract"


def outcomes(loop: asyncio.AbstractEventLoop, path: str) -> dict[str, str]:
    """What each call raises (``type: message``) or ``ok``."""
    inet = socket.socket()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path + "-stale")
    stale.close()
    calls = {
        "connect to nothing": lambda: loop.create_unix_connection(asyncio.Protocol, path),
        "connect to a stale file": lambda: loop.create_unix_connection(
            asyncio.Protocol, path + "-stale"
        ),
        "connect with path and sock": lambda: loop.create_unix_connection(
            asyncio.Protocol, path, sock=inet
        ),
        "connect with neither": lambda: loop.create_unix_connection(asyncio.Protocol),
        "connect on a TCP socket": lambda: loop.create_unix_connection(asyncio.Protocol, sock=inet),
        "connect with a handshake timeout": lambda: loop.create_unix_connection(
            asyncio.Protocol, path, ssl_handshake_timeout=1
        ),
        "serve with neither": lambda: loop.create_unix_server(asyncio.Protocol),
        "serve on a TCP socket": lambda: loop.create_unix_server(asyncio.Protocol, sock=inet),
        "serve with ssl=True": lambda: loop.create_unix_server(asyncio.Protocol, path, ssl=True),
        "serve with a handshake timeout": lambda: loop.create_unix_server(
            asyncio.Protocol, path, ssl_handshake_timeout=1
        ),
    }
    seen = {}
    try:
        for name, call in calls.items():
            try:
                loop.run_until_complete(call())
                seen[name] = "ok"
            except Exception as error:
                seen[name] = f"{type(error).__name__}: {error}".replace(repr(inet), "<inet>")
    finally:
        inet.close()
    return seen


def test_mistakes_raise_what_asyncio_raises(path):
    ours, theirs = EventLoop(), asyncio.new_event_loop()
    try:
        expected = outcomes(theirs, path + "-asyncio")
        got = outcomes(ours, path + "-ours")
    finally:
        ours.close()
        theirs.close()
    assert got.keys() == expected.keys()
    for name in expected:  # error messages name the path, which differs
        assert got[name].split(":")[0] == expected[name].split(":")[0], name
    assert got["connect to nothing"].startswith("FileNotFoundError")
    assert got["connect to a stale file"].startswith("ConnectionRefusedError")
    assert got["connect with path and sock"] == expected["connect with path and sock"]
    assert got["serve with a handshake timeout"] == expected["serve with a handshake timeout"]


def test_tls_is_refused_by_name_not_ignored(path):
    loop = EventLoop()
    try:
        context = ssl.create_default_context()
        with pytest.raises(NotImplementedError, match=r"create_unix_server\(ssl=.*no TLS"):
            loop.run_until_complete(loop.create_unix_server(asyncio.Protocol, path, ssl=context))
        with pytest.raises(NotImplementedError, match=r"create_unix_connection\(ssl=.*no TLS"):
            loop.run_until_complete(
                loop.create_unix_connection(
                    asyncio.Protocol, path, ssl=context, server_hostname="x"
                )
            )
        assert not os.path.exists(path)
    finally:
        loop.close()
