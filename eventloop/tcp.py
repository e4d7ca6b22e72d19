"""Stage 05: TCP connections on the event loop, robust against real clients.

Grows from: ``handlers`` (chapter 04), where every handler owned one UDP
socket and a datagram was a whole message. TCP adds two things the UDP
servers never had to face: a listening socket that creates *new* sockets,
and connections that have a state, a peer that can vanish, and a byte stream
that may not fit in the kernel's buffers.

Adds, and why (each fix is a pitfall the chapter makes happen first):

* ``TCPConnection``: one accepted socket. ``send()`` never blocks: what the
  kernel does not take now waits in an outgoing ``bytearray`` (``send`` may
  take only part of it; ``del buf[:n]`` drops what went, without the copy
  that ``buf = buf[n:]`` makes). ``recv`` returning ``b''`` is the end of the
  peer's stream: ignore it and the socket stays readable forever, a 100% CPU
  busy loop. A peer that resets (``ConnectionResetError``) or has gone
  (``BrokenPipeError``) closes *this* connection only.
* Backpressure: while more than ``high_water`` bytes wait to be sent, the
  connection stops reading, so a client that sends without reading cannot
  make the server's memory grow without bound; it reads again once the
  buffer drains to ``low_water``.
* Clients connect with chapter 02's ``start_connect`` and ``connect_error``:
  a non-blocking ``connect`` finishes later (EINPROGRESS); a refused one makes
  the socket readable *and* writable, so only ``SO_ERROR`` says whether it
  worked.

The other half of this stage, the listening socket that creates the
connections, is ``tcp_server.TCPServer``.

The handlers only touch the ``handlers`` list with ``append`` and ``remove``,
so they work with any list-like object, such as a later stage's loop.
"""

from __future__ import annotations

import socket
from collections.abc import MutableSequence
from typing import Literal

from eventloop.handlers import EventHandler, TracksInterest

RECV_SIZE = 65536
"""Bytes asked for per ``recv``: one call usually empties the kernel's buffer."""

HIGH_WATER = 64 * 1024
"""Stop reading while more than this many bytes wait to be sent (asyncio's default)."""

LOW_WATER = 16 * 1024
"""Read again once no more than this many bytes wait to be sent."""

AfterFlush = Literal["shutdown", "close", "done"]
"""What ``flush`` does once the buffer is empty: send FIN, close, or nothing (FIN was sent)."""


