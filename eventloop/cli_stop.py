"""How a command of ``python -m eventloop`` stops: Ctrl-C, SIGTERM or SIGHUP, all the same way.

Used by: ``cli``. Why: Ctrl-C raises ``KeyboardInterrupt`` where the loop is, so the servers
close what they opened and print their summary. ``kill``, ``docker stop`` and systemd send
SIGTERM instead, and closing the terminal sends SIGHUP; Python's default for both is to die
at once, with no summary. Here both become a ``KeyboardInterrupt`` too.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


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
