"""Stage 02: non-blocking calls raise instead of waiting; poll_loop counts its tries."""

from __future__ import annotations

import errno
import select
import socket

import pytest

from eventloop.blocking import tcp_listener, udp_socket
from eventloop.nonblocking import (
    MISS_ACTION,
    MISS_HANDLER,
    PollStats,
    connect_error,
    echo_datagram,
    poll_loop,
    recv_now,
    start_connect,
)
from eventloop.recorder import HandlerEvent, Recorder
from eventloop.timeline_rows import timeline_rows


def test_recv_on_an_empty_non_blocking_socket_raises_eagain():
    with udp_socket() as sock:
        sock.setblocking(False)
        with pytest.raises(BlockingIOError) as caught:
            sock.recv(100)
    assert caught.value.errno in (errno.EAGAIN, errno.EWOULDBLOCK)


def test_recv_now_returns_none_when_empty_and_data_when_there(udp_client):
    with udp_socket() as sock:
        sock.setblocking(False)
        assert recv_now(sock) is None
        udp_client.sendto(b"hi", sock.getsockname())
        select.select([sock], [], [], 2)
        assert recv_now(sock) == b"hi"


def test_non_blocking_connect_is_in_progress_then_writable_with_so_error_zero():
    with tcp_listener() as listener:
        with socket.socket() as sock:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError) as caught:
                sock.connect(listener.getsockname())
            assert caught.value.errno == errno.EINPROGRESS
            _, writable, _ = select.select([], [sock], [], 2)
            assert writable == [sock]
            assert connect_error(sock) == 0


def test_refused_connect_reports_econnrefused_via_so_error():
    with tcp_listener() as listener:
        closed_address = listener.getsockname()
    sock = start_connect(closed_address)
    with sock:
        _, writable, _ = select.select([], [sock], [], 2)
        assert writable == [sock]
        assert connect_error(sock) == errno.ECONNREFUSED


def test_poll_loop_echoes_for_several_sockets_and_counts_eagains(udp_client):
    recorder = Recorder()
    with udp_socket() as a, udp_socket() as b:
        udp_client.sendto(b"to a", a.getsockname())
        udp_client.sendto(b"to b", b.getsockname())
        select.select([a], [], [], 2)
        select.select([b], [], [], 2)
        stats = poll_loop([a, b], echo_datagram, duration=2.0, max_iterations=3, recorder=recorder)
        replies = sorted(udp_client.recvfrom(100)[0] for _ in range(2))
        fds = a.fileno(), b.fileno()
    assert replies == [b"to a", b"to b"]
    assert (stats.iterations, stats.handled, stats.eagains) == (3, 2, 4)
    assert recorder.trace() == [
        f"echo_datagram.handle(fd {fds[0]})",
        f"echo_datagram.handle(fd {fds[1]})",
        "note: stopped after 3 iterations, 4 EAGAINs, 2 handled",
    ]


def test_poll_loop_records_the_sweeps_that_found_nothing_only_when_asked(udp_client):
    recorder = Recorder()
    with udp_socket() as a, udp_socket() as b:
        udp_client.sendto(b"to a", a.getsockname())
        select.select([a], [], [], 2)
        stats = poll_loop(
            [a, b],
            echo_datagram,
            duration=2.0,
            max_iterations=3,
            recorder=recorder,
            record_misses=True,
        )
        assert udp_client.recvfrom(100)[0] == b"to a"
        fd_a = a.fileno()
    assert (stats.iterations, stats.handled, stats.eagains) == (3, 1, 5)
    # iteration 0 echoed on a (b's EAGAIN does not make it empty); 1 and 2 found nothing
    assert recorder.trace() == [
        f"echo_datagram.handle(fd {fd_a})",
        f"{MISS_HANDLER}.{MISS_ACTION}",
        f"{MISS_HANDLER}.{MISS_ACTION}",
        "note: stopped after 3 iterations, 5 EAGAINs, 1 handled",
    ]
    misses = [e for e in recorder.events if isinstance(e, HandlerEvent) and e.fd < 0]
    assert [(m.iteration, m.handler, m.action) for m in misses] == [
        (1, "loop: poll", "nothing ready"),
        (2, "loop: poll", "nothing ready"),
    ]
    assert all(m.began <= m.ended for m in misses)
    # on a timeline the empty sweeps are a row of their own, drawn as running (not waiting)
    rows = {row.label: [span.kind for span in row.spans] for row in timeline_rows(recorder)}
    assert rows["loop: poll"] == ["handler", "handler"]
    assert rows[f"echo_datagram fd {fd_a}"] == ["handler"]


def test_poll_loop_stops_at_its_deadline_and_measures_cpu():
    with udp_socket() as sock:
        stats = poll_loop([sock], echo_datagram, duration=0.05)
    assert stats.handled == 0
    assert stats.eagains == stats.iterations > 0
    assert stats.wall >= 0.05
    assert 0 < stats.cpu_share <= 1.05  # a share of the wall time (a little slack: clocks differ)


def test_poll_loop_stops_when_until_is_true():
    calls = []
    with udp_socket() as sock:
        stats = poll_loop(
            [sock], echo_datagram, duration=5, until=lambda: calls.append(1) or len(calls) > 2
        )
    assert stats.iterations == 2


def test_poll_loop_skips_a_socket_closed_during_the_iteration(udp_client):
    with udp_socket() as a, udp_socket() as b:
        sockets = [a, b]

        def close_the_other(sock: socket.socket) -> None:
            sock.recv(100)
            b.close()

        udp_client.sendto(b"x", a.getsockname())
        select.select([a], [], [], 2)
        stats = poll_loop(sockets, close_the_other, duration=2, max_iterations=1)
    assert (stats.handled, stats.eagains) == (1, 0)


def test_cpu_share_of_an_empty_run_is_zero():
    assert PollStats().cpu_share == 0.0
