"""Fault injection: each fault happens, and correct code (ours, websockets, httpx) copes."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from eventloop.observe import Faults, FaultyEventLoop
from eventloop.observe.faults import FaultySelector


def run_on(faults: Faults, main):
    loop = FaultyEventLoop(faults)
    try:
        result = loop.run_until_complete(main())
        loop.run_until_complete(loop.shutdown_default_executor())
        return result, loop
    finally:
        loop.close()


async def streams_echo(size: int = 20_000) -> bytes:
    """An asyncio streams echo server and client, on loopback: what comes back."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(bytes(range(256)) * (size // 256))
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(size // 256 * 256), 20)
    finally:
        writer.close()
        server.close()  # first: wait_closed below re-raises a reset, and the listener must close
        await server.wait_closed()
        with contextlib.suppress(ConnectionResetError):
            await writer.wait_closed()


PAYLOAD = bytes(range(256)) * (20_000 // 256)


def test_no_faults_means_nothing_injected():
    got, loop = run_on(Faults(), streams_echo)
    assert got == PAYLOAD
    assert loop.injected() == "nothing injected"


def test_partial_sends_are_injected_and_streams_cope():
    got, loop = run_on(Faults(max_send=7), streams_echo)
    assert got == PAYLOAD
    assert loop.partial_sends >= len(PAYLOAD) // 7
    assert "partial sends on 2 sockets" in loop.injected()


def test_spurious_readiness_is_injected_and_streams_cope():
    got, loop = run_on(Faults(spurious_every=2), streams_echo)
    assert got == PAYLOAD
    selector = loop._inner.selector
    assert isinstance(selector, FaultySelector)
    assert loop.spurious_wakeups > 0
    assert len(selector.spurious_by_fd) >= 2, "the quiet sockets take turns"
    assert loop._inner.waker.fileno() not in selector.spurious_by_fd  # only sockets, not the waker
    assert f"{loop.spurious_wakeups} spurious wake-ups" in loop.injected()


def test_a_reset_reaches_the_writer_as_connection_reset_error():
    with pytest.raises(ConnectionResetError, match="injected"):
        run_on(Faults(reset_after=1000), streams_echo)


def test_a_virtual_clock_skips_an_hour_of_waiting():
    async def main():
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.sleep(3600), 60)
        return loop.time() - began

    waited, loop = run_on(Faults(virtual_clock=True), main)
    assert 60 <= waited < 61  # the loop's clock: the timeout fired at 60 s, not the sleep
    assert loop.skipped > 59  # ... having jumped over (nearly) all of them


def test_a_slow_name_lookup_runs_into_the_callers_timeout():
    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.open_connection("localhost", 9), 0.1)
        return "timed out"

    assert run_on(Faults(dns_delay=0.5), main)[0] == "timed out"


def test_websockets_cope_with_partial_sends_and_spurious_readiness():
    import websockets  # a [dev] dependency: missing is a failure, not a skip

    async def main():
        async def echo(connection):
            async for message in connection:
                await connection.send(message)

        # compression=None: 10,000 x's would otherwise shrink to a few bytes on the wire
        async with websockets.serve(echo, "127.0.0.1", 0, compression=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            url = f"ws://127.0.0.1:{port}"
            async with websockets.connect(url, compression=None) as client:
                await client.send("x" * 10_000)
                return len(await client.recv())

    got, loop = run_on(Faults(max_send=50, spurious_every=3), main)
    assert got == 10_000
    assert loop.spurious_wakeups > 0
    assert loop.partial_sends >= 10_000 // 50


def test_httpx_reports_a_slow_name_lookup_as_a_connect_timeout():
    import httpx

    async def main():
        async with httpx.AsyncClient(timeout=0.2) as client:
            with pytest.raises(httpx.ConnectTimeout):
                await client.get("http://localhost:9/")
        return "ConnectTimeout"

    assert run_on(Faults(dns_delay=0.5), main)[0] == "ConnectTimeout"


def test_the_virtual_clock_waits_for_a_local_name_lookup_before_jumping():
    async def main():
        async def hello(reader, writer):
            writer.close()

        server = await asyncio.start_server(hello, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:  # "localhost" goes through getaddrinfo, in a thread, in real time
            reader, writer = await asyncio.wait_for(asyncio.open_connection("localhost", port), 5)
            writer.close()
            await writer.wait_closed()
            return "connected"
        finally:
            server.close()
            await server.wait_closed()

    assert run_on(Faults(virtual_clock=True), main)[0] == "connected"
