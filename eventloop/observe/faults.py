"""Fault injection: make the rare things happen on purpose, and watch the code cope (or not).

On a quiet laptop ``send`` sends everything, ``select`` reports only what is
ready, the peer never resets, a name lookup takes a millisecond and a timeout
of an hour takes an hour to test. Production disagrees. ``FaultyEventLoop`` is
chapter 11's loop with ``Faults`` switched on:

* ``max_send=7``: every ``send`` of a transport sends at most 7 bytes
  (chapter 05's partial writes, every time instead of once in a while);
* ``reset_after=1000``: a transport's ``send`` raises ``ConnectionResetError``
  once 1000 bytes have gone, as it would if the peer had vanished (only our side
  sees the reset: the peer sees the connection close);
* ``spurious_every=3``: every third wait reports a descriptor "ready" that is
  not, so its ``recv``/``accept`` gets ``EAGAIN`` (PITFALL: readiness is a hint);
* ``dns_delay=0.5``: ``getaddrinfo`` takes half a second longer, in its thread;
* ``virtual_clock=True``: when nothing has been ready for 50 ms of real time,
  time jumps to the next timer, so ``asyncio.sleep(3600)`` returns in
  milliseconds and so do tests of timeouts (trio's ``MockClock`` with an
  ``autojump_threshold`` does the same).

Code that handles these is correct in the ways a quiet laptop never tests.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from collections import Counter
from collections.abc import Callable
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
    """A selector that, every ``every``-th wait, says one reader is ready when it is not.

    It takes the quiet readers in turn (lowest descriptor first, then the next), so that
    every socket gets its share; ``ignore(key)`` leaves some out (the loop's own waker).
    """

    def __init__(
        self,
        selector: selectors.BaseSelector,
        every: int,
        ignore: Callable[[selectors.SelectorKey], bool] = lambda key: False,
    ) -> None:
        self.selector = selector
        self.every = every
        self.ignore = ignore
        self.waits = 0
        self.spurious = 0
        self.spurious_by_fd: Counter[int] = Counter()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self.selector.select(timeout)
        self.waits += 1
        if self.waits % self.every == 0:
            ready_fds = {key.fd for key, _ in ready}
            quiet = sorted(
                (
                    key
                    for key in self.selector.get_map().values()
                    if key.events & selectors.EVENT_READ
                    and key.fd not in ready_fds
                    and not self.ignore(key)
                ),
                key=lambda key: key.fd,
            )
            if quiet:
                key = quiet[self.spurious % len(quiet)]  # the next one's turn
                ready.append((key, selectors.EVENT_READ))
                self.spurious += 1
                self.spurious_by_fd[key.fd] += 1
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


AUTOJUMP_AFTER = 0.05
"""Real seconds with nothing ready before the virtual clock jumps (trio's autojump_threshold):
long enough for a name lookup or a peer in another thread to answer first."""


class VirtualClockLoop(InnerLoop):
    """Chapter 09's loop on a clock that skips the waits: when nothing has been ready for
    ``AUTOJUMP_AFTER`` real seconds, time jumps to the next timer instead of sleeping until it.

    Work in threads (``run_in_executor``, ``getaddrinfo``) still takes real time: a job slower
    than ``AUTOJUMP_AFTER`` can see a timeout fire "early".
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.skipped = 0.0  # seconds of waiting the clock jumped over

    def time(self) -> float:
        return time.monotonic() + self.skipped

    def wait_for_readiness(self, timeout: float | None) -> tuple[list[Any], list[Any]]:
        if timeout is None or timeout <= AUTOJUMP_AFTER:
            return super().wait_for_readiness(timeout)
        readable, writable = super().wait_for_readiness(AUTOJUMP_AFTER)  # a real wait first
        if not readable and not writable:
            self.skipped += timeout - AUTOJUMP_AFTER  # then be at the next timer's deadline
        return readable, writable


class FaultyEventLoop(EventLoop):
    """Chapter 11's asyncio loop with the faults of ``faults`` injected."""

    def __init__(self, faults: Faults, **options: Any) -> None:
        self.faults = faults
        if faults.virtual_clock:
            self.inner_class = VirtualClockLoop
        super().__init__(**options)
        if faults.spurious_every:
            waker = self._inner.waker  # its wake-ups are the loop's own, not a socket's
            self._inner.selector = FaultySelector(
                self._inner.selector, faults.spurious_every, ignore=lambda key: key.data is waker
            )
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