class TCPConnection(EventHandler):
    """One connected, non-blocking TCP socket with an outgoing buffer.

    Guarantees: ``send`` never blocks and never loses data while the
    connection is open; the loop is asked to watch for writing only while
    data is queued; reading pauses while more than ``high_water`` bytes are
    queued (``high_water=None``: never, for demonstrations only); every error
    on the socket closes this connection and no other. Subclasses override
    the hooks ``data_received``, ``eof_received`` and ``connection_lost``.

    It announces its interest: every method that changes what ``wants_to_*``
    answer calls ``interest_changed()`` (a subclass that overrides them must
    too), so chapter 09's loop does not re-ask it after every event.
    """

    announces_interest = True

    def __init__(
        self,
        sock: socket.socket,
        handlers: MutableSequence[EventHandler],
        *,
        high_water: int | None = HIGH_WATER,
        low_water: int = LOW_WATER,
    ) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.handlers = handlers
        self.high_water = high_water
        self.low_water = low_water
        self.outgoing = bytearray()
        self.reading = True  # False while paused by backpressure
        self.eof = False  # the peer has closed its side (recv returned b'')
        self.after_flush: AfterFlush | None = None  # None: nothing to do once flushed
        self.closed = False
        self.bytes_in = self.bytes_out = self.max_buffered = 0
        self.pauses = 0  # times backpressure stopped the reading

    def fileno(self) -> int:
        return self.sock.fileno()

    def wants_to_receive(self) -> bool:
        return self.reading and not self.eof

    def wants_to_send(self) -> bool:
        return bool(self.outgoing)

    # --- the loop calls these --------------------------------------------------------------

    def handle_receive(self) -> None:
        """Read what has arrived and pass it to ``data_received``; ``b''`` means EOF."""
        try:
            data = self.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return  # readable a moment ago, nothing now: "not now", not an error
        except OSError as error:  # usually ConnectionResetError: the peer reset
            self.close(error)
            return
        # If a hook raises, close this connection, then let the loop report it.
        # Without the close, the loop drops a connection whose protocol raised
        # (even MemoryError), but its socket and buffer stay open until garbage
        # collection, and connection_lost is never called.
        try:
            if data:
                self.bytes_in += len(data)
                self.data_received(data)
            else:
                self.eof = True
                self.interest_changed()
                self.eof_received()
        except Exception as error:
            self.close(error)
            raise

    def handle_send(self) -> None:
        """There is room in the kernel's buffer: send what is queued."""
        self.flush()

    # --- used by protocols -------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Send ``data`` now if nothing is queued, and queue what the kernel did not take.

        Never blocks. Often the whole message goes at once: nothing is queued, and
        the loop need not hear about it (no wait for writability).
        """
        if self.closed or self.after_flush is not None or not data:
            return  # like asyncio, writing to a closing connection is ignored
        if self.outgoing:  # older bytes are waiting for writability: these go after them
            self.outgoing += data
        else:  # send_some's few lines, written out: this runs once per message, and the
            # call would cost about 2% of an echo (benchmarks/instructions.py)
            try:
                sent = self.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError as error:
                self.close(error)
                return
            self.bytes_out += sent
            if sent == len(data):
                return
            self.outgoing += data[sent:]
            self.interest_changed()  # something is queued now: watch for writability
        self.apply_watermarks()
        self.max_buffered = max(self.max_buffered, len(self.outgoing))

    def flush(self) -> None:
        """Send from the outgoing buffer; keep what the kernel did not take."""
        sent = self.send_some(self.outgoing)
        if self.closed:
            return
        del self.outgoing[:sent]  # in place: no copy of the rest
        if self.outgoing:
            self.apply_watermarks()
            return
        self.interest_changed()  # the buffer is empty: no need to watch for writability
        self.apply_watermarks()
        if self.after_flush == "close":
            self.close()
        elif self.after_flush == "shutdown":
            self.after_flush = None
            self.shutdown_now()

    def send_some(self, data: bytes | bytearray) -> int:
        """One ``sock.send``: how many bytes the kernel took (0 when its buffer is full).

        A peer that has gone (``BrokenPipeError``, ``ConnectionResetError``)
        closes this connection.
        """
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            return 0  # the kernel's buffer is full: wait for writability
        except OSError as error:
            self.close(error)
            return 0
        self.bytes_out += sent
        return sent

    def apply_watermarks(self) -> None:
        """Pause reading above ``high_water``; resume at ``low_water`` or below."""
        if self.high_water is None:
            return
        queued = len(self.outgoing)
        if self.reading and queued > self.high_water:
            self.reading = False
            self.pauses += 1
            self.interest_changed()
        elif not self.reading and queued <= self.low_water:
            self.reading = True
            self.interest_changed()
            self.reading_resumed()

    def write_eof(self) -> None:
        """Half-close: once everything queued is sent, send FIN; keep reading."""
        if self.closed:
            return
        if self.outgoing:
            self.after_flush = "shutdown"
        else:
            self.shutdown_now()

    def shutdown_now(self) -> None:
        """Send FIN now (``shutdown(SHUT_WR)``); close once the peer has finished too."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as error:  # ENOTCONN: the peer has already gone
            self.close(error)
            return
        self.after_flush = "done"  # nothing more may be sent
        if self.eof:
            self.close()

    def close_when_flushed(self) -> None:
        """Close once everything queued has been sent (at once if nothing is)."""
        if self.outgoing and not self.closed:
            self.after_flush = "close"
        else:
            self.close()

    def close(self, error: Exception | None = None) -> None:
        """Close the socket, leave the loop's list, then call ``connection_lost`` once."""
        if self.closed:
            return
        self.closed = True
        if self in self.handlers:
            self.handlers.remove(self)
        self.interest_changed()
        self.sock.close()
        self.connection_lost(error)

    # --- hooks ------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Called with each chunk read; chunk boundaries mean nothing (chapter 06)."""

    def eof_received(self) -> None:
        """The peer will send no more. Default: finish sending, then close."""
        self.close_when_flushed()

    def connection_lost(self, error: Exception | None) -> None:
        """Called once, after the socket is closed; ``error`` is why, or None."""

    def reading_resumed(self) -> None:
        """Backpressure is over: the outgoing buffer drained to ``low_water``.

        A protocol that stopped *parsing* while paused (chapter 06) continues here
        with what it already holds; new bytes come with the next readable event.
        """

    def interest_changed(self) -> None:
        """``wants_to_receive``/``wants_to_send`` may answer differently now.

        A ``select`` loop asks every iteration and needs no notice; a loop
        that registers descriptors once (chapter 09) must be told: its
        ``HandlerList`` is a ``handlers.TracksInterest``. A plain list is not,
        so then this does nothing.
        """
        if isinstance(self.handlers, TracksInterest):
            self.handlers.interest_changed(self)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd {self.fileno()}, {len(self.outgoing)} queued"
        return f"<{type(self).__name__} {state}>"


class TCPEchoConnection(TCPConnection):
    """Sends every byte back to the peer that sent it."""

    def data_received(self, data: bytes) -> None:
        self.send(data)
