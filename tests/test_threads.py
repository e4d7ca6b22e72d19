"""Stage 08: thread pools and the self-pipe wake-up (eventloop/threads.py)."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from eventloop.handlers import event_loop
from eventloop.recorder import Recorder
from eventloop.selectors_loop import SelectorLoop
from eventloop.threads import CookbookThreadPoolHandler, Loop, ThreadPoolHandler, Waker
from eventloop.timers import Loop as TimersLoop
from eventloop.udp import MAX_DATAGRAM, UDPServer


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class SignalWhenWaiting(Loop):
    """A Loop that sets ``waiting`` each time it is about to block in select.

    By then the select timeout is already fixed, so a thread that acts after
    ``waiting`` is set acts while the loop sleeps (or about to).
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.waiting = threading.Event()

    def wait_for_readiness(self, timeout):
        self.waiting.set()
        return super().wait_for_readiness(timeout)


def from_thread(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


# --- waking the loop -------------------------------------------------------------------------


def test_call_soon_threadsafe_wakes_a_loop_blocked_without_timeout():
    recorder = Recorder()
    with UDPServer() as server, SignalWhenWaiting(recorder=recorder) as loop:
        loop.add(server)  # a handler that never becomes ready: select would sleep 5 s
        thread = from_thread(
            lambda: loop.waiting.wait(2) and loop.call_soon_threadsafe(loop.stop)
        )
        assert loop.run(duration=5) == "stopped"
        thread.join(2)
        first_wait = recorder.selects()[0]
        assert first_wait.ready_read == (loop.waker.fileno(),)
        assert [c.handler for c in recorder.handler_calls()] == ["Waker", "SignalWhenWaiting.stop"]


def test_without_the_waker_a_result_from_a_thread_waits_for_the_timeout():
    """PITFALL 20: call_soon (not thread-safe) from a thread does not wake select."""
    recorder = Recorder()
    with UDPServer() as server, SignalWhenWaiting(recorder=recorder) as loop:
        loop.add(server)
        ran: list[str] = []
        thread = from_thread(
            lambda: loop.waiting.wait(2) and loop.call_soon(ran.append, "late")
        )
        loop.call_later(0.3, lambda: None)  # the only thing that ends the first wait
        loop.run(duration=5, until=lambda: bool(ran))
        thread.join(2)
        first_wait = recorder.selects()[0]
        assert first_wait.ready_read == ()  # it woke up because its timeout expired
        assert ran == ["late"]  # ... and only then found the callback


def test_call_soon_runs_callbacks_in_order_in_the_next_iteration():
    recorder = Recorder()
    with Loop(recorder=recorder) as loop:
        order: list[str] = []
        loop.call_soon(order.append, "a")
        loop.call_soon(order.append, "b")
        loop.call_later(0, order.append, "c")
        assert loop.run() == "no handlers"
        assert order == ["a", "b", "c"]
        assert [c.action for c in recorder.handler_calls()] == ["callback", "callback", "timer"]


def test_many_threads_each_callback_runs_exactly_once_in_the_loop_thread():
    with UDPServer() as server, Loop([server]) as loop:
        seen: list[tuple[int, int]] = []

        def record(n: int) -> None:
            seen.append((n, threading.get_ident()))

        def send_fifty(k: int) -> None:
            for i in range(50):
                loop.call_soon_threadsafe(record, k * 100 + i)

        threads = [from_thread(lambda k=k: send_fifty(k)) for k in range(4)]
        loop.run(duration=5, until=lambda: len(seen) == 200)
        for thread in threads:
            thread.join(2)
        expected = sorted(k * 100 + i for k in range(4) for i in range(50))
        assert sorted(n for n, _ in seen) == expected
        assert {ident for _, ident in seen} == {threading.get_ident()}
        for k in range(4):  # each thread's callbacks ran in the order that thread sent them
            mine = [n for n, _ in seen if n // 100 == k]
            assert mine == sorted(mine)


def test_waker_bytes_do_not_pile_up_when_its_buffer_is_full():
    waker = Waker()
    try:
        for _ in range(300_000):  # far more bytes than a socket buffer holds: no error, no block
            waker.wake()
        ran: list[int] = []
        waker.call_soon_threadsafe(ran.append, 1)
        waker.handle_receive()
        assert ran == [1]
        with pytest.raises(BlockingIOError):
            waker._reader.recv(1)  # every byte was read
    finally:
        waker.close()


def test_a_failing_function_does_not_lose_the_others(capsys):
    waker = Waker()
    try:
        ran: list[str] = []
        waker.call_soon_threadsafe(lambda: 1 / 0)
        waker.call_soon_threadsafe(ran.append, "after")
        waker.handle_receive()
        assert ran == ["after"]
        assert "ZeroDivisionError" in capsys.readouterr().err
    finally:
        waker.close()


# --- the thread pool -------------------------------------------------------------------------


def test_run_in_executor_delivers_results_in_the_loop_thread_then_the_run_ends():
    with Loop(max_workers=2) as loop:
        results: list[tuple[str, object, int]] = []

        def done(name: str):
            return lambda future: results.append((name, future.result(), threading.get_ident()))

        loop.run_in_executor(sum, [1, 2, 3], callback=done("sum"))
        loop.run_in_executor(pow, 2, 10, callback=done("pow"))
        assert loop.run(duration=5) == "no handlers"  # waited for both jobs, then nothing left
        assert sorted(r[:2] for r in results) == [("pow", 1024), ("sum", 6)]
        assert {r[2] for r in results} == {threading.get_ident()}


def test_a_job_that_raises_reaches_its_callback_through_the_future():
    with Loop() as loop:
        errors: list[str] = []

        def fail() -> None:
            raise ValueError("no luck")

        def done(future) -> None:
            errors.append(repr(future.exception()))

        loop.run_in_executor(fail, callback=done)
        loop.run(duration=5)
        assert errors == ["ValueError('no luck')"]


class SlowSquareServer(UDPServer):
    """Squares a number; the work "blocks" until the echo has replied, or ``delay`` seconds.

    In a thread, the work ends as soon as the other client got its reply: the order of
    the replies is then decided by the loop, not by a race against the clock. In the
    loop itself, the echo cannot reply while the work blocks, so it waits ``delay``.
    """

    def __init__(self, loop: Loop | None, delay: float, echoed: threading.Event) -> None:
        super().__init__()
        self.loop, self.delay, self.echoed = loop, delay, echoed
        self.squares_sent = 0

    def work(self, n: int) -> bytes:
        self.echoed.wait(self.delay)
        return str(n * n).encode()

    def handle_receive(self) -> None:
        data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        if self.loop is None:
            self.send_square(self.work(int(data)), sender)  # blocks every other client
        else:
            self.loop.run_in_executor(
                self.work, int(data), callback=lambda f: self.send_square(f.result(), sender)
            )

    def send_square(self, square: bytes, sender: tuple[str, int]) -> None:
        self.reply(square, sender)
        self.squares_sent += 1


class Echo(UDPServer):
    def __init__(self) -> None:
        super().__init__()
        self.echoed = threading.Event()

    def handle_receive(self) -> None:
        data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        self.requests += 1
        self.reply(data, sender)
        self.echoed.set()


@pytest.mark.parametrize("in_thread", [False, True], ids=["blocking", "thread-pool"])
def test_blocking_work_stalls_the_other_client_unless_it_runs_in_a_thread(in_thread, udp_client):
    with Loop() as loop, Echo() as echo:
        slow = SlowSquareServer(loop if in_thread else None, 0.2, echo.echoed)
        with slow:
            loop.add(slow)
            loop.add(echo)
            udp_client.sendto(b"7", slow.address)
            udp_client.sendto(b"hello", echo.address)
            loop.run(duration=5, until=lambda: echo.requests == 1 and slow.squares_sent == 1)
            replies = [udp_client.recv(100), udp_client.recv(100)]
    assert replies == ([b"hello", b"49"] if in_thread else [b"49", b"hello"])


# --- the Cookbook's handler and its race -------------------------------------------------------


class PausingList(list):
    """A list whose ``for`` loop, once it has read the last item, pauses until a byte
    arrives on ``sock``: it widens the window between the Cookbook's ``for`` loop and
    ``self.pending = []`` so that a worker finishes exactly there, every time."""

    def __init__(self, sock: socket.socket, in_window: threading.Event) -> None:
        super().__init__()
        self.sock, self.in_window = sock, in_window

    def __iter__(self):
        yield from list.__iter__(self)
        self.in_window.set()
        self.sock.settimeout(2.0)
        try:
            self.sock.recv(1, socket.MSG_PEEK)  # wait until the next worker signalled
        finally:
            self.sock.settimeout(None)


def second_job(in_window: threading.Event) -> str:
    in_window.wait(2)
    return "B"


def test_the_cookbook_handler_loses_a_result_appended_in_the_window_and_spins():
    handler = CookbookThreadPoolHandler(2)
    try:
        in_window = threading.Event()
        handler.pending = PausingList(handler.done_sock, in_window)
        results: list[str] = []
        handler.run(lambda: "A", callback=results.append)
        handler.run(second_job, (in_window,), callback=results.append)
        recorder = Recorder()
        reason = event_loop([handler], duration=5, max_iterations=20, recorder=recorder)
        assert results == ["A"]  # B was lost
        assert reason == "max_iterations"
        spins = [s for s in recorder.selects() if s.ready_read]
        assert len(spins) == 20  # ready every time: its byte is never read
    finally:
        handler.close()


def test_the_fixed_handler_delivers_a_result_that_arrives_mid_drain():
    class Pausing(ThreadPoolHandler):
        def handle_receive(self) -> None:
            super().handle_receive()
            if not in_window.is_set():  # the same unlucky pause, after the first drain
                in_window.set()
                self._reader.settimeout(2.0)
                try:
                    self._reader.recv(1, socket.MSG_PEEK)
                finally:
                    self._reader.setblocking(False)

    in_window = threading.Event()
    handler = Pausing(2)
    try:
        results: list[str] = []
        handler.run(lambda: "A", callback=results.append)
        handler.run(second_job, in_window, callback=results.append)
        recorder = Recorder()
        reason = event_loop(
            [handler], duration=5, until=lambda: len(results) == 2, recorder=recorder
        )
        assert reason == "until"
        assert results == ["A", "B"]
        assert len(recorder.selects()) == 2  # no spinning
    finally:
        handler.close()


def test_the_fixed_handler_under_load_delivers_every_result_once():
    handler = ThreadPoolHandler(4)
    try:
        results: list[int] = []
        for n in range(300):
            handler.run(pow, n, 2, callback=results.append)
        reason = event_loop([handler], duration=10, until=lambda: len(results) >= 300)
        assert reason == "until"
        assert sorted(results) == [n * n for n in range(300)]
    finally:
        handler.close()


# --- clean-up ------------------------------------------------------------------------------------


def test_close_closes_the_waker_and_shuts_the_pool_down():
    before = open_fds()
    loop = Loop()
    loop.run_in_executor(time.sleep, 0.01)
    loop.run(duration=5)
    waker, executor = loop.waker, loop._executor
    loop.close()
    loop.close()  # twice is harmless
    assert waker.fileno() == -1
    assert waker not in loop.handlers
    assert executor is not None
    with pytest.raises(RuntimeError, match="shutdown"):  # the pool refuses new work: it is shut
        executor.submit(print)
    assert open_fds() == before


def test_context_manager_leaks_no_descriptors_even_when_the_body_fails():
    before = open_fds()
    with pytest.raises(RuntimeError), Loop() as loop:
        loop.run_in_executor(sum, [1])
        raise RuntimeError("cell failed")
    assert open_fds() == before


def test_stop_from_another_thread_wakes_a_sleeping_loop():
    """Nothing is due for 10 s; a thread's loop.stop() must end the wait now, not then."""
    recorder = Recorder()
    with UDPServer() as quiet, SignalWhenWaiting(recorder=recorder) as loop:
        loop.add(quiet)
        thread = from_thread(lambda: loop.waiting.wait(5) and loop.stop())
        reason = loop.run(duration=10)
        thread.join(5)
        waker = loop.waker.fileno()
    assert reason == "stopped"
    assert recorder.selects()[0].ready_read == (waker,)  # woken by stop(), not by the deadline


# --- a handler dropped for raising --------------------------------------------------------------


class ReadableAndWritable(UDPServer):
    """A UDP socket with a datagram waiting: readable and writable in the same iteration."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log
        self.sock.sendto(b"x", self.address)

    def wants_to_send(self) -> bool:
        return True

    def handle_receive(self) -> None:
        self.log.append("receive")
        raise ZeroDivisionError("division by zero")

    def handle_send(self) -> None:
        self.log.append("send")


def test_a_handler_dropped_in_handle_receive_gets_no_handle_send_in_the_same_iteration(capsys):
    log: list[str] = []
    with ReadableAndWritable(log) as broken, Loop() as loop:
        loop.add(broken)
        loop.run(max_iterations=1, duration=1)
        assert broken not in loop.handlers
    assert log == ["receive"]
    assert "removed from the loop" in capsys.readouterr().err


# --- a stop that comes first, and a closed loop ---------------------------------------------------


@pytest.mark.parametrize(
    "loop_class", [TimersLoop, Loop, SelectorLoop], ids=["timers", "threads", "selectors"]
)
def test_a_stop_before_run_is_kept_run_returns_after_one_iteration(loop_class):
    """stop() from another thread as run() starts was lost when run() cleared the flag:
    then the loop slept on. Now, as asyncio's run_forever: one iteration, without sleeping."""
    timeouts: list[float | None] = []
    with UDPServer() as quiet, loop_class() as loop:
        wait = loop.wait_for_readiness
        loop.wait_for_readiness = lambda timeout: timeouts.append(timeout) or wait(timeout)
        loop.add(quiet)  # never ready: without the stop, run() would wait out its duration
        loop.stop()
        assert loop.run(duration=2) == "stopped"
        assert loop.iteration == 1
        assert timeouts == [0.0]  # it did not sleep
        assert loop.run(duration=0.01) == "duration"  # the stop was used up by that run


@pytest.mark.parametrize(
    "loop_class", [TimersLoop, Loop, SelectorLoop], ids=["timers", "threads", "selectors"]
)
def test_a_closed_loop_refuses_to_schedule_or_run(loop_class):
    """Before: threads.Loop still ran its timers and dropped call_soon_threadsafe silently;
    SelectorLoop failed with AttributeError: 'NoneType' object has no attribute 'get'."""
    name = loop_class.__name__
    with UDPServer() as server:
        loop = loop_class()
        loop.close()
        loop.close()  # twice is harmless, as asyncio's
        assert loop.is_closed()
        attempts = [
            lambda: loop.call_later(0, print),
            lambda: loop.call_at(0, print),
            lambda: loop.add(server),
            lambda: loop.run(duration=0.01),
        ]
        if loop_class is not TimersLoop:
            attempts += [
                lambda: loop.call_soon(print),
                lambda: loop.call_soon_threadsafe(print),
                lambda: loop.run_in_executor(print),
            ]
        for attempt in attempts:
            with pytest.raises(RuntimeError, match=rf"^{name} is closed"):
                attempt()


def test_a_closed_selector_loop_refuses_readers_and_handlers():
    left, right = socket.socketpair()
    with left, right:
        loop = SelectorLoop()
        loop.close()
        with pytest.raises(RuntimeError, match="SelectorLoop is closed"):
            loop.add_reader(left.fileno(), print)
        with pytest.raises(RuntimeError, match="SelectorLoop is closed"):
            loop.handlers.append(UDPServer.__new__(UDPServer))
