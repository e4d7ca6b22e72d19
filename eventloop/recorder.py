"""What the loop did, iteration by iteration: plain data for timelines and tests.

Why this module exists
----------------------
An event loop is hard to *see*. It spends most of its life waiting inside
``select``; then, for a few microseconds, it calls a handler or two. A
``Recorder`` keeps a log of exactly that, so a learner can print it, plot it
(``eventloop.timeline``), scrub through it (``eventloop.explorer``) and a test
can assert on it ("fd 5 was ready before its handler ran").

Every loop stage in this package accepts ``recorder=``. With no recorder the
loop does no extra work at all: each recording call sits behind
``if recorder is not None``.

The log holds three kinds of event, all frozen dataclasses:

* ``SelectEvent``  -- one call to ``select`` (or ``poll``/``epoll``): when the
  loop entered and left it, which descriptors it watched, which were ready.
* ``HandlerEvent`` -- one call into user code: which handler, which
  descriptor, which method (``"handle_receive"``, ``"handle_send"``, or for
  later stages ``"timer"``, ``"callback"``, ``"step"`` of a task), when it began and ended, and the
  error it raised, if any.
* ``NoteEvent``    -- something the loop decided: a closed handler dropped, a
  handler removed after raising, the reason the loop stopped.

Times are seconds since the recorder was created, from ``time.monotonic()``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SelectEvent:
    """One wait for readiness: the loop was blocked from ``entered`` to ``left``."""

    iteration: int
    entered: float
    left: float
    watched_read: tuple[int, ...]
    watched_write: tuple[int, ...]
    ready_read: tuple[int, ...]
    ready_write: tuple[int, ...]

    @property
    def duration(self) -> float:
        """Seconds spent waiting (blocked) in this call."""
        return self.left - self.entered


@dataclass(frozen=True)
class HandlerEvent:
    """One call into user code, from ``began`` to ``ended``."""

    iteration: int
    handler: str
    fd: int
    action: str
    began: float
    ended: float
    error: str | None = None

    @property
    def duration(self) -> float:
        """Seconds the handler ran: the loop could do nothing else meanwhile."""
        return self.ended - self.began

    @property
    def label(self) -> str:
        """A caption a learner reads at a glance: ``handle_receive(fd 5)``, or ``timer``."""
        return self.action if self.fd < 0 else f"{self.action}(fd {self.fd})"


@dataclass(frozen=True)
class NoteEvent:
    """Something the loop decided on its own, at time ``at``."""

    iteration: int
    at: float
    text: str


Event = SelectEvent | HandlerEvent | NoteEvent
"""Any one entry of ``Recorder.events``."""


@dataclass
class Iteration:
    """Everything that happened in one turn of the loop, in order."""

    number: int
    select: SelectEvent | None = None
    handlers: list[HandlerEvent] = field(default_factory=list)
    notes: list[NoteEvent] = field(default_factory=list)


class Recorder:
    """Collects the loop's events in the order they happened.

    Guarantees: ``events`` is in time order; every ``HandlerEvent`` of an
    iteration comes after that iteration's ``SelectEvent``; nothing here
    imports plotting or widget libraries.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """``clock`` gives seconds; a fake one makes times exact and repeatable (in tests)."""
        self.clock = clock
        self.started = clock()
        self.events: list[Event] = []

    def now(self) -> float:
        """Seconds since this recorder was created."""
        return self.clock() - self.started

    # --- called by the loops -------------------------------------------------

    def record_select(
        self,
        iteration: int,
        entered: float,
        left: float,
        watched_read: list[int],
        watched_write: list[int],
        ready_read: list[int],
        ready_write: list[int],
    ) -> None:
        """Log one wait for readiness. Descriptor lists are stored sorted."""
        self.events.append(
            SelectEvent(
                iteration,
                entered,
                left,
                tuple(sorted(watched_read)),
                tuple(sorted(watched_write)),
                tuple(sorted(ready_read)),
                tuple(sorted(ready_write)),
            )
        )

    def record_handler(
        self,
        iteration: int,
        handler: str,
        fd: int,
        action: str,
        began: float,
        ended: float,
        error: str | None = None,
    ) -> None:
        """Log one call into user code."""
        self.events.append(HandlerEvent(iteration, handler, fd, action, began, ended, error))

    def note(self, iteration: int, text: str) -> None:
        """Log a decision the loop made (a handler dropped, why it stopped)."""
        self.events.append(NoteEvent(iteration, self.now(), text))

    # --- read by learners, plots and tests -----------------------------------

    def selects(self) -> list[SelectEvent]:
        """Only the waits, in order."""
        return [e for e in self.events if isinstance(e, SelectEvent)]

    def handler_calls(self) -> list[HandlerEvent]:
        """Only the handler calls, in order."""
        return [e for e in self.events if isinstance(e, HandlerEvent)]

    def notes(self) -> list[NoteEvent]:
        """Only the loop's own decisions, in order."""
        return [e for e in self.events if isinstance(e, NoteEvent)]

    def iterations(self) -> list[Iteration]:
        """The events grouped by loop iteration, in order."""
        grouped: dict[int, Iteration] = {}
        for event in self.events:
            turn = grouped.setdefault(event.iteration, Iteration(event.iteration))
            if isinstance(event, SelectEvent):
                turn.select = event
            elif isinstance(event, HandlerEvent):
                turn.handlers.append(event)
            else:
                turn.notes.append(event)
        return [grouped[number] for number in sorted(grouped)]

    def trace(self) -> list[str]:
        """The events as short, timing-free lines: the thing tests assert on.

        For example ``["select read=[5] write=[] -> read=[5] write=[]",
        "UDPEchoServer.handle_receive(fd 5)"]``.
        """
        lines = []
        for event in self.events:
            if isinstance(event, SelectEvent):
                lines.append(
                    f"select read={list(event.watched_read)} write={list(event.watched_write)}"
                    f" -> read={list(event.ready_read)} write={list(event.ready_write)}"
                )
            elif isinstance(event, HandlerEvent):
                failed = f" raised {event.error}" if event.error else ""
                lines.append(f"{event.handler}.{event.label}{failed}")
            else:
                lines.append(f"note: {event.text}")
        return lines

    def table(self, limit: int | None = 20) -> str:
        """A readable table, one row per iteration, with times in milliseconds."""
        turns = self.iterations()
        rows = [f"{'iter':>4}  {'in select':>10}  {'ready':<24}  handlers run"]
        for turn in turns[:limit]:
            if turn.select is None:
                waited, ready = "", ""
            else:
                waited = f"{turn.select.duration * 1000:8.2f}ms"
                ready = f"read={list(turn.select.ready_read)} write={list(turn.select.ready_write)}"
            ran = ", ".join(
                f"{h.handler}.{h.label} {h.duration * 1000:.2f}ms" for h in turn.handlers
            )
            notes = "".join(f" [{n.text}]" for n in turn.notes)
            rows.append(f"{turn.number:>4}  {waited:>10}  {ready:<24}  {ran}{notes}")
        hidden = len(turns) - (limit or 0)
        if limit is not None and hidden > 0:
            rows.append(f"... {hidden} more iterations")
        return "\n".join(rows)

    def summary(self) -> str:
        """One line of counts: compact text that notebooks can print and nbval compare."""
        selects = self.selects()
        calls = self.handler_calls()
        ready = sum(len(s.ready_read) + len(s.ready_write) for s in selects)
        return (
            f"{len(selects)} iterations, {ready} ready descriptors, "
            f"{len(calls)} handler calls, {sum(1 for c in calls if c.error)} errors"
        )

    def filtered(self, keep: Callable[[Event], bool]) -> Recorder:
        """A copy holding only the events ``keep`` accepts: to draw only the rows that matter."""
        copy = Recorder(self.clock)
        copy.started = self.started
        copy.events = [event for event in self.events if keep(event)]
        return copy

    def chrome_trace(self) -> dict[str, Any]:
        """This recording in the Trace Event Format, for Perfetto (``eventloop.trace_events``)."""
        from eventloop.trace_events import chrome_trace  # it imports this module: no cycle

        return chrome_trace(self)

    def save_chrome_trace(self, path: str | os.PathLike[str]) -> str:
        """Write ``chrome_trace()`` as JSON to ``path``: open it at ui.perfetto.dev."""
        from eventloop.trace_events import save_chrome_trace

        return save_chrome_trace(self, path)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return f"<Recorder: {self.summary()}>"
