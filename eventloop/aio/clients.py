"""``create_connection`` and ``connect_accepted_socket``: a connected socket becomes a transport.

A client looks the address up (in the executor: a lookup can block), connects
without blocking (``sock_connect``: chapter 02's ``SO_ERROR``), then hands the
socket to a ``ProtocolConnection``. A name often resolves to several addresses
(IPv6 and IPv4): they are tried one after the other, or, with
``happy_eyeballs_delay`` (RFC 8305), the next is started when the previous has
not connected within the delay, and the first to connect wins, so that one
unreachable address does not cost a whole connect timeout.

What the course's loop does not provide, TLS, is refused (``ssl=``): never a
silent downgrade to plain TCP. Servers, which accept such sockets, are in
``servers``.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from asyncio import staggered
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

from eventloop.aio.transports import ProtocolConnection, SocketTransport

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


async def create_connection(
    loop: Any,
    protocol_factory: ProtocolFactory,
    host: str | None = None,
    port: int | None = None,
    *,
    ssl: Any = None,
    family: int = 0,
    proto: int = 0,
    flags: int = 0,
    sock: socket.socket | None = None,
    local_addr: tuple[str, int] | None = None,
    server_hostname: str | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
    happy_eyeballs_delay: float | None = None,
    interleave: int | None = None,
    all_errors: bool = False,
) -> tuple[SocketTransport, asyncio.BaseProtocol]:
    """Connect to ``(host, port)`` (or use ``sock``); return the transport and the protocol."""
    check_tls_options(
        "create_connection",
        ssl,
        server_hostname=server_hostname,
        ssl_handshake_timeout=ssl_handshake_timeout,
        ssl_shutdown_timeout=ssl_shutdown_timeout,
    )
    if host is not None or port is not None:
        if sock is not None:
            raise ValueError("host/port and sock can not be specified at the same time")
        if happy_eyeballs_delay is not None and interleave is None:
            interleave = 1  # asyncio's default for happy eyeballs: alternate the families
        attempt = Attempt(loop, local_addr, happy_eyeballs_delay, interleave, all_errors)
        sock = await attempt.connect(host, port, family, proto, flags)
    else:
        if sock is None:
            raise ValueError("host and port was not specified and no sock specified")
        if sock.type != socket.SOCK_STREAM:
            raise ValueError(f"A Stream Socket was expected, got {sock!r}")
        sock.setblocking(False)
    return start(loop, sock, protocol_factory)


class Attempt(NamedTuple):
    """How ``create_connection`` tries the addresses a name resolves to: one after the
    other, or (``happy_eyeballs_delay``, RFC 8305) the next one started when the previous
    has not connected within the delay, the first to connect winning."""

    loop: Any
    local_addr: tuple[str, int] | None
    happy_eyeballs_delay: float | None
    interleave: int | None
    all_errors: bool

    async def connect(
        self, host: str | None, port: int | None, family: int, proto: int, flags: int
    ) -> socket.socket:
        infos = await self.loop.getaddrinfo(
            host, port, family=family, type=socket.SOCK_STREAM, proto=proto, flags=flags
        )
        if not infos:
            raise OSError(f"getaddrinfo({host!r}) returned empty list")
        if self.interleave:
            infos = interleaved(infos, self.interleave)
        errors: list[OSError] = []
        sock: socket.socket | None = None
        if self.happy_eyeballs_delay is None:
            for info in infos:
                sock = await self.connect_one(errors, info)
                if sock is not None:
                    break
        else:
            sock, _, _ = await staggered.staggered_race(
                [partial(self.connect_one, errors, info) for info in infos],
                self.happy_eyeballs_delay,
                loop=self.loop,
            )
        if sock is not None:
            return sock
        if self.all_errors:
            raise ExceptionGroup("create_connection failed", errors)  # noqa: F821 (3.11+)
        if len(errors) == 1 or all(str(error) == str(errors[0]) for error in errors):
            raise errors[0]
        raise OSError(f"Multiple exceptions: {', '.join(str(error) for error in errors)}")

    async def connect_one(self, errors: list[OSError], info: tuple[Any, ...]) -> Any:
        """One address: a connected socket, or ``None`` with its error kept in ``errors``."""
        family_, type_, proto_, _, address = info
        sock = socket.socket(family_, type_, proto_)
        try:
            sock.setblocking(False)
            if self.local_addr is not None:
                try:
                    sock.bind(self.local_addr)
                except OSError as error:
                    raise OSError(
                        error.errno,
                        f"error while attempting to bind on address "
                        f"{self.local_addr!r}: {(error.strerror or str(error)).lower()}",
                    ) from None
            await self.loop.sock_connect(sock, address)
            return sock
        except OSError as error:
            sock.close()
            errors.append(error)
            return None
        except BaseException:  # cancelled (a happy-eyeballs loser): never leak the socket
            sock.close()
            raise


def interleaved(infos: list[tuple[Any, ...]], first_family_count: int) -> list[tuple[Any, ...]]:
    """The addresses alternating between families (IPv6, IPv4, IPv6...), the first family
    ``first_family_count`` times first (RFC 8305's "First Address Family Count")."""
    by_family: dict[int, list[tuple[Any, ...]]] = {}
    for info in infos:
        by_family.setdefault(info[0], []).append(info)
    lists = list(by_family.values())
    ordered = lists[0][: first_family_count - 1]
    del lists[0][: first_family_count - 1]
    for row in itertools.zip_longest(*lists):
        ordered.extend(info for info in row if info is not None)
    return ordered


def start(
    loop: Any, sock: socket.socket, factory: ProtocolFactory, server: Any = None
) -> tuple[Any, Any]:
    """A protocol from ``factory`` on a connected ``sock``: connection_made, then reading.
    A ``server`` that accepted it counts it among its clients until ``connection_lost``."""
    connection = ProtocolConnection(loop.transport_socket(sock), loop, factory())
    if server is not None:
        connection.server = server
        server.attach(connection.transport)
    connection.start()
    return connection.transport, connection.protocol


async def connect_accepted_socket(
    loop: Any,
    protocol_factory: ProtocolFactory,
    sock: socket.socket,
    *,
    ssl: Any = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
) -> tuple[Any, Any]:
    """A protocol on a socket someone else accepted. With ``ssl``, refused: the course's
    loop has no TLS, and running plain TCP instead would be a silent downgrade."""
    if sock.type != socket.SOCK_STREAM:
        raise ValueError(f"A Stream Socket was expected, got {sock!r}")
    check_tls_options(
        "connect_accepted_socket",
        ssl,
        ssl_handshake_timeout=ssl_handshake_timeout,
        ssl_shutdown_timeout=ssl_shutdown_timeout,
    )
    sock.setblocking(False)
    return start(loop, sock, protocol_factory)


def check_tls_options(method: str, ssl: Any, **tls_only: Any) -> None:
    """Refuse ``ssl`` (no TLS here: never a silent plain-TCP downgrade), and TLS-only
    options without it, as asyncio does (``ValueError``)."""
    if ssl:
        raise NotImplementedError(
            f"{method}(ssl=...): the course's loop does not provide TLS "
            f"(eventloop.aio has no TLS; use asyncio's own loop)"
        )
    for name, value in tls_only.items():
        if value is not None:
            raise ValueError(f"{name} is only meaningful with ssl")
