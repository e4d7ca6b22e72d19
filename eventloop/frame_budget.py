"""Chapter 06's production concern: one budget for every connection's unfinished frames.

Grows from: ``framing`` (chapter 06), whose connections each refuse a frame over
their own limit (a 64 KiB line, a 1 MiB message). That limit is per connection:
200 clients that each send 1 MiB minus one byte and wait hold 200 MiB, and the
server runs out of memory with every client within its limit.
Adds: ``BufferBudget``, the bytes of unfinished frames that the connections
sharing it hold, with a maximum. When a connection's next bytes do not fit, the
connection that would hold the most (the oldest of equals) is refused: told why,
then sent EOF. Refusing whoever found the budget full instead would let 64 slow
clients, parking 1 MiB each, lock every new client out for as long as they wait.
"""

from __future__ import annotations

from typing import Protocol


class Holder(Protocol):
    """What the budget needs from a connection that holds part of it: a way to refuse it."""

    def frame_error(self, problem: str) -> None: ...


MAX_UNFINISHED = 64 * 1024 * 1024
"""How many bytes of not-yet-complete frames all connections may hold together, by default."""


class BufferBudget:
    """The bytes of unfinished frames held by the connections that share it, and a maximum.

    Guarantees: ``used`` never exceeds ``max_bytes``. When ``size`` more bytes do
    not fit, ``make_room`` refuses the holder that would hold the most (the oldest
    of equals) with ``frame_error``; a newcomer is refused only if that is itself.
    Finding the largest scans the holders: fine for the few thousand a server has.
    """

    def __init__(self, max_bytes: int = MAX_UNFINISHED) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self.peak = 0  # the most ever held at once: what a test or a benchmark measures
        self.holders: dict[Holder, int] = {}  # who holds how much, oldest first

    def has_room_for(self, size: int) -> bool:
        return self.used + size <= self.max_bytes

    def count(self, holder: Holder, size: int) -> None:
        """``holder`` holds ``size`` bytes of unfinished frames now."""
        self.used += size - self.holders.get(holder, 0)
        self.peak = max(self.peak, self.used)
        if size:
            self.holders[holder] = size  # a holder already there keeps its place
        else:
            self.holders.pop(holder, None)

    def make_room(self, asking: Holder, size: int) -> bool:
        """Evict the largest holders until ``size`` more bytes fit; False if ``asking`` should go.

        ``asking`` goes (nobody else does) when it would then hold the most itself.
        """
        while not self.has_room_for(size):
            would_hold = self.holders.get(asking, 0) + size
            others = (holder for holder in self.holders if holder is not asking)
            largest = max(others, key=self.holders.__getitem__, default=None)
            if largest is None or self.holders[largest] < would_hold:
                return False
            largest.frame_error(TOO_MUCH_UNFINISHED)
            self.count(largest, 0)  # its share is free now, whatever frame_error did
        return True


TOO_MUCH_UNFINISHED = (
    "the server holds too much unfinished data from its clients, and yours is the largest"
)
"""Why a connection was dropped to make room in its ``BufferBudget``."""


SHARED_BUDGET = BufferBudget()
"""The budget framed connections share unless given their own (``budget=``)."""
