"""Check for exercise 5.4: the watermark rule that pauses and resumes reading (PITFALL 12).

Grows from: ``eventloop.checks.ch05`` (5.1-5.3), which re-exports ``check_5_4``; kept apart so
each module stays short. The learner writes ``should_read(reading, queued, high, low)``: stop
reading once more than ``high`` bytes wait to be sent, start again only when they drain to
``low``, and in between keep doing what it did.

The rule is judged differentially (``eventloop.checks.differential``): it runs in a candidate
process on every combination near the watermarks (0, 1, low - 1, low, low + 1, between,
high - 1, high, high + 1, far above), reading and paused, for the example's 64 KiB / 16 KiB and
for generated watermarks from 1 / 0 to a billion, in shuffled order; the worked answer
(``reference_should_read``) runs in the judge. A wrong case is named with the mistake its
neighbours show (one threshold instead of two, off by one, flipping on every recv, the
example's numbers). Then the rule runs inside a real echo server on loopback, flooded by a
client that does not read: the buffer must stay bounded and reading must resume.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable

from eventloop.checks import CheckFailed, Verdict
from eventloop.checks.differential import Case, Exercise, expect_repeatable, observe
from eventloop.checks.network import loop_until, serving
from eventloop.handlers import event_loop
from eventloop.judge.trial import Trial, judge
from eventloop.tcp import RECV_SIZE, TCPEchoConnection

# --- 5.4 -----------------------------------------------------------------------------------------


HIGH, LOW = 64 * 1024, 16 * 1024
ROUNDS = 3


def reference_should_read(reading: bool, queued: int, high: int, low: int) -> bool:
    """The worked answer to 5.4 (the same as solutions/05-tcp-connections.ipynb)."""
    if reading:
        return queued <= high
    return queued <= low


def near_the_watermarks(high: int, low: int) -> list[tuple[int, str]]:
    """Amounts queued worth trying for these watermarks, each with what it is."""
    amounts = [
        (0, "nothing queued"),
        (1, "one byte queued"),
        (low - 1, "just below low"),
        (low, "exactly low"),
        (low + 1, "just above low"),
        ((low + high) // 2, "between low and high"),
        (high - 1, "just below high"),
        (high, "exactly high (not above it)"),
        (high + 1, "just above high"),
        (2 * high + 1, "far above high"),
        (10**12, "a terabyte queued"),
    ]
    seen: set[int] = set()
    kept = []
    for queued, what in amounts:
        if queued >= 0 and queued not in seen:
            seen.add(queued)
            kept.append((queued, what))
    return kept


def situation(case: Case) -> str:
    """``paused, exactly low``: where a case is, in words."""
    reading, queued, high, low = case
    state = "reading" if reading else "paused"
    for amount, what in near_the_watermarks(high, low):
        if amount == queued:
            return f"{state}, {what}"
    return f"{state}, {queued} queued"


FIXED_5_4: list[Case] = [
    (True, 0, HIGH, LOW),
    (True, HIGH, HIGH, LOW),
    (True, HIGH + 1, HIGH, LOW),
    (False, HIGH + 1, HIGH, LOW),
    (False, LOW + 1, HIGH, LOW),
    (False, LOW, HIGH, LOW),
    (True, LOW + 1, HIGH, LOW),
]
"""The old table first: the example's watermarks, the cases a learner meets first."""

WHY = {
    (True, 0): "reading, nothing queued",
    (True, HIGH): "reading, exactly high queued (not above it)",
    (True, HIGH + 1): "reading, above high: pause",
    (False, HIGH + 1): "paused, still above high",
    (False, LOW + 1): "paused, between low and high: stay paused",
    (False, LOW): "paused, drained to low: resume",
    (True, LOW + 1): "reading, between low and high: keep reading",
}


def every_combination(high: int, low: int) -> list[Case]:
    return [
        (reading, queued, high, low)
        for queued, _ in near_the_watermarks(high, low)
        for reading in (True, False)
    ]


def watermark_rounds(seed: int) -> list[list[Case]]:
    """Every case a run of check 5.4 with ``seed`` tries: the old table, every combination
    for the example's watermarks, then rounds of generated watermarks, each shuffled."""
    rng = random.Random(seed)
    rounds = [FIXED_5_4, every_combination(HIGH, LOW)]
    for _ in range(ROUNDS):
        cases: list[Case] = []
        for high, low in [
            (1, 0),
            (2, 1),
            (rng.randint(3, 100), None),
            (rng.randint(1000, 10**6), None),
            (rng.randint(10**6, 10**9), None),
        ]:
            low = low if low is not None else rng.choice([0, high - 1, rng.randint(1, high - 1)])
            cases.extend(every_combination(high, low))
        rng.shuffle(cases)
        rounds.append(cases)
    rounds[1] = rng.sample(rounds[1], len(rounds[1]))
    return rounds


