"""Stage 07: the Loop object with timers (eventloop/timers.py)."""

from __future__ import annotations

import select
import socket
import time
from functools import partial

import pytest

from eventloop.handlers import EventHandler, StopLoop
from eventloop.recorder import Recorder
from eventloop.selectors_loop import SelectorLoop
from eventloop.timers import (
    MAXIMUM_WAIT,
    MIN_TIMERS_TO_PRUNE,
    IdleTimeout,
    Loop,
    Periodic,
    callback_name,
)
from eventloop.udp import UDPEchoServer


class FakeClockLoop(Loop):
    """A loop on a fake clock: "waiting" records the timeout and jumps the clock by it.

    Nothing here sleeps, so tests can assert exact timeouts and firing times.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.now = 100.0
        self.timeouts: list[float | None] = []

    def time(self) -> float:
        return self.now

    def wait_for_readiness(self, timeout):
        self.timeouts.append(timeout)
        assert timeout is not None, "with timers pending the loop must not block forever"
        self.now += timeout
        return [], []


@pytest.fixture
def loop() -> FakeClockLoop:
    return FakeClockLoop()


# --- order -----------------------------------------------------------------------------


def test_timers_fire_in_deadline_order_not_scheduling_order(loop):
    fired: list[str] = []
    loop.call_later(3, fired.append, "third")
    loop.call_later(1, fired.append, "first")
    loop.call_later(2, fired.append, "second")
    assert loop.run() == "no handlers"
    assert fired == ["first", "second", "third"]


def test_ties_fire_in_the_order_they_were_scheduled(loop):
    fired: list[str] = []
    for name in ["a", "b", "c", "d"]:
        loop.call_at(loop.time() + 1, fired.append, name)
    loop.run()
    assert fired == ["a", "b", "c", "d"]
    assert loop.timeouts == [1]  # one wake-up for all four


def test_ties_never_compare_the_callbacks(loop):
    """Without the sequence number, heapq would compare functions: TypeError."""
    fired: list[int] = []
    loop.call_at(200, lambda: fired.append(1))
    loop.call_at(200, lambda: fired.append(2))
    loop.run()
    assert fired == [1, 2]


def test_a_timer_never_fires_before_its_deadline(loop):
    seen: list[tuple[float, float]] = []
    for delay in [0.5, 0.1, 2.0, 0.0]:
        when = loop.time() + delay
        loop.call_at(when, lambda when=when: seen.append((when, loop.time())))
    loop.run()
    assert len(seen) == 4
    assert all(now >= when for when, now in seen)


# --- the select timeout is the next deadline ---------------------------------------------


def test_the_wait_lasts_exactly_until_the_next_deadline(loop):
    loop.call_later(1.0, print)
    loop.call_later(2.5, print)
    loop.call_later(2.5, print)
    loop.call_later(4.0, print)
    loop.run()
    assert loop.timeouts == [1.0, 1.5, 1.5]


def test_the_run_deadline_caps_the_wait(loop):
    loop.call_later(10, print)
    assert loop.run(duration=3) == "duration"
    assert loop.timeouts == [3]


def test_real_select_gets_the_time_to_the_next_timer_as_timeout(monkeypatch):
    """The real select is asked to sleep until the timer, never None (forever), never 0 (busy)."""
    timeouts: list[float | None] = []
    real_select = select.select

    def spy(r, w, x, timeout=None):
        timeouts.append(timeout)
        return real_select(r, w, x, timeout)

    monkeypatch.setattr(select, "select", spy)
    with UDPEchoServer() as server:
        loop = Loop([server])
        loop.call_later(0.2, loop.stop)
        assert loop.run(duration=5) == "stopped"
    assert timeouts, "the loop did not call select"
    assert 0.0 < timeouts[0] <= 0.2  # until the timer, not the 5 s deadline


def test_cancelled_timers_do_not_wake_the_loop(loop):
    fired: list[str] = []
    early = loop.call_later(1, fired.append, "early")
    loop.call_later(5, fired.append, "late")
    early.cancel()
    loop.run()
    assert fired == ["late"]
    assert loop.timeouts == [5]


# --- cancelling --------------------------------------------------------------------------


def test_a_cancelled_timer_never_runs_and_cancel_is_idempotent(loop):
    fired: list[str] = []
    timer = loop.call_later(1, fired.append, "x")
    timer.cancel()
    timer.cancel()
    assert loop.run() == "no handlers"
    assert fired == []
    assert loop.timeouts == []  # nothing left to wait for


def test_a_timer_can_cancel_a_later_one(loop):
    fired: list[str] = []
    later = loop.call_later(2, fired.append, "later")
    loop.call_later(1, later.cancel)
    loop.run()
    assert fired == []


def test_a_timer_can_cancel_one_due_in_the_same_iteration(loop):
    fired: list[str] = []
    loop.call_at(150, lambda: second.cancel())
    second = loop.call_at(150, fired.append, "second")
    loop.run()
    assert fired == []


# --- timers scheduling timers, stopping ----------------------------------------------------


def test_a_timer_scheduled_from_a_timer_runs_in_a_later_iteration():
    recorder = Recorder()
    loop = Loop(recorder=recorder)

    def first() -> None:
        loop.call_later(0, second)

    def second() -> None:
        pass

    loop.call_later(0, first)
    assert loop.run(duration=2) == "no handlers"
    assert [line for line in recorder.trace() if not line.startswith("note")] == [
        "select read=[] write=[] -> read=[] write=[]",
        "first.timer",
        "select read=[] write=[] -> read=[] write=[]",
        "second.timer",
    ]


def test_a_timer_rescheduling_itself_with_delay_zero_does_not_starve_the_loop(loop):
    count = [0]

    def again() -> None:
        count[0] += 1
        loop.call_later(0, again)

    loop.call_later(0, again)
    assert loop.run(max_iterations=5) == "max_iterations"
    assert count[0] == 5  # one run per iteration, a wait between each


def test_stop_from_a_timer_ends_the_run_and_later_timers_wait(loop):
    fired: list[str] = []
    loop.call_later(1, loop.stop)
    loop.call_later(2, fired.append, "after stop")
    assert loop.run() == "stopped"
    assert fired == []
    assert loop.run() == "no handlers"  # a new run picks up where it stopped
    assert fired == ["after stop"]


def test_stop_lets_the_other_timers_due_in_that_iteration_run(loop):
    fired: list[str] = []
    loop.call_at(150, loop.stop)
    loop.call_at(150, fired.append, "same deadline")
    assert loop.run() == "stopped"
    assert fired == ["same deadline"]


def test_stoploop_raised_in_a_timer_stops_and_keeps_the_remaining_timers(loop):
    fired: list[str] = []

    def boom() -> None:
        raise StopLoop

    loop.call_at(150, boom)
    loop.call_at(150, fired.append, "kept")
    assert loop.run() == "stopped"
    assert fired == []
    loop.run()
    assert fired == ["kept"]


def test_run_counts_max_iterations_per_run(loop):
    Periodic(loop, 1.0, lambda: None)
    assert loop.run(max_iterations=2) == "max_iterations"
    assert loop.run(max_iterations=3) == "max_iterations"
    assert loop.iteration == 5


def test_when_several_stop_conditions_hold_run_names_them_in_chapter_04s_order(loop):
    """Nothing left, then max_iterations, then until, then duration: each wins over the next."""
    assert loop.run(max_iterations=0, until=lambda: True, duration=0) == "no handlers"
    loop.call_later(60, lambda: None)  # something left to wait for
    assert loop.run(max_iterations=0, until=lambda: True, duration=0) == "max_iterations"
    assert loop.run(until=lambda: True, duration=0) == "until"
    assert loop.run(until=lambda: False, duration=0) == "duration"
    assert loop.iteration == 0  # none of them ran an iteration


def test_an_empty_loop_stops_at_once():
    assert Loop().run() == "no handlers"


# --- errors --------------------------------------------------------------------------------


def test_a_timer_that_raises_is_reported_and_the_loop_goes_on(loop, capsys):
    fired: list[str] = []

    def broken() -> None:
        raise ValueError("bad tick")

    loop.call_later(1, broken)
    loop.call_later(2, fired.append, "next")
    loop.run()
    assert fired == ["next"]
    err = capsys.readouterr().err
    assert "timer broken raised ValueError: bad tick" in err
    assert "of test_timers.py" in err


def test_on_error_raise_propagates_a_timer_error():
    loop = FakeClockLoop(on_error="raise")

    def broken() -> None:
        raise ValueError("bad tick")

    loop.call_later(1, broken)
    with pytest.raises(ValueError, match="bad tick"):
        loop.run()


# --- time ----------------------------------------------------------------------------------


def test_timers_use_monotonic_time_not_the_wall_clock(monkeypatch):
    """PITFALL 19: a wall clock frozen (or set back) must not delay the timers."""
    monkeypatch.setattr(time, "time", lambda: 0.0)
    loop = Loop()
    fired: list[str] = []
    loop.call_later(0.01, fired.append, "fired")
    assert loop.run(duration=2) == "no handlers"
    assert fired == ["fired"]


# --- with handlers ------------------------------------------------------------------------


def test_handlers_and_timers_share_the_loop_handlers_first(udp_client):
    recorder = Recorder()
    with UDPEchoServer() as server:
        loop = Loop([server], recorder=recorder)
        replies: list[bytes] = []

        def ask() -> None:
            udp_client.sendto(b"ping", server.address)

        def read_reply() -> None:
            replies.append(udp_client.recv(100))
            loop.stop()

        loop.call_later(0, ask)
        assert loop.run(duration=5, until=lambda: server.requests > 0) == "until"
        loop.call_later(0, read_reply)
        assert loop.run(duration=5) == "stopped"
    assert replies == [b"ping"]
    calls = [(c.handler, c.action, c.fd) for c in recorder.handler_calls()]
    assert calls[:2] == [("ask", "timer", -1), ("UDPEchoServer", "handle_receive", calls[1][2])]
    assert calls[-1] == ("read_reply", "timer", -1)


def test_add_and_remove_handlers(udp_client):
    with UDPEchoServer() as server:
        loop = Loop()
        loop.add(server)
        assert loop.handlers == [server]
        loop.remove(server)
        loop.remove(server)  # harmless
        assert loop.run() == "no handlers"


def test_the_handlers_list_given_is_the_one_the_loop_watches():
    with UDPEchoServer() as server:
        handlers = []
        loop = Loop(handlers)
        handlers.append(server)
        assert loop.handlers is handlers


def test_a_closed_handler_is_dropped_and_the_timers_go_on(loop):
    server = UDPEchoServer()
    loop.handlers.append(server)
    fired: list[str] = []
    loop.call_later(1, server.close)
    loop.call_later(2, fired.append, "still ticking")
    assert loop.run() == "no handlers"
    assert fired == ["still ticking"]
    assert loop.handlers == []


def test_close_forgets_the_timers_and_the_context_manager_closes():
    with FakeClockLoop() as loop:
        timer = loop.call_later(1, print)
    assert loop.timer_counts() == (0, 0)
    timer.cancel()  # harmless: it is on no heap any more
    with pytest.raises(RuntimeError, match="FakeClockLoop is closed"):
        loop.run()
    assert loop.timeouts == []


# --- helpers: periodic tasks, idle timeouts --------------------------------------------------


def test_periodic_runs_on_schedule_without_drift(loop):
    ticks: list[float] = []

    def slow_tick() -> None:
        ticks.append(loop.time())
        loop.now += 0.3  # the callback itself takes time

    periodic = Periodic(loop, 1.0, slow_tick)
    loop.call_later(4.5, periodic.cancel)
    loop.run()
    assert ticks == [101.0, 102.0, 103.0, 104.0]


def test_periodic_runs_late_once_after_a_stall_then_gets_back_on_schedule(loop):
    ticks: list[float] = []

    def stall_once() -> None:
        ticks.append(loop.time())
        if len(ticks) == 1:
            loop.now += 2.5  # the first run stalls the loop past two deadlines

    periodic = Periodic(loop, 1.0, stall_once)
    loop.call_later(5.5, periodic.cancel)
    loop.run()
    assert ticks == [101.0, 103.5, 104.0, 105.0]  # 102 ran late, 103 skipped: no burst


def test_idle_timeout_fires_after_quiet_time_and_activity_pushes_it_back(loop):
    closed: list[float] = []
    idle = IdleTimeout(loop, 2.0, lambda: closed.append(loop.time()))
    loop.call_later(1.5, idle.touch)  # activity at 101.5: quiet until 103.5
    loop.run()
    assert closed == [103.5]
    assert loop.timeouts == [1.5, 0.5, 1.5]  # woke at 102.0, re-armed for 103.5


def test_idle_timeout_cancelled_never_fires(loop):
    closed: list[str] = []
    idle = IdleTimeout(loop, 2.0, lambda: closed.append("closed"))
    loop.call_later(1, idle.cancel)
    loop.run()
    assert closed == []


def test_idle_timeout_closes_a_quiet_udp_peer_but_not_a_chatty_one():
    """On real sockets: a server with an idle timer closes itself when nobody talks."""
    with UDPEchoServer() as quiet, UDPEchoServer() as chatty:
        loop = Loop([quiet, chatty])
        IdleTimeout(loop, 0.05, quiet.close)
        chatty_idle = IdleTimeout(loop, 0.05, chatty.close)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.bind(("127.0.0.1", 0))

            def talk() -> None:
                client.sendto(b"hi", chatty.address)
                chatty_idle.touch()

            for delay in [0.02, 0.04, 0.06, 0.08]:
                loop.call_later(delay, talk)
            loop.run(duration=0.1, until=lambda: quiet.sock.fileno() < 0)
            assert quiet.sock.fileno() < 0
            assert chatty.sock.fileno() >= 0
            chatty_idle.cancel()


def test_callback_names():
    class Server:
        def close(self) -> None:
            pass

    def tick() -> None:
        pass

    assert callback_name(tick) == "tick"
    assert callback_name(Server().close) == "Server.close"
    assert callback_name(print) == "print"
    assert callback_name(partial(partial(Server().close))) == "Server.close"


def test_the_recording_says_in_words_why_the_loop_stopped():
    recorder = Recorder()
    loop = Loop(recorder=recorder)
    loop.call_later(0, loop.stop)
    assert loop.run(duration=2) == "stopped"
    assert recorder.trace()[-2:] == ["Loop.stop.timer", "note: stopped: loop.stop() was called"]

    recorder = Recorder()
    loop = Loop(recorder=recorder)
    loop.call_later(0, boom_with_stoploop)
    assert loop.run(duration=2) == "stopped"
    assert recorder.trace()[-1] == "note: stopped: a handler raised StopLoop"


def boom_with_stoploop() -> None:
    raise StopLoop


class SchedulesATimerWhenReadable(EventHandler):
    """A handler that, on its one readable event, schedules ``call_later(0)`` and stops."""

    def __init__(self, loop: Loop, sock: socket.socket) -> None:
        self.loop, self.sock = loop, sock
        self.ran_in: int | None = None
        self.timer_ran_in: int | None = None

    def fileno(self) -> int:
        return self.sock.fileno()

    def wants_to_receive(self) -> bool:
        return self.ran_in is None

    def handle_receive(self) -> None:
        self.sock.recv(1)
        self.ran_in = self.loop.iteration
        self.loop.call_later(0, self.timer_fired)

    def timer_fired(self) -> None:
        self.timer_ran_in = self.loop.iteration
        self.loop.stop()


@pytest.mark.parametrize("loop_class", [Loop, SelectorLoop], ids=["timers.Loop", "SelectorLoop"])
def test_a_timer_scheduled_by_a_handler_runs_in_a_later_iteration(loop_class):
    """The invariant, through the public API: call_later(0) in a handler waits one iteration."""
    left, right = socket.socketpair()
    with left, right, loop_class() as loop:
        handler = SchedulesATimerWhenReadable(loop, left)
        loop.add(handler)
        right.send(b"x")
        loop.run(duration=5)
        assert handler.ran_in is not None and handler.timer_ran_in is not None
        assert handler.timer_ran_in == handler.ran_in + 1


@pytest.mark.parametrize("when", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_time_is_refused_when_scheduled(loop, when):
    """NaN is never due and would block later timers; inf overflows the wait: both refused."""
    with pytest.raises(ValueError, match="finite") as refused:
        loop.call_later(when, print)
    assert "print" in str(refused.value)  # names what was being scheduled
    with pytest.raises(ValueError, match="finite"):
        loop.call_at(when, print)
    loop.call_later(0, loop.stop)
    assert loop.run(duration=5) == "stopped"  # the loop is unharmed


# --- at the edges: far timers, dead timers, tiny intervals, timers held back --------------------


@pytest.mark.parametrize("kind", ["poll", "epoll"])
def test_a_timer_a_month_away_does_not_overflow_the_wait(kind):
    """epoll and poll take the timeout in milliseconds as a C int: 24.8 days at most.
    A 30-day timer once made the wait raise ``OverflowError: timeout is too large``."""
    if kind == "epoll" and not hasattr(select, "epoll"):
        pytest.skip("no epoll on this platform")
    with SelectorLoop(selector=kind) as loop:
        loop.call_later(30 * 24 * 3600, print)
        loop.call_soon_threadsafe(loop.stop)  # its byte wakes the wait at once
        assert loop.run(duration=None) == "stopped"


def test_every_wait_is_capped_at_maximum_wait(loop):
    loop.call_later(30 * 24 * 3600, loop.stop)
    loop.run(max_iterations=3)
    assert loop.timeouts == [MAXIMUM_WAIT] * 3  # a day per wait, as asyncio's loop does
    assert MAXIMUM_WAIT == 24 * 3600


def noop() -> None:
    pass


def test_cancelled_timers_are_removed_once_they_are_most_of_the_heap(loop):
    """A timeout armed and cancelled per request: before, every dead timer stayed."""
    loop.call_later(10, noop)  # a live timer on top keeps the dead ones below it
    for _ in range(1000):
        loop.call_later(30, noop).cancel()
    assert loop.timer_counts() == (1001, 1000)
    loop.call_later(0, noop)
    loop.run(max_iterations=1)
    assert loop.timer_counts() == (1, 0)


def test_a_timeout_armed_and_cancelled_per_request_keeps_the_heap_bounded(loop):
    loop.call_later(10, noop)  # an idle timeout, say: due before any request's timeout
    biggest = 0
    for _ in range(3000):
        loop.call_later(30, noop).cancel()  # the request answered before its timeout
        loop.call_later(0, noop)
        loop.run(max_iterations=1)
        biggest = max(biggest, loop.timer_counts()[0])
    assert biggest <= 2 * MIN_TIMERS_TO_PRUNE + 2


def test_few_cancelled_timers_stay_until_they_reach_the_top(loop):
    """Below the threshold nothing is rebuilt: removing them would cost more than they do."""
    live = [loop.call_later(30 + i, noop) for i in range(200)]
    dead = [loop.call_later(600 + i, noop) for i in range(100)]
    for timer in dead:
        timer.cancel()
    loop.call_later(0, noop)
    loop.run(max_iterations=1)
    assert loop.timer_counts() == (len(live) + len(dead), len(dead))


def test_a_timer_cancelled_after_it_ran_is_not_counted_as_dead(loop):
    ran = [loop.call_later(i, noop) for i in range(300)]
    loop.run()
    for timer in ran:
        timer.cancel()  # harmless, and not one of the heap's dead timers
    assert loop.timer_counts() == (0, 0)
    loop.call_later(1, noop)
    assert loop.timer_counts() == (1, 0)


@pytest.mark.parametrize("interval", [0, -1.0, 1e-7, 0.0009])
def test_periodic_refuses_an_interval_below_a_millisecond(loop, interval):
    """An interval of 0 (or ~100 ns) made tick() loop forever looking for the next deadline."""
    with pytest.raises(ValueError, match="at least 0.001 s") as refused:
        Periodic(loop, interval, noop)
    assert "millisecond" in str(refused.value)  # says why: the waits' resolution
    assert loop.timer_counts() == (0, 0)  # nothing was scheduled


def test_periodic_after_a_long_stall_skips_the_missed_runs_and_stays_on_its_grid(loop):
    ticks: list[float] = []

    def stall_once() -> None:
        ticks.append(loop.time())
        if len(ticks) == 1:
            loop.now += 1000.0  # a million missed runs, skipped in one step

    periodic = Periodic(loop, 0.001, stall_once)
    loop.run(max_iterations=2)
    assert ticks == [pytest.approx(100.001), pytest.approx(1100.001)]  # late once
    next_run = periodic.timer.when
    assert loop.now < next_run <= loop.now + 0.001  # the next deadline on the grid
    assert round((next_run - 100.0) / 0.001, 3) % 1 == 0
    periodic.cancel()


class ReadyAt99(EventHandler):
    """Always "readable" in ``HandlerTakesTimeLoop``; its handler takes half a second."""

    def __init__(self, loop: FakeClockLoop, fired: list[str]) -> None:
        self.loop, self.fired = loop, fired

    def fileno(self) -> int:
        return 99

    def handle_receive(self) -> None:
        self.loop.call_later(0, self.fired.append, "new")  # due at once, but scheduled now
        self.loop.now += 0.5  # the handler takes time: the old timer becomes due meanwhile


class HandlerTakesTimeLoop(FakeClockLoop):
    def wait_for_readiness(self, timeout):
        self.timeouts.append(timeout)
        return list(self.handlers), []


def test_a_due_timer_is_not_held_back_by_a_call_later_0_from_this_iteration():
    """The docstring's guarantee: a timer runs in the first iteration after its deadline."""
    loop = HandlerTakesTimeLoop()
    fired: list[str] = []
    loop.call_at(100.4, fired.append, "old")
    loop.add(ReadyAt99(loop, fired))
    loop.run(max_iterations=1)
    assert fired == ["old"]  # due at 100.4, and the iteration ended at 100.5
    loop.run(max_iterations=1)
    assert fired == ["old", "new"]  # the new one, as ever, in the next iteration
