"""The post's UDP servers, fixed (eventloop/udp.py), over real loopback sockets."""

from __future__ import annotations

import errno
import re
import socket

import pytest

from eventloop.handlers import event_loop
from eventloop.udp import MAX_DATAGRAM, UDPEchoServer, UDPTimeServer

CTIME = re.compile(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$")


def serve_until(server, count: int) -> None:
    event_loop([server], until=lambda: server.requests >= count, duration=2)


def test_servers_bind_loopback_and_an_ephemeral_port_by_default():
    with UDPEchoServer() as echo, UDPTimeServer() as clock:
        assert echo.address[0] == "127.0.0.1" and clock.address[0] == "127.0.0.1"
        assert echo.port > 0 and clock.port > 0 and echo.port != clock.port


def test_the_time_server_answers_any_datagram_with_the_time(udp_client):
    with UDPTimeServer() as clock:
        udp_client.sendto(b"hello", clock.address)
        serve_until(clock, 1)
        reply, sender = udp_client.recvfrom(100)
    assert CTIME.match(reply.decode("ascii")), reply
    assert sender == clock.address


def test_the_time_server_reads_one_byte_and_discards_the_rest_of_the_datagram(udp_client):
    with UDPTimeServer() as clock:
        udp_client.sendto(b"hello world", clock.address)
        udp_client.sendto(b"second", clock.address)
        serve_until(clock, 2)
        assert clock.requests == 2  # two datagrams, two answers: the rest was thrown away
        replies = [udp_client.recv(100), udp_client.recv(100)]
    assert all(CTIME.match(r.decode()) for r in replies)


def test_the_echo_server_sends_each_datagram_back(udp_client):
    with UDPEchoServer() as echo:
        for message in (b"hello", b"", b"\x00binary\xff"):
            udp_client.sendto(message, echo.address)
        serve_until(echo, 3)
        replies = [udp_client.recv(100) for _ in range(3)]
    assert replies == [b"hello", b"", b"\x00binary\xff"]


def test_the_largest_ipv4_datagram_is_echoed_whole(udp_client):
    udp_client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    biggest = bytes(range(256)) * 255 + b"x" * 227  # 65507 bytes: the IPv4 UDP payload limit
    assert len(biggest) == 65507
    with UDPEchoServer() as echo:
        udp_client.sendto(biggest, echo.address)
        serve_until(echo, 1)
        assert udp_client.recv(MAX_DATAGRAM) == biggest


def test_an_oversized_datagram_fails_at_the_sender_with_EMSGSIZE(udp_client):
    with UDPEchoServer() as echo:
        with pytest.raises(OSError) as caught:
            udp_client.sendto(b"x" * 65508, echo.address)
        assert caught.value.errno == errno.EMSGSIZE
        assert echo.requests == 0


def test_a_spurious_readiness_is_not_an_error():
    with UDPEchoServer() as echo:
        echo.handle_receive()  # nothing arrived: BlockingIOError inside is "not now"
        assert echo.requests == 0


def test_a_full_send_buffer_drops_the_reply_instead_of_crashing_the_server():
    class FullSocket:
        def __init__(self, real: socket.socket):
            self.real = real

        def sendto(self, data: bytes, address: tuple[str, int]) -> int:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    with UDPEchoServer() as echo:
        real = echo.sock
        echo.sock = FullSocket(real)  # type: ignore[assignment]
        try:
            echo.reply(b"x", ("127.0.0.1", 9))  # must not raise
            echo.reply(b"y", ("127.0.0.1", 9))
        finally:
            echo.sock = real
        assert echo.dropped_replies == 2  # dropped, and counted: not hidden


def test_a_vanished_client_does_not_stop_the_server(udp_client):
    with UDPEchoServer() as echo:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gone:
            gone.sendto(b"from a client that leaves", echo.address)
        udp_client.sendto(b"still there?", echo.address)
        handlers = [echo]
        event_loop(handlers, until=lambda: echo.requests >= 2, duration=2)
        assert handlers == [echo]
        assert udp_client.recv(100) == b"still there?"


def test_closing_is_safe_and_the_loop_then_refuses_the_closed_server():
    echo = UDPEchoServer()
    with echo:
        pass
    assert echo.fileno() == -1
    assert "closed" in repr(echo)
    with pytest.raises(ValueError, match="is closed"):
        event_loop([echo], max_iterations=1)


def test_given_a_list_the_server_joins_it_announces_and_leaves_it_when_closed(udp_client):
    handlers: list = []
    with UDPEchoServer(handlers=handlers) as echo, UDPTimeServer() as clock:
        assert handlers == [echo]
        assert echo.announces_interest and not clock.announces_interest
        udp_client.sendto(b"joined", echo.address)
        event_loop(handlers, until=lambda: echo.requests, duration=2)
        assert udp_client.recv(100) == b"joined"
    assert handlers == [] and echo.fileno() == -1
    assert event_loop(handlers, duration=2) == "no handlers"


def test_binding_a_port_in_use_raises_and_leaks_nothing():
    with UDPEchoServer() as first:
        with pytest.raises(OSError) as caught:
            UDPEchoServer(port=first.port)
    assert caught.value.errno == errno.EADDRINUSE


def test_an_ipv6_loopback_server_works_where_ipv6_does():
    try:
        server = UDPEchoServer("::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    with server, socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as client:
        client.settimeout(2)
        client.sendto(b"v6", server.address)
        serve_until(server, 1)
        assert client.recv(10) == b"v6"
