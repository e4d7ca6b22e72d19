"""Callbacks on descriptors: asyncio's ``add_reader`` / ``add_writer`` on chapter 09's loop.

Grows from: ``selectors_loop`` (chapter 09), whose unit of work is an
``EventHandler`` object that the loop *asks* what it wants.
Adds: the other vocabulary for the same idea, the one asyncio uses and
chapters 10 and 11 build on: "call ``callback`` when ``fd`` is readable"
(``loop.add_reader(fd, callback)``), "stop that" (``loop.remove_reader(fd)``),
and the same for writing.

Why: a coroutine waiting for a socket does not want to write a handler
class; it wants to say "wake me when this descriptor is ready" and then
forget about it. Underneath, nothing new happens: each watched descriptor
gets one small ``EventHandler``, a ``Watcher``, whose ``wants_to_receive`` is
"a reader callback is set". The loop, its persistent registration and its
recorder work unchanged; a change of callbacks tells the loop at once
(``loop.update``), so it costs one ``modify`` at most.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventloop.handlers import EventHandler
from eventloop.timers import callback_name

Callback = tuple[Callable[..., object], tuple[Any, ...]]


class Watcher(EventHandler):
    """The handler behind ``add_reader`` / ``add_writer`` for one descriptor.

    Guarantee: it wants to receive exactly while a reader callback is set,
    and to send exactly while a writer callback is set; each ready event
    calls its callback once.

    It announces its interest: its callbacks change only through ``ReaderMethods``,
    which tells the loop each time (``update``, or joining and leaving the list), so
    chapter 09's loop need not re-ask it after every event.
    """

    announces_interest = True

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.reader: Callback | None = None
        self.writer: Callback | None = None

    @property
    def name(self) -> str:
        """Recordings name a watcher after the callback it runs, e.g. ``on_readable``."""
        for callback in (self.reader, self.writer):
            if callback is not None:
                return callback_name(callback[0])
        return f"Watcher fd {self.fd}"

    def fileno(self) -> int:
        return self.fd

    def wants_to_receive(self) -> bool:
        return self.reader is not None

    def wants_to_send(self) -> bool:
        return self.writer is not None

    def handle_receive(self) -> None:
        if self.reader is not None:
            callback, args = self.reader
            callback(*args)

    def handle_send(self) -> None:
        if self.writer is not None:
            callback, args = self.writer
            callback(*args)

    def is_empty(self) -> bool:
        """No callback left: the loop can stop watching this descriptor."""
        return self.reader is None and self.writer is None


class ReaderMethods:
    """``add_reader``/``add_writer``/``remove_*``, as chapter 09's ``SelectorLoop`` offers them.

    A mixin, because these four methods are this module's concept, not the loop's: they only
    keep one ``Watcher`` per descriptor in the loop's handler list and tell the loop when its
    callbacks change. The loop provides ``handlers``, ``members`` (ids of the handlers in the
    list), ``watchers`` (fd -> its ``Watcher``) and ``update(handler)``.
    """

    handlers: Any
    members: set[int]
    watchers: dict[int, Watcher]

    def update(self, handler: EventHandler) -> None:  # provided by the loop
        raise NotImplementedError

    def add_reader(self, fd: int, callback: Callable[..., object], *args: Any) -> None:
        """Call ``callback(*args)`` whenever ``fd`` is readable, until ``remove_reader(fd)``."""
        self._watch(fd, "reader", (callback, args))

    def add_writer(self, fd: int, callback: Callable[..., object], *args: Any) -> None:
        """Call ``callback(*args)`` whenever ``fd`` is writable, until ``remove_writer(fd)``."""
        self._watch(fd, "writer", (callback, args))

    def remove_reader(self, fd: int) -> bool:
        """Stop calling ``fd``'s reader callback; ``False`` if it had none."""
        return self._unwatch(fd, "reader")

    def remove_writer(self, fd: int) -> bool:
        """Stop calling ``fd``'s writer callback; ``False`` if it had none."""
        return self._unwatch(fd, "writer")

    def _watch(self, fd: int, kind: str, callback: tuple[Callable[..., object], Any]) -> None:
        """Set one callback of ``fd``'s watcher (made on first use); the loop re-checks it."""
        watcher = self.watchers.get(fd)
        if watcher is None or id(watcher) not in self.members:  # new, or dropped after an error
            watcher = self.watchers[fd] = Watcher(fd)
            setattr(watcher, kind, callback)
            self.handlers.append(watcher)
        else:
            setattr(watcher, kind, callback)
            self.update(watcher)

    def _unwatch(self, fd: int, kind: str) -> bool:
        """Clear one callback of ``fd``'s watcher; forget the watcher once it has none."""
        watcher = self.watchers.get(fd)
        if watcher is None or getattr(watcher, kind) is None:
            return False
        setattr(watcher, kind, None)
        if watcher.is_empty():
            del self.watchers[fd]
            if id(watcher) in self.members:
                self.handlers.remove(watcher)
        else:
            self.update(watcher)
        return True
