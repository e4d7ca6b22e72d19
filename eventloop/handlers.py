"""Stage 04: the post's event handlers and its ``select`` loop, with the bugs fixed.

Grows from: ``select_loop`` (chapter 03), where one function both waited for
readiness and decided what to do with each socket.
Adds: the *handler* abstraction of the Python Cookbook's recipe 11.12 and the
"Event Loop IO" post. Each handler owns one descriptor and answers four
questions; the loop only waits and dispatches::

    fileno()           which descriptor is mine?
    wants_to_receive() should the loop watch me for reading?
    handle_receive()   called when my descriptor is readable
    wants_to_send()    should the loop watch me for writing?
    handle_send()      called when my descriptor is writable

What changed from the post, and why (each is a pitfall the course meets):

* ``fileno`` is abstract. The post wrote ``raise NotImplemented('must
  implement')``, which fails with the confusing ``TypeError:
  'NotImplementedType' object is not callable``. Here a subclass that forgets
  ``fileno`` cannot even be created.
* The loop can stop: after ``duration`` seconds, after ``max_iterations``,
  when ``until()`` is true, or when a handler raises ``StopLoop``. With none of
  these it runs like the post's ``while True`` until Ctrl-C, which raises
  ``KeyboardInterrupt`` out of the loop; the loop holds no resources, so the
  sockets' owners (``with`` blocks) close them.
* A handler closed earlier in the same iteration is not called (otherwise:
  ``OSError: [Errno 9] Bad file descriptor``), nor one dropped for raising in
  ``handle_receive`` earlier in the same iteration (no ``handle_send`` for it).
  A handler that closed itself is dropped from the list before the next
  ``select`` (otherwise ``select`` raises ``ValueError: file descriptor cannot
  be a negative integer (-1)``).
* A handler that raises is reported in one line (its name, descriptor, the
  error and where: ``error_report``) and removed from the loop; the other
  handlers go on. Pass ``on_error="raise"`` to stop the loop with the error
  instead.
* Too many descriptors for ``select`` gives a message that names
  FD_SETSIZE and points to chapter 09, instead of a bare ``ValueError``.
"""

from __future__ import annotations

import errno
import select
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Literal, Protocol, runtime_checkable

from eventloop.error_report import report_error
from eventloop.recorder import Recorder
from eventloop.select_loop import FD_SETSIZE  # select's limit, met in chapter 03

StopReason = Literal["duration", "max_iterations", "until", "stopped", "no handlers"]
"""Why ``event_loop`` returned; later stages return the same words."""


class StopLoop(Exception):
    """Raise this from a handler to end ``event_loop`` after the current handler."""


class EventHandler(ABC):
    """One descriptor and what to do when it is ready.

    Subclasses must define ``fileno``; the other methods default to "not
    interested", so a receive-only server overrides just two of them.
    """

    announces_interest: bool = False
    """True when the handler itself tells its list (``interest_changed``) every time
    ``wants_to_receive``/``wants_to_send`` may answer differently, and leaves the list
    when it closes. Chapter 09's loop then need not ask it again after each call: one
    less check per event."""

    @abstractmethod
    def fileno(self) -> int:
        """The descriptor the loop should watch for this handler."""

    def wants_to_receive(self) -> bool:
        """Whether the loop should watch this descriptor for reading now."""
        return False

    def handle_receive(self) -> None:
        """Called when the descriptor is readable: data, a connection, or EOF."""

    def wants_to_send(self) -> bool:
        """Whether the loop should watch this descriptor for writing now."""
        return False

    def handle_send(self) -> None:
        """Called when the descriptor is writable: there is room to send."""


@runtime_checkable
class TracksInterest(Protocol):
    """A handlers list that wants to hear when a handler's interest changes.

    Chapter 04's loop asks every handler ``wants_to_receive``/``wants_to_send``
    in every iteration, so a plain list needs no notice. Chapter 09's loop asks
    only the handlers it was told about: its ``HandlerList`` has this method,
    and chapter 05's ``TCPConnection`` calls it when its buffer changes what it
    wants. This class names that agreement; it adds no behaviour.
    """

    def interest_changed(self, handler: EventHandler) -> None:
        """``handler`` may answer ``wants_to_receive``/``wants_to_send`` differently now."""


