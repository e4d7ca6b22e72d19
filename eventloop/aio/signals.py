"""Signal handlers on our loop: a signal is one more byte down chapter 08's self-pipe.

Grows from: chapter 08's ``Waker`` (a socketpair the loop always watches, so
that a byte written from elsewhere makes ``select`` return at once).
Adds: ``add_signal_handler`` and ``remove_signal_handler``, asyncio's API for
"run this callback when the process receives SIGTERM".

Why. A Python signal handler runs between two bytecodes of the main thread,
wherever it happens to be: in the middle of our loop's bookkeeping, or of a
callback. Run the user's callback there and it meets the loop half-way through
a change. Without any handler at all, SIGTERM kills the process outright
(exit status -15): a server never runs its shutdown code.

The fix needs no new kind of readiness. Since Python 3.5,
``signal.set_wakeup_fd(fd)`` asks the interpreter's C-level handler to write
the *signal number*, as one byte, to ``fd``: the one thing a C signal handler
may safely do. Point it at the writing end of a ``Waker``'s socketpair and a
signal becomes data on a descriptor the loop already watches. The Python-level
handler does nothing; the loop reads the byte when it next waits, and runs the
callback as an ordinary loop callback, between two others, never inside one.

asyncio does exactly this with its own self-pipe (``unix_events``), whose null
bytes mean "wake up" and whose other bytes are signal numbers. Chapter 08's
waker throws its bytes away (their number does not matter to it), so the loop
gets a second ``Waker`` whose bytes are read: ``SignalWaker``. It exists only
while a handler is installed.

Rules asyncio keeps, and so do we: only the main thread can install a handler
(``RuntimeError`` elsewhere, since only it receives Python's signals); an
unknown number is a ``ValueError``; a signal that cannot be caught (SIGKILL,
SIGSTOP) is a ``RuntimeError``; a coroutine is refused (``TypeError``), since
nothing would await it; ``close()`` puts the default handlers back.
"""

from __future__ import annotations

import asyncio
import errno
import signal
from asyncio import events
from collections.abc import Callable
from typing import Any

from eventloop.threads import Waker


class SignalWaker(Waker):
    """Chapter 08's waker, whose bytes are the message: each one a signal number.

    Its writing end is the interpreter's wakeup fd (``signal.set_wakeup_fd``).
    Guarantee: every signal number written is handed to ``deliver`` once, in
    the loop's thread, in the order the signals arrived.
    """

    def __init__(self, deliver: Callable[[int], object]) -> None:
        super().__init__()
        self.deliver = deliver

    def writer_fileno(self) -> int:
        """The descriptor the interpreter writes signal numbers to."""
        return self._writer.fileno()

    def handle_receive(self) -> None:
        """Read every byte; each is a signal number (a null byte is a plain wake-up)."""
        try:
            while data := self._reader.recv(4096):
                for signum in data:
                    if signum:
                        self.deliver(signum)
        except BlockingIOError:
            pass  # all read


def do_nothing(signum: int, frame: Any) -> None:
    """The Python-level handler: installing one makes Python catch the signal and write its
    number to the wakeup fd. The work happens later, in the loop."""


class SignalMethods:
    """``add_signal_handler`` and ``remove_signal_handler``; mixed into ``EventLoop``."""

    _signal_handlers: dict[int, events.Handle]
    _signal_waker: SignalWaker | None
    _inner: Any

    def add_signal_handler(self, sig: int, callback: Callable[..., object], *args: Any) -> None:
        """Run ``callback(*args)`` in the loop each time the process receives ``sig``."""
        if asyncio.iscoroutine(callback) or asyncio.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        check_signal(sig)
        self._check_closed()  # type: ignore[attr-defined]
        waker = self._signal_waker or SignalWaker(self._handle_signal)
        try:  # only the main thread may: a loop in another thread is refused here
            signal.set_wakeup_fd(waker.writer_fileno())
        except (ValueError, OSError) as error:
            if waker is not self._signal_waker:
                waker.close()
            raise RuntimeError(str(error)) from None
        if waker is not self._signal_waker:
            self._signal_waker = waker
            self._inner.handlers.append(waker)  # watched like any other handler
        self._signal_handlers[sig] = events.Handle(callback, args, self, None)
        try:
            signal.signal(sig, do_nothing)
            signal.siginterrupt(sig, False)  # SA_RESTART: fewer EINTR in blocking calls
        except OSError as error:
            del self._signal_handlers[sig]
            self._forget_waker_if_unused()
            if error.errno == errno.EINVAL:  # SIGKILL, SIGSTOP
                raise RuntimeError(f"sig {sig} cannot be caught") from None
            raise

    def remove_signal_handler(self, sig: int) -> bool:
        """Put the default handler back; True if there was one of ours to remove."""
        check_signal(sig)
        if self._signal_handlers.pop(sig, None) is None:
            return False
        default = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            signal.signal(sig, default)
        except OSError as error:
            if error.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig} cannot be caught") from None
            raise
        self._forget_waker_if_unused()
        return True

    def _handle_signal(self, sig: int) -> None:
        """In the loop's thread, for each signal number read: queue its handler's callback."""
        handle = self._signal_handlers.get(sig)
        if handle is None:
            return  # removed after the signal arrived
        if handle.cancelled():
            self.remove_signal_handler(sig)
        else:  # an ordinary callback, between two others: never inside one
            self.call_soon(handle._callback, *handle._args)  # type: ignore[attr-defined]

    def _forget_waker_if_unused(self) -> None:
        """No handler left: the interpreter stops writing, the loop stops watching."""
        waker = self._signal_waker
        if self._signal_handlers or waker is None:
            return
        try:
            signal.set_wakeup_fd(-1)
        except (ValueError, OSError):
            pass  # not the main thread (closing from elsewhere)
        self._signal_waker = None
        if waker in self._inner.handlers:
            self._inner.handlers.remove(waker)
        waker.close()

    def _close_signal_handlers(self) -> None:
        """``close()``: every signal back to its default, the waker closed (asyncio's rule)."""
        for sig in list(self._signal_handlers):
            try:
                self.remove_signal_handler(sig)
            except (ValueError, RuntimeError, OSError):
                self._signal_handlers.pop(sig, None)  # not the main thread: at least forget it
        self._forget_waker_if_unused()


def check_signal(sig: Any) -> None:
    """asyncio's checks: an int, and a signal this platform knows."""
    if not isinstance(sig, int):
        raise TypeError(f"sig must be an int, not {sig!r}")
    if sig not in signal.valid_signals():
        raise ValueError(f"invalid signal number {sig}")
