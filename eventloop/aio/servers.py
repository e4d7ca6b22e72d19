"""``create_server`` and asyncio's ``Server``, on our loop.

Each listening socket is a ``Listener``, a handler in our loop's list that
accepts every waiting client, a batch at a time (chapter 05), and gives each
one a protocol from the factory. Out of descriptors (``EMFILE``), it lets the
error reach chapter 09's loop, which stops reading it until a descriptor is
freed or ``EMFILE_RETRY`` passes (``eventloop.emfile``): without that back-off,
the client waiting in the backlog keeps the socket readable and the server
spins at 100% CPU.

``create_server`` looks names up in the executor (a lookup can block) and
binds one socket per address: ``host=None`` means every interface, IPv4 and
IPv6, as in asyncio's API (pass ``"127.0.0.1"`` to stay on this machine). The
``Server`` counts its connections, so that ``wait_closed()`` returns once it is
closed *and* they are gone (asyncio 3.12.1+), and ``close_clients()`` can end them.
"""

from __future__ import annotations

import asyncio
import socket
import weakref
from asyncio import events, trsock
from collections.abc import Iterable
from typing import Any

from eventloop.aio.clients import ProtocolFactory, check_tls_options, start
from eventloop.aio.transports import SocketTransport
from eventloop.handlers import EventHandler
from eventloop.tcp_server import OUT_OF_DESCRIPTORS

ACCEPT_BATCH = 16


