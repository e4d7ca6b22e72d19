"""Stage 05, the server half: a listening socket that survives running out of descriptors.

Grows from: ``tcp``, whose ``TCPConnection`` handles one accepted socket.
Adds, and why:

* ``TCPServer``: a listening handler that accepts every waiting connection,
  a batch at a time, makes each one non-blocking (one blocking socket stalls
  every client) and appends a connection handler to the loop's list.
* Running out of descriptors (``EMFILE``) does not stop it: it frees a
  spare descriptor, accepts the client and closes it at once, and goes on
  serving the others. Without that, the client stays in the backlog, the
  listening socket stays readable, and the loop spins at 100% CPU.
* ``highest_fd``: a ``select()`` loop cannot watch a descriptor at or above
  FD_SETSIZE (1024); a client that got one is refused instead of stopping
  the whole server.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import weakref
from collections.abc import Callable, MutableSequence
from types import TracebackType

from eventloop.blocking import bound_socket
from eventloop.handlers import EventHandler
from eventloop.tcp import TCPEchoConnection

OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
"""The errnos ``accept`` raises when the process or the system has no descriptor left."""

ConnectionFactory = Callable[[socket.socket, MutableSequence[EventHandler]], EventHandler]
"""What ``TCPServer`` calls per accepted socket: a ``TCPConnection`` class, or a ``partial``."""


class TCPServer(EventHandler):
    """A listening socket that adds a ``connection(sock, handlers)`` per client.

    Creating it appends it to ``handlers``; ``close()`` (or leaving a
    ``with`` block) removes it and closes every connection it accepted that
    is still open. Options for the connections: ``functools.partial``, e.g.
    ``connection=partial(TCPEchoConnection, high_water=4096)``.
    """

    def __init__(
        self,
        handlers: MutableSequence[EventHandler],
        host: str = "127.0.0.1",
        port: int = 0,
        connection: ConnectionFactory = TCPEchoConnection,
        backlog: int = 128,
        accept_batch: int = 16,
        highest_fd: int | None = None,
    ) -> None:
        self.sock = bound_socket(socket.SOCK_STREAM, host, port, backlog=backlog)
        try:
            self.spare: int | None = os.open(os.devnull, os.O_RDONLY)  # see refuse_one()
        except OSError:  # out of descriptors already: do not leave the socket open
            self.sock.close()
            raise
        self.sock.setblocking(False)
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        self.handlers = handlers
        self.connection = connection
        self.accept_batch = accept_batch
        self.highest_fd = highest_fd  # select() cannot watch fds above FD_SETSIZE - 1
        # Open connections only: a closed one leaves the loop's list and is forgotten.
        self.connections: weakref.WeakSet[EventHandler] = weakref.WeakSet()
        self.accepted = self.refused = 0
        if self not in handlers:
            handlers.append(self)

    @property
    def port(self) -> int:
        """The port actually bound (useful after asking for port 0)."""
        return self.address[1]

    def fileno(self) -> int:
        return self.sock.fileno()

    def wants_to_receive(self) -> bool:
        return True

    def handle_receive(self) -> None:
        """Accept the clients waiting in the backlog, a batch at a time."""
        for _ in range(self.accept_batch):
            try:
                sock, _ = self.sock.accept()
            except BlockingIOError:
                return  # the backlog is empty (or another process took the client)
            except ConnectionAbortedError:
                continue  # the client gave up before we accepted it
            except OSError as error:
                if error.errno not in OUT_OF_DESCRIPTORS:
                    raise
                self.refuse_one(error)
                return
            if self.highest_fd is not None and sock.fileno() > self.highest_fd:
                self.refuse_unwatchable(sock)
                continue
            sock.setblocking(False)
            self.accepted += 1
            handler = self.connection(sock, self.handlers)
            self.connections.add(handler)
            self.handlers.append(handler)

    def refuse_unwatchable(self, sock: socket.socket) -> None:
        """Close a client whose descriptor the loop could not watch; say so once.

        ``select()`` raises ``ValueError`` for any fd at or above FD_SETSIZE (1024):
        watching this one would stop the whole server, not just this client.
        """
        fd = sock.fileno()
        sock.close()
        self.refused += 1
        if self.refused == 1:
            print(
                f"TCPServer {self.address[0]}:{self.port}: refusing clients whose descriptor is "
                f"above {self.highest_fd} (this one got fd {fd}): the select() loop cannot watch "
                f"them (counted in .refused). The epoll/poll loop has no such limit.",
                file=sys.stderr,
            )

    def refuse_one(self, error: OSError) -> None:
        """Out of descriptors: free the spare one, accept the client and close it at once.

        Otherwise the client stays in the backlog, the listening socket stays
        readable, and the loop spins at 100% CPU until a descriptor is freed.
        """
        self.refused += 1
        if self.refused == 1:
            print(
                f"TCPServer {self.address[0]}:{self.port}: cannot accept: {error.strerror} "
                f"(errno {error.errno}); refusing clients until descriptors are freed "
                f"(counted in .refused). Raise the limit with `ulimit -n`.",
                file=sys.stderr,
            )
        if self.spare is None:
            return
        os.close(self.spare)
        try:
            sock, _ = self.sock.accept()
            sock.close()
        except OSError:
            pass
        finally:
            try:
                self.spare = os.open(os.devnull, os.O_RDONLY)
            except OSError:
                self.spare = None

    def close(self) -> None:
        """Stop listening, leave the loop's list, close the connections still open."""
        if self in self.handlers:
            self.handlers.remove(self)
        self.sock.close()
        if self.spare is not None:
            os.close(self.spare)
            self.spare = None
        for handler in list(self.connections):
            close = getattr(handler, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> TCPServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.sock.fileno() < 0 else f"{self.address[0]}:{self.port}"
        return f"<{type(self).__name__} {state}, {len(self.connections)} connections>"
