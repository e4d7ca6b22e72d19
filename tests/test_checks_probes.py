"""The probes the checks use (eventloop.checks.probes, eventloop.checks.network) see what they
claim to see: leaked sockets, busy loops, calls through imported names, wall clocks, a connect
that stays in progress, short sends."""

from __future__ import annotations

import datetime
import errno
import select
import socket
import sys
import time
from select import select as imported_select
from time import time as imported_wall_time

import pytest

from eventloop.checks.network import ShortSends, connect_in_progress
from eventloop.checks.probes import ClockMover, measure, spy_on, watch_leaks, watch_wall_clocks

KEPT: list[socket.socket] = []


def drops_an_open_socket():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))


def keeps_an_open_socket():
    KEPT.append(socket.socket())


def closes_its_socket():
    with socket.socket():
        pass


def test_watch_leaks_sees_a_dropped_socket_by_its_resource_warning():
    with watch_leaks() as leaks:
        drops_an_open_socket()
    assert len(leaks.unclosed) == 1 and leaks.unclosed[0].startswith("unclosed <socket")


def test_watch_leaks_sees_a_socket_still_open_and_closes_it():
    with watch_leaks() as leaks:
        keeps_an_open_socket()
    sock = KEPT.pop()
    assert len(leaks.unclosed) == 1
    assert leaks.unclosed[0].startswith("a TCP socket (fd ") and "still open" in leaks.unclosed[0]
    assert sock.fileno() == -1  # closed by the probe, so the check itself leaks nothing


def test_watch_leaks_is_quiet_for_a_closed_socket_and_sockets_opened_before():
    with socket.socket() as before, watch_leaks() as leaks:
        closes_its_socket()
    assert not leaks and before.fileno() == -1


def test_measure_tells_a_busy_loop_from_a_sleep():
    with measure() as busy:
        end = time.monotonic() + 0.15
        while time.monotonic() < end:
            pass
    with measure() as resting:
        time.sleep(0.15)
    assert busy.busy(0.3) and not resting.busy(0.3)
    assert resting.wall >= 0.15 > resting.cpu


def uses_an_imported_select():
    return imported_select([], [], [], 0.001)


def test_spy_on_records_calls_through_the_module_and_through_imported_names():
    with spy_on(select, "select", uses_an_imported_select) as calls:
        select.select([], [], [], 0)
        uses_an_imported_select()
    assert [call.args for call in calls] == [([], [], [], 0), ([], [], [], 0.001)]
    assert select.select is imported_select  # both put back
    assert globals()["imported_select"] is select.select


def uses_the_global_alias():
    return imported_wall_time()


def test_clock_mover_moves_monotonic_and_stops_or_jumps_the_wall_clocks():
    clock = ClockMover(uses_the_global_alias)
    with clock.installed():
        mono, wall, wall_alias, now = (
            time.monotonic(), time.time(), uses_the_global_alias(), datetime.datetime.now(),
        )  # fmt: skip
        time.sleep(0.02)  # real time passes; the pretend clocks do not
        clock.advance(5.0)
        clock.wall_jump = -3600.0
        assert time.monotonic() - mono == pytest.approx(5.0)
        assert time.perf_counter() == time.monotonic()
        assert time.time() - wall == pytest.approx(-3600.0)
        assert uses_the_global_alias() - wall_alias == pytest.approx(-3600.0)
        assert (datetime.datetime.now() - now).total_seconds() == pytest.approx(-3600.0)
        assert time.time_ns() // 10**9 == int(time.time())
    assert abs(time.time() - imported_wall_time()) < 1.0  # everything put back


def test_watch_wall_clocks_names_each_wall_clock_read():
    with watch_wall_clocks() as read:
        time.monotonic()
        time.time()
        time.time_ns()
        datetime.datetime.now()
    assert read == ["time.time()", "time.time_ns()", "datetime.now()"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's full-queue rule")
def test_connect_in_progress_stays_in_progress_then_is_refused():
    with connect_in_progress() as slow, socket.socket() as sock:
        sock.setblocking(False)
        assert sock.connect_ex(slow.address) == errno.EINPROGRESS
        slow.connect_seen()
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0  # still going
        _, writable, _ = select.select([], [sock], [], 3)
        assert writable
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNREFUSED


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's full-queue rule")
def test_connect_in_progress_closes_its_sockets_even_if_interrupted(monkeypatch):
    """A check's time limit can fire while the peer waits for its timer: nothing may leak."""

    def interrupted(self):
        raise KeyboardInterrupt  # what a time limit's exception does to the wait

    monkeypatch.setattr("eventloop.checks.network.SlowPeer.stop", interrupted)
    with pytest.raises(KeyboardInterrupt), connect_in_progress() as slow:
        listener = slow.listener
    assert listener.fileno() == -1  # closed; the queued client too (-W error::ResourceWarning)


def test_short_sends_send_at_most_1000_bytes_and_sendall_everything():
    a, b = socket.socketpair()
    with ShortSends(a) as short, b:
        assert short.send(b"x" * 5000) == 1000
        short.sendall(b"y" * 5000)
        b.settimeout(1)
        received = b""
        while len(received) < 6000:
            received += b.recv(65536)
        assert received == b"x" * 1000 + b"y" * 5000
    assert a.fileno() == -1
