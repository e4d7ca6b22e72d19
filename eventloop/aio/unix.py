"""Unix domain sockets: the same stream transport, another address family.

Grows from: ``clients``, ``servers`` and ``transports`` (chapter 05's
connection as an asyncio transport, chapter 05's accept loop as asyncio's
``Server``).
Adds: ``create_unix_server`` and ``create_unix_connection``, which is all
``asyncio.start_unix_server`` and ``asyncio.open_unix_connection`` ask of a loop.

Why so little code. Readiness does not care what a descriptor is: an
``AF_UNIX`` stream socket accepts, connects, reads and writes exactly like a
TCP one, and ``select`` reports it the same way. So a Unix server is a
listening socket bound to a *path* instead of a port, handed to the same
``Server``; a client connects with the same ``sock_connect`` and gets the same
transport. Only the address is new, and two chores that come with a path:

* a socket file left behind by a server that died (``EADDRINUSE`` on the next
  start) is removed before binding, if it is a socket (never a regular file);
* closing the server removes the file it created (asyncio does this from
  Python 3.13, ``cleanup_socket=True``; we do it on every version), unless
  another server has bound the path since (its inode differs).
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from typing import Any

from eventloop.aio import clients, servers


class UnixServer(servers.Server):
    """asyncio's ``Server`` on ``AF_UNIX`` listeners; closing it removes its socket files."""

    def __init__(self, *args: Any, cleanup: dict[str, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cleanup = cleanup  # path -> inode of the socket file this server created

    def close(self) -> None:
        super().close()
        for path, inode in self.cleanup.items():
            try:
                if os.stat(path).st_ino == inode:  # still ours, not a newer server's
                    os.unlink(path)
            except FileNotFoundError:
                pass
        self.cleanup = {}


def unix_stream_socket(sock: socket.socket) -> socket.socket:
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        raise ValueError(f"A UNIX Domain Stream Socket was expected, got {sock!r}")
    return sock


def remove_stale_socket(path: str | bytes) -> None:
    """A socket file left by a server that died: remove it (only if it is a socket)."""
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.remove(path)
    except FileNotFoundError:
        pass


def is_abstract(path: str | bytes) -> bool:
    """Linux's abstract namespace: a name starting with a null byte, no file at all."""
    return not path or path[0] in (0, "\0")


class UnixMethods:
    """``create_unix_server`` and ``create_unix_connection``; mixed into ``EventLoop``."""

    async def create_unix_connection(
        self,
        protocol_factory: clients.ProtocolFactory,
        path: str | bytes | os.PathLike[str] | None = None,
        *,
        ssl: Any = None,
        sock: socket.socket | None = None,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
    ) -> tuple[Any, Any]:
        """Connect to the server listening on ``path`` (or use ``sock``): a stream transport."""
        clients.check_tls_options(
            "create_unix_connection",
            ssl,
            server_hostname=server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )
        if path is not None:
            if sock is not None:
                raise ValueError("path and sock can not be specified at the same time")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                await self.sock_connect(sock, os.fspath(path))  # type: ignore[attr-defined]
            except BaseException:
                sock.close()
                raise
        elif sock is None:
            raise ValueError("no path and sock were specified")
        else:
            unix_stream_socket(sock).setblocking(False)
        return clients.start(self, sock, protocol_factory)

    async def create_unix_server(
        self,
        protocol_factory: clients.ProtocolFactory,
        path: str | bytes | os.PathLike[str] | None = None,
        *,
        sock: socket.socket | None = None,
        backlog: int = 100,
        ssl: Any = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
        start_serving: bool = True,
        cleanup_socket: bool = True,
    ) -> UnixServer:
        """Listen on ``path`` (or ``sock``) and serve each client with a new protocol."""
        if isinstance(ssl, bool):
            raise TypeError("ssl argument must be an SSLContext or None")
        clients.check_tls_options(
            "create_unix_server",
            ssl,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )
        if path is not None:
            if sock is not None:
                raise ValueError("path and sock can not be specified at the same time")
            sock = bound_unix_socket(os.fspath(path))
        elif sock is None:
            raise ValueError("path was not specified, and no sock specified")
        unix_stream_socket(sock).setblocking(False)
        cleanup = {}
        name = sock.getsockname()
        if cleanup_socket and not is_abstract(name):
            try:
                cleanup[name] = os.stat(name).st_ino
            except FileNotFoundError:
                pass
        server = UnixServer(self, [sock], protocol_factory, backlog, cleanup=cleanup)
        if start_serving:
            await server.start_serving()
        return server


def bound_unix_socket(path: str | bytes) -> socket.socket:
    """A socket bound to ``path``, after removing a stale socket file there."""
    if not is_abstract(path):
        remove_stale_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise OSError(errno.EADDRINUSE, f"Address {path!r} is already in use") from None
        raise
    return sock
