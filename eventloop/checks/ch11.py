"""Checks for chapter 11's exercises (asyncio on our loop), bounded in time.

* 11.1 ``EchoProtocol``: the post's UDP echo server as an asyncio ``DatagramProtocol``.
* 11.2 ``ask(address, message, timeout)``: one UDP request, its reply or ``None``.
* 11.3 ``fetch_all(names)``: requests that wait together instead of one after another.

Each runs on ``eventloop.aio.EventLoop`` in a thread of its own: the notebook's
own thread already runs Jupyter's asyncio loop (chapter 11 shows why).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from eventloop.checks import CheckFailed, Verdict, expect_equal, verdict
from eventloop.checks.probes import watch_leaks


def on_our_loop(
    main: Callable[[], Coroutine[Any, Any, Any]],
    timeout: float = 4.0,
    instruments: Iterable[Any] = (),
) -> Any:
    """Run ``main()`` on our loop in a thread: its result, or its exception, in ``timeout`` s.

    Past the time limit the task is cancelled and the loop closed, so that nothing of the
    learner's code keeps running (or keeps sockets open) behind the verdict. ``instruments``
    (chapter 12) watch the whole run, ``main``'s first step included.
    """
    import eventloop.aio

    loop = eventloop.aio.new_event_loop(instruments=instruments)
    task = loop.create_task(main())
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = loop.run_until_complete(task)
        except BaseException as error:  # handed to the caller's thread
            outcome["error"] = error
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        loop.call_soon_threadsafe(task.cancel)
        thread.join(2)
        raise CheckFailed(
            f"your code was still running after {timeout:g} s",
            hint="every wait needs a bound: asyncio.wait_for(..., timeout)",
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


# --- 11.1 ----------------------------------------------------------------------------------------


def check_11_1(protocol_class: type) -> Verdict:
    """``protocol_class``: each datagram goes back, unchanged, to whoever sent it."""
    return verdict("11.1", lambda: run_11_1(protocol_class), time_limit=8)


def run_11_1(protocol_class: type) -> None:
    errors: list[BaseException] = []

    async def main() -> list[tuple[str, bytes | None]]:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda loop, context: errors.append(context.get("exception")))
        transport, _ = await loop.create_datagram_endpoint(
            protocol_class, local_addr=("127.0.0.1", 0)
        )
        address = transport.get_extra_info("sockname")
        got = []
        try:
            for name, message in (("alice", b"hello"), ("bob", b"x" * 1000), ("alice", b"again")):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
                    client.setblocking(False)
                    client.bind(("127.0.0.1", 0))
                    await loop.sock_connect(client, address)
                    await loop.sock_sendall(client, message)
                    try:
                        got.append(
                            (name, await asyncio.wait_for(loop.sock_recv(client, 2048), 0.3))
                        )
                    except asyncio.TimeoutError:
                        got.append((name, None))
        finally:
            transport.close()
        return got

    replies = on_our_loop(main)
    if any(isinstance(error, NotImplementedError) for error in errors):
        raise NotImplementedError("Exercise 11.1")  # the stub: "not attempted yet"
    failed = [name for name, reply in replies if reply is None]
    if failed:
        raise CheckFailed(
            f"no echo came back to {failed[0]}",
            got=describe_errors(errors) or "silence",
            hint=hint_for_11_1(errors),
        )
    expect_equal(
        "the echoes",
        [reply for _, reply in replies],
        [b"hello", b"x" * 1000, b"again"],
        hint="send back exactly the bytes received: self.transport.sendto(data, address)",
    )


def describe_errors(errors: list[BaseException]) -> str:
    return "; ".join(f"{type(error).__name__}: {error}" for error in errors if error is not None)


def hint_for_11_1(errors: list[BaseException]) -> str:
    text = describe_errors(errors)
    if "transport" in text:
        return (
            "keep the transport in connection_made (self.transport = transport): asyncio "
            "calls it first, and datagram_received needs it to reply"
        )
    return (
        "reply to the sender: datagram_received gets (data, address); "
        "self.transport.sendto(data, address)"
    )


# --- 11.2 ----------------------------------------------------------------------------------------


def check_11_2(ask: Callable[..., Coroutine[Any, Any, Any]]) -> Verdict:
    """``await ask(address, message, timeout)``: the reply, or ``None`` after ``timeout``."""
    return verdict("11.2", lambda: run_11_2(ask), time_limit=10)


class Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, address: Any) -> None:
        self.transport.sendto(data, address)


def run_11_2(ask: Callable[..., Coroutine[Any, Any, Any]]) -> None:
    async def main() -> tuple[Any, Any, float]:
        loop = asyncio.get_running_loop()
        echo, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        try:
            answered = await ask(echo.get_extra_info("sockname"), b"ping", 1.0)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
                silent.bind(("127.0.0.1", 0))  # bound, never answers
                began = time.monotonic()
                unanswered = await ask(silent.getsockname(), b"anyone?", 0.3)
                waited = time.monotonic() - began
        finally:
            echo.close()
        return answered, unanswered, waited

    with watch_leaks() as leaks:
        answered, unanswered, waited = on_our_loop(main, timeout=2)
    expect_equal(
        "the reply from an echo server",
        answered,
        b"ping",
        hint="await the reply: a Future that datagram_received sets",
    )
    if unanswered is not None:
        raise CheckFailed(
            "when nobody answers, ask should return None",
            got=repr(unanswered),
            hint="catch asyncio.TimeoutError from asyncio.wait_for and return None",
        )
    if waited > 1.0:
        raise CheckFailed(
            f"when nobody answers, ask waited {waited:.1f} s instead of about 0.3 s",
            hint="bound the wait with asyncio.wait_for(future, timeout)",
        )
    if leaks:
        raise CheckFailed(
            "ask left its socket open",
            got=leaks.unclosed[0],
            hint="close the transport in a `finally:`, also when the wait times out",
        )


# --- 11.3 ----------------------------------------------------------------------------------------


def check_11_3(fetch_all: Callable[..., Coroutine[Any, Any, Any]]) -> Verdict:
    """``await fetch_all(names)``: every name fetched at once, results in the order of names."""
    return verdict("11.3", lambda: run_11_3(fetch_all), time_limit=8)


def run_11_3(fetch_all: Callable[..., Coroutine[Any, Any, Any]]) -> None:
    names = ["ada", "bob", "cy", "dee", "eve"]

    async def main() -> tuple[Any, float, float]:
        beats: list[float] = []

        async def heartbeat() -> None:
            while True:
                beats.append(time.monotonic())
                await asyncio.sleep(0.01)

        beating = asyncio.ensure_future(heartbeat())
        await asyncio.sleep(0.02)
        began = time.monotonic()
        try:
            result = await fetch_all(names)
        finally:
            beating.cancel()
        took = time.monotonic() - began
        beats.append(time.monotonic())  # how long since the heartbeat last ran counts too
        gaps = [b - a for a, b in zip(beats, beats[1:])]
        return result, took, max(gaps, default=0.0)

    result, took, longest_gap = on_our_loop(main)
    if longest_gap > 0.08:
        raise CheckFailed(
            f"while fetch_all ran, the other tasks could not run for {longest_gap * 1000:.0f} ms",
            hint="time.sleep blocks every task on the loop: await asyncio.sleep(0.1) instead",
        )
    if took > 0.35:
        raise CheckFailed(
            f"fetching 5 names took {took:.2f} s: one after another",
            hint="start them all, then wait for all of them: "
            "await asyncio.gather(*(fetch(name) for name in names))",
        )
    expect_equal(
        "fetch_all's result",
        result,
        [name.upper() for name in names],
        hint="return the results in the order of names (gather keeps that order)",
    )
