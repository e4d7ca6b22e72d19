"""The readiness timeline as plain data: what ``timeline`` draws, before any drawing.

Grows from: ``recorder``, which logs every wait in ``select``, every call into
a handler and every note as events.
Adds: those events regrouped into lanes. ``timeline_rows(recorder)`` returns
``Row`` objects: the loop's row first (a ``Span`` for each wait in
``select``, a ``Marker`` for each note), then one row per descriptor (a span
for each handler call, a marker where ``select`` said it was ready). Times are
in seconds, as recorded.

Why a module of its own: tests and the explorer reason about *what* a timeline
shows without matplotlib, and a reader can learn the model here in one sitting
before ``timeline`` turns it into a picture.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from eventloop.recorder import HandlerEvent, NoteEvent, Recorder, SelectEvent

SpanKind = Literal["select", "blocked", "handler", "error"]
MarkerKind = Literal["read", "write", "note"]

LOOP_ROW = "loop: select"
"""Label of the row that shows the loop waiting in ``select``."""


@dataclass(frozen=True)
class Span:
    """A stretch of time on one row: waiting, or running a handler."""

    start: float
    end: float
    kind: SpanKind
    label: str
    iteration: int


@dataclass(frozen=True)
class Marker:
    """An instant on one row: the descriptor became ready, or the loop noted something."""

    at: float
    kind: MarkerKind
    iteration: int
    text: str = ""


@dataclass
class Row:
    """One horizontal lane of the timeline: the loop, or one descriptor."""

    label: str
    fd: int | None
    spans: list[Span] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)

    def count(self, kind: str) -> int:
        """How many spans or markers of ``kind`` this row holds."""
        return sum(1 for s in self.spans if s.kind == kind) + sum(
            1 for m in self.markers if m.kind == kind
        )


def timeline_rows(recorder: Recorder) -> list[Row]:
    """What the timeline draws, as plain data: the loop row first, then one row per descriptor.

    Descriptor rows appear in the order their descriptor was first ready or
    first handled. A row is named after its handler (``UDPEchoServer fd 5``);
    a descriptor that was ready but never handled is just ``fd 5``. Handler
    calls recorded with a negative descriptor (timers, callbacks) share a row
    named after the handler. The loop row exists only if ``select`` was recorded.
    """
    loop = Row(LOOP_ROW, None)
    by_fd: dict[tuple[int, str | None], Row] = {}
    names = descriptor_names(recorder)

    def row_for(fd: int, handler: str | None = None) -> Row:
        key = (fd, handler if fd < 0 else None)
        if key not in by_fd:
            if fd < 0:
                label = handler or "no descriptor"
            else:
                label = f"{names[fd]} fd {fd}" if fd in names else f"fd {fd}"
            by_fd[key] = Row(label, fd if fd >= 0 else None)
        return by_fd[key]

    for event in recorder.events:
        if isinstance(event, SelectEvent):
            loop.spans.append(Span(event.entered, event.left, "select", "select", event.iteration))
            for kind, fds in (("read", event.ready_read), ("write", event.ready_write)):
                for fd in fds:
                    row_for(fd).markers.append(Marker(event.left, kind, event.iteration))
        elif isinstance(event, HandlerEvent):
            row_for(event.fd, event.handler).spans.append(handler_span(event))
        elif isinstance(event, NoteEvent):
            loop.markers.append(Marker(event.at, "note", event.iteration, event.text))
    rows = list(by_fd.values())
    if loop.spans:
        rows.insert(0, loop)
    elif loop.markers and rows:
        rows.insert(0, Row("loop", None, [], loop.markers))
    return rows


def descriptor_names(recorder: Recorder) -> dict[int, str]:
    """Which handler owns each descriptor: the first handler called for it."""
    names: dict[int, str] = {}
    for call in recorder.handler_calls():
        names.setdefault(call.fd, call.handler)
    return names


def handler_span(event: HandlerEvent) -> Span:
    """The span for one handler call; blocking calls recorded by hand count as waiting.

    The caption is ``handle_receive(fd 5)``; an action that is not a method
    name, such as ``"recv (blocked)"``, is its own caption.
    """
    label = event.label if event.fd >= 0 and event.action.isidentifier() else event.action
    if event.error:
        kind: SpanKind = "error"
        label = f"{label} raised {event.error.split(':', 1)[0]}"
    elif "blocked" in event.action:
        kind = "blocked"
    else:
        kind = "handler"
    return Span(event.began, event.ended, kind, label, event.iteration)


def iteration_window(recorder: Recorder, iteration: int) -> tuple[float, float] | None:
    """When iteration ``iteration`` began and ended (seconds), or None if it has no events."""
    times: list[float] = []
    for event in recorder.events:
        if event.iteration != iteration:
            continue
        if isinstance(event, SelectEvent):
            times += [event.entered, event.left]
        elif isinstance(event, HandlerEvent):
            times += [event.began, event.ended]
        else:
            times.append(event.at)
    return (min(times), max(times)) if times else None


def time_extent(rows: Iterable[Row]) -> tuple[float, float]:
    """First and last instant on any row, in seconds (0, 0 when empty)."""
    times = [t for row in rows for s in row.spans for t in (s.start, s.end)]
    times += [m.at for row in rows for m in row.markers]
    return (min(times), max(times)) if times else (0.0, 0.0)
