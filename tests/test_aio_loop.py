"""Stage 11: eventloop.aio.EventLoop, every test run on our loop AND on asyncio's own.

The same behaviour on both is the point: a test that only our loop passes would
prove nothing about asyncio compatibility (uvloop's test suite works this way).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import socket
import threading
from collections.abc import Iterator

import pytest

import eventloop.aio
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


def test_call_soon_runs_in_order_and_threadsafe_joins_the_same_queue(loop):
    results = []
    loop.call_soon(results.append, 1)
    loop.call_soon_threadsafe(results.append, 2)
    loop.call_soon(results.append, 3)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert results == [1, 2, 3]


def test_timers_run_by_deadline_and_a_cancelled_one_never(loop):
    results = []
    loop.call_later(0.03, results.append, "late")
    cancelled = loop.call_later(0.01, results.append, "cancelled")
    loop.call_at(loop.time() + 0.02, results.append, "at")
    loop.call_later(0.005, results.append, "early")
    cancelled.cancel()
    loop.call_later(0.05, loop.stop)
    loop.run_forever()
    assert results == ["early", "at", "late"]
    assert cancelled.cancelled()


def test_call_soon_threadsafe_wakes_a_sleeping_loop(loop):
    def from_a_thread():
        loop.call_soon_threadsafe(loop.stop)

    loop.call_soon(threading.Thread(target=from_a_thread).start)
    began = loop.time()
    loop.call_later(5, loop.stop)  # the safety net, not the way out
    loop.run_forever()
    assert loop.time() - began < 2


def test_tasks_have_names_and_keep_their_context(loop):
    variable = contextvars.ContextVar("variable", default="unset")

    async def read():
        return variable.get()

    context = contextvars.copy_context()
    context.run(variable.set, "in the context")

    async def main():
        named = loop.create_task(read(), name="reader")
        assert named.get_name() == "reader"
        return await named

    assert loop.run_until_complete(main()) == "unset"
    if hasattr(asyncio, "Runner"):  # context= is Python 3.11+
        task = loop.create_task(read(), context=context)
        assert loop.run_until_complete(task) == "in the context"


def test_run_until_complete_returns_raises_and_refuses_nesting(loop):
    async def fails():
        raise KeyError("k")

    async def nested():
        inner = asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already running"):
            loop.run_until_complete(inner)
        inner.close()  # refused before it became a task: nobody awaits it
        return "ok"

    assert loop.run_until_complete(asyncio.sleep(0.01, "slept")) == "slept"
    with pytest.raises(KeyError):
        loop.run_until_complete(fails())
    assert loop.run_until_complete(nested()) == "ok"


def test_close_is_refused_while_running_and_then_final(loop):
    async def close_me():
        with pytest.raises(RuntimeError, match="running event loop"):
            loop.close()

    loop.run_until_complete(close_me())
    loop.close()
    loop.close()  # twice is fine
    assert loop.is_closed()
    with pytest.raises(RuntimeError, match="closed"):
        loop.call_soon(print)


def test_errors_in_callbacks_go_to_the_exception_handler(loop):
    seen = []
    loop.set_exception_handler(lambda loop, context: seen.append(context["exception"]))

    def broken():
        raise ValueError("broken callback")

    loop.call_soon(broken)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert [type(error) for error in seen] == [ValueError]


def test_debug_mode_warns_about_a_slow_callback(loop, caplog):
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01
    loop.call_soon(lambda: __import__("time").sleep(0.03))
    loop.call_soon(loop.stop)
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.run_forever()
    assert any("took" in record.getMessage() for record in caplog.records)


def test_readers_writers_and_sock_methods_echo(loop):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    client = socket.socket()
    client.setblocking(False)

    async def main():
        async def serve():
            connection, _ = await loop.sock_accept(listener)
            with connection:
                data = await loop.sock_recv(connection, 100)
                await loop.sock_sendall(connection, data.upper())

        server = asyncio.ensure_future(serve())
        await loop.sock_connect(client, listener.getsockname())
        await loop.sock_sendall(client, b"hello")
        buffer = bytearray(100)
        size = await loop.sock_recv_into(client, buffer)
        await server
        return bytes(buffer[:size])

    with listener, client:
        assert loop.run_until_complete(main()) == b"HELLO"


def test_add_reader_calls_back_until_removed(loop):
    a, b = socket.socketpair()
    calls = []

    def readable():
        calls.append(a.recv(10))
        if len(calls) == 2:
            assert loop.remove_reader(a.fileno())
            loop.stop()

    with a, b:
        loop.add_reader(a.fileno(), readable)
        loop.call_soon(b.send, b"1")
        loop.call_later(0.02, b.send, b"2")
        loop.call_later(5, loop.stop)
        loop.run_forever()
        assert calls == [b"1", b"2"]
        assert not loop.remove_reader(a.fileno())


def test_executor_lookups_and_clean_shutdown(loop):
    async def main():
        total = await loop.run_in_executor(None, sum, [1, 2, 3])
        infos = await loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)
        await loop.shutdown_default_executor()
        return total, infos[0][4]

    assert loop.run_until_complete(main()) == (6, ("127.0.0.1", 80))


def test_shutdown_asyncgens_closes_suspended_generators(loop):
    closed = []

    async def numbers():
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)

    async def main():
        generator = numbers()
        await generator.__anext__()
        return generator  # suspended, never finished

    generator = loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert closed == [True]
    del generator


def test_run_works_like_asyncio_run():
    async def main():
        await asyncio.sleep(0.01)
        return type(asyncio.get_running_loop()).__name__

    assert eventloop.aio.run(main()) == "EventLoop"


@pytest.mark.parametrize(
    ("method", "named"),
    [("start_tls", r"EventLoop\.start_tls\(\): the course's loop does not provide TLS")],
)  # fmt: skip
def test_what_is_not_built_says_so(method, named):
    loop = EventLoop()
    try:
        with pytest.raises(NotImplementedError, match=named):
            loop.run_until_complete(getattr(loop, method)())
    finally:
        loop.close()
