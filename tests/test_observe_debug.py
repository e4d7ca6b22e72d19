"""Debug mode on our asyncio loop, beside asyncio's: the same warnings, naming the same task."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import threading
import time

import pytest

import eventloop.aio

RUNNERS = {"ours": eventloop.aio.run, "asyncio": asyncio.run}


@pytest.fixture(params=list(RUNNERS))
def run(request):
    return RUNNERS[request.param]


async def slowpoke() -> None:
    time.sleep(0.15)  # blocks the loop: the bug debug mode is there to find
    await asyncio.sleep(0)


async def spawn_slowpoke() -> None:
    await asyncio.create_task(slowpoke(), name="slowpoke")


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "asyncio"]


def test_a_slow_step_is_logged_naming_its_task(run, caplog):
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        run(spawn_slowpoke(), debug=True)
    slow = [m for m in warnings_of(caplog) if m.startswith("Executing")]
    assert len(slow) == 1, warnings_of(caplog)
    assert re.match(r"Executing <Task pending name='slowpoke' coro=<slowpoke\(\) ", slow[0])
    assert re.search(r"took 0\.\d{3} seconds$", slow[0])
    # both name the frame that called loop.create_task (asyncio.create_task), not the loop's own
    assert re.search(r" created at \S*asyncio[/\\]tasks\.py:\d+>", slow[0])


def test_without_debug_mode_nothing_is_logged(run, caplog):
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        run(spawn_slowpoke(), debug=False)
    assert warnings_of(caplog) == []


def test_the_threshold_is_the_loops_slow_callback_duration(caplog):
    async def main():
        asyncio.get_running_loop().slow_callback_duration = 10.0
        await spawn_slowpoke()

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        eventloop.aio.run(main(), debug=True)
    assert warnings_of(caplog) == []


def test_a_task_exception_never_retrieved_says_where_the_task_was_created(run, caplog):
    async def fail():
        raise ValueError("boom")

    async def main():
        asyncio.create_task(fail(), name="failing")
        await asyncio.sleep(0.01)

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        run(main(), debug=True)
    [message] = [m for m in warnings_of(caplog) if "never retrieved" in m]
    assert "name='failing'" in message
    assert "Object created at (most recent call last):" in message
    assert 'asyncio.create_task(fail(), name="failing")' in message


def test_call_soon_from_another_thread_raises_in_debug_mode(run):
    errors: list[BaseException] = []

    async def main():
        loop = asyncio.get_running_loop()

        def from_thread():
            try:
                loop.call_soon(print, "never")
            except RuntimeError as error:
                errors.append(error)

        thread = threading.Thread(target=from_thread)
        thread.start()
        await loop.run_in_executor(None, thread.join)

    run(main(), debug=True)
    assert len(errors) == 1
    assert "Non-thread-safe operation" in str(errors[0])


def test_call_soon_from_another_thread_is_not_checked_without_debug_mode():
    loop = eventloop.aio.new_event_loop()
    loop.set_debug(False)  # even under PYTHONASYNCIODEBUG=1 or python -X dev
    done = threading.Event()

    async def main():
        threading.Thread(target=lambda: (loop.call_soon(done.set), loop.stop())).start()
        await asyncio.sleep(5)

    try:
        with pytest.raises(RuntimeError, match="stopped before Future completed"):
            loop.run_until_complete(main())
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
    assert done.is_set()


def test_debug_mode_tracks_coroutine_origins_only_while_running():
    depths = []

    async def main():
        depths.append(sys.get_coroutine_origin_tracking_depth())

    before = sys.get_coroutine_origin_tracking_depth()
    eventloop.aio.run(main(), debug=True)
    assert depths[0] > 0
    assert sys.get_coroutine_origin_tracking_depth() == before


def test_a_protocol_that_blocks_in_data_received_is_named_on_both_loops(run, caplog):
    class Slow(asyncio.Protocol):
        def data_received(self, data):
            time.sleep(0.15)  # blocks the loop inside a transport's read

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Slow, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        writer.write(b"hello")
        await asyncio.sleep(0.3)
        writer.close()
        server.close()
        await server.wait_closed()

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        run(main(), debug=True)
    slow = [m for m in warnings_of(caplog) if m.startswith("Executing <Handle")]
    assert len(slow) == 1, warnings_of(caplog)
    # asyncio: _SelectorSocketTransport._read_ready(); ours: TCPConnection.handle_receive()
    assert re.search(r"(_read_ready|handle_receive)\(\)", slow[0])
