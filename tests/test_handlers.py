"""The seed stage: EventHandler and event_loop (eventloop/handlers.py)."""

from __future__ import annotations

import os
import resource
import socket

import pytest

from eventloop.handlers import FD_SETSIZE, EventHandler, StopLoop, event_loop
from eventloop.recorder import Recorder
from eventloop.udp import UDPEchoServer


class Pair(EventHandler):
    """One end of a socketpair; records every call in a shared log."""

    def __init__(self, name: str, log: list[str], *, receive: bool = True, send: bool = False):
        self.name = name
        self.log = log
        self.receive = receive
        self.send = send
        self.sock, self.peer = socket.socketpair()
        self.sock.setblocking(False)
        self.on_receive = lambda: None

    def fileno(self) -> int:
        return self.sock.fileno()

    def wants_to_receive(self) -> bool:
        return self.receive

    def handle_receive(self) -> None:
        self.log.append(f"{self.name}.receive")
        try:
            self.sock.recv(4096)
        except OSError:
            pass
        self.on_receive()

    def wants_to_send(self) -> bool:
        return self.send

    def handle_send(self) -> None:
        self.log.append(f"{self.name}.send")

    def close(self) -> None:
        self.sock.close()
        self.peer.close()


@pytest.fixture
def log() -> list[str]:
    return []


@pytest.fixture
def pairs(log: list[str]):
    made: list[Pair] = []

    def make(name: str, **kwargs) -> Pair:
        pair = Pair(name, log, **kwargs)
        made.append(pair)
        return pair

    yield make
    for pair in made:
        pair.close()


# --- the handler API


def test_a_handler_without_fileno_fails_when_created_with_a_clear_error():
    class Forgetful(EventHandler):
        def wants_to_receive(self) -> bool:
            return True

    with pytest.raises(TypeError, match="abstract method.*fileno"):
        Forgetful()


def test_default_methods_mean_not_interested():
    class Minimal(EventHandler):
        def fileno(self) -> int:
            return 0

    handler = Minimal()
    assert handler.wants_to_receive() is False
    assert handler.wants_to_send() is False


# --- dispatch


def test_readable_handlers_run_before_writable_ones_in_one_iteration(pairs, log):
    writer = pairs("writer", receive=False, send=True)
    reader = pairs("reader")
    reader.peer.send(b"x")
    reason = event_loop([writer, reader], max_iterations=1)
    assert reason == "max_iterations"
    assert log == ["reader.receive", "writer.send"]


def test_only_ready_handlers_are_called(pairs, log):
    quiet = pairs("quiet")
    busy = pairs("busy")
    busy.peer.send(b"x")
    event_loop([quiet, busy], max_iterations=1)
    assert log == ["busy.receive"]


def test_a_handler_may_add_handlers_to_the_list_while_the_loop_runs(pairs, log):
    first = pairs("first")
    second = pairs("second")
    handlers: list[EventHandler] = [first]
    first.on_receive = lambda: handlers.append(second)
    first.peer.send(b"x")
    second.peer.send(b"y")
    event_loop(handlers, max_iterations=2)
    assert log == ["first.receive", "second.receive"]


# --- stopping


def test_stops_after_duration_when_nothing_happens(pairs):
    reason = event_loop([pairs("idle")], duration=0.05)
    assert reason == "duration"


def test_stops_when_until_holds(pairs, log):
    handler = pairs("h")
    handler.peer.send(b"x")
    reason = event_loop([handler], until=lambda: len(log) == 1, duration=5)
    assert reason == "until"
    assert log == ["h.receive"]


def test_a_handler_can_stop_the_loop_with_StopLoop(pairs, log):
    handler = pairs("h")

    def stop() -> None:
        raise StopLoop

    handler.on_receive = stop
    handler.peer.send(b"x")
    recorder = Recorder()
    reason = event_loop([handler], duration=5, recorder=recorder)
    assert reason == "stopped"
    assert recorder.trace()[-1] == "note: stopped: a handler raised StopLoop"


def test_an_empty_handler_list_stops_at_once():
    assert event_loop([]) == "no handlers"


def test_keyboard_interrupt_leaves_the_loop(pairs):
    handler = pairs("h")

    def interrupt() -> None:
        raise KeyboardInterrupt

    handler.on_receive = interrupt
    handler.peer.send(b"x")
    with pytest.raises(KeyboardInterrupt):
        event_loop([handler], duration=5)


# --- closed handlers


def test_a_handler_closed_earlier_in_the_same_iteration_is_not_called(pairs, log):
    closer = pairs("closer")
    victim = pairs("victim")
    closer.on_receive = victim.sock.close
    closer.peer.send(b"x")
    victim.peer.send(b"y")
    event_loop([closer, victim], max_iterations=1)
    assert log == ["closer.receive"]


