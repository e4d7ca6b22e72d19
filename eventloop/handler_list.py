"""Chapter 09's list of handlers that tells its loop what changed, instead of being scanned.

Grows from: chapter 04's plain ``handlers`` list, which the loop scans in every iteration
(O(all handlers)). Adds: a list whose ``append``/``remove`` (and ``interest_changed``,
``handlers.TracksInterest``) tell the loop at once, so the loop touches only what changed.
Code written for the plain list runs unchanged.

Why it is not a ``list`` underneath: ``handler in handlers`` and ``handlers.remove(handler)``
(what ``TCPConnection.close`` does) scan a list from the start, comparing each handler with
``==``. Closing 1,000 connections is then about a million comparisons, and 40,000 connections
about 1,500 times as long as 1,000. Here the handlers are kept in a dict keyed by ``id``,
which remembers the order they joined in: finding and removing one is O(1), whatever the size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSequence
from typing import Any, SupportsIndex

from eventloop.handlers import EventHandler, TracksInterest, handler_name


class HandlerList(MutableSequence, TracksInterest):  # type: ignore[type-arg]
    """A list of handlers that tells its loop when one is added, removed or changed.

    Code written for chapter 04's plain list (``handlers.append(conn)``,
    ``handler in handlers``, ``handlers.remove(self)``, ``for h in handlers``,
    ``handlers[1:]``) works unchanged, and it prints like a list; membership and
    removal are O(1) and go by identity. A handler is listed once: the selector
    watches a descriptor once. Chapter 05's ``TCPConnection`` calls
    ``interest_changed(self)`` on its list whenever its buffer or backpressure
    changes what it wants.
    """

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        self._by_id: dict[int, EventHandler] = {}  # id(handler) -> handler, in joining order

    # --- reading, as from a list ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, handler: object) -> bool:
        return self._by_id.get(id(handler)) is handler  # O(1); no == with every handler

    def __iter__(self) -> Iterator[EventHandler]:
        return iter(list(self._by_id.values()))  # a copy: handlers may leave meanwhile

    def __getitem__(self, index: Any) -> Any:  # an int or a slice: O(n), and rarely needed
        return list(self._by_id.values())[index]

    def index(self, handler: Any, *bounds: Any) -> int:
        return list(self._by_id.values()).index(handler, *bounds)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, HandlerList)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return repr(list(self._by_id.values()))

    # --- changing: each change tells the loop ---------------------------------------------------

    def append(self, handler: EventHandler) -> None:
        self._check_new(handler)
        self.loop.added(handler)  # first: a closed loop refuses it before it is listed
        self._by_id[id(handler)] = handler

    def insert(self, index: SupportsIndex, handler: EventHandler) -> None:
        self._check_new(handler)
        self.loop.added(handler)
        handlers = list(self._by_id.values())
        handlers.insert(index, handler)  # O(n), like a list's insert
        self._by_id = {id(h): h for h in handlers}

    def extend(self, handlers: Iterable[EventHandler]) -> None:
        for handler in handlers:
            self.append(handler)

    def __iadd__(self, handlers: Iterable[EventHandler]) -> HandlerList:  # type: ignore[override]
        self.extend(handlers)
        return self

    def remove(self, handler: EventHandler) -> None:
        if handler not in self:
            raise ValueError(f"HandlerList.remove(x): {handler_name(handler)} is not in the list")
        del self._by_id[id(handler)]
        self.loop.forget(handler)

    def pop(self, index: SupportsIndex = -1) -> EventHandler:
        if not self._by_id:
            raise IndexError("pop from empty list")
        if index == -1:
            _, handler = self._by_id.popitem()  # the last one joined: O(1)
        else:
            handler = self[index]
            del self._by_id[id(handler)]
        self.loop.forget(handler)
        return handler

    def clear(self) -> None:
        while self._by_id:
            self.pop()

    def __setitem__(self, index: object, value: object) -> None:
        raise TypeError("a HandlerList changes by append/remove only, so its loop can follow")

    __delitem__ = __setitem__

    def _check_new(self, handler: EventHandler) -> None:
        if handler in self:
            raise ValueError(
                f"{handler_name(handler)} is already in the list: a loop watches a handler once"
            )

    def interest_changed(self, handler: EventHandler) -> None:
        """``handler`` may want something else now: the loop re-checks it."""
        self.loop.update(handler)