def check_5_4(
    should_read: Callable[[bool, int, int, int], bool],
    time_limit: float = 5,
    seed: int | None = None,
) -> Verdict:
    """``should_read(reading, queued, high, low)``: stop above high, resume at low, else keep on."""
    return judge("5.4", {"should_read": should_read}, run_5_4, time_limit=time_limit, seed=seed)


SHOULD_READ = Exercise(
    "should_read",
    reference_should_read,
    describe=lambda case: (
        f"should_read(reading={case[0]}, queued={case[1]}, high={case[2]}, low={case[3]})"
    ),
    explain=lambda case, expected, got: explain_5_4(case, expected[0], got[0], {}),
    differs=lambda expected, got: not same_answer(expected[0], got[0]),
    show=lambda pair: repr(pair[0]),
)
"""How 5.4 is judged; ``run_5_4`` walks the cases itself, so a hint can read the answers to
the neighbouring cases (``explain_5_4`` with the table of them)."""


def same_answer(expected: object, got: object) -> bool:
    return isinstance(got, (bool, int)) and got == expected


def run_5_4(trial: Trial) -> None:
    labels = ["the example's watermarks", "every combination near them"]
    labels += [f"round {n + 1}: generated watermarks" for n in range(ROUNDS)]
    for label, cases in zip(labels, watermark_rounds(trial.seed)):
        trial.case = f"{label}: {len(cases)} cases"
        observed = observe(trial, SHOULD_READ, label, cases)
        table = {case: got[0] for case, got in zip(cases, observed)}
        for case, got in zip(cases, observed):
            expected = reference_should_read(*case)
            if SHOULD_READ.differs((expected, case[0]), got):
                expect_repeatable(trial, SHOULD_READ, label, case, (expected, case[0]), got)
                trial.case = f"{label}: {situation(case)}"
                raise explain_5_4(case, expected, got[0], table)
    trial.case = "an echo server using should_read, flooded by a client that does not read"
    flood_with(trial["should_read"])


def explain_5_4(case: Case, expected: bool, got: object, table: dict[Case, object]) -> CheckFailed:
    """The ``CheckFailed`` for one wrong answer, with the mistake its neighbours show."""
    reading, queued, high, low = case
    why = (
        WHY.get((reading, queued), situation(case))
        if (high, low) == (HIGH, LOW)
        else situation(case)
    )
    return CheckFailed(
        f"should_read(reading={reading}, queued={queued}, high={high}, low={low}) is wrong ({why})",
        expected=repr(expected),
        got=repr(got),
        hint=hint_5_4(case, got, table),
    )


def hint_5_4(case: Case, got: object, table: dict[Case, object]) -> str:
    reading, queued, high, low = case
    if not isinstance(got, (bool, int)):
        return "return True (read) or False (pause)"
    if (high, low) != (HIGH, LOW) and got == reference_should_read(reading, queued, HIGH, LOW):
        return "use the high and low you are given: the example's 64 KiB and 16 KiB are one case"
    if reading and queued == high and not got:
        if table.get((True, low + 1, high, low)) is False:
            return (
                "two thresholds, each for one state: while reading, pause above high; "
                "while paused, resume at or below low"
            )
        return "pause only above high (queued > high): exactly high still reads"
    if not reading and low < queued <= high and got:
        return "resuming as soon as the buffer is below high makes it flip on every recv"
    if not reading and queued > high and got:
        return "a paused connection stays paused while more than high is queued"
    if reading and queued > high and got:
        return "while reading, more than high queued means pause: return False above high"
    if not reading and queued <= low and not got:
        if queued == low:
            return "resume at low too: at or below low (queued <= low), not below it"
        return "a paused connection must resume when the buffer drains to low"
    if reading and queued <= low and not got:
        return (
            "a connection that reads keeps reading with little queued: only more than high pauses"
        )
    if reading and low < queued <= high and not got:
        return (
            "two thresholds, each for one state: while reading, keep reading until more than "
            "high is queued"
        )
    return "two thresholds: above high stop, at or below low start, in between keep on"


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
