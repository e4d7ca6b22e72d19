"""Chapter 09's production concern: a handler that runs out of descriptors is paused.

Grows from: ``selectors_loop`` (chapter 09), which drops a handler that raises.
Adds: a pause for the one error that is not the handler's fault. ``EMFILE`` (too
many open files in this process) or ``ENFILE`` (in the whole system) from a
listener's ``accept`` means "not now": dropping the listener would stop the
server for good, and ignoring the error would spin, since the pending client
keeps the socket readable. So the loop stops reading that handler until a
descriptor is freed (another handler leaves the loop) or ``EMFILE_RETRY`` passes.
Chapter 05's ``TCPServer`` already refuses such a client itself (``refuse_one``);
this catches any other handler that lets the error escape.

A mixin, like ``readers.ReaderMethods``: these two methods are this concept, not
the loop's. The loop provides ``paused``, ``pending``, ``time``, ``call_later``
and ``note``, and masks ``READ`` out of a paused handler's interest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventloop.handlers import EventHandler, handler_name

EMFILE_RETRY = 0.1
"""Seconds a handler that hit ``EMFILE`` waits before it may read again (if no fd is freed)."""


class PauseOnEMFILE:
    """``pause`` and ``resume_paused``, as chapter 09's ``SelectorLoop`` uses them."""

    paused: dict[int, tuple[EventHandler, float]]  # id -> the handler, and when to retry
    pending: dict[int, EventHandler]  # provided by the loop: handlers to re-check
    time: Callable[[], float]
    call_later: Callable[..., Any]
    note: Callable[[str], None]

    def pause(self, handler: EventHandler, error: OSError) -> None:
        """Stop reading ``handler`` (a listener that cannot accept) until an fd is freed,
        or until ``EMFILE_RETRY`` passes: a timer wakes the loop then, to try again."""
        self.paused[id(handler)] = (handler, self.time() + EMFILE_RETRY)
        self.pending[id(handler)] = handler
        self.call_later(EMFILE_RETRY, self.resume_paused)
        self.note(f"paused {handler_name(handler)}: {error.strerror or error}")

    def resume_paused(self, now: bool = False) -> None:
        """Let paused handlers read again once a descriptor was freed or time passed."""
        if not self.paused:
            return
        clock = self.time()
        for key, (handler, until) in list(self.paused.items()):
            if now or clock >= until:
                del self.paused[key]
                self.pending[key] = handler
                self.note(f"resumed {handler_name(handler)}")