def handler_name(handler: object) -> str:
    """How the loop names a handler in messages and recordings."""
    return getattr(handler, "name", None) or type(handler).__name__


def event_loop(
    handlers: list[EventHandler],
    *,
    duration: float | None = None,
    max_iterations: int | None = None,
    until: Callable[[], bool] | None = None,
    recorder: Recorder | None = None,
    on_error: Literal["drop", "raise"] = "drop",
) -> StopReason:
    """Wait for readiness, dispatch, repeat: the post's loop, able to stop.

    Invariant of one iteration: ask every handler what it wants, wait in
    ``select`` for any of those descriptors (never longer than the time left),
    then call ``handle_receive`` for each readable handler and ``handle_send``
    for each writable one, skipping any that closed meanwhile or were dropped
    for raising. This is the only place that calls handlers.

    ``handlers`` is read afresh every iteration, so a handler may add new
    handlers to it (a listening socket adding a connection) or remove itself.
    Returns why the loop stopped.

    Only ``duration`` bounds the time: with ``max_iterations`` or ``until``
    alone, the loop still waits in ``select`` for as long as nothing is ready,
    exactly like the post's loop. In a notebook, always pass a ``duration``.
    """
    check_handlers(handlers)
    deadline = None if duration is None else time.monotonic() + duration
    iteration = 0
    while True:
        reason = stop_reason(handlers, iteration, max_iterations, until, deadline)
        if reason is not None:
            if recorder is not None:
                recorder.note(iteration, f"stopped: {reason}")
            return reason
        drop_closed(handlers, iteration, recorder)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        readable, writable = wait_for_readiness(handlers, timeout, iteration, recorder)
        try:
            for handler in readable:
                if dispatch(handler, "handle_receive", handlers, iteration, recorder, on_error):
                    if handler in writable:  # it raised and was dropped: no handle_send either
                        writable.remove(handler)
            for handler in writable:
                dispatch(handler, "handle_send", handlers, iteration, recorder, on_error)
        except StopLoop:
            if recorder is not None:
                recorder.note(iteration, "stopped: a handler raised StopLoop")
            return "stopped"
        iteration += 1


def stop_reason(
    handlers: list[EventHandler],
    iteration: int,
    max_iterations: int | None,
    until: Callable[[], bool] | None,
    deadline: float | None,
) -> StopReason | None:
    """The first stop condition that holds before an iteration, or None."""
    if not handlers:
        return "no handlers"
    if max_iterations is not None and iteration >= max_iterations:
        return "max_iterations"
    if until is not None and until():
        return "until"
    if deadline is not None and time.monotonic() >= deadline:
        return "duration"
    return None


def check_handlers(handlers: list[EventHandler]) -> None:
    """Fail at once, with a clear message, on a list the loop cannot serve."""
    for handler in handlers:
        if not all(callable(getattr(handler, m, None)) for m in ("fileno", "wants_to_receive")):
            raise TypeError(
                f"event_loop() needs handler objects with fileno(), wants_to_receive(), "
                f"handle_receive(), wants_to_send() and handle_send(); got "
                f"{type(handler).__name__} {handler!r:.60}. Wrap a socket in an EventHandler."
            )
        fd = handler.fileno()
        if not isinstance(fd, int):
            raise TypeError(
                f"{handler_name(handler)}.fileno() returned {fd!r}; it must return the "
                f"descriptor number (an int), e.g. self.sock.fileno()."
            )
        if fd < 0:
            raise ValueError(
                f"{handler_name(handler)} is closed (fileno() returned {fd}). Remove it from "
                f"the handler list when you close it, or create a new one."
            )


def drop_closed(handlers: list[EventHandler], iteration: int, recorder: Recorder | None) -> None:
    """Remove handlers whose socket has been closed: select cannot watch fd -1."""
    for handler in [h for h in handlers if h.fileno() < 0]:
        handlers.remove(handler)
        if recorder is not None:
            recorder.note(iteration, f"dropped {handler_name(handler)}: closed")


