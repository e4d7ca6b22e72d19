"""How a command of ``python -m eventloop`` stops: Ctrl-C, SIGTERM or SIGHUP, all the same way.

Used by: ``cli`` and ``cli_serving``. ``kill``, ``docker stop`` and systemd send SIGTERM,
closing the terminal sends SIGHUP; Python's default for both is to die at once, with no
summary and nothing closed.

While the loop runs, the three signals are *events*, not exceptions: ``SignalStop`` is a handler
on a socketpair that ``signal.set_wakeup_fd`` writes to when a signal arrives, so ``select``
returns, and the handler stops the loop (``StopLoop``) from the loop itself. Raising
``KeyboardInterrupt`` wherever the program happened to be could land it inside a weakref or
``__del__`` callback, where Python prints "Exception ignored" and swallows it: the server then
ran on. Before and after the loop, Ctrl-C is still Python's ``KeyboardInterrupt``.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterator, MutableSequence
from contextlib import contextmanager

from eventloop.handlers import EventHandler, StopLoop


class TerminationSignal(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the loop is: the servers stop as on Ctrl-C.

    ``kill``, ``docker stop`` and systemd send SIGTERM; closing the terminal sends SIGHUP.
    Python's default for both is to die at once, with no summary and nothing closed.
    """

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


@contextmanager
def stop_on_termination_signals() -> Iterator[None]:
    """While the command runs, turn SIGTERM and SIGHUP into ``TerminationSignal``.

    Only the main thread may set signal handlers; elsewhere (a test calling ``main`` from a
    thread) the defaults stay. The previous handlers are restored on the way out. Windows
    has no SIGHUP, and delivers SIGTERM only from ``os.kill`` in the same console.
    """

    def raise_termination(signum: int, frame: object) -> None:
        raise TerminationSignal(signal.Signals(signum).name)

    wanted = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in wanted:
            previous[signum] = signal.signal(signum, raise_termination)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_description(stop: KeyboardInterrupt) -> str:
    """How a stop is reported: ``Ctrl-C``, or the signal's name."""
    return stop.signal_name if isinstance(stop, TerminationSignal) else "Ctrl-C"


STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


class SignalStop(EventHandler):
    """A handler that stops the loop when a stop signal has arrived (see the module's docstring)."""

    def __init__(self) -> None:
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.writer.setblocking(False)
        self.received: list[str] = []  # "Ctrl-C", "SIGTERM", ...

    def fileno(self) -> int:
        return self.reader.fileno()

    def wants_to_receive(self) -> bool:
        return True

    def handle_receive(self) -> None:
        try:
            self.reader.recv(64)  # the signal numbers the C handler wrote
        except BlockingIOError:
            return
        if self.received:
            raise StopLoop(f"stopped by {self.received[0]}")

    def note(self, signum: int, frame: object) -> None:
        """The Python-level handler: write the signal down; the wake-up byte does the rest."""
        self.received.append("Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name)

    def close(self) -> None:
        self.reader.close()
        self.writer.close()


@contextmanager
def stop_loop_on_signals(handlers: MutableSequence[EventHandler]) -> Iterator[SignalStop]:
    """While the block runs, Ctrl-C, SIGTERM and SIGHUP stop the loop that runs ``handlers``.

    Only the main thread may set signal handlers; elsewhere (a test calling ``main`` from a
    thread) nothing changes. Everything is put back on the way out.
    """
    stopper = SignalStop()
    handlers.append(stopper)
    previous: dict[int, object] = {}
    old_wakeup = None
    if threading.current_thread() is threading.main_thread():
        old_wakeup = signal.set_wakeup_fd(stopper.writer.fileno(), warn_on_full_buffer=False)
        for name in STOP_SIGNALS:
            if hasattr(signal, name):
                signum = getattr(signal, name)
                previous[signum] = signal.signal(signum, stopper.note)
    try:
        yield stopper
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        if old_wakeup is not None:
            signal.set_wakeup_fd(old_wakeup)
        if stopper in handlers:
            handlers.remove(stopper)
        stopper.close()
