"""The notebooks' experiment plumbing: a logged recv (01) and a pausing handler list (08)."""

from __future__ import annotations

import socket

from eventloop.experiments import recv_recorded
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