def wait_for_readiness(
    handlers: list[EventHandler],
    timeout: float | None,
    iteration: int,
    recorder: Recorder | None,
) -> tuple[list[EventHandler], list[EventHandler]]:
    """Block in ``select`` until a wanted descriptor is ready or time is up."""
    want_read = [h for h in handlers if h.wants_to_receive()]
    want_write = [h for h in handlers if h.wants_to_send()]
    entered = recorder.now() if recorder is not None else 0.0
    try:
        readable, writable, _ = select.select(want_read, want_write, [], timeout)
    except ValueError as error:
        raise explain_select_error(error, want_read + want_write) from error
    except OSError as error:
        if error.errno == errno.EBADF:
            raise OSError(
                errno.EBADF,
                "select() was given a descriptor that is not open: a socket was closed "
                "with os.close() or by another owner while its handler was still in the list",
            ) from error
        raise
    if recorder is not None:
        recorder.record_select(
            iteration,
            entered,
            recorder.now(),
            [h.fileno() for h in want_read],
            [h.fileno() for h in want_write],
            [h.fileno() for h in readable],
            [h.fileno() for h in writable],
        )
    return readable, writable


def explain_select_error(error: ValueError, watched: list[EventHandler]) -> ValueError:
    """Turn select's terse ValueError into one a learner can act on."""
    fds = [h.fileno() for h in watched]
    biggest = max(fds, default=-1)
    if biggest >= FD_SETSIZE or "out of range" in str(error):
        culprit = next(h for h in watched if h.fileno() == biggest)
        return ValueError(
            f"select() can only watch descriptors below FD_SETSIZE ({FD_SETSIZE}), but "
            f"{handler_name(culprit)} has fd {biggest} ({len(fds)} descriptors watched). "
            f"This is a limit of select() itself; poll() and epoll() have none: see "
            f"chapter 09 (eventloop.selectors_loop)."
        )
    return ValueError(f"select() rejected a descriptor: {error}")


def dispatch(
    handler: EventHandler,
    action: Literal["handle_receive", "handle_send"],
    handlers: list[EventHandler],
    iteration: int,
    recorder: Recorder | None,
    on_error: Literal["drop", "raise"],
) -> bool:
    """Call one handler method, unless the handler closed earlier in this iteration.

    Returns True when the handler raised and was dropped from ``handlers``: the loop
    must then not call it for ``handle_send`` in this iteration either (it may still
    be open, so ``fileno()`` alone would not tell).
    """
    fd = handler.fileno()
    if fd < 0:
        return False
    call = getattr(handler, action)
    error = call_recorded(call, handler_name(handler), fd, action, iteration, recorder)
    if error is None:
        return False
    if on_error == "raise":
        raise error
    report_and_drop(handler, action, fd, error, handlers, iteration, recorder)
    return True


def call_recorded(
    call: Callable[[], object],
    name: str,
    fd: int,
    action: str,
    iteration: int,
    recorder: Recorder | None,
) -> Exception | None:
    """Call user code once, record the call, and return the exception it raised, if any.

    ``StopLoop`` and ``KeyboardInterrupt`` pass through: they are meant for the loop.
    """
    began = recorder.now() if recorder is not None else 0.0
    error: Exception | None = None
    try:
        call()
    except (StopLoop, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug in one handler must not stop the others
        error = exc
    if recorder is not None:
        failed = None if error is None else f"{type(error).__name__}: {error}"
        recorder.record_handler(iteration, name, fd, action, began, recorder.now(), failed)
    return error


def report_and_drop(
    handler: EventHandler,
    action: str,
    fd: int,
    error: Exception,
    handlers: list[EventHandler],
    iteration: int,
    recorder: Recorder | None,
) -> None:
    """Say in one line which handler failed and where, then stop calling it."""
    report_error(
        f"event_loop: {handler_name(handler)} (fd {fd}) in {action}",
        error,
        "It was removed from the loop; the other handlers go on.",
    )
    if handler in handlers:
        handlers.remove(handler)
    if recorder is not None:
        recorder.note(iteration, f"dropped {handler_name(handler)}: raised {type(error).__name__}")