def test_a_handler_that_closes_itself_is_not_sent_to_in_the_same_iteration(pairs, log):
    """The Cookbook's TCP bug: handle_receive closes, then handle_send hits EBADF."""
    handler = pairs("h", send=True)
    handler.on_receive = handler.sock.close
    handler.peer.send(b"x")
    event_loop([handler], max_iterations=1)
    assert log == ["h.receive"]


def test_a_handler_closed_during_the_loop_is_dropped_before_the_next_select(pairs, log):
    handler = pairs("h")
    other = pairs("other")
    handler.on_receive = handler.sock.close
    handler.peer.send(b"x")
    handlers: list[EventHandler] = [handler, other]
    recorder = Recorder()
    event_loop(handlers, max_iterations=2, duration=0.2, recorder=recorder)
    assert handlers == [other]
    assert "note: dropped h: closed" in recorder.trace()


def test_a_handler_already_closed_when_the_loop_starts_is_a_clear_error(pairs):
    handler = pairs("h")
    handler.sock.close()
    with pytest.raises(ValueError, match=r"h is closed \(fileno\(\) returned -1\)"):
        event_loop([handler], max_iterations=1)


def test_a_non_handler_object_is_a_clear_type_error():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(TypeError, match="Wrap a socket in an EventHandler"):
            event_loop([sock], max_iterations=1)  # type: ignore[list-item]


def test_a_fileno_that_is_not_an_int_is_a_clear_type_error():
    class Wrong(EventHandler):
        def fileno(self):  # type: ignore[override]
            return "5"

    with pytest.raises(TypeError, match=r"Wrong.fileno\(\) returned '5'"):
        event_loop([Wrong()], max_iterations=1)


def test_a_descriptor_closed_behind_the_loops_back_is_explained():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fd = sock.detach()

    class Stale(EventHandler):
        def fileno(self) -> int:
            return fd

        def wants_to_receive(self) -> bool:
            return True

    os.close(fd)
    with pytest.raises(OSError, match="not open"):
        event_loop([Stale()], max_iterations=1)


# --- a handler that raises


def test_a_raising_handler_is_reported_in_one_line_and_dropped_while_others_go_on(
    pairs, log, capsys
):
    broken = pairs("broken")
    healthy = pairs("healthy")

    def fail() -> None:
        raise ZeroDivisionError("division by zero")

    broken.on_receive = fail
    broken.peer.send(b"x")
    healthy.peer.send(b"y")
    handlers: list[EventHandler] = [broken, healthy]
    recorder = Recorder()
    event_loop(handlers, max_iterations=1, recorder=recorder)

    assert log == ["broken.receive", "healthy.receive"]
    assert handlers == [healthy]
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1
    assert f"broken (fd {broken.fileno()}) in handle_receive raised ZeroDivisionError" in message
    assert "removed from the loop" in message
    assert recorder.handler_calls()[0].error == "ZeroDivisionError: division by zero"


def test_a_handler_dropped_in_handle_receive_is_not_sent_to_in_the_same_iteration(
    pairs, log, capsys
):
    """Readable and writable at once: once dropped for raising, it is out of the loop."""
    broken = pairs("broken", send=True)

    def fail() -> None:
        raise ZeroDivisionError("division by zero")

    broken.on_receive = fail
    broken.peer.send(b"x")
    handlers: list[EventHandler] = [broken]
    event_loop(handlers, max_iterations=1)
    assert log == ["broken.receive"]
    assert handlers == []
    assert "removed from the loop" in capsys.readouterr().err


def test_on_error_raise_stops_the_loop_with_the_error(pairs):
    broken = pairs("broken")

    def fail() -> None:
        raise RuntimeError("boom")

    broken.on_receive = fail
    broken.peer.send(b"x")
    with pytest.raises(RuntimeError, match="boom"):
        event_loop([broken], max_iterations=1, on_error="raise")


# --- FD_SETSIZE


def test_more_descriptors_than_select_can_watch_gives_a_message_naming_FD_SETSIZE():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FD_SETSIZE + 64
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"the hard limit on open files ({hard}) is below {wanted}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    servers: list[UDPEchoServer] = []
    try:
        while not servers or servers[-1].fileno() < FD_SETSIZE:
            servers.append(UDPEchoServer())
        biggest = servers[-1].fileno()
        with pytest.raises(ValueError) as caught:
            event_loop(list(servers), max_iterations=1)
    finally:
        for server in servers:
            server.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    message = str(caught.value)
    assert f"below FD_SETSIZE ({FD_SETSIZE})" in message
    assert f"UDPEchoServer has fd {biggest}" in message
    assert "chapter 09" in message
    assert isinstance(caught.value.__cause__, ValueError)
    assert "out of range" in str(caught.value.__cause__)
