"""The notebooks' experiment plumbing: a logged recv (01) and a pausing handler list (08)."""

from __future__ import annotations

import socket
import threading

import pytest

from eventloop.experiments import PausingList, recv_recorded
from eventloop.recorder import Recorder


def test_recv_recorded_returns_the_bytes_and_logs_one_blocked_recv():
    recorder = Recorder()
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"hello")
        assert recv_recorded(right, "client 1", 0, recorder) == b"hello"
        left.close()
        assert recv_recorded(right, "client 1", 1, recorder) == b""  # EOF is logged too
        calls = recorder.handler_calls()
        assert [(c.handler, c.action, c.iteration) for c in calls] == [
            ("client 1", "recv (blocked)", 0),
            ("client 1", "recv (blocked)", 1),
        ]
        assert all(c.fd == right.fileno() for c in calls)
        assert all(c.ended >= c.began for c in calls)


def test_recv_recorded_without_a_recorder_is_a_plain_recv():
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"x")
        assert recv_recorded(right, "anyone", 0, None) == b"x"


def test_pausing_list_yields_its_items_then_waits_in_the_gap_for_the_workers_byte():
    left, right = socket.socketpair()
    with left, right:
        in_the_gap = threading.Event()
        pending = PausingList(right, in_the_gap)
        pending.extend(["A", "B"])
        seen = []
        worker = threading.Thread(target=lambda: (in_the_gap.wait(2), left.send(b"x")))
        worker.start()
        for item in pending:
            seen.append(item)
            assert not in_the_gap.is_set()  # the gap comes only after the last item
        worker.join(timeout=2)
        assert seen == ["A", "B"]
        assert in_the_gap.is_set()
        assert right.recv(1, socket.MSG_DONTWAIT) == b"x"  # peeked, not consumed
        assert right.gettimeout() is None  # the socket's own timeout is back


def test_pausing_list_without_a_worker_times_out_and_restores_the_timeout():
    left, right = socket.socketpair()
    with left, right:
        right.settimeout(7.0)
        pending = PausingList(right, threading.Event(), timeout=0.05)
        with pytest.raises(TimeoutError):
            list(pending)
        assert right.gettimeout() == 7.0
