"""Stage 01: blocking echo servers over loopback, and what the recorder saw."""

from __future__ import annotations

import errno
import socket
import threading

import pytest

from eventloop.blocking import (
    Background,
    recv_exactly,
    serve_tcp_echo_one_at_a_time,
    serve_tcp_echo_thread_per_client,
    serve_udp_echo,
    tcp_echo_client,
    tcp_listener,
    udp_socket,
)
from eventloop.recorder import Recorder


def test_udp_echo_answers_each_datagram_and_records_each_wait(udp_client):
    recorder = Recorder()
    with udp_socket() as server_sock:
        with Background(serve_udp_echo, server_sock, 2, recorder=recorder) as server:
            for message in (b"one", b"two"):
                udp_client.sendto(message, server_sock.getsockname())
                assert udp_client.recvfrom(100)[0] == message
        assert server.result() == [b"one", b"two"]
        fd = server_sock.fileno()
    assert recorder.trace() == [
        f"udp echo.recvfrom (blocked)(fd {fd})",
        f"udp echo.recvfrom (blocked)(fd {fd})",
    ]


def test_udp_echo_times_out_instead_of_hanging():
    with udp_socket(timeout=0.05) as sock:
        with pytest.raises(TimeoutError):
            serve_udp_echo(sock, 1)


def test_tcp_one_at_a_time_serves_clients_in_order():
    recorder = Recorder()
    with tcp_listener() as listener:
        with Background(serve_tcp_echo_one_at_a_time, listener, 2, recorder=recorder) as server:
            assert tcp_echo_client(listener.getsockname(), [b"a1", b"a2"]) == [b"a1", b"a2"]
            assert tcp_echo_client(listener.getsockname(), [b"b1"]) == [b"b1"]
        assert server.result() == [b"a1a2", b"b1"]
    names = [call.handler for call in recorder.handler_calls()]
    # accept, then client 1 until EOF, then accept, then client 2: never interleaved
    first_2 = names.index("client 2")
    assert names[0] == "listener" and names[1] == "client 1"
    assert "client 1" not in names[first_2:]
    assert names[first_2 - 1] == "listener"


def test_one_at_a_time_leaves_the_second_client_unserved_while_the_first_is_silent():
    with tcp_listener() as listener:
        address = listener.getsockname()
        with Background(serve_tcp_echo_one_at_a_time, listener, 2) as server:
            with socket.create_connection(address, timeout=2) as first:
                with socket.create_connection(address, timeout=0.2) as second:
                    second.sendall(b"hello")
                    with pytest.raises(TimeoutError):
                        second.recv(10)  # the server is stuck in recv() for `first`
                    first.sendall(b"x")
                    assert recv_exactly(first, 1) == b"x"
                    first.close()  # EOF: only now does the server accept `second`
                    second.settimeout(2)
                    assert recv_exactly(second, 5) == b"hello"
        assert server.result() == [b"x", b"hello"]


def test_thread_per_client_serves_the_second_client_while_the_first_is_silent():
    with tcp_listener() as listener:
        address = listener.getsockname()
        with Background(serve_tcp_echo_thread_per_client, listener, 2) as server:
            with socket.create_connection(address, timeout=2) as first:
                with socket.create_connection(address, timeout=2) as second:
                    second.sendall(b"hello")
                    assert recv_exactly(second, 5) == b"hello"  # while `first` says nothing
                first.sendall(b"late")
                assert recv_exactly(first, 4) == b"late"
        assert server.result() == [b"late", b"hello"]


def test_thread_per_client_joins_its_threads_before_returning():
    before = threading.active_count()
    with tcp_listener() as listener:
        with Background(serve_tcp_echo_thread_per_client, listener, 3) as server:
            for n in range(3):
                tcp_echo_client(listener.getsockname(), [b"m%d" % n])
        assert sorted(server.result()) == [b"m0", b"m1", b"m2"]
    assert threading.active_count() == before


def test_thread_per_client_reports_a_client_thread_error():
    with tcp_listener(timeout=0.1) as listener:
        with Background(serve_tcp_echo_thread_per_client, listener, 1) as server:
            with socket.create_connection(listener.getsockname(), timeout=2):
                with pytest.raises(TimeoutError):
                    server.result()  # the silent client makes the server thread's recv time out


def test_binding_a_port_twice_fails_and_the_socket_is_closed():
    with tcp_listener() as first:
        port = first.getsockname()[1]
        with pytest.raises(OSError) as caught:
            tcp_listener(port=port)
    assert caught.value.errno == errno.EADDRINUSE


def test_reuseaddr_lets_a_server_rebind_a_port_in_time_wait():
    with tcp_listener() as listener:
        address = listener.getsockname()
        with socket.create_connection(address, timeout=2) as client:
            conn, _ = listener.accept()
            conn.close()  # the server closes first: its side lingers in TIME_WAIT
            assert client.recv(1) == b""
    with socket.socket() as plain:
        with pytest.raises(OSError) as caught:
            plain.bind(address)
    assert caught.value.errno == errno.EADDRINUSE
    with tcp_listener(port=address[1]) as again:  # SO_REUSEADDR
        assert again.getsockname() == address


def test_background_reraises_the_error_of_its_call():
    def fail() -> None:
        raise ValueError("boom")

    with Background(fail) as call:
        pass
    with pytest.raises(ValueError, match="boom"):
        call.result()
