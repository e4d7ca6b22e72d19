"""Stage 05: TCP connections on the event loop (eventloop/tcp.py)."""

from __future__ import annotations

import errno
import select
import socket
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from functools import partial

import pytest

from eventloop import tcp_server
from eventloop.handlers import EventHandler, event_loop
from eventloop.nonblocking import connect_error, start_connect
from eventloop.recorder import Recorder
from eventloop.tcp import (
    RECV_SIZE,
    TCPConnection,
    TCPEchoConnection,
)
from eventloop.tcp_server import TCPServer


def run_until(handlers: list[EventHandler], done: Callable[[], bool], limit: float = 3.0) -> None:
    """Run the loop until ``done()``; fail the test if that takes longer than ``limit``."""
    event_loop(handlers, until=done, duration=limit)
    assert done(), "the loop ran out of time before the condition held"


def connected_client(server: TCPServer) -> socket.socket:
    client = socket.create_connection(server.address, timeout=3)
    return client


def reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.fixture
def handlers() -> list[EventHandler]:
    return []


@pytest.fixture
def server(handlers: list[EventHandler]) -> Iterator[TCPServer]:
    with TCPServer(handlers) as server:
        yield server


def connections(handlers: list[EventHandler]) -> list[TCPConnection]:
    return [h for h in handlers if isinstance(h, TCPConnection)]


def test_server_listens_on_loopback_port_zero_and_joins_the_list(handlers, server):
    assert server.address[0] == "127.0.0.1" and server.port > 0
    assert handlers == [server]
    assert server.sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1


def test_close_leaves_the_list_and_closes_open_connections(handlers):
    server = TCPServer(handlers)
    with connected_client(server) as client:
        run_until(handlers, lambda: len(handlers) == 2)
        connection = handlers[1]
        server.close()
        assert handlers == []
        assert server.fileno() == -1 and connection.fileno() == -1
        assert client.recv(10) == b""  # the server's close reached the client


def test_echo_accepts_then_reads_in_order(handlers, server):
    recorder = Recorder()
    with connected_client(server) as client:
        client.sendall(b"hello")
        event_loop(handlers, until=lambda: client_has_data(client), duration=3, recorder=recorder)
        assert client.recv(100) == b"hello"
    calls = [line for line in recorder.trace() if not line.startswith(("select", "note"))]
    assert calls[0].startswith("TCPServer.handle_receive")
    assert calls[1].startswith("TCPEchoConnection.handle_receive")


def client_has_data(client: socket.socket) -> bool:
    return bool(select.select([client], [], [], 0)[0])


def test_accepted_sockets_are_non_blocking(handlers, server):
    with connected_client(server):
        run_until(handlers, lambda: len(handlers) == 2)
        assert handlers[1].sock.getblocking() is False


def test_eof_flushes_then_closes_and_leaves_the_list(handlers, server):
    with connected_client(server) as client:
        client.sendall(b"last words")
        client.shutdown(socket.SHUT_WR)
        run_until(handlers, lambda: server.accepted == 1 and len(handlers) == 1)
        assert recv_all(client) == b"last words"


def recv_all(client: socket.socket) -> bytes:
    chunks = []
    while chunk := client.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_ignoring_eof_would_spin_but_eof_stops_reading(handlers, server):
    """After b'' the connection stops asking to read: no busy loop on a half-closed peer."""

    class KeepOpen(TCPEchoConnection):
        def eof_received(self) -> None:
            pass  # stay open, as a server that still has things to say would

    server.connection = KeepOpen
    recorder = Recorder()
    with connected_client(server) as client:
        client.shutdown(socket.SHUT_WR)
        event_loop(handlers, duration=0.3, recorder=recorder)
        connection = connections(handlers)[0]
        assert connection.eof and not connection.wants_to_receive()
        receives = [c for c in recorder.handler_calls() if c.handler == "KeepOpen"]
        assert len(receives) == 1  # one read of b'', then never again


def test_write_eof_half_closes_and_keeps_reading(handlers, server):
    class Greeter(TCPConnection):
        def __init__(self, sock, handlers):
            super().__init__(sock, handlers)
            self.heard = b""
            self.send(b"hello, then FIN")
            self.write_eof()

        def data_received(self, data: bytes) -> None:
            self.heard += data

    server.connection = Greeter
    with connected_client(server) as client:
        run_until(handlers, lambda: len(handlers) == 2)
        assert recv_all(client) == b"hello, then FIN"  # EOF: the server's side is closed
        greeter = connections(handlers)[0]
        client.sendall(b"still listening?")
        run_until(handlers, lambda: greeter.heard == b"still listening?")
        client.shutdown(socket.SHUT_WR)
        run_until(handlers, lambda: greeter.closed)  # both sides done: closed


