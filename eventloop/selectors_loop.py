"""Stage 09: a loop on ``selectors`` (poll, epoll, kqueue) with persistent registration.

Grows from: ``threads.Loop`` (chapters 07 and 08: timers, ``call_soon_threadsafe``,
``run_in_executor``), which, like chapter 04's ``event_loop``, hands ``select``
the whole list of descriptors on every iteration.
Adds: waiting with the operating system's scalable interface, through the
standard ``selectors`` module, and the bookkeeping that makes it pay off. It
replaces how the loop waits (``wait_for_readiness``) and what one iteration
keeps up to date (``run_once``); handlers, timers and threads work unchanged.

Why: ``select`` costs time for *every* watched descriptor on *every* call
(the kernel scans them all, and Python builds three lists each time), and it
cannot watch descriptor 1024 or above at all (``ValueError: filedescriptor
out of range in select()``, FD_SETSIZE). ``epoll`` (Linux) and ``kqueue``
(macOS, BSD) keep the watched set *inside the kernel*: you ``register`` a
descriptor once, ``modify`` it when its interest changes, ``unregister`` it
when it goes, and each wait costs time for the descriptors that are *ready*,
not the ones that are watched. ``selectors.DefaultSelector`` picks the best
one the platform has.

The trap, and the guarantee
---------------------------
The post's handler API *asks* each handler what it wants (``wants_to_receive``,
``wants_to_send``). Asking all of them every iteration is O(n) again and
throws the gain away. So this loop re-asks only the handlers whose answer can
have changed. **Guarantee: a handler's interest is re-checked before the next
wait when it**

* ran in this iteration (``handle_receive`` or ``handle_send``),
* was added to ``loop.handlers`` (a ``HandlerList``: ``append`` registers it),
* or was passed to ``loop.update(handler)``; ``loop.handlers.interest_changed(h)``
  says the same, and chapter 05's ``TCPConnection`` calls it on its list
  whenever its buffer or backpressure changes what it wants.

So a ``TCPConnection.send()`` made by *another* handler, a timer or a
callback (a chat server's broadcast) still gets its data out: if the kernel
takes only part of it, the connection tells the loop, which then watches it
for writing. Other code that changes a handler's answer from outside, or
closes it, must call ``loop.update(handler)`` (or remove it from the list):
without it the loop keeps the old interest, and ``epoll`` forgets a closed
descriptor silently. Eager sends (try ``sock.send`` at once, buffer only what
did not fit) need no ``modify`` at all in the common case: one ``recv`` and
one ``send`` per message.

A handler removed from ``loop.handlers`` is unregistered at once, a closed one
when it is next re-checked or found ready (``poll`` reports a closed
descriptor); neither is called again. One already registered is ``modify``-ed,
never registered twice (``KeyError: ... is already registered``, PITFALL 3).

Production concerns that arrive here: running out of descriptors. Chapter
05's ``TCPServer`` already refuses a client it cannot accept (``EMFILE``, too
many open files); any other handler that lets ``EMFILE`` or ``ENFILE`` escape
is paused (no reading) until a descriptor is freed or ``EMFILE_RETRY``
passes, instead of being dropped like a handler that raises, or spinning on a
readiness it cannot serve (``emfile``). Fairness: each ready handler gets at most one
``handle_receive`` per iteration, so one busy client cannot starve the others
(the handlers read once per call: a bounded ``recv``).
"""

from __future__ import annotations

import errno
import selectors
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from eventloop import threads
from eventloop.emfile import PauseOnEMFILE
from eventloop.handler_list import HandlerList
from eventloop.handlers import (
    FD_SETSIZE,
    EventHandler,
    StopLoop,
    call_recorded,
    handler_name,
    report_and_drop,
)
from eventloop.readers import ReaderMethods, Watcher
from eventloop.recorder import Recorder

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE

SELECTORS: dict[str, str] = {
    "select": "SelectSelector",
    "poll": "PollSelector",
    "epoll": "EpollSelector",
    "kqueue": "KqueueSelector",
    "default": "DefaultSelector",
}
"""The names this module accepts for ``selector=``, and the ``selectors`` class each means."""


@dataclass(slots=True)
class Registration:
    """What the selector holds for one handler: its fd (the number registered, still
    right once the socket is closed), the events, and whether it ``announces_interest``."""

    fd: int
    events: int
    announces: bool


def make_selector(kind: str = "default") -> selectors.BaseSelector:
    """A fresh selector by name: one of the keys of ``SELECTORS``, e.g. ``"epoll"``."""
    cls = getattr(selectors, SELECTORS.get(kind, ""), None)
    if cls is None:
        have = [name for name, attr in SELECTORS.items() if hasattr(selectors, attr)]
        raise ValueError(f"no {kind!r} selector on this platform; choose one of {have}")
    return cls()


