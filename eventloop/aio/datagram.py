"""asyncio's ``DatagramTransport`` and ``create_datagram_endpoint``, on our loop.

UDP needs no connection object: one socket, a reader callback that hands each
datagram to ``protocol.datagram_received(data, address)``, and ``sendto``. A
``sendto`` the kernel cannot take now (its buffer is full) is queued and sent
when the socket is writable, as asyncio does; an error such as a refused port
(after a reply to a closed one) goes to ``protocol.error_received``.

Flow control both ways, as asyncio's: above the write-buffer limit (64 KiB by
default) the protocol is told ``pause_writing()``, and ``resume_writing()``
once the queue is down to the low mark; ``pause_reading()`` stops watching the
socket, so datagrams wait in the kernel's buffer (and, once that is full, the
kernel drops them: UDP has no backpressure on the wire).

This is how the post's UDP time and echo servers look as asyncio protocols.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

from eventloop.aio.transports import HIGH_WATER, LOW_WATER
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
        self.buffered = 0  # bytes in the queue
        self.closing = False
        self.reading = False  # True while the loop watches the socket for datagrams
        self.write_high, self.write_low = HIGH_WATER, LOW_WATER
        self.writing_paused = False
        self.extra = {"socket": sock, "sockname": sock.getsockname(), "peername": address}

    def start(self) -> None:
        """``connection_made`` first, then datagrams."""
        self.protocol.connection_made(self)
        if not self.closing:
            self.resume_reading()

    def pause_reading(self) -> None:
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.sock.fileno())

    def resume_reading(self) -> None:
        if not self.reading and not self.closing:
            self.reading = True
            self.loop.add_reader(self.sock.fileno(), self.read_ready)

    def is_reading(self) -> bool:
        return self.reading

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.write_low, self.write_high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = HIGH_WATER if low is None else 4 * low
        low = high // 4 if low is None else low
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self.write_high, self.write_low = high, low
        self.apply_watermarks()

    def apply_watermarks(self) -> None:
        """Tell the protocol to pause writing above the high mark, resume at the low one."""
        queued = self.get_write_buffer_size()
        if not self.writing_paused and queued > self.write_high:
            self.writing_paused = True
            self.tell_protocol("pause_writing")
        elif self.writing_paused and queued <= self.write_low:
            self.writing_paused = False
            self.tell_protocol("resume_writing")

    def tell_protocol(self, hook: str) -> None:
        try:
            getattr(self.protocol, hook)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as error:
            self.loop.call_exception_handler(
                {
                    "message": f"protocol.{hook}() failed",
                    "exception": error,
                    "transport": self,
                    "protocol": self.protocol,
                }
            )

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
        self.buffered += len(data)
        self.apply_watermarks()

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
                break  # still full: wait for the next writable event
            except OSError as error:
                self.protocol.error_received(error)
            self.queue.popleft()
            self.buffered -= len(data)
        self.apply_watermarks()
        if self.queue:
            return
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
        return self.buffered

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        """Stop receiving; send what is queued; then close and call ``connection_lost``."""
        if self.closing:
            return
        self.pause_reading()
        self.closing = True
        if not self.queue:
            self.finish()

    def abort(self) -> None:
        self.queue.clear()
        self.buffered = 0
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
    reuse_address: Any = None,
    reuse_port: bool | None = None,
    allow_broadcast: bool | None = None,
    sock: socket.socket | None = None,
) -> tuple[DatagramTransport, Any]:
    """A UDP socket bound to ``local_addr`` and/or connected to ``remote_addr``, with a protocol."""
    if reuse_address:  # asyncio refuses it since 3.11 (3.10 warns): unsafe for UDP
        raise ValueError(
            "Passing `reuse_address=True` is no longer supported, as the usage of "
            "SO_REUSEPORT in UDP poses a significant security concern."
        )
    if sock is None:
        options = SocketOptions(reuse_port, allow_broadcast)
        sock = await datagram_socket(loop, local_addr, remote_addr, family, proto, flags, options)
    else:
        if sock.type != socket.SOCK_DGRAM:
            raise ValueError(f"A UDP Socket was expected, got {sock!r}")
        given = dict(
            local_addr=local_addr,
            remote_addr=remote_addr,
            family=family,
            proto=proto,
            flags=flags,
            reuse_port=reuse_port,
            allow_broadcast=allow_broadcast,
        )
        problems = ", ".join(f"{key}={value}" for key, value in given.items() if value)
        if problems:  # asyncio's words: they would silently do nothing to a ready socket
            raise ValueError(
                f"socket modifier keyword arguments can not be used when sock is specified. "
                f"({problems})"
            )
    sock.setblocking(False)
    remote = peer_of(sock)
    transport = DatagramTransport(loop, sock, protocol_factory(), remote)
    transport.start()
    return transport, transport.protocol


class SocketOptions(NamedTuple):
    """What is set on a new UDP socket before ``bind()`` (``SO_REUSEPORT`` after it is
    too late: the bind already failed with ``EADDRINUSE``)."""

    reuse_port: bool | None = None
    allow_broadcast: bool | None = None

    def apply(self, sock: socket.socket) -> None:
        if self.reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if self.allow_broadcast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)


async def datagram_socket(
    loop: Any,
    local_addr: Any,
    remote_addr: Any,
    family: int,
    proto: int,
    flags: int,
    options: SocketOptions,
) -> socket.socket:
    """Resolve the addresses (a port may be a string), then bind and/or connect a UDP socket."""
    if local_addr is None and remote_addr is None:
        if family == 0:
            raise ValueError("unexpected address family")
        sock = socket.socket(family, socket.SOCK_DGRAM, proto)
        try:
            options.apply(sock)
        except OSError:
            sock.close()
            raise
        return sock
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
        options.apply(sock)
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
