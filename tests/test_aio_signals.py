"""eventloop/aio/signals.py: add_signal_handler through the self-pipe, on our loop and asyncio's.

Each behaviour is checked on both loops: the same observations on both, or the
test proves nothing about compatibility.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import pytest

from eventloop.aio import EventLoop

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

LOOPS = {"ours": EventLoop, "asyncio": asyncio.new_event_loop}


@pytest.fixture(params=list(LOOPS))
def loop(request) -> Iterator[asyncio.AbstractEventLoop]:
    loop = LOOPS[request.param]()
    try:
        yield loop
    finally:
        loop.close()
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        signal.signal(signal.SIGUSR2, signal.SIG_DFL)


def test_a_signal_sent_while_the_loop_waits_runs_the_handler_in_the_loop(loop):
    async def main() -> tuple[str, int]:
        received = loop.create_future()
        loop.add_signal_handler(signal.SIGUSR1, received.set_result, "usr1")
        # another thread sends it: the loop is (or soon will be) asleep in its wait
        sender = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGUSR1))
        sender.start()
        result = await asyncio.wait_for(received, 10)
        sender.join()
        return result, threading.get_ident()

    result, thread = loop.run_until_complete(main())
    assert (result, thread) == ("usr1", threading.get_ident())


def test_the_handler_runs_as_a_callback_of_its_own_never_inside_another(loop):
    """The Python-level handler interrupts whatever runs; the loop's runs later, on its own."""
    events: list[str] = []

    def callback() -> None:
        events.append("callback begins")
        os.kill(os.getpid(), signal.SIGUSR1)  # delivered before os.kill returns
        events.append("callback ends")

    async def main() -> None:
        done = loop.create_future()
        loop.add_signal_handler(
            signal.SIGUSR1, lambda: (events.append("handler"), done.set_result(None))
        )
        loop.call_soon(callback)
        await asyncio.wait_for(done, 10)

    loop.run_until_complete(main())
    assert events == ["callback begins", "callback ends", "handler"]


def test_every_signal_runs_its_own_handler_with_its_arguments(loop):
    seen: list[tuple[str, int]] = []

    async def main() -> None:
        both = asyncio.Event()

        def handler(name: str, number: int) -> None:
            seen.append((name, number))
            if len(seen) == 2:
                both.set()

        loop.add_signal_handler(signal.SIGUSR1, handler, "usr1", 1)
        loop.add_signal_handler(signal.SIGUSR2, handler, "usr2", 2)
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR2)
        await asyncio.wait_for(both.wait(), 10)

    loop.run_until_complete(main())
    assert sorted(seen) == [("usr1", 1), ("usr2", 2)]


def test_removing_a_handler_puts_the_default_back_and_says_whether_there_was_one(loop):
    loop.add_signal_handler(signal.SIGUSR1, print)
    assert signal.getsignal(signal.SIGUSR1) not in (signal.SIG_DFL, signal.SIG_IGN)
    assert loop.remove_signal_handler(signal.SIGUSR1) is True
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert loop.remove_signal_handler(signal.SIGUSR1) is False
    assert signal.set_wakeup_fd(-1) == -1  # no wakeup fd left behind


def test_sigint_goes_back_to_keyboard_interrupt(loop):
    old = signal.getsignal(signal.SIGINT)
    try:
        loop.add_signal_handler(signal.SIGINT, print)
        assert loop.remove_signal_handler(signal.SIGINT) is True
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, old)


def test_close_removes_every_handler(loop):
    loop.add_signal_handler(signal.SIGUSR1, print)
    loop.add_signal_handler(signal.SIGUSR2, print)
    loop.close()
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL
    assert signal.set_wakeup_fd(-1) == -1


def errors_of(loop: asyncio.AbstractEventLoop) -> dict[str, str]:
    """What each misuse raises, as ``type: message``."""

    async def coroutine() -> None:
        pass

    attempts = {
        "SIGKILL": lambda: loop.add_signal_handler(signal.SIGKILL, print),
        "SIGSTOP": lambda: loop.add_signal_handler(signal.SIGSTOP, print),
        "unknown number": lambda: loop.add_signal_handler(1000, print),
        "not an int": lambda: loop.add_signal_handler("SIGTERM", print),
        "coroutine function": lambda: loop.add_signal_handler(signal.SIGUSR1, coroutine),
        "remove unknown": lambda: loop.remove_signal_handler(1000),
    }
    seen = {}
    for name, attempt in attempts.items():
        try:
            attempt()
            seen[name] = "no error"
        except Exception as error:
            seen[name] = f"{type(error).__name__}: {error}"
    return seen


