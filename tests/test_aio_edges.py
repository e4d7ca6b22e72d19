"""eventloop.aio at the edges: where asyncio's semantics are easy to get subtly wrong.

Each test runs on our loop AND on asyncio's own, and asserts what both do
(issue 26, "asyncio's semantics at every edge").
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from eventloop.aio import EventLoop

LOOPS = {"ours": EventLoop, "asyncio": asyncio.new_event_loop}


@pytest.fixture(params=list(LOOPS))
def loop(request) -> Iterator[asyncio.AbstractEventLoop]:
    loop = LOOPS[request.param]()
    try:
        yield loop
    finally:
        if not loop.is_closed():
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()


def nodelay(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_stream_transports_set_tcp_nodelay(loop):
    """Nagle's algorithm would hold a request written in two pieces for a round trip."""
    accepted = []

    async def main():
        server = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        while not accepted:
            await asyncio.sleep(0)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as plain:
            plain.connect(server.sockets[0].getsockname())
            other, _ = await loop.connect_accepted_socket(asyncio.Protocol, plain.dup())
            while len(accepted) < 2:
                await asyncio.sleep(0)
        seen = [
            nodelay(writer.get_extra_info("socket")),
            nodelay(accepted[0].get_extra_info("socket")),
            nodelay(other.get_extra_info("socket")),
        ]
        other.close()
        for closing in (writer, *accepted):
            closing.close()
            await closing.wait_closed()
        server.close()
        await server.wait_closed()
        return seen

    assert loop.run_until_complete(main()) == [True, True, True]