def test_a_reset_closes_that_connection_only(handlers, server):
    lost: list[str] = []

    class Noting(TCPEchoConnection):
        def connection_lost(self, error: Exception | None) -> None:
            lost.append(type(error).__name__)

    server.connection = Noting
    with connected_client(server) as good:
        bad = connected_client(server)
        run_until(handlers, lambda: len(handlers) == 3)
        reset(bad)
        run_until(handlers, lambda: len(handlers) == 2)
        assert lost == ["ConnectionResetError"]
        good.sendall(b"ping")
        run_until(handlers, lambda: client_has_data(good))
        assert good.recv(10) == b"ping"


def test_sending_to_a_peer_that_has_gone_closes_with_an_error(handlers, server):
    lost: list[Exception | None] = []

    class Noting(TCPConnection):
        def connection_lost(self, error: Exception | None) -> None:
            lost.append(error)

    server.connection = Noting
    client = connected_client(server)
    run_until(handlers, lambda: len(handlers) == 2)
    connection = connections(handlers)[0]
    reset(client)
    for _ in range(3):  # the first send may still succeed; then EPIPE or ECONNRESET
        connection.send(b"x" * 1000)
        if connection.closed:
            break
    assert connection.closed and connection not in handlers
    assert isinstance(lost[0], (BrokenPipeError, ConnectionResetError))
    assert lost[0].errno in (errno.EPIPE, errno.ECONNRESET)


def test_partial_send_keeps_the_rest_and_delivers_everything_in_order():
    left, right = socket.socketpair()
    left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    handlers: list[EventHandler] = []
    connection = TCPConnection(left, handlers, high_water=None)
    handlers.append(connection)
    payload = bytes(range(256)) * 4096  # 1 MiB
    with right:
        connection.send(payload)
        assert 0 < connection.bytes_out < len(payload)  # the kernel took only a part
        assert connection.wants_to_send()
        received = bytearray()
        while len(received) < len(payload):
            event_loop(handlers, max_iterations=1, duration=1)  # one flush
            received += right.recv(1 << 20)
        assert bytes(received) == payload
        assert not connection.wants_to_send() and connection.bytes_out == len(payload)
        connection.close()


def flood(client: socket.socket, limit: int = 32 << 20) -> int:
    """Send without reading until the kernel refuses more (or ``limit`` bytes)."""
    client.setblocking(False)
    sent = 0
    chunk = b"f" * 65536
    while sent < limit:
        try:
            sent += client.send(chunk)
        except BlockingIOError:
            break
    return sent


def test_backpressure_bounds_the_buffer_of_a_client_that_does_not_read(handlers, server):
    server.connection = partial(TCPEchoConnection, high_water=64 * 1024, low_water=16 * 1024)
    with connected_client(server) as client:
        run_until(handlers, lambda: len(handlers) == 2)
        connection = connections(handlers)[0]
        for _ in range(5):  # flood, let the server read what it will, flood again
            flood(client)
            event_loop(handlers, duration=0.1)
        assert connection.pauses >= 1 and not connection.wants_to_receive()
        assert 64 * 1024 <= connection.max_buffered <= 64 * 1024 + RECV_SIZE
        # Now the client reads: the server drains, resumes reading, and echoes everything.
        received = 0
        client.setblocking(True)
        client.settimeout(0.05)
        for _ in range(2000):
            event_loop(handlers, duration=0.01)
            try:
                received += len(client.recv(1 << 20))
            except TimeoutError:
                if connection.bytes_in == connection.bytes_out == received:
                    break
        assert connection.pauses >= 1 and connection.wants_to_receive()
        assert received == connection.bytes_in > 64 * 1024


def test_without_watermarks_the_buffer_grows(handlers, server):
    server.connection = partial(TCPEchoConnection, high_water=None)
    with connected_client(server) as client:
        run_until(handlers, lambda: len(handlers) == 2)
        connection = connections(handlers)[0]
        for _ in range(10):
            flood(client, limit=4 << 20)
            event_loop(handlers, duration=0.05)
            if connection.max_buffered > 4 * (64 * 1024 + RECV_SIZE):
                break
        assert connection.pauses == 0
        assert connection.max_buffered > 4 * (64 * 1024 + RECV_SIZE)


def test_start_connect_then_so_error_is_zero(server):
    with start_connect(server.address) as client:
        _, writable, _ = select.select([], [client], [], 3)
        assert writable == [client]
        assert connect_error(client) == 0


def test_a_refused_connect_is_readable_and_writable_with_econnrefused():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = probe.getsockname()  # bound but not listening: connections are refused
        with start_connect(address) as client:
            readable, writable, _ = select.select([client], [client], [], 3)
            assert readable == [client] and writable == [client]
            assert connect_error(client) == errno.ECONNREFUSED


