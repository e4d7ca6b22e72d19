"""Unmodified third-party asyncio libraries on eventloop.aio.EventLoop, on loopback only.

Each runs on our loop and, for comparison, on asyncio's own: the same program, the same result.
"""

from __future__ import annotations

import asyncio
import time

import pytest

import eventloop.aio

RUNNERS = {"ours": eventloop.aio.run, "asyncio": asyncio.run}


@pytest.fixture(params=list(RUNNERS))
def run(request):
    return RUNNERS[request.param]


def test_websockets_server_and_client_with_a_1_mb_message(run):
    import websockets  # a [dev] dependency: missing is a failure, not a skip

    async def main():
        async def echo(connection):
            async for message in connection:
                await connection.send(message)

        async with websockets.serve(echo, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            async with websockets.connect(f"ws://127.0.0.1:{port}", max_size=2**21) as client:
                await client.send("x" * 1_000_000)
                return len(await client.recv())

    assert run(main()) == 1_000_000


def test_aiohttp_server_answers_aiohttp_and_httpx_clients(run):
    import aiohttp
    import httpx
    from aiohttp import web

    async def main():
        async def hello(request):
            return web.Response(text="hello")

        app = web.Application()
        app.router.add_get("/", hello)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/") as response:
                    from_aiohttp = await response.text()
            async with httpx.AsyncClient() as client:
                from_httpx = (await client.get(f"http://127.0.0.1:{port}/")).text
        finally:
            await runner.cleanup()
        return from_aiohttp, from_httpx

    assert run(main()) == ("hello", "hello")


def test_aiosqlite_runs_its_thread_through_our_loop(run):
    import aiosqlite

    async def main():
        async with aiosqlite.connect(":memory:") as db:
            await db.execute("create table t (x)")
            await db.execute("insert into t values (42)")
            async with db.execute("select x from t") as cursor:
                return await cursor.fetchone()

    assert run(main()) == (42,)


def test_aiomonitor_lists_our_loops_tasks_and_where_they_wait():
    """aiomonitor (chapter 12) watches our loop from its own thread, unmodified."""
    import json
    import socket
    import urllib.request

    import aiomonitor

    def free_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def live_tasks(port: int) -> list[dict]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/live-tasks",
            data=json.dumps({"filter": "", "persistent": False}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())["tasks"]

    def live_tasks_when_up(port: int) -> list[dict]:
        """Ask until the monitor's thread has started its web server (5 s at most)."""
        deadline = time.monotonic() + 5
        while True:
            try:
                return live_tasks(port)
            except OSError:  # connection refused: not listening yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    async def waiter(event: asyncio.Event) -> None:
        await event.wait()

    async def main():
        loop = asyncio.get_running_loop()
        web_port = free_port()
        with aiomonitor.start_monitor(
            loop,
            port=free_port(),
            webui_port=web_port,
            console_enabled=False,
            hook_task_factory=True,
        ) as monitor:
            event = asyncio.Event()
            task = asyncio.create_task(waiter(event), name="waiter")
            tasks = await loop.run_in_executor(None, live_tasks_when_up, web_port)
            [waiting] = [t for t in tasks if t["name"] == "waiter"]
            stack = monitor.format_running_task_stack(waiting["task_id"])
            event.set()
            await task
        return waiting["coro"], "\n".join(item.content for item in stack)

    coro, stack = eventloop.aio.run(main())
    assert coro.endswith(".waiter()")  # its qualified name
    assert "in waiter\n  await event.wait()" in stack
