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
