"""Chapter 09's list of handlers that tells its loop what changed, instead of being scanned.

Grows from: chapter 04's plain ``handlers`` list, which the loop scans in every iteration
(O(all handlers)). Adds: a ``list`` whose ``append``/``remove`` (and ``interest_changed``,
``handlers.TracksInterest``) tell the loop at once, so the loop touches only what changed.
Code written for the plain list runs unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, SupportsIndex

from eventloop.handlers import EventHandler, TracksInterest


class HandlerList(list, TracksInterest):  # type: ignore[type-arg]
    """A list of handlers that tells its loop when one is added, removed or changed.

    Code written for chapter 04's plain list (``handlers.append(conn)``,
    ``handlers.remove(self)``) works unchanged; the loop hears about it in O(1).
    Chapter 05's ``TCPConnection`` calls ``interest_changed(self)`` on its list
    whenever its buffer or backpressure changes what it wants.
    """

    def __init__(self, loop: Any) -> None:
        super().__init__()
        self.loop = loop

    def append(self, handler: EventHandler) -> None:
        self.loop.added(handler)  # first: a closed loop refuses it before it is listed
        super().append(handler)

    def insert(self, index: SupportsIndex, handler: EventHandler) -> None:
        self.loop.added(handler)
        super().insert(index, handler)

    def extend(self, handlers: Iterable[EventHandler]) -> None:
        for handler in handlers:
            self.append(handler)

    def __iadd__(self, handlers: Iterable[EventHandler]) -> HandlerList:  # type: ignore[override]
        self.extend(handlers)
        return self

    def remove(self, handler: EventHandler) -> None:
        super().remove(handler)
        self.loop.forget(handler)

    def pop(self, index: SupportsIndex = -1) -> EventHandler:
        handler = super().pop(index)
        self.loop.forget(handler)
        return handler

    def clear(self) -> None:
        while self:
            self.pop()

    def __setitem__(self, index: object, value: object) -> None:
        raise TypeError("a HandlerList changes by append/remove only, so its loop can follow")

    __delitem__ = __setitem__

    def interest_changed(self, handler: EventHandler) -> None:
        """``handler`` may want something else now: the loop re-checks it."""
        self.loop.update(handler)
