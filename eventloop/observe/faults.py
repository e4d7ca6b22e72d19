"""Fault injection: make the rare things happen on purpose, and watch the code cope (or not).

On a quiet laptop ``send`` sends everything, ``select`` reports only what is
ready, the peer never resets, a name lookup takes a millisecond and a timeout
of an hour takes an hour to test. Production disagrees. ``FaultyEventLoop`` is
chapter 11's loop with ``Faults`` switched on:

* ``max_send=7``: every ``send`` of a transport sends at most 7 bytes
  (chapter 05's partial writes, every time instead of once in a while);
* ``reset_after=1000``: a transport's ``send`` raises ``ConnectionResetError``
  once 1000 bytes have gone (a peer that vanished);
* ``spurious_every=3``: every third wait reports a descriptor "ready" that is
  not, so its ``recv``/``accept`` gets ``EAGAIN`` (PITFALL: readiness is a hint);
* ``dns_delay=0.5``: ``getaddrinfo`` takes half a second longer, in its thread;
* ``virtual_clock=True``: when nothing is ready, time jumps to the next timer,
  so ``asyncio.sleep(3600)`` returns at once and timeouts are tested in
  milliseconds (trio's ``MockClock(autojump_threshold=0)`` does the same).

Code that handles these is correct in the ways a quiet laptop never tests.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from dataclasses import dataclass
from typing import Any

from eventloop.aio.loop import EventLoop, InnerLoop


@dataclass(frozen=True)
class Faults:
    """Which faults to inject; the defaults inject none."""

    max_send: int | None = None
    reset_after: int | None = None
    spurious_every: int = 0
    dns_delay: float = 0.0
    virtual_clock: bool = False


class FaultySocket:
    """A connected socket whose ``send`` is partial, or resets, as ``Faults`` say.

    Everything else (``recv``, ``fileno``, ``close``...) goes to the real socket.
    """

    def __init__(self, sock: socket.socket, faults: Faults) -> None:
        self._sock = sock
        self.faults = faults
        self.bytes_sent = 0
        self.partial_sends = 0

    def send(self, data: Any, flags: int = 0) -> int:
        room = len(data)
        if self.faults.reset_after is not None:
            room = self.faults.reset_after - self.bytes_sent
            if room <= 0:
                raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer (injected)")
        if self.faults.max_send is not None:
            room = min(room, self.faults.max_send)
        chunk = memoryview(data)
        if len(chunk) > room:
            chunk = chunk[:room]
            self.partial_sends += 1
        sent = self._sock.send(chunk, flags)
        self.bytes_sent += sent
        return sent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def __repr__(self) -> str:
        return f"<FaultySocket {self._sock!r}>"


class FaultySelector(selectors.BaseSelector):
    """A selector that, every ``every``-th wait, says one reader is ready when it is not."""

    def __init__(self, selector: selectors.BaseSelector, every: int) -> None:
        self.selector = selector
        self.every = every
        self.waits = 0
        self.spurious = 0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self.selector.select(timeout)
        self.waits += 1
        if self.waits % self.every == 0:
            ready_fds = {key.fd for key, _ in ready}
            quiet = [
                key
                for key in self.selector.get_map().values()
                if key.events & selectors.EVENT_READ and key.fd not in ready_fds
            ]
            if quiet:
                ready.append((min(quiet, key=lambda key: key.fd), selectors.EVENT_READ))
                self.spurious += 1
        return ready

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self.selector.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self.selector.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self.selector.modify(fileobj, events, data)

    def get_map(self) -> Any:
        return self.selector.get_map()

    def close(self) -> None:
        self.selector.close()


class VirtualClockLoop(InnerLoop):
    """Chapter 09's loop on a clock that skips the waits: when nothing is ready, time
    jumps to the next timer instead of sleeping until it.

    Only the loop's clock jumps: a thread's work (``run_in_executor``) still takes
    real time, so a test that mixes the two can see a timeout fire "early".
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.skipped = 0.0  # seconds of waiting the clock jumped over

    def time(self) -> float:
        return time.monotonic() + self.skipped

    def wait_for_readiness(self, timeout: float | None) -> tuple[list[Any], list[Any]]:
        if timeout is None or timeout <= 0:
            return super().wait_for_readiness(timeout)
        readable, writable = super().wait_for_readiness(0)  # has anything arrived?
        if not readable and not writable:
            self.skipped += timeout  # no: be at the next timer's deadline now
        return readable, writable


class FaultyEventLoop(EventLoop):
    """Chapter 11's asyncio loop with the faults of ``faults`` injected."""

    def __init__(self, faults: Faults, **options: Any) -> None:
        self.faults = faults
        if faults.virtual_clock:
            self.inner_class = VirtualClockLoop
        super().__init__(**options)
        if faults.spurious_every:
            self._inner.selector = FaultySelector(self._inner.selector, faults.spurious_every)
        self.sockets: list[FaultySocket] = []

    def transport_socket(self, sock: socket.socket) -> Any:
        if self.faults.max_send is None and self.faults.reset_after is None:
            return sock
        faulty = FaultySocket(sock, self.faults)
        self.sockets.append(faulty)
        return faulty

    async def getaddrinfo(self, host: Any, port: Any, **options: Any) -> Any:
        if self.faults.dns_delay:  # a slow resolver: the lookup's thread waits first
            await self.run_in_executor(None, time.sleep, self.faults.dns_delay)
        return await super().getaddrinfo(host, port, **options)

    @property
    def partial_sends(self) -> int:
        """How many sends were cut short, on all the transports' sockets."""
        return sum(sock.partial_sends for sock in self.sockets)

    @property
    def spurious_wakeups(self) -> int:
        """How many times a reader was reported ready when it was not."""
        selector = self._inner.selector
        return selector.spurious if isinstance(selector, FaultySelector) else 0

    @property
    def skipped(self) -> float:
        """Seconds of waiting the virtual clock jumped over."""
        return self._inner.skipped if isinstance(self._inner, VirtualClockLoop) else 0.0

    def injected(self) -> str:
        """What was injected so far, in one line of numbers."""
        parts = []
        if self.sockets:
            parts.append(f"{self.partial_sends} partial sends on {len(self.sockets)} sockets")
        if self.faults.spurious_every:
            parts.append(f"{self.spurious_wakeups} spurious wake-ups")
        if self.faults.virtual_clock:
            parts.append(f"{self.skipped:.1f} s of waiting skipped")
        return ", ".join(parts) or "nothing injected"


def faulty_loop_factory(faults: Faults, **options: Any) -> Any:
    """A ``loop_factory`` for ``asyncio.run``/``asyncio.Runner`` that makes a faulty loop."""
    return lambda: FaultyEventLoop(faults, **options)