class Listener(EventHandler):
    """One listening socket of a ``Server``, as a handler in our loop's list."""

    def __init__(self, server: Server, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.out_of_descriptors: OSError | None = None  # what the last batch ran into

    def fileno(self) -> int:
        return self.sock.fileno()

    def wants_to_receive(self) -> bool:
        return True

    def handle_receive(self) -> None:
        """Accept the waiting clients, through the loop's seam when something watches
        (chapter 12: a slow ``connection_made`` is then timed and named, as a transport's
        reads are). Out of descriptors, raise, so that chapter 09's loop pauses this
        listener until a descriptor is freed or time passed (``eventloop.emfile``)."""
        loop = self.server.loop
        self.out_of_descriptors = None
        if loop._watching():
            loop._run_watched(events.Handle(self.accept_waiting, (), loop, None))
        else:
            self.accept_waiting()
        if self.out_of_descriptors is not None:
            raise self.out_of_descriptors

    def accept_waiting(self) -> None:
        """Accept the waiting clients, a batch at a time; an error is reported, as asyncio
        does, and ends the batch (out of descriptors: kept for ``handle_receive`` to raise)."""
        loop = self.server.loop
        for _ in range(ACCEPT_BATCH):
            try:
                client, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as error:
                out = error.errno in OUT_OF_DESCRIPTORS
                loop.call_exception_handler(
                    {
                        "message": "socket.accept() out of system resource"
                        if out
                        else "Error on accept()",
                        "exception": error,
                        "socket": self.sock,
                    }
                )
                if out:
                    self.out_of_descriptors = error
                return
            try:
                start(loop, client, self.server.factory, self.server)
            except Exception as error:  # e.g. the factory raised: this client only
                client.close()
                loop.call_exception_handler(
                    {
                        "message": "Error on transport creation for incoming connection",
                        "exception": error,
                        "socket": self.sock,
                    }
                )


class Server(asyncio.AbstractServer):
    """Listening sockets that accept clients into protocols; asyncio's ``Server`` API."""

    def __init__(
        self, loop: Any, listeners: list[socket.socket], factory: ProtocolFactory, backlog: int
    ) -> None:
        self.loop = loop
        self.listeners = listeners
        self.factory = factory
        self.backlog = backlog
        self.serving = False
        self.accepting: list[Listener] = []  # in our loop's handler list while serving
        self.clients: weakref.WeakSet[SocketTransport] = weakref.WeakSet()  # still connected
        self.waiters: list[asyncio.Future[None]] | None = []  # None: closed, no client left
        self.forever: asyncio.Future[None] | None = None

    @property
    def sockets(self) -> tuple[trsock.TransportSocket, ...]:
        """The listening sockets, wrapped as asyncio's are: their options can be read, but
        not what would break the server (``accept``, ``close``, ``setblocking``)."""
        return tuple(trsock.TransportSocket(listener) for listener in self.listeners)

    def attach(self, transport: SocketTransport) -> None:
        """A client connected: ``wait_closed`` waits for it too."""
        self.clients.add(transport)

    def detach(self, transport: SocketTransport) -> None:
        """A client's ``connection_lost`` ran: the last one lets ``wait_closed`` return."""
        self.clients.discard(transport)
        if not self.clients and not self.listeners:
            self.wake_up()

    def wake_up(self) -> None:
        waiters, self.waiters = self.waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def close_clients(self) -> None:
        """Close every connection this server accepted, after it sends what is queued."""
        for transport in list(self.clients):
            transport.close()

    def abort_clients(self) -> None:
        """Close every connection this server accepted now, dropping what is queued."""
        for transport in list(self.clients):
            transport.abort()

    def get_loop(self) -> Any:
        return self.loop

    def is_serving(self) -> bool:
        return self.serving

    async def start_serving(self) -> None:
        if self.serving or not self.listeners:
            return
        self.serving = True
        for listener in self.listeners:
            listener.listen(self.backlog)
            self.accepting.append(Listener(self, listener))
        self.loop._inner.handlers.extend(self.accepting)

    def close(self) -> None:
        """Stop listening; the connections already accepted go on (``close_clients``)."""
        if not self.listeners:
            return
        for handler in self.accepting:
            if handler in self.loop._inner.handlers:
                self.loop._inner.handlers.remove(handler)
        self.accepting = []
        for listener in self.listeners:
            listener.close()
        self.listeners = []
        self.serving = False
        if self.forever is not None and not self.forever.done():
            self.forever.cancel()
        if not self.clients:
            self.wake_up()

    async def wait_closed(self) -> None:
        """Return once the server is closed *and* every connection it accepted is gone, in
        either order: asyncio's meaning since 3.12.1 (before, it could return at once)."""
        if self.waiters is None:
            return
        waiter = self.loop.create_future()
        self.waiters.append(waiter)
        await waiter

    async def serve_forever(self) -> None:
        if self.forever is not None:
            raise RuntimeError(f"server {self!r} is already being awaited on serve_forever()")
        if not self.listeners:
            raise RuntimeError(f"server {self!r} is closed")
        await self.start_serving()
        self.forever = self.loop.create_future()
        try:
            await self.forever
        except asyncio.CancelledError:
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self.forever = None

    def __repr__(self) -> str:
        return f"<Server sockets={self.sockets!r}>"


async def create_server(
    loop: Any,
    protocol_factory: ProtocolFactory,
    host: str | Iterable[str] | None = None,
    port: int | None = None,
    *,
    family: int = socket.AF_UNSPEC,
    flags: int = socket.AI_PASSIVE,
    sock: socket.socket | None = None,
    backlog: int = 100,
    ssl: Any = None,
    reuse_address: bool | None = None,
    reuse_port: bool | None = None,
    keep_alive: bool | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
    start_serving: bool = True,
) -> Server:
    """Listen on ``host:port`` (or ``sock``) and serve each client with a new protocol."""
    if isinstance(ssl, bool):
        raise TypeError("ssl argument must be an SSLContext or None")
    check_tls_options(
        "create_server",
        ssl,
        ssl_handshake_timeout=ssl_handshake_timeout,
        ssl_shutdown_timeout=ssl_shutdown_timeout,
    )
    if host is not None or port is not None:
        if sock is not None:
            raise ValueError("host/port and sock can not be specified at the same time")
        hosts = [None] if host == "" else [host] if isinstance(host, (str, type(None))) else host
        listeners = await listening_sockets(
            loop, list(hosts), port, family, flags, reuse_address, reuse_port, keep_alive
        )
    else:
        if sock is None:
            raise ValueError("Neither host/port nor sock were specified")
        if sock.type != socket.SOCK_STREAM:
            raise ValueError(f"A Stream Socket was expected, got {sock!r}")
        listeners = [sock]
    for listener in listeners:
        listener.setblocking(False)
    server = Server(loop, listeners, protocol_factory, backlog)
    if start_serving:
        await server.start_serving()
    return server


async def listening_sockets(
    loop: Any,
    hosts: list[str | None],
    port: int | None,
    family: int,
    flags: int,
    reuse_address: bool | None,
    reuse_port: bool | None,
    keep_alive: bool | None,
) -> list[socket.socket]:
    """One bound socket per address the hosts resolve to (``None``: every interface, IPv4
    and IPv6), its options set before ``bind()``: ``SO_REUSEPORT`` set after it is too late."""
    found = await asyncio.gather(*(addresses(loop, host, port, family, flags) for host in hosts))
    infos = dict.fromkeys(info for infos in found for info in infos)  # each address once
    listeners: list[socket.socket] = []
    try:
        for family_, type_, proto, _, address in infos:
            listener = socket.socket(family_, type_, proto)
            listeners.append(listener)
            if reuse_address is not False:  # asyncio's default on POSIX: restart at once
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if keep_alive:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if family_ == socket.AF_INET6:  # one socket per family, as asyncio: no dual stack
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                listener.bind(address)
            except OSError as error:
                raise OSError(
                    error.errno,
                    f"error while attempting to bind on address {address!r}: "
                    f"{(error.strerror or str(error)).lower()}",
                ) from None
    except BaseException:
        for listener in listeners:
            listener.close()
        raise
    return listeners


async def addresses(
    loop: Any, host: str | None, port: int | None, family: int, flags: int
) -> list[tuple[Any, ...]]:
    """``getaddrinfo`` for a server: a name is looked up in the executor (a lookup can block
    for seconds), a numeric address at once (it needs no lookup)."""
    try:
        return socket.getaddrinfo(
            host, port, family, socket.SOCK_STREAM, 0, flags | socket.AI_NUMERICHOST
        )
    except socket.gaierror:
        pass
    infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM, flags=flags)
    if not infos:
        raise OSError(f"getaddrinfo({host!r}) returned empty list")
    return infos
