"""Stage 03: wait for readiness with ``select`` instead of polling.

Grows from: ``nonblocking`` (chapter 02), where the loop tried every socket
in turn and caught ``BlockingIOError``: it spun at 100% CPU while nothing
happened, and still answered late.
Adds: ``select.select``. The loop hands the kernel the sockets it cares about
and sleeps until one of them is *ready*: readable (data, a new connection,
EOF, or an error is waiting) or writable (there is room in the send buffer).
It wakes only to run the callback of each ready socket.

``run_select_loop`` takes a dict ``{socket: callback}`` of sockets to watch
for reading, and optionally one for writing. A callback receives its socket
and may add or remove entries (an accepting socket adds its connections; a
callback that sees EOF closes its socket and deletes it). Chapter 04 turns
these (socket, callback) pairs into handler objects.

What it guarantees, and why (each is a pitfall the chapter shows failing):

* It stops: after ``duration`` seconds, after ``max_iterations``, when
  ``until()`` is true, or when nothing is left to watch. ``select`` never
  waits longer than the time left.
* A socket closed by a callback is not watched again: ``select`` cannot take
  fd -1 (``ValueError: file descriptor cannot be a negative integer (-1)``),
  and a callback is never called for a socket closed earlier in the same
  iteration.
* Readiness is a hint, not a promise: a callback whose read finds nothing
  (``BlockingIOError``, a "spurious" readiness) is noted and the loop goes on.
* ``select`` cannot watch descriptors >= FD_SETSIZE (1024):
  ``ValueError: filedescriptor out of range in select()``. That is a limit of
  ``select`` itself; chapter 09 replaces it with ``poll``/``epoll``.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from functools import partial
from types import ModuleType
from typing import Literal

from eventloop.recorder import Recorder

Callback = Callable[[socket.socket], None]
StopReason = Literal["duration", "max_iterations", "until", "nothing to watch"]

FD_SETSIZE = 1024
"""``select`` can only watch descriptors below this number (Linux, macOS)."""


def run_select_loop(
    readers: dict[socket.socket, Callback],
    writers: dict[socket.socket, Callback] | None = None,
    *,
    duration: float | None = None,
    max_iterations: int | None = None,
    until: Callable[[], bool] | None = None,
    recorder: Recorder | None = None,
) -> StopReason:
    """Wait until some sockets are ready, call their callbacks, repeat; return why it stopped.

    Invariant of one iteration: forget closed sockets, wait in ``select`` for
    the sockets in ``readers`` and ``writers`` (never longer than the time
    left), then call the callback of every readable socket, then of every
    writable one, skipping sockets closed or removed meanwhile.
    """
    writers = {} if writers is None else writers
    deadline = None if duration is None else time.monotonic() + duration
    iteration = 0
    while True:
        reason = stop_reason(readers, writers, iteration, max_iterations, until, deadline)
        if reason is not None:
            if recorder is not None:
                recorder.note(iteration, f"stopped: {reason}")
            return reason
        forget_closed(readers, writers, iteration, recorder)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        entered = recorder.now() if recorder is not None else 0.0
        readable, writable, _ = select.select(list(readers), list(writers), [], timeout)
        if recorder is not None:
            recorder.record_select(
                iteration,
                entered,
                recorder.now(),
                [s.fileno() for s in readers],
                [s.fileno() for s in writers],
                [s.fileno() for s in readable],
                [s.fileno() for s in writable],
            )
        for sock in readable:
            run_callback(readers, sock, "handle_receive", iteration, recorder)
        for sock in writable:
            run_callback(writers, sock, "handle_send", iteration, recorder)
        iteration += 1


def stop_reason(
    readers: dict[socket.socket, Callback],
    writers: dict[socket.socket, Callback],
    iteration: int,
    max_iterations: int | None,
    until: Callable[[], bool] | None,
    deadline: float | None,
) -> StopReason | None:
    """The first stop condition that holds before an iteration, or None."""
    if not any(s.fileno() >= 0 for s in [*readers, *writers]):
        return "nothing to watch"
    if max_iterations is not None and iteration >= max_iterations:
        return "max_iterations"
    if until is not None and until():
        return "until"
    if deadline is not None and time.monotonic() >= deadline:
        return "duration"
    return None


def forget_closed(
    readers: dict[socket.socket, Callback],
    writers: dict[socket.socket, Callback],
    iteration: int,
    recorder: Recorder | None,
) -> None:
    """Remove closed sockets (``fileno() == -1``): ``select`` would raise ValueError."""
    for watched in (readers, writers):
        for sock in [s for s in watched if s.fileno() < 0]:
            name = callback_name(watched.pop(sock))
            if recorder is not None:
                recorder.note(iteration, f"forgot a closed socket ({name})")


def run_callback(
    watched: dict[socket.socket, Callback],
    sock: socket.socket,
    action: str,
    iteration: int,
    recorder: Recorder | None,
) -> None:
    """Call the socket's callback, unless it was closed or removed earlier in this iteration.

    ``action`` is how the recorder labels the call (``"handle_receive"`` or
    ``"handle_send"``, the words chapter 04's handlers use). A callback that
    raises anything but ``BlockingIOError`` stops the loop with that error:
    this stage has no policy for failing callbacks yet.
    """
    callback = watched.get(sock)
    fd = sock.fileno()
    if callback is None or fd < 0:
        return
    began = recorder.now() if recorder is not None else 0.0
    spurious, error = False, None
    try:
        callback(sock)
    except BlockingIOError:  # readiness was a hint: someone else took the data first
        spurious = True
    except Exception as exc:  # chapter 04 adds a policy for failing callbacks
        error = exc
        raise
    finally:
        if recorder is not None:
            failed = None if error is None else f"{type(error).__name__}: {error}"
            name = callback_name(callback)
            recorder.record_handler(iteration, name, fd, action, began, recorder.now(), failed)
            if spurious:
                recorder.note(iteration, f"spurious readiness on fd {fd}: not now")


def callback_name(callback: Callable[..., object]) -> str:
    """How recordings name a callback: ``tick``, ``Server.close`` for a method, ``Task fetch``
    for any method of a task named ``fetch``.

    A ``functools.partial`` is named after the function it wraps.
    """
    while isinstance(callback, partial):
        callback = callback.func
    name = getattr(callback, "__name__", None) or type(callback).__name__
    owner = getattr(callback, "__self__", None)
    if owner is None or isinstance(owner, ModuleType):
        return name
    if callable(getattr(owner, "get_name", None)):  # a task (chapter 10): one row per task
        return f"{type(owner).__name__} {owner.get_name()}"
    return f"{type(owner).__name__}.{name}"