def interest(handler: EventHandler) -> int:
    """The events a handler wants now, as a ``selectors`` mask (0: nothing)."""
    return (READ if handler.wants_to_receive() else 0) | (WRITE if handler.wants_to_send() else 0)


class SelectorLoop(threads.Loop, ReaderMethods, PauseOnEMFILE):
    """Chapter 08's loop (timers, ``call_soon_threadsafe``, ``run_in_executor``),
    waiting in a ``selectors`` selector with persistent registration.

    ``handlers`` is a ``HandlerList``: give it to servers that add connections
    (``TCPServer(loop.handlers)``). ``run()`` stops as before (``duration``,
    ``max_iterations``, ``until``, ``stop()``, ``StopLoop``, nothing left).
    """

    def __init__(
        self,
        handlers: Iterable[EventHandler] | None = None,
        *,
        selector: str | selectors.BaseSelector = "default",
        recorder: Recorder | None = None,
        on_error: Literal["drop", "raise"] = "drop",
        max_workers: int = 4,
    ) -> None:
        self.selector = make_selector(selector) if isinstance(selector, str) else selector
        self.registered: dict[int, Registration] = {}  # id(handler) -> what the selector holds
        self.pending: dict[int, EventHandler] = {}  # handlers whose interest must be re-checked
        self.paused: dict[int, tuple[EventHandler, float]] = {}  # EMFILE: no reading until then
        self.members: set[int] = set()  # ids of the handlers in self.handlers
        self.watchers: dict[int, Watcher] = {}  # fd -> the handler behind add_reader/add_writer
        super().__init__(
            HandlerList(self), recorder=recorder, on_error=on_error, max_workers=max_workers
        )
        self.handlers.extend(handlers or ())

    # run_once is chapter 07's, unchanged: get ready, wait, dispatch, run due timers.
    # These are its steps, in the selector's terms: getting ready updates the selector
    # for the pending handlers only (O(changes)); dispatch marks a handler that ran as
    # pending unless it announces its interest. Each step runs tens of thousands of
    # times a second on a busy server, so each does nothing it need not.
    def prepare_to_wait(self) -> None:
        """Apply the pending interest changes (most iterations have none)."""
        if self.pending:
            self.apply_pending()

    def wait_for_readiness(
        self, timeout: float | None
    ) -> tuple[list[EventHandler], list[EventHandler]]:
        """Block in the selector; return the readable and the writable handlers."""
        recorder = self.recorder
        entered = recorder.now() if recorder is not None else 0.0
        try:
            ready = self.selector.select(timeout)
        except ValueError as error:
            if isinstance(self.selector, selectors.SelectSelector):
                raise ValueError(
                    f"select() cannot watch descriptors at or above FD_SETSIZE ({FD_SETSIZE}); "
                    f"the highest registered is fd {max(self.selector.get_map())}. Use "
                    f'selector="epoll" (or "default").'
                ) from error
            raise
        if recorder is not None:
            watched = list(self.registered.values())
            recorder.record_select(
                self.iteration,
                entered,
                recorder.now(),
                [r.fd for r in watched if r.events & READ],
                [r.fd for r in watched if r.events & WRITE],
                [key.fd for key, ev in ready if ev & READ],
                [key.fd for key, ev in ready if ev & WRITE],
            )
        readable: list[EventHandler] = []
        writable: list[EventHandler] = []
        for key, events in ready:
            if events & READ:
                readable.append(key.data)
            if events & WRITE:
                writable.append(key.data)
        return readable, writable

    def dispatch(
        self, handler: EventHandler, action: Literal["handle_receive", "handle_send"]
    ) -> None:
        """Call one handler method, unless it left the loop or closed earlier in this iteration."""
        registration = self.registered.get(id(handler))
        if registration is None:
            return  # removed earlier in this iteration: unregistered at once
        fd = registration.fd  # no fileno() call per event
        if not registration.announces:
            if handler.fileno() < 0:  # closed but still listed (poll reports such fds ready)
                self.drop(handler, "closed")
                return
            self.pending[id(handler)] = handler  # it ran: its interest may have changed
        call = getattr(handler, action)
        if self.recorder is not None:
            error = call_recorded(
                call, handler_name(handler), fd, action, self.iteration, self.recorder
            )
        else:
            try:
                call()  # the common case: nothing to record, so no call in between
                return
            except (StopLoop, KeyboardInterrupt):
                raise  # meant for the loop, as in call_recorded
            except Exception as exc:
                error = exc
        if error is not None:
            self.handler_failed(handler, action, fd, error)

    def handler_failed(self, handler: EventHandler, action: str, fd: int, error: Exception) -> None:
        """A handler raised: pause it if it ran out of descriptors, else drop it (or raise)."""
        if isinstance(error, OSError) and error.errno in (errno.EMFILE, errno.ENFILE):
            self.pause(handler, error)
        elif self.on_error == "raise":
            raise error
        else:
            report_and_drop(
                handler, action, fd, error, self.handlers, self.iteration, self.recorder
            )

    def is_idle(self) -> bool:
        """Nothing left: no handler but the waker, no timer, no job; O(1), unlike a scan."""
        if len(self.members) > 1:
            return False  # a busy server's answer, asked twice per iteration: found at once
        others = len(self.members) - (id(self.waker) in self.members)
        return not others and not self._jobs and self.next_timer() is None

    # --- keeping the selector in step with the handlers -------------------------------------

    def update(self, handler: EventHandler) -> None:
        """Re-check ``handler``'s interest before the next wait (it changed from outside)."""
        if id(handler) in self.members:
            self.pending[id(handler)] = handler

    def added(self, handler: EventHandler) -> None:
        """``handler`` joins ``loop.handlers``: register it before the next wait."""
        self.check_open()  # a closed selector cannot watch it
        self.members.add(id(handler))
        self.pending[id(handler)] = handler

    def forget(self, handler: EventHandler) -> None:
        """Unregister ``handler`` now: it left ``loop.handlers``."""
        self.members.discard(id(handler))
        self.pending.pop(id(handler), None)
        self.paused.pop(id(handler), None)
        self.unregister(handler)
        if self.paused:  # a handler left: its descriptor is probably being freed
            self.resume_paused(now=True)

    def apply_pending(self) -> None:
        """Register, modify or unregister each pending handler; O(pending), not O(all)."""
        pending, self.pending = self.pending, {}
        for handler in pending.values():
            fd = handler.fileno()
            if fd < 0:  # closed: drop it, and free its slot in the selector
                self.drop(handler, "closed")
                continue
            events = interest(handler)
            if id(handler) in self.paused:
                events &= ~READ
            self.set_interest(handler, fd, events)

    def set_interest(self, handler: EventHandler, fd: int, events: int) -> None:
        """Make the selector watch ``fd`` for ``events``: register, modify or unregister."""
        old = self.registered.get(id(handler))
        if old is not None and old.fd == fd and old.events == events:
            return  # nothing changed: no system call at all
        if events == 0:
            self.unregister(handler)
        elif old is not None and old.fd == fd:
            self.selector.modify(fd, events, handler)
            old.events = events
            self.note(f"modify fd {fd} {describe(events)}")
        else:
            self.unregister(handler)
            self.register(handler, fd, events)

    def register(self, handler: EventHandler, fd: int, events: int) -> None:
        """First registration of ``fd``; a stale entry from a closed handler is replaced."""
        stale = self.selector.get_map().get(fd)
        if stale is not None:  # fd was closed without telling us, and the number reused
            self.drop(stale.data, f"its fd {fd} was closed and reused")
        try:
            self.selector.register(fd, events, handler)
        except (OSError, ValueError) as error:
            self.refuse(handler, fd, error)
            return
        announces = getattr(handler, "announces_interest", False)  # asked once, here
        self.registered[id(handler)] = Registration(fd, events, announces)
        self.note(f"register fd {fd} {describe(events)}")

    def refuse(self, handler: EventHandler, fd: int, error: OSError | ValueError) -> None:
        """The selector would not watch ``handler``'s fd (closed, too large, a plain file):
        say which handler, in one line, and drop it; the others go on (or raise, if asked)."""
        reason = getattr(error, "strerror", None) or str(error)
        message = (
            f"SelectorLoop: cannot watch {handler_name(handler)}: its fileno() returned {fd}, "
            f"which the selector refused ({reason}). Is its socket closed, or is fileno() "
            f"returning the wrong number?"
        )
        if self.on_error == "raise":
            raise type(error)(message) from error
        print(f"{message} It was removed from the loop; the other handlers go on.", file=sys.stderr)
        self.drop(handler, f"the selector refused fd {fd}")

    def drop(self, handler: EventHandler, why: str) -> None:
        """Remove ``handler`` from ``handlers`` (which unregisters it) and say why."""
        if id(handler) in self.members:
            self.handlers.remove(handler)
        else:
            self.forget(handler)
        self.note(f"dropped {handler_name(handler)}: {why}")

    def unregister(self, handler: EventHandler) -> None:
        """Stop watching ``handler``'s descriptor (by number: it may be closed already)."""
        old = self.registered.pop(id(handler), None)
        if old is not None:
            self.selector.unregister(old.fd)
            self.note(f"unregister fd {old.fd}")

    def close(self) -> None:
        """Shut the thread pool and the waker down, then close the selector. Handlers that
        leave the list afterwards (a server closed after its loop) have nothing to unregister."""
        super().close()
        self.registered.clear()
        self.pending.clear()
        self.paused.clear()
        self.selector.close()


def describe(events: int) -> str:
    """``read``, ``write`` or ``read+write``: a mask in words, for notes."""
    return "+".join(word for bit, word in ((READ, "read"), (WRITE, "write")) if events & bit)
