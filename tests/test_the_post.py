"""The post ("Event Loop IO", 2017; Python Cookbook recipe 11.12) runs as written on our package.

Its classes are copied below as the post wrote them, with two changes a classroom needs and
the post's readers would make: port 0 on loopback instead of ``''`` and fixed ports
(PITFALL 13, 16), and ``event_loop`` given a stop condition (PITFALL 17).
"""

from __future__ import annotations

import select
import socket
import time

import pytest

import eventloop
from eventloop import EventHandler, event_loop
from eventloop.udp import UDPEchoServer as PackageEchoServer

# --- the post's code, on eventloop.EventHandler ------------------------------------------------


class UDPServer(EventHandler):
    def __init__(self, address):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(address)

    def fileno(self):
        return self.sock.fileno()

    def wants_to_receive(self):
        return True


class UDPTimeServer(UDPServer):
    def handle_receive(self):
        msg, addr = self.sock.recvfrom(1)
        self.sock.sendto(time.ctime().encode("ascii"), addr)


class UDPEchoServer(UDPServer):
    def handle_receive(self):
        msg, addr = self.sock.recvfrom(8192)
        self.sock.sendto(msg, addr)


# --- running it ----------------------------------------------------------------------------------


def ask(server: UDPServer, message: bytes, handlers: list[EventHandler]) -> bytes:
    """Send ``message`` to ``server``, run the loop until the reply is there, return it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.sendto(message, server.sock.getsockname())
        reason = event_loop(handlers, duration=5, until=lambda: bool(socket_has_data(client)))
        assert reason == "until", f"no reply within 5 s (the loop stopped: {reason})"
        return client.recv(8192)


def socket_has_data(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def test_the_posts_servers_answer_on_the_packages_event_loop():
    handlers = [UDPTimeServer(("127.0.0.1", 0)), UDPEchoServer(("127.0.0.1", 0))]
    try:
        assert ask(handlers[1], b"hello\n", handlers) == b"hello\n"
        now = ask(handlers[0], b"what time is it?", handlers)
        assert time.strptime(now.decode("ascii"), "%a %b %d %H:%M:%S %Y")
    finally:
        for handler in handlers:
            handler.sock.close()


def test_the_packages_servers_accept_the_posts_address_tuple():
    with PackageEchoServer(("127.0.0.1", 0)) as server:
        assert server.address[0] == "127.0.0.1" and server.port > 0
        assert ask_package(server) == b"ping"


def ask_package(server: PackageEchoServer) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.sendto(b"ping", server.address)
        event_loop([server], duration=5, until=lambda: socket_has_data(client))
        return client.recv(100)


@pytest.mark.parametrize(
    "args, says",
    [
        ((("127.0.0.1", 0), 15000), "give the address once"),
        ((("127.0.0.1",),), "an address is (host, port)"),
    ],
)
def test_a_confused_address_is_a_clear_type_error(args, says):
    with pytest.raises(TypeError, match=says.replace("(", r"\(").replace(")", r"\)")):
        eventloop.UDPEchoServer(*args)
