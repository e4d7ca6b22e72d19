"""Stage 10: Future, Task and the awaitables, on chapter 09's loop (and beside asyncio)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from eventloop import Recorder, SelectorLoop
from eventloop.awaitables import (
    gather,
    sleep,
    sock_accept,
    sock_connect,
    sock_recv,
    sock_sendall,
    wait_for,
)
from eventloop.coroutines import (
    CancelledError,
    Future,
    InvalidStateError,
    Task,
    run_until_complete,
)


@pytest.fixture
def loop() -> Iterator[SelectorLoop]:
    with SelectorLoop(recorder=Recorder()) as loop:
        yield loop


def test_done_callbacks_are_scheduled_never_called_from_set_result(loop):
    future, calls = Future(loop), []
    future.add_done_callback(lambda f: calls.append(f.result()))
    future.set_result(42)
    assert calls == []  # not re-entrant: whoever set the result goes on first
    loop.run(max_iterations=1)
    assert calls == [42]


def test_a_future_is_settled_once_and_says_why_its_result_is_missing(loop):
    future = Future(loop)
    with pytest.raises(InvalidStateError, match="not set yet"):
        future.result()
    future.set_result(1)
    with pytest.raises(InvalidStateError, match="only once"):
        future.set_result(2)
    cancelled = Future(loop)
    assert cancelled.cancel() and not cancelled.cancel()
    with pytest.raises(CancelledError):
        cancelled.result()


def test_a_task_starts_in_the_loop_not_in_its_constructor(loop):
    started = []

    async def work():
        started.append(True)

    task = Task(work(), loop)
    assert started == []
    loop.run(until=task.done, duration=2)
    assert started == [True] and task.result() is None


def test_an_exception_belongs_to_its_task_and_the_loop_goes_on(loop):
    async def broken():
        await sleep(0)
        raise ValueError("boom")

    async def fine():
        await sleep(0.01)
        return "fine"

    bad, good = Task(broken(), loop), Task(fine(), loop)
    loop.run(until=lambda: bad.done() and good.done(), duration=2)
    assert isinstance(bad.exception(), ValueError)
    assert good.result() == "fine"


def test_yielding_a_value_is_a_clear_error_in_the_task(loop):
    class YieldsAValue:
        def __await__(self):
            yield 42

    async def confused():
        await YieldsAValue()

    task = Task(confused(), loop, name="confused")
    loop.run(until=task.done, duration=2)
    assert isinstance(task.exception(), TypeError)
    assert "confused yielded 42" in str(task.exception())


def test_sleep_lets_other_tasks_run_and_keeps_their_order(loop):
    events = []

    async def ticker(name, delay, times):
        for n in range(times):
            await sleep(delay)
            events.append(f"{name}{n}")

    async def main():
        await gather(ticker("a", 0.02, 2), ticker("b", 0.03, 1))

    run_until_complete(loop, main())
    assert events == ["a0", "b0", "a1"]


def test_cancelling_a_sleeping_task_runs_its_finally_and_removes_its_timer(loop):
    cleaned = []

    async def sleeper():
        try:
            await sleep(10)
        finally:
            cleaned.append(True)

    task = Task(sleeper(), loop)
    loop.run(until=lambda: task.waiting_on is not None, duration=1)
    assert task.waiting_on is not None
    task.cancel()
    loop.run(until=task.done, duration=2)
    assert task.cancelled() and cleaned == [True]
    assert loop.next_timer() is None  # the 10 s timer went with it


def test_echo_over_real_sockets_with_partial_sends(loop):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    big = b"x" * 3_000_000  # more than the kernel buffers: sendall must wait for room

    async def server():
        connection, _ = await sock_accept(listener)
        with connection:
            received = b""
            while len(received) < len(big):
                received += await sock_recv(connection, 65536)
            await sock_sendall(connection, b"%d" % len(received))

    async def client():
        with socket.socket() as sock:
            sock.setblocking(False)
            await sock_connect(sock, listener.getsockname())
            await sock_sendall(sock, big)
            return await sock_recv(sock, 100)

    async def main():
        return await gather(server(), client())

    with listener:
        results = run_until_complete(loop, main())
    assert results == [None, b"3000000"]
    assert loop.watchers == {}  # every reader and writer removed after its wait


def test_a_refused_connect_raises_connection_refused(loop):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = probe.getsockname()  # bound, not listening

    async def connect():
        with socket.socket() as sock:
            sock.setblocking(False)
            await sock_connect(sock, address)

    with pytest.raises(ConnectionRefusedError):
        run_until_complete(loop, connect())


def test_wait_for_cancels_what_takes_too_long(loop):
    async def slow():
        await sleep(5)

    async def quick():
        return await wait_for(sleep(0.01, "on time"), 1)

    async def late():
        await wait_for(slow(), 0.05)

    assert run_until_complete(loop, quick()) == "on time"
    with pytest.raises(TimeoutError, match="not done after 0.05 s"):
        run_until_complete(loop, late())
    assert loop.next_timer() is None


def test_gather_reports_the_first_exception(loop):
    async def fails():
        await sleep(0.01)
        raise KeyError("k")

    async def main():
        return await gather(sleep(0.05), fails())

    with pytest.raises(KeyError):
        run_until_complete(loop, main())


def test_run_until_complete_never_hangs(loop):
    async def forever():
        await sleep(60)

    with pytest.raises(TimeoutError, match="not done after 0.1 s"):
        run_until_complete(loop, forever(), timeout=0.1)

    nobody_sets_it = Future(loop)

    async def waits():
        await nobody_sets_it

    with pytest.raises(RuntimeError, match="nothing left that could finish it"):
        run_until_complete(loop, waits(), timeout=5)


def test_each_task_has_its_own_row_in_the_recording(loop):
    async def named():
        await sleep(0.01)

    Task(named(), loop, name="fetch")
    loop.run(duration=0.1, until=lambda: False)
    assert "Task fetch" in {call.handler for call in loop.recorder.handler_calls()}


def test_asyncio_awaits_our_future_and_our_task_drives_asyncio_coroutines(loop):
    async def asyncio_side():
        running = asyncio.get_running_loop()
        ours = Future(running)  # our Future, on asyncio's loop
        running.call_later(0.01, ours.set_result, "ours")
        return await ours

    assert asyncio.run(asyncio_side()) == "ours"

    async def asyncio_coroutine():
        await asyncio.sleep(0)  # a bare yield: fine on our Task
        return "ran"

    assert run_until_complete(loop, asyncio_coroutine()) == "ran"

    async def needs_asyncios_loop():
        await asyncio.sleep(0.01)  # asks for asyncio's running loop: chapter 11

    with pytest.raises(RuntimeError, match="no running event loop"):
        run_until_complete(loop, needs_asyncios_loop())


# --- gather's children, and the current task per thread -------------------------------------------


def test_cancelling_gather_cancels_its_children(loop):
    cancelled: list[str] = []

    async def child(name: str) -> None:
        try:
            await sleep(5)
        except CancelledError:
            cancelled.append(name)
            raise

    async def main() -> bool:
        together = gather(child("a"), child("b"))
        await sleep(0.01)  # both children are sleeping now
        together.cancel()
        try:
            await together
        except CancelledError:
            return together.cancelled()
        return False

    assert run_until_complete(loop, main()) is True
    assert loop.run(duration=1) == "no handlers"  # before: 5 s of children still sleeping
    assert sorted(cancelled) == ["a", "b"]
    assert loop.next_timer() is None


def test_wait_for_around_gather_cancels_the_children_when_it_times_out(loop):
    """Before: after the TimeoutError, the card was charged anyway."""
    charged: list[str] = []

    async def charge_card() -> None:
        await sleep(0.2)
        charged.append("card charged")

    async def checkout() -> None:
        await wait_for(gather(charge_card(), sleep(0.01)), 0.05)

    with pytest.raises(TimeoutError, match="not done after 0.05 s"):
        run_until_complete(loop, checkout())
    assert loop.run(duration=1) == "no handlers"
    assert charged == []


def test_the_current_task_is_per_thread_two_loops_do_not_see_each_others():
    """Two loops in two threads, each inside a task's step at the same time. With one
    module-level list, each saw the other's task as current (and slept on its loop)."""
    import threading

    from eventloop.coroutines import current_task

    a_inside, b_inside, a_done = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    async def in_a():
        a_inside.set()
        b_inside.wait(5)  # B's step is running now, in the other thread
        seen["a"] = current_task()
        a_done.set()
        await sleep(0.01)  # on A's loop
        return "a"

    async def in_b():
        b_inside.set()
        a_done.wait(5)
        seen["b"] = current_task()
        await sleep(0.01)
        return "b"

    results: dict[str, object] = {}
    loops: dict[str, SelectorLoop] = {}

    def run(name: str, coro) -> None:
        with SelectorLoop() as own:
            loops[name] = own
            try:
                results[name] = run_until_complete(own, coro, name=name)
            except Exception as error:  # before: "waits on <Future pending>, but ..."
                results[name] = repr(error)

    thread_a = threading.Thread(target=run, args=("a", in_a()))
    thread_a.start()
    assert a_inside.wait(5)  # A's task has entered its step before B's does
    thread_b = threading.Thread(target=run, args=("b", in_b()))
    thread_b.start()
    thread_a.join(10)
    thread_b.join(10)
    assert results == {"a": "a", "b": "b"}
    assert seen["a"].name == "a" and seen["b"].name == "b"  # type: ignore[attr-defined]
    assert seen["a"].loop is loops["a"] and seen["b"].loop is loops["b"]  # type: ignore[attr-defined]


def test_current_task_of_a_given_loop(loop):
    """A task that runs another loop inside its step: each loop has its own current task."""
    from eventloop.coroutines import current_task

    seen: list[str] = []

    async def inner():
        seen.append(current_task().name)
        seen.append(current_task(loop).name)  # the outer loop's task, still in its step

    async def outer():
        with SelectorLoop() as other:
            run_until_complete(other, inner(), name="inner")
        return current_task().name

    assert run_until_complete(loop, outer(), name="outer") == "outer"
    assert seen == ["inner", "outer"]