def test_misuse_raises_what_asyncio_raises():
    ours, theirs = EventLoop(), asyncio.new_event_loop()
    try:
        assert errors_of(ours) == errors_of(theirs)
        assert errors_of(ours)["SIGKILL"] == "RuntimeError: sig 9 cannot be caught"
        assert errors_of(ours)["unknown number"] == "ValueError: invalid signal number 1000"
    finally:
        ours.close()
        theirs.close()
    assert signal.set_wakeup_fd(-1) == -1  # a refused handler leaves no wakeup fd behind


def test_a_loop_outside_the_main_thread_cannot_add_a_handler(loop):
    raised: list[BaseException] = []

    def in_a_thread() -> None:
        try:
            loop.add_signal_handler(signal.SIGUSR1, print)
        except BaseException as error:
            raised.append(error)

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert [type(error) for error in raised] == [RuntimeError]
    assert "main thread" in str(raised[0])
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_a_closed_loop_refuses_a_handler(loop):
    loop.close()
    with pytest.raises(RuntimeError, match="closed"):
        loop.add_signal_handler(signal.SIGUSR1, print)


# --- a server that shuts down cleanly on SIGTERM ------------------------------------------------

SERVER = textwrap.dedent(
    """
    import asyncio, signal, sys
    from eventloop.aio import EventLoop

    async def main():
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)

        async def echo(reader, writer):
            writer.write(await reader.readline())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await stop.wait()
        server.close()
        await server.wait_closed()
        print("shutdown ran", flush=True)

    loop = EventLoop() if sys.argv[1] == "ours" else asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    """
)


@pytest.mark.parametrize("which", list(LOOPS))
def test_sigterm_shuts_a_server_down_cleanly(which):
    """The way aiohttp's ``run_app`` and uvicorn stop: SIGTERM runs the shutdown code, exit 0."""
    with subprocess.Popen(
        [sys.executable, "-c", SERVER, which], stdout=subprocess.PIPE, text=True
    ) as child:
        try:
            port = int(child.stdout.readline())

            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                client.sendall(b"served\n")
                assert client.makefile("rb").readline() == b"served\n"
            child.send_signal(signal.SIGTERM)
            out, _ = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
    assert (child.returncode, out) == (0, "shutdown ran\n")


AIOHTTP_APP = textwrap.dedent(
    """
    import asyncio, sys
    from aiohttp import web
    import eventloop.aio

    async def on_startup(app):
        print("ready", flush=True)

    async def on_shutdown(app):
        print("on_shutdown ran", flush=True)

    app = web.Application()
    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    loop = eventloop.aio.new_event_loop() if sys.argv[1] == "ours" else asyncio.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=0, loop=loop, print=None)
    print("run_app returned", flush=True)
    """
)


@pytest.mark.parametrize("which", list(LOOPS))
@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_aiohttp_run_app_stops_on_a_signal_and_runs_on_shutdown(which, sent):
    """run_app's handlers raise GracefulExit from a loop callback: between two callbacks, so
    the shutdown runs every time (a KeyboardInterrupt could land anywhere, even in the loop)."""
    pytest.importorskip("aiohttp")
    with subprocess.Popen(
        [sys.executable, "-c", AIOHTTP_APP, which], stdout=subprocess.PIPE, text=True
    ) as child:
        try:
            assert child.stdout.readline() == "ready\n"
            child.send_signal(sent)
            out, _ = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
    assert (child.returncode, out) == (0, "on_shutdown ran\nrun_app returned\n")


def test_anyio_signal_receiver_on_both_loops(loop):
    anyio = pytest.importorskip("anyio")

    async def main() -> list[int]:
        received = []
        with anyio.open_signal_receiver(signal.SIGUSR1, signal.SIGUSR2) as signals:
            os.kill(os.getpid(), signal.SIGUSR2)
            async for signum in signals:
                received.append(signum)
                break
        return received

    assert loop.run_until_complete(main()) == [signal.SIGUSR2]
    assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL  # anyio removed its handlers
