"""Tests for eventloop.select_loop: readiness, stopping, and the pitfalls of select (1, 2, 22)."""

from __future__ import annotations

import fcntl
import os
import resource
import select
import socket
from collections.abc import Iterator

import pytest

from eventloop.recorder import Recorder
from eventloop.select_loop import FD_SETSIZE, run_select_loop


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


@pytest.fixture
def echo() -> Iterator[socket.socket]:
    with udp_socket() as sock:
        yield sock


def echo_back(sock: socket.socket) -> None:
    data, sender = sock.recvfrom(65535)
    sock.sendto(data, sender)


def test_serves_several_udp_clients_in_one_loop(echo: socket.socket) -> None:
    replies: list[bytes] = []

    def collect(sock: socket.socket) -> None:
        replies.append(sock.recv(65535))

    with udp_socket() as a, udp_socket() as b:
        a.sendto(b"from a", echo.getsockname())
        b.sendto(b"from b", echo.getsockname())
        recorder = Recorder()
        readers = {echo: echo_back, a: collect, b: collect}
        reason = run_select_loop(
            readers, until=lambda: len(replies) == 2, duration=2.0, recorder=recorder
        )
        assert reason == "until"
        assert sorted(replies) == [b"from a", b"from b"]
        e, fa, fb = echo.fileno(), a.fileno(), b.fileno()
        assert recorder.trace()[:2] == [
            f"select read={sorted([e, fa, fb])} write=[] -> read=[{e}] write=[]",
            f"echo_back.handle_receive(fd {e})",
        ]
        assert recorder.trace()[-1] == "note: stopped: until"


def test_echoes_every_datagram_before_stopping(echo: socket.socket) -> None:
    got: list[bytes] = []
    with udp_socket() as client:
        for text in (b"one", b"two", b"three"):
            client.sendto(text, echo.getsockname())

        def collect(sock: socket.socket) -> None:
            got.append(sock.recv(100))

        run_select_loop(
            {echo: echo_back, client: collect}, until=lambda: len(got) == 3, duration=2.0
        )
    assert got == [b"one", b"two", b"three"]


def test_accepts_tcp_connections_and_forgets_them_at_eof() -> None:
    recorder = Recorder()
    echoed: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        readers: dict = {}

        def echo_or_close(conn: socket.socket) -> None:
            data = conn.recv(4096)
            if not data:  # EOF is readable too: close, or select reports it forever
                del readers[conn]
                conn.close()
                return
            echoed.append(data)
            conn.sendall(data)

        def accept(sock: socket.socket) -> None:
            conn, _ = sock.accept()
            conn.setblocking(False)
            readers[conn] = echo_or_close

        readers[listener] = accept
        with socket.create_connection(listener.getsockname(), timeout=2) as client:
            client.sendall(b"hello")
            run_select_loop(readers, until=lambda: bool(echoed), duration=2.0, recorder=recorder)
            assert client.recv(100) == b"hello"
        run_select_loop(readers, until=lambda: len(readers) == 1, duration=2.0, recorder=recorder)
    actions = [c.handler for c in recorder.handler_calls()]
    assert actions == ["accept", "echo_or_close", "echo_or_close"]
    assert len(readers) == 1


def test_a_timeout_returns_empty_lists_and_stops_on_duration(echo: socket.socket) -> None:
    recorder = Recorder()
    assert run_select_loop({echo: echo_back}, duration=0.05, recorder=recorder) == "duration"
    selects = recorder.selects()
    assert selects and all(s.ready_read == () for s in selects)
    assert recorder.trace()[-1] == "note: stopped: duration"


def test_stops_after_max_iterations(echo: socket.socket) -> None:
    recorder = Recorder()
    with udp_socket() as client:
        for _ in range(5):
            client.sendto(b"x", echo.getsockname())
        reason = run_select_loop({echo: echo_back}, max_iterations=2, recorder=recorder)
    assert reason == "max_iterations"
    assert len(recorder.handler_calls()) == 2


def test_stops_when_nothing_is_left_to_watch() -> None:
    sock = udp_socket()
    sock.close()
    assert run_select_loop({sock: echo_back}, duration=1.0) == "nothing to watch"


def test_select_rejects_a_closed_socket_but_the_loop_forgets_it(echo: socket.socket) -> None:
    closed = udp_socket()
    closed.close()
    with pytest.raises(ValueError, match=r"negative integer \(-1\)"):
        select.select([echo, closed], [], [], 0)
    recorder = Recorder()
    readers = {echo: echo_back, closed: echo_back}
    run_select_loop(readers, max_iterations=1, duration=1.0, recorder=recorder)
    assert closed not in readers
    assert recorder.trace()[0] == "note: forgot a closed socket (echo_back)"


def test_a_socket_closed_earlier_in_the_iteration_is_not_called(echo: socket.socket) -> None:
    called: list[str] = []
    with udp_socket() as other, udp_socket() as client:
        client.sendto(b"1", echo.getsockname())
        client.sendto(b"2", other.getsockname())

        def first(sock: socket.socket) -> None:
            called.append("first")
            other.close()

        def second(sock: socket.socket) -> None:
            called.append("second")

        run_select_loop({echo: first, other: second}, max_iterations=1, duration=1.0)
    assert called == ["first"]


def test_spurious_readiness_is_not_now_not_an_error(echo: socket.socket) -> None:
    recorder = Recorder()
    # Two socket objects, one socket: both are reported readable, only one finds data.
    twin = socket.socket(fileno=os.dup(echo.fileno()))
    with twin, udp_socket() as client:
        client.sendto(b"only one", echo.getsockname())
        got: list[bytes] = []

        def take(sock: socket.socket) -> None:
            got.append(sock.recv(100))

        reason = run_select_loop({echo: take, twin: take}, max_iterations=1, recorder=recorder)
    assert reason == "max_iterations"
    assert got == [b"only one"]
    notes = [n.text for n in recorder.notes()]
    assert any(text.startswith("spurious readiness on fd") for text in notes)


def test_other_errors_propagate_and_are_recorded(echo: socket.socket) -> None:
    recorder = Recorder()

    def broken(sock: socket.socket) -> None:
        raise ZeroDivisionError("oops")

    with udp_socket() as client:
        client.sendto(b"x", echo.getsockname())
        with pytest.raises(ZeroDivisionError):
            run_select_loop({echo: broken}, duration=1.0, recorder=recorder)
    assert recorder.handler_calls()[0].error == "ZeroDivisionError: oops"


def test_writers_are_called_when_there_is_room(echo: socket.socket) -> None:
    sent: list[int] = []

    def send_once(sock: socket.socket) -> None:
        sent.append(sock.sendto(b"ping", echo.getsockname()))
        del writers[sock]

    with udp_socket() as client:
        writers = {client: send_once}
        run_select_loop({}, writers, duration=1.0)
        assert sent == [4]
        assert echo.recv(10) == b"ping"


def test_select_refuses_a_descriptor_at_or_above_fd_setsize(echo: socket.socket) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= FD_SETSIZE + 8:
        pytest.skip("the hard limit on open files is too low to reach FD_SETSIZE")
    if soft != resource.RLIM_INFINITY and soft <= FD_SETSIZE + 8:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_SETSIZE + 64, hard))
    try:
        high = fcntl.fcntl(echo.fileno(), fcntl.F_DUPFD, FD_SETSIZE)  # lowest free fd >= 1024
        with socket.socket(fileno=high) as big:
            with pytest.raises(ValueError, match=r"filedescriptor out of range in select\(\)"):
                run_select_loop({big: echo_back}, max_iterations=1, duration=1.0)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