def test_a_plain_nonblocking_connect_raises_einprogress(server):
    with socket.socket() as sock:
        sock.setblocking(False)
        with pytest.raises(BlockingIOError) as info:
            sock.connect(server.address)
        assert info.value.errno == errno.EINPROGRESS


EMFILE_SCRIPT = textwrap.dedent(
    """
    import os, resource, socket
    from eventloop.handlers import event_loop
    from eventloop.recorder import Recorder
    from eventloop.tcp_server import TCPServer

    handlers = []
    server = TCPServer(handlers)
    first = socket.create_connection(server.address, timeout=3)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    fillers = []
    try:
        while True:
            fillers.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    recorder = Recorder()
    event_loop(handlers, duration=0.3, recorder=recorder)
    print("refused", server.refused, "accepted", server.accepted)
    print("iterations", len(recorder.selects()))
    print("first got", first.recv(10))
    for fd in fillers:
        os.close(fd)
    second = socket.create_connection(server.address, timeout=3)
    second.sendall(b"ok")
    event_loop(handlers, until=lambda: server.accepted == 1, duration=3)
    event_loop(handlers, duration=0.2)
    print("second got", second.recv(10))
    first.close(); second.close(); server.close()
    """
)


def test_out_of_descriptors_refuses_one_client_and_goes_on():
    result = subprocess.run(
        [sys.executable, "-c", EMFILE_SCRIPT], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "refused 1 accepted 0"
    assert int(lines[1].split()[1]) <= 3  # no busy loop on the still-readable listener
    assert lines[2] == "first got b''"  # accepted and closed at once: the client hears
    assert lines[3] == "second got b'ok'"
    assert "cannot accept: Too many open files" in result.stderr


def test_a_server_that_cannot_open_its_spare_descriptor_closes_its_socket(monkeypatch):
    """Out of descriptors as it starts (``ulimit -n 7``): the listening socket is not leaked."""
    opened: list[socket.socket] = []
    real_bound_socket = tcp_server.bound_socket

    def remembered(*args, **kwargs) -> socket.socket:
        opened.append(real_bound_socket(*args, **kwargs))
        return opened[-1]

    def no_descriptor_left(*args) -> int:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(tcp_server, "bound_socket", remembered)
    monkeypatch.setattr(tcp_server.os, "open", no_descriptor_left)
    handlers: list[EventHandler] = []
    with pytest.raises(OSError, match="Too many open files"):
        TCPServer(handlers)
    assert opened and opened[0].fileno() == -1  # closed
    assert handlers == []


class RaisesOnData(TCPConnection):
    """A protocol with a bug: it raises on its first data (MemoryError, as a huge reply would)."""

    lost: list[Exception | None] = []

    def data_received(self, data: bytes) -> None:
        raise MemoryError("no room for the reply")

    def connection_lost(self, error: Exception | None) -> None:
        RaisesOnData.lost.append(error)


def test_a_protocol_that_raises_is_closed_and_told_why(handlers, capsys):
    RaisesOnData.lost = []
    with TCPServer(handlers, connection=RaisesOnData) as server, connected_client(server) as client:
        client.sendall(b"hello")
        run_until(handlers, lambda: bool(RaisesOnData.lost))
        assert isinstance(RaisesOnData.lost[0], MemoryError)
        assert connections(handlers) == [] and all(c.closed for c in server.connections)
        assert client.recv(100) == b""  # the server closed its end: no socket left open
    report = capsys.readouterr().err
    assert "RaisesOnData" in report and "MemoryError" in report and "no room" in report


def test_a_client_whose_fd_the_loop_cannot_watch_is_refused_and_the_others_served(handlers, capsys):
    """The select() loop cannot watch fds past FD_SETSIZE: such a client is closed, once said.

    Here the limit is the listening socket's own fd, so every accepted fd is above it.
    """
    with TCPServer(handlers) as server:
        server.highest_fd = server.sock.fileno()
        with connected_client(server) as client:
            run_until(handlers, lambda: server.refused == 1)
            assert client.recv(100) == b""  # closed by the server, not left waiting
        server.highest_fd = None  # the next client can be watched: it is served
        with connected_client(server) as client:
            client.sendall(b"still here")
            run_until(handlers, lambda: server.accepted == 1 and client_has_data(client))
            assert client.recv(100) == b"still here"
    err = capsys.readouterr().err
    assert err.count("refusing clients whose descriptor is above") == 1


def test_the_select_loop_server_refuses_fds_past_fd_setsize():
    from eventloop.cli_serving import highest_watchable_fd

    assert highest_watchable_fd("select") == 1023
    assert highest_watchable_fd("epoll") is None
