"""The socket half of ``eventloop.aio.EventLoop``: ``sock_*``, name lookups, and what is not built.

Each ``sock_*`` method is chapter 10's ``awaitables`` with asyncio's futures:
try the non-blocking call, and if the socket is not ready, wait for readiness
with ``add_reader``/``add_writer``, then try again. Name lookups block, so they
run in the default thread pool, as asyncio's do.

Streams are in ``clients`` (``create_connection``, ``connect_accepted_socket``),
``servers`` (``create_server``) and ``transports``; UDP (``create_datagram_endpoint``) in
``datagram``. What the course leaves out (TLS, Unix sockets, pipes,
subprocesses, signals, sendfile) raises ``NotImplementedError`` naming it.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

from eventloop import awaitables
from eventloop.aio import clients, datagram, servers


class SocketMethods:
    """``sock_*`` and lookups; mixed into ``EventLoop``, which provides the rest."""

    async def _wait_until_ready(self, sock: socket.socket, direction: str = "read") -> None:
        """Wait until ``sock`` is readable (``"read"``) or writable, then stop watching it,
        unless a newer call on the same socket watches it now (this one was cancelled)."""
        waiter = self.create_future()  # type: ignore[attr-defined]
        fd = sock.fileno()
        reading = direction == "read"
        add = self.add_reader if reading else self.add_writer  # type: ignore[attr-defined]
        remove = self.remove_reader if reading else self.remove_writer  # type: ignore[attr-defined]
        handle = add(fd, _settle, waiter)
        try:
            await waiter
        finally:
            if self._watching_with(fd, reading, handle):
                remove(fd)

    def _watching_with(self, fd: int, reading: bool, handle: Any) -> bool:
        """Is ``handle`` still ``fd``'s reader (or writer)? A newer ``add_reader`` replaces it."""
        watcher = self._inner.watchers.get(fd)  # type: ignore[attr-defined]
        callback = None if watcher is None else watcher.reader if reading else watcher.writer
        return callback is not None and callback[1][0] is handle

    def _check_nonblocking(self, sock: socket.socket) -> None:
        if sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking: call sock.setblocking(False)")

    # Chapter 10's coroutines, waiting with asyncio's futures instead of ours.

    async def sock_recv(self, sock: socket.socket, nbytes: int) -> bytes:
        self._check_nonblocking(sock)
        return await awaitables.sock_recv(sock, nbytes, self._wait_until_ready)

    async def sock_recv_into(self, sock: socket.socket, buffer: Any) -> int:
        self._check_nonblocking(sock)
        return await awaitables.sock_recv_into(sock, buffer, self._wait_until_ready)

    async def sock_sendall(self, sock: socket.socket, data: bytes) -> None:
        self._check_nonblocking(sock)
        await awaitables.sock_sendall(sock, data, self._wait_until_ready)

    # Datagrams: the same pattern, one datagram per call (UDP never sends part of one).

    async def sock_recvfrom(self, sock: socket.socket, bufsize: int) -> tuple[bytes, Any]:
        self._check_nonblocking(sock)
        while True:
            try:
                return sock.recvfrom(bufsize)
            except (BlockingIOError, InterruptedError):
                await self._wait_until_ready(sock, "read")

    async def sock_recvfrom_into(
        self, sock: socket.socket, buf: Any, nbytes: int = 0
    ) -> tuple[int, Any]:
        self._check_nonblocking(sock)
        nbytes = nbytes or len(buf)
        while True:
            try:
                return sock.recvfrom_into(buf, nbytes)
            except (BlockingIOError, InterruptedError):
                await self._wait_until_ready(sock, "read")

    async def sock_sendto(self, sock: socket.socket, data: Any, address: Any) -> int:
        self._check_nonblocking(sock)
        while True:
            try:
                return sock.sendto(data, address)
            except (BlockingIOError, InterruptedError):
                await self._wait_until_ready(sock, "write")

    async def sock_accept(self, sock: socket.socket) -> tuple[socket.socket, Any]:
        self._check_nonblocking(sock)
        return await awaitables.sock_accept(sock, self._wait_until_ready)

    async def sock_connect(self, sock: socket.socket, address: Any) -> None:
        self._check_nonblocking(sock)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_literal(address[0]):
            infos = await self.getaddrinfo(*address[:2], family=sock.family, type=sock.type)
            address = infos[0][4]
        code = sock.connect_ex(address)
        if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            await self._wait_until_ready(sock, "write")
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code != 0:
            raise OSError(code, f"Connect call failed {address}: {os.strerror(code)}")

    def transport_socket(self, sock: socket.socket) -> Any:
        """The socket a new transport will use: this one (chapter 12 injects faults here)."""
        return sock

    async def getaddrinfo(self, host: Any, port: Any, *, family=0, type=0, proto=0, flags=0):
        return await self.run_in_executor(  # type: ignore[attr-defined]
            None, socket.getaddrinfo, host, port, family, type, proto, flags
        )

    async def getnameinfo(self, sockaddr: Any, flags: int = 0):
        return await self.run_in_executor(None, socket.getnameinfo, sockaddr, flags)  # type: ignore[attr-defined]

    # --- streams and datagrams (servers, datagram); what the course leaves out --------------------

    async def create_connection(self, protocol_factory, host=None, port=None, **options):
        return await clients.create_connection(self, protocol_factory, host, port, **options)

    async def create_server(self, protocol_factory, host=None, port=None, **options):
        return await servers.create_server(self, protocol_factory, host, port, **options)

    async def create_datagram_endpoint(
        self, protocol_factory, local_addr=None, remote_addr=None, **options
    ):
        return await datagram.create_datagram_endpoint(
            self, protocol_factory, local_addr, remote_addr, **options
        )

    async def connect_accepted_socket(self, protocol_factory, sock, **options):
        return await clients.connect_accepted_socket(self, protocol_factory, sock, **options)

    async def create_unix_connection(self, *args: Any, **kwargs: Any) -> Any:
        raise not_provided("create_unix_connection", "Unix sockets")

    async def create_unix_server(self, *args: Any, **kwargs: Any) -> Any:
        raise not_provided("create_unix_server", "Unix sockets")

    async def start_tls(self, *args: Any, **kwargs: Any) -> Any:
        raise not_provided("start_tls", "TLS")

    async def connect_read_pipe(self, *args: Any, **kwargs: Any) -> Any:
        raise not_provided("connect_read_pipe", "pipes")

    async def connect_write_pipe(self, *args: Any, **kwargs: Any) -> Any:
        raise not_provided("connect_write_pipe", "pipes")

    async def subprocess_exec(self, *args: Any, **kwargs: Any) -> Any:
        raise not_provided("subprocess_exec", "subprocesses")

    async def subprocess_shell(self, *args: Any, **kwargs: Any) -> Any:
        raise not_provided("subprocess_shell", "subprocesses")

    def add_signal_handler(self, *args: Any, **kwargs: Any) -> None:
        raise not_provided("add_signal_handler", "signal handlers")

    def remove_signal_handler(self, *args: Any, **kwargs: Any) -> bool:
        raise not_provided("remove_signal_handler", "signal handlers")

    async def sendfile(self, *args: Any, **kwargs: Any) -> Any:
        raise not_provided("sendfile", "sendfile")

    async def sock_sendfile(self, *args: Any, **kwargs: Any) -> Any:
        raise not_provided("sock_sendfile", "sendfile")


OUT_OF_SCOPE = "eventloop.aio has no {}: outside this course's loop (use asyncio's own loop)"


def not_provided(method: str, what: str) -> NotImplementedError:
    """The error for a method the course's loop leaves out: it names the method and what is
    missing, instead of asyncio's bare ``NotImplementedError`` from ``AbstractEventLoop``."""
    return NotImplementedError(
        f"EventLoop.{method}(): the course's loop does not provide {what}; "
        + OUT_OF_SCOPE.format(what)
    )


def is_literal(host: str) -> bool:
    """``127.0.0.1`` or ``::1``: an address that needs no lookup."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return True
        except (OSError, TypeError):
            pass
    return False


def _settle(future: Any) -> None:
    if not future.done():
        future.set_result(None)
