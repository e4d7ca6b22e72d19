"""The socket half of ``eventloop.aio.EventLoop``: ``sock_*``, name lookups, and what is not built.

Each ``sock_*`` method is chapter 10's ``awaitables`` with asyncio's futures:
try the non-blocking call, and if the socket is not ready, wait for readiness
with ``add_reader``/``add_writer``, then try again. Name lookups block, so they
run in the default thread pool, as asyncio's do.

Transports and servers (``create_connection``, ``create_server``,
``create_datagram_endpoint``, ``connect_accepted_socket``) are chapter 11's
next step and say so. What the course leaves out (TLS, Unix sockets, pipes,
subprocesses, signals, sendfile) raises ``NotImplementedError`` naming it.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any


class SocketMethods:
    """``sock_*`` and lookups; mixed into ``EventLoop``, which provides the rest."""

    async def _wait_until_ready(self, sock: socket.socket, writing: bool = False) -> None:
        """Wait until ``sock`` is readable (or writable), then stop watching it."""
        waiter = self.create_future()  # type: ignore[attr-defined]
        fd = sock.fileno()
        add, remove = (
            (self.add_writer, self.remove_writer)
            if writing
            else (self.add_reader, self.remove_reader)  # type: ignore[attr-defined]
        )
        add(fd, _settle, waiter)
        try:
            await waiter
        finally:
            remove(fd)

    def _check_nonblocking(self, sock: socket.socket) -> None:
        if sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking: call sock.setblocking(False)")

    async def sock_recv(self, sock: socket.socket, nbytes: int) -> bytes:
        self._check_nonblocking(sock)
        while True:
            try:
                return sock.recv(nbytes)
            except (BlockingIOError, InterruptedError):
                await self._wait_until_ready(sock)

    async def sock_recv_into(self, sock: socket.socket, buffer: Any) -> int:
        self._check_nonblocking(sock)
        while True:
            try:
                return sock.recv_into(buffer)
            except (BlockingIOError, InterruptedError):
                await self._wait_until_ready(sock)

    async def sock_sendall(self, sock: socket.socket, data: bytes) -> None:
        self._check_nonblocking(sock)
        view = memoryview(data)
        while view:
            try:
                sent = sock.send(view)
            except (BlockingIOError, InterruptedError):
                sent = 0
            view = view[sent:]
            if view:
                await self._wait_until_ready(sock, writing=True)

    async def sock_accept(self, sock: socket.socket) -> tuple[socket.socket, Any]:
        self._check_nonblocking(sock)
        while True:
            try:
                connection, address = sock.accept()
            except (BlockingIOError, InterruptedError):
                await self._wait_until_ready(sock)
            else:
                connection.setblocking(False)
                return connection, address

    async def sock_connect(self, sock: socket.socket, address: Any) -> None:
        self._check_nonblocking(sock)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_literal(address[0]):
            infos = await self.getaddrinfo(*address[:2], family=sock.family, type=sock.type)
            address = infos[0][4]
        code = sock.connect_ex(address)
        if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            await self._wait_until_ready(sock, writing=True)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code != 0:
            raise OSError(code, f"Connect call failed {address}: {os.strerror(code)}")

    async def getaddrinfo(self, host: Any, port: Any, *, family=0, type=0, proto=0, flags=0):
        return await self.run_in_executor(  # type: ignore[attr-defined]
            None, socket.getaddrinfo, host, port, family, type, proto, flags
        )

    async def getnameinfo(self, sockaddr: Any, flags: int = 0):
        return await self.run_in_executor(None, socket.getnameinfo, sockaddr, flags)  # type: ignore[attr-defined]

    # --- not built yet, or not part of the course -------------------------------------------------

    async def create_connection(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(BEING_BUILT.format("create_connection"))

    async def create_server(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(BEING_BUILT.format("create_server"))

    async def create_datagram_endpoint(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(BEING_BUILT.format("create_datagram_endpoint"))

    async def connect_accepted_socket(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(BEING_BUILT.format("connect_accepted_socket"))

    async def create_unix_connection(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(OUT_OF_SCOPE.format("Unix sockets"))

    async def create_unix_server(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(OUT_OF_SCOPE.format("Unix sockets"))

    async def start_tls(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(OUT_OF_SCOPE.format("TLS"))

    async def connect_read_pipe(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(OUT_OF_SCOPE.format("pipes"))

    async def connect_write_pipe(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(OUT_OF_SCOPE.format("pipes"))

    async def subprocess_exec(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(OUT_OF_SCOPE.format("subprocesses"))

    async def subprocess_shell(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(OUT_OF_SCOPE.format("subprocesses"))

    def add_signal_handler(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(OUT_OF_SCOPE.format("signal handlers"))

    def remove_signal_handler(self, *args: Any, **kwargs: Any) -> bool:
        raise NotImplementedError(OUT_OF_SCOPE.format("signal handlers"))

    async def sendfile(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(OUT_OF_SCOPE.format("sendfile"))

    async def sock_sendfile(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(OUT_OF_SCOPE.format("sendfile"))


BEING_BUILT = (
    "eventloop.aio: {} (transports and servers) is not built yet; "
    "use sock_connect, sock_accept, sock_recv and sock_sendall meanwhile"
)
OUT_OF_SCOPE = "eventloop.aio: {} are outside this course's loop; use asyncio's own loop for them"


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
