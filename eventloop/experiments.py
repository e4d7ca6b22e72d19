"""Plumbing for the chapters' experiments, kept out of the notebooks so the lesson stays in view.

Grows from: stage 01 (`eventloop.blocking`, which logs blocking calls with `record_blocked`).
Adds: the small helpers a notebook needs to *measure* an experiment but that are not the lesson
themselves: a `recv` that is logged as a blocking call (chapter 01), and a handler list that
pauses an event loop between iterations so a notebook can step through it (chapter 08).
Why: issue 12 found the notebooks opened with recording plumbing before the learner had seen a
plain socket. The plumbing lives here; the notebooks import it after the lesson's own code.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

from eventloop.blocking import record_blocked
from eventloop.recorder import Recorder

CHUNK = 4096


def recv_recorded(conn: socket.socket, who: str, number: int, recorder: Recorder | None) -> bytes:
    """``conn.recv(4096)``, logged as a blocking call, so a timeline can draw the wait.

    The wait is logged as ``"recv (blocked)"`` on the row of ``who`` and ``conn``'s descriptor;
    without a recorder it is a plain ``recv``.
    """
    began = recorder.now() if recorder is not None else 0.0
    data = conn.recv(CHUNK)  # blocks until this client sends (or closes: b"")
    record_blocked(recorder, number, who, conn.fileno(), "recv", began)
    return data


class PausingList(list):  # type: ignore[type-arg]
    """A list whose ``for`` loop, after its last item, waits until a worker has signalled.

    Why: chapter 08 shows the Cookbook's ``ThreadPoolHandler`` losing a result that a worker
    appends *between* the end of its ``for callback, result in self.pending`` loop and
    ``self.pending = []``. A thread switch lands in that gap only rarely; this list makes it land
    there every time. After the last item it sets ``in_the_gap`` (the cue for the next worker to
    finish), then waits, at most ``timeout`` seconds, until that worker's byte is waiting on
    ``sock``. It peeks (``MSG_PEEK``): the byte stays unread, exactly as in the real race.
    Raises ``TimeoutError`` if no byte comes; the socket's own timeout is restored either way.
    """

    def __init__(self, sock: socket.socket, in_the_gap: threading.Event, timeout: float = 2.0):
        super().__init__()
        self.sock, self.in_the_gap, self.timeout = sock, in_the_gap, timeout

    def __iter__(self) -> Iterator[Any]:
        yield from list.__iter__(self)
        self.in_the_gap.set()  # let the next job finish now...
        previous = self.sock.gettimeout()
        self.sock.settimeout(self.timeout)
        try:
            self.sock.recv(1, socket.MSG_PEEK)  # ...and wait until it has signalled
        finally:
            self.sock.settimeout(previous)
