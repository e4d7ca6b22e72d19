"""A recording as a Chrome trace: open it in Perfetto (ui.perfetto.dev) or ``chrome://tracing``.

Our timelines are drawn by matplotlib; engineers look at production traces in
tools built for millions of events, with zoom, search and a table of the
slowest slices. Those tools read the *Trace Event Format*, a JSON document:

    {"traceEvents": [{"name": "select", "ph": "X", "ts": 1200.0, "dur": 950.5,
                      "pid": 1, "tid": 1, "args": {...}}, ...],
     "displayTimeUnit": "ms"}

* ``ph`` is the phase: ``"X"`` a complete slice (start ``ts`` and ``dur``),
  ``"i"`` an instant (a note), ``"M"`` metadata (the name of a track).
* ``ts`` and ``dur`` are in **microseconds**, whatever ``displayTimeUnit`` says.
* ``pid``/``tid`` choose the track: here one process, one track for the waits
  and one per handler or task, each named by an ``"M"`` event.
"""

from __future__ import annotations

import json
import os
from typing import Any

from eventloop.recorder import HandlerEvent, NoteEvent, Recorder, SelectEvent

PROCESS_ID = 1
WAIT_TRACK = 1  # the selector's waits and the loop's notes
MICROSECONDS = 1_000_000


def chrome_trace(recorder: Recorder, title: str = "eventloop") -> dict[str, Any]:
    """The recording as a Trace Event Format document (a dict ready for ``json.dump``)."""
    tracks: dict[str, int] = {}  # handler or task name -> tid, in order of first appearance
    events: list[dict[str, Any]] = []
    for event in recorder.events:
        if isinstance(event, SelectEvent):
            events.append(wait_slice(event))
        elif isinstance(event, HandlerEvent):
            tid = tracks.setdefault(event.handler, WAIT_TRACK + 1 + len(tracks))
            events.append(handler_slice(event, tid))
        elif isinstance(event, NoteEvent):
            events.append(note_instant(event))
    names = {"wait for readiness": WAIT_TRACK, **tracks}
    return {
        "traceEvents": track_names(title, names) + events,
        "displayTimeUnit": "ms",
        "otherData": {"source": "eventloop.trace_events", "summary": recorder.summary()},
    }


def save_chrome_trace(
    recorder: Recorder, path: str | os.PathLike[str], title: str = "eventloop"
) -> str:
    """Write the trace as JSON to ``path``; return the path, to print or to open."""
    with open(path, "w", encoding="utf-8") as file:
        json.dump(chrome_trace(recorder, title), file)
    return os.fspath(path)


def micro(seconds: float) -> float:
    """Seconds to the format's microseconds, to a tenth of one (a readable file)."""
    return round(seconds * MICROSECONDS, 1)


def wait_slice(event: SelectEvent) -> dict[str, Any]:
    ready = list(event.ready_read) + list(event.ready_write)
    return {
        "name": f"select → {len(ready)} ready" if ready else "select (timeout)",
        "cat": "wait",
        "ph": "X",
        "ts": micro(event.entered),
        "dur": micro(event.duration),
        "pid": PROCESS_ID,
        "tid": WAIT_TRACK,
        "args": {
            "iteration": event.iteration,
            "watched read": list(event.watched_read),
            "watched write": list(event.watched_write),
            "ready read": list(event.ready_read),
            "ready write": list(event.ready_write),
        },
    }


def handler_slice(event: HandlerEvent, tid: int) -> dict[str, Any]:
    args: dict[str, Any] = {"iteration": event.iteration, "handler": event.handler}
    if event.fd >= 0:
        args["fd"] = event.fd
    if event.error:
        args["error"] = event.error
    return {
        "name": event.handler if event.fd < 0 else event.label,  # a task's step: its name
        "cat": "error" if event.error else event.action,
        "ph": "X",
        "ts": micro(event.began),
        "dur": micro(event.duration),
        "pid": PROCESS_ID,
        "tid": tid,
        "args": args,
    }


def note_instant(event: NoteEvent) -> dict[str, Any]:
    return {
        "name": event.text,
        "cat": "note",
        "ph": "i",
        "s": "t",  # scope: drawn on its track only
        "ts": micro(event.at),
        "pid": PROCESS_ID,
        "tid": WAIT_TRACK,
        "args": {"iteration": event.iteration},
    }


def track_names(title: str, names: dict[str, int]) -> list[dict[str, Any]]:
    """Metadata events: the process's title, each track's name and its place (waits first)."""
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": PROCESS_ID, "tid": 0, "args": {"name": title}}
    ]
    for name, tid in names.items():
        events.append(
            {
                "name": "thread_name",
                "ph": "M",
                "pid": PROCESS_ID,
                "tid": tid,
                "args": {"name": name},
            }
        )
        events.append(
            {
                "name": "thread_sort_index",
                "ph": "M",
                "pid": PROCESS_ID,
                "tid": tid,
                "args": {"sort_index": tid},
            }
        )
    return events
