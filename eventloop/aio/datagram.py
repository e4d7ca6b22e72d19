"""asyncio's ``DatagramTransport`` and ``create_datagram_endpoint``, on our loop.

UDP needs no connection object: one socket, a reader callback that hands each
datagram to ``protocol.datagram_received(data, address)``, and ``sendto``. A
``sendto`` the kernel cannot take now (its buffer is full) is queued and sent
when the socket is writable, as asyncio does; an error such as a refused port
(after a reply to a closed one) goes to ``protocol.error_received``.

This is how the post's UDP time and echo servers look as asyncio protocols.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable
from typing import Any

from eventloop.blocking import MAX_DATAGRAM


class DatagramTransport(asyncio.Transport, asyncio.DatagramTransport):
    """One UDP socket serving one ``DatagramProtocol``.

    Also an ``asyncio.Transport``, as asyncio's own datagram transport is: code
    (and CPython's tests) check ``isinstance(transport, asyncio.Transport)``.
    """

    def __init__(self, loop: Any, sock: socket.socket, protocol: Any, address: Any = None) -> None:
        super().__init__()
        self.loop, self.sock, self.protocol, self.address = loop, sock, protocol, address
        self.queue: deque[tuple[bytes, Any]] = deque()
        self.closing = False
        self.extra = {"socket": sock, "sockname": sock.getsockname(), "peername": address}

    def start(self) -> None:
        """``connection_made`` first, then datagrams."""
        self.protocol.connection_made(self)
        if not self.closing:
            self.loop.add_reader(self.sock.fileno(), self.read_ready)

    def read_ready(self) -> None:
        try:
            data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return  # readable a moment ago, nothing now: not an error
        except OSError as error:  # e.g. ECONNREFUSED: an earlier reply found no one
            self.protocol.error_received(error)
            return
        self.protocol.datagram_received(data, sender)

    def sendto(self, data: bytes | bytearray | memoryview, addr: Any = None) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"data argument must be a bytes-like object, not {type(data).__name__!r}"
            )
        if self.address is not None and addr not in (None, self.address):
            raise ValueError(f"Invalid address: must be None or {self.address}")
        if self.closing:
            return
        if not self.queue:
            try:
                self.send_one(bytes(data), addr)
                return
            except (BlockingIOError, InterruptedError):
                self.loop.add_writer(self.sock.fileno(), self.write_ready)
            except OSError as error:
                self.protocol.error_received(error)
                return
        self.queue.append((bytes(data), addr))

    def send_one(self, data: bytes, addr: Any) -> None:
        if self.address is not None:
            self.sock.send(data)
        else:
            self.sock.sendto(data, addr)

    def write_ready(self) -> None:
        while self.queue:
            data, addr = self.queue[0]
            try:
                self.send_one(data, addr)
            except (BlockingIOError, InterruptedError):
                return  # still full: wait for the next writable event
            except OSError as error:
                self.protocol.error_received(error)
            self.queue.popleft()
        self.loop.remove_writer(self.sock.fileno())
        if self.closing:
            self.finish()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)

    def get_protocol(self) -> Any:
        return self.protocol

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_write_buffer_size(self) -> int:
        return sum(len(data) for data, _ in self.queue)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        """Stop receiving; send what is queued; then close and call ``connection_lost``."""
        if self.closing:
            return
        self.closing = True
        self.loop.remove_reader(self.sock.fileno())
        if not self.queue:
            self.finish()

    def abort(self) -> None:
        self.queue.clear()
        self.closing = True
        self.finish()

    def finish(self) -> None:
        if self.sock.fileno() < 0:
            return
        self.loop.remove_reader(self.sock.fileno())
        self.loop.remove_writer(self.sock.fileno())
        self.sock.close()
        self.loop.call_soon(self.protocol.connection_lost, None)


async def create_datagram_endpoint(
    loop: Any,
    protocol_factory: Callable[[], Any],
    local_addr: Any = None,
    remote_addr: Any = None,
    *,
    family: int = 0,
    proto: int = 0,
    flags: int = 0,
    reuse_port: bool | None = None,
    allow_broadcast: bool | None = None,
    sock: socket.socket | None = None,
    **unused: Any,
) -> tuple[DatagramTransport, Any]:
    """A UDP socket bound to ``local_addr`` and/or connected to ``remote_addr``, with a protocol."""
    if sock is None:
        sock = await datagram_socket(loop, local_addr, remote_addr, family, proto, flags)
        try:
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if allow_broadcast:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        except OSError:
            sock.close()
            raise
    elif sock.type != socket.SOCK_DGRAM:
        raise ValueError(f"A UDP Socket was expected, got {sock!r}")
    sock.setblocking(False)
    remote = peer_of(sock)
    transport = DatagramTransport(loop, sock, protocol_factory(), remote)
    transport.start()
    return transport, transport.protocol


async def datagram_socket(
    loop: Any, local_addr: Any, remote_addr: Any, family: int, proto: int, flags: int
) -> socket.socket:
    """Resolve the addresses (a port may be a string), then bind and/or connect a UDP socket."""
    if local_addr is None and remote_addr is None:
        if family == 0:
            raise ValueError("unexpected address family")
        return socket.socket(family, socket.SOCK_DGRAM, proto)
    resolved = {}
    for role, address in (("local", local_addr), ("remote", remote_addr)):
        if address is not None:
            infos = await loop.getaddrinfo(
                *address[:2], family=family, type=socket.SOCK_DGRAM, proto=proto, flags=flags
            )
            family, resolved[role] = infos[0][0], infos[0]
    family_, type_, proto_, _, _ = resolved.get("local") or resolved["remote"]
    sock = socket.socket(family_, type_, proto_)
    try:
        sock.setblocking(False)
        if "local" in resolved:
            sock.bind(resolved["local"][4])
        if "remote" in resolved:
            await loop.sock_connect(sock, resolved["remote"][4])
    except BaseException:
        sock.close()
        raise
    return sock


def peer_of(sock: socket.socket) -> Any:
    try:
        return sock.getpeername()
    except OSError:
        return None
