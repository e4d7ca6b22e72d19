"""Check for exercise 5.4: the watermark rule that pauses and resumes reading (PITFALL 12).

Grows from: ``eventloop.checks.ch05`` (5.1-5.3), which re-exports ``check_5_4``; kept apart so
each module stays short. The learner writes ``should_read(reading, queued, high, low)``: stop
reading once more than ``high`` bytes wait to be sent, start again only when they drain to
``low``, and in between keep doing what it did. The check first walks a table of cases around
both thresholds, naming the mistake it sees (one threshold instead of two, off by one, flipping
on every recv); then it puts the rule inside a real echo server on loopback, floods it from a
client that does not read, and checks the buffer stays bounded and reading resumes.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from eventloop.checks import CheckFailed, Verdict, verdict
from eventloop.checks.network import loop_until, serving
from eventloop.handlers import event_loop
from eventloop.tcp import RECV_SIZE, TCPEchoConnection

# --- 5.4 -----------------------------------------------------------------------------------------


HIGH, LOW = 64 * 1024, 16 * 1024


def check_5_4(should_read: Callable[[bool, int, int, int], bool]) -> Verdict:
    """``should_read(reading, queued, high, low)``: stop above high, resume at low, else keep on."""
    return verdict("5.4", lambda: run_5_4(should_read), time_limit=10)


def run_5_4(should_read: Callable[[bool, int, int, int], bool]) -> None:
    cases = [
        (True, 0, True, "reading, nothing queued"),
        (True, HIGH, True, "reading, exactly high queued (not above it)"),
        (True, HIGH + 1, False, "reading, above high: pause"),
        (False, HIGH + 1, False, "paused, still above high"),
        (False, LOW + 1, False, "paused, between low and high: stay paused"),
        (False, LOW, True, "paused, drained to low: resume"),
        (True, LOW + 1, True, "reading, between low and high: keep reading"),
    ]
    for reading, queued, expected, why in cases:
        got = should_read(reading, queued, HIGH, LOW)
        if got != expected:
            hint = "two thresholds: above high stop, at or below low start, in between keep on"
            if reading and queued == HIGH and not got and not should_read(True, LOW + 1, HIGH, LOW):
                hint = (
                    "two thresholds, each for one state: while reading, pause above high; "
                    "while paused, resume at or below low"
                )
            elif reading and queued == HIGH and not got:
                hint = "pause only above high (queued > high): exactly high still reads"
            elif not reading and queued > LOW and got:
                hint = "resuming as soon as the buffer is below high makes it flip on every recv"
            raise CheckFailed(
                f"should_read(reading={reading}, queued={queued}, high={HIGH}, low={LOW}) "
                f"is wrong ({why})",
                expected=repr(expected),
                got=repr(got),
                hint=hint,
            )
    flood_with(should_read)


def flood_with(should_read: Callable[[bool, int, int, int], bool]) -> None:
    """A real echo server using ``should_read``: a client floods, then reads everything."""

    class Learners(TCPEchoConnection):
        def apply_watermarks(self) -> None:
            reading = bool(should_read(self.reading, len(self.outgoing), HIGH, LOW))
            if reading != self.reading:
                self.pauses += not reading
                self.reading = reading
                self.interest_changed()

    with serving(Learners) as (server, handlers), socket.create_connection(server.address, 3) as c:
        loop_until(handlers, lambda: len(handlers) == 2, 3)
        echo = handlers[1]
        c.setblocking(False)
        sent = 0
        for _ in range(3000):
            try:
                sent += c.send(b"f" * 65536)
            except BlockingIOError:
                event_loop(handlers, duration=0.02, on_error="raise")
                if not echo.wants_to_receive() or echo.max_buffered > HIGH + RECV_SIZE:
                    break
        if echo.max_buffered > HIGH + RECV_SIZE:
            raise CheckFailed(
                "with a client that does not read, the server's buffer grew too far",
                expected=f"at most {HIGH + RECV_SIZE} bytes (high + one recv)",
                got=f"{echo.max_buffered} bytes",
            )
        received = 0
        deadline = time.monotonic() + 2
        while received < sent and time.monotonic() < deadline:
            event_loop(handlers, max_iterations=1, duration=0.01, on_error="raise")
            try:
                received += len(c.recv(1 << 20))
            except BlockingIOError:
                pass
        if received < sent:
            raise CheckFailed(
                "once the client read its echoes, the server never resumed reading",
                expected=f"{sent} bytes echoed",
                got=f"{received} bytes",
                hint="a paused connection must resume when the buffer drains to low",
            )
