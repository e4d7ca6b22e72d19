"""Stage 04: the post's two UDP servers, a time server and an echo server.

Grows from: ``handlers`` (the ``EventHandler`` API and ``event_loop``).
Adds: real servers a learner can talk to from a terminal::

    echo hello | nc -u 127.0.0.1 PORT

What changed from the post, and why:

* They bind ``127.0.0.1`` by default, not ``''``. ``''`` means every network
  interface: on a shared JupyterHub anyone on the network could reach your
  server. Pass ``host="0.0.0.0"`` only if you mean it.
* Port ``0`` asks the operating system for any free port, so re-running a
  notebook cell never fails with ``OSError: [Errno 98] Address already in
  use``. ``server.address`` tells you the port you got.
* They are context managers: ``with UDPEchoServer() as server: ...`` closes
  the socket even when a cell fails.
* The sockets are non-blocking, and a receive that finds nothing
  (``BlockingIOError``, a "spurious" readiness) is treated as "not now".
* The echo server reads up to 65535 bytes, the largest UDP payload, so no
  datagram is cut short. The time server keeps the post's ``recvfrom(1)``:
  it only needs to know *that* someone asked, not what they sent. The rest
  of the datagram is silently discarded (on Windows, ``recvfrom`` with a too
  small buffer raises ``OSError`` WSAEMSGSIZE instead).
"""

from __future__ import annotations

import socket
import time
from collections.abc import MutableSequence
from types import TracebackType

from eventloop.blocking import MAX_DATAGRAM, bound_socket  # chapter 01
from eventloop.handlers import EventHandler


class UDPServer(EventHandler):
    """A UDP socket bound to ``(host, port)`` that always wants to receive.

    Two ways to say where: ``UDPEchoServer('127.0.0.1', 15000)``, or the post's (and
    ``socketserver``'s) one address tuple, ``UDPEchoServer(('127.0.0.1', 15000))``.

    Given ``handlers`` (a loop's list), it joins the list, as ``TCPServer`` does, and
    leaves it when closed. It then announces its interest (``announces_interest``):
    what it wants never changes, and closing, the one change, is announced by leaving
    the list. So chapter 09's loop need not re-ask it after every datagram.
    """

    def __init__(
        self,
        host: str | tuple[str, int] = "127.0.0.1",
        port: int = 0,
        *,
        handlers: MutableSequence[EventHandler] | None = None,
    ) -> None:
        if isinstance(host, tuple):
            host, port = address_of(host, port)
        self.sock = bound_socket(socket.SOCK_DGRAM, host, port)
        self.sock.setblocking(False)
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        self.requests = 0
        self.dropped_replies = 0  # replies the kernel had no room for (UDP may drop)
        self.handlers = handlers
        if handlers is not None:
            handlers.append(self)

    @property  # type: ignore[override]
    def announces_interest(self) -> bool:
        """True when it was given its list: then closing, its one change, is announced."""
        return self.handlers is not None

    @property
    def port(self) -> int:
        """The port actually bound (useful after asking for port 0)."""
        return self.address[1]

    def fileno(self) -> int:
        return self.sock.fileno()

    def wants_to_receive(self) -> bool:
        return True

    def reply(self, data: bytes, to: tuple[str, int]) -> None:
        """Send one datagram back; if the send buffer is full, drop it, as UDP may.

        Each dropped reply is counted in ``dropped_replies``: dropping is allowed,
        hiding it is not.
        """
        try:
            self.sock.sendto(data, to)
        except (BlockingIOError, ConnectionError):
            self.dropped_replies += 1

    def close(self) -> None:
        """Leave the list it was given, if any, and close the socket.

        Without a list, the loop notices the closed socket itself: chapter 04's before
        its next ``select``, chapter 09's when it next re-checks this handler.
        """
        if self.handlers is not None and self in self.handlers:
            self.handlers.remove(self)
        self.sock.close()

    def __enter__(self) -> UDPServer:
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
        return f"<{type(self).__name__} {state}>"


def address_of(address: tuple[str, int], port: int) -> tuple[str, int]:
    """``(host, port)`` from the post's one-tuple form; a second port as well is a mistake."""
    if len(address) != 2:
        raise TypeError(f"an address is (host, port), got {address!r}")
    if port != 0:
        raise TypeError(
            f"give the address once: either ({address[0]!r}, {address[1]}) or host and port, "
            f"not both (port={port} as well)"
        )
    return address[0], address[1]


class UDPTimeServer(UDPServer):
    """Answers any datagram with the current time, ``time.ctime()``."""

    def handle_receive(self) -> None:
        try:
            _, sender = self.sock.recvfrom(1)  # only *that* someone asked matters
        except (BlockingIOError, ConnectionError):
            return  # spurious readiness, or (Windows) an ICMP error from an earlier reply
        self.requests += 1
        self.reply(time.ctime().encode("ascii"), sender)


class UDPEchoServer(UDPServer):
    """Sends every datagram back to whoever sent it."""

    def handle_receive(self) -> None:
        try:
            message, sender = self.sock.recvfrom(MAX_DATAGRAM)
        except (BlockingIOError, ConnectionError):
            return  # spurious readiness, or (Windows) an ICMP error from an earlier reply
        self.requests += 1
        self.reply(message, sender)
