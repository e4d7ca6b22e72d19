"""Differential checks: the learner's function and the worked answer on the same generated cases.

Grows from ``eventloop.judge.trial``. Some exercises ask for a function of plain
values (``split_lines(buffer)``, ``next_timeout(deadlines, now)``): there the
natural judge is the worked answer itself, the *reference*, which lives in the
check module and runs in the judge. The learner's function runs in the
candidate on the same inputs, and the check compares what a caller observes:
the value returned **and** what the call left in the argument it was handed (a
``bytearray`` it should consume, a list it should leave alone). The argument is
pickled to the candidate, so a *course driver* (``on_argument``) runs there,
calls the learner's function on it and returns both.

A failing case is shrunk before it is shown: ``smallest`` tries smaller cases
(``shorter_bytes`` deletes pieces of a buffer) as long as the learner's answer
still differs from the reference, so
the ✗ names the shortest input found, not the 70,000-byte one that first failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eventloop.checks import CheckFailed
from eventloop.judge.candidate import LearnerRaised, Named
from eventloop.judge.trial import Trial

MEMORY_LIMIT = 2 << 30
"""Address space for a candidate running a driver: a loop that never ends and keeps
appending raises ``MemoryError`` there instead of filling the shared machine's memory."""


def apply(
    function: Callable[..., object], argument: object, *rest: object
) -> tuple[object, object]:
    """``function(argument, *rest)``, and ``argument`` as the call left it.

    A ``bytes`` argument is handed over as a fresh ``bytearray`` (a receive
    buffer), a ``list`` as a copy of it; what comes back is ``(result, argument_after)``.
    """
    given: object = bytearray(argument) if isinstance(argument, bytes) else argument
    if isinstance(given, list):
        given = list(given)
    result = function(given, *rest)
    after = bytes(given) if isinstance(given, bytearray) else given
    return result, after


def on_arguments(
    function: Callable[..., object], cases: list[tuple]
) -> list[tuple[object, object]]:
    """The course driver, in the candidate: ``apply`` the learner's function to each case in turn.

    One call for many cases: each call into the candidate costs milliseconds.
    """
    limit_memory()
    return [apply(function, *case) for case in cases]


def limit_memory() -> None:
    """Cap the candidate's address space once (where the platform allows it)."""
    try:
        import resource  # not on Windows, where the judge does not run either

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            wanted = MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT, hard)
            resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    except (ImportError, ValueError, OSError, AttributeError):  # macOS refuses some: go on
        pass


def show_bytes(data: bytes, limit: int = 90) -> str:
    """``b'one\\ntwo'``, or for a long input its length, head and tail."""
    text = repr(data)
    if len(text) <= limit:
        return text
    return f"{len(data)} bytes: {data[:24]!r} ... {data[-16:]!r}"


def show_frames(frames: object, limit: int = 240) -> str:
    """A list of frames, each shortened like ``show_bytes``; anything else by its repr."""
    if not isinstance(frames, list):
        text = repr(frames)
        return text if len(text) <= limit else text[: limit - 3] + "..."
    shown = [show_bytes(f, 40) if isinstance(f, bytes) else repr(f) for f in frames]
    if len(shown) > 8:
        shown = [*shown[:6], f"... {len(shown) - 7} more ...", shown[-1]]
    return "[" + ", ".join(shown) + "]"


def show_pair(pair: tuple) -> str:
    """``(result, argument_after)`` in a short form."""
    result, after = pair
    shown = show_bytes(after) if isinstance(after, bytes) else repr(after)
    return f"{show_frames(result)} (leaving {shown})"


# --- the judge's side ----------------------------------------------------------------------------

Case = tuple
"""The arguments of one call; the first is the one whose state after the call counts."""


@dataclass(frozen=True)
class Exercise:
    """How to judge one function differentially.

    ``describe`` says a case in words; ``explain(case, expected, got)`` builds
    the ``CheckFailed`` for a case where ``(result, argument_after)`` differ,
    naming the likely mistake; ``differs`` compares them (``!=`` by default);
    ``smaller`` proposes smaller cases to try when one fails; ``show`` says a
    ``(result, argument_after)`` pair in a verdict.
    """

    name: str
    reference: Callable[..., object]
    describe: Callable[[Case], str]
    explain: Callable[[Case, tuple, tuple], CheckFailed]
    differs: Callable[[tuple, tuple], bool] = lambda expected, got: expected != got
    smaller: Callable[[Case], list[Case]] = lambda case: []
    show: Callable[[tuple], str] = lambda pair: show_pair(pair)


DRIVER = "(course driver on_arguments)"


def observe(trial: Trial, exercise: Exercise, label: str, cases: list[Case]) -> list[tuple]:
    """The learner's ``(result, argument_after)`` for each case, in one call into the candidate.

    When the learner's code raises, the cases are tried one at a time, so the
    verdict names the case that raised.
    """
    if DRIVER not in trial.answers:
        limit = trial[exercise.name].time_limit
        trial.answers[DRIVER] = trial.candidate.wrap(DRIVER, on_arguments, limit)
    drive = trial[DRIVER]
    try:
        observed = drive(Named(exercise.name), cases)
    except LearnerRaised:
        for case in cases:
            trial.case = f"{label}: {exercise.describe(case)}"
            drive(Named(exercise.name), [case])
        trial.case = f"{label}: one of {len(cases)} cases"
        raise
    if not (
        isinstance(observed, list)
        and len(observed) == len(cases)
        and all(isinstance(pair, tuple) and len(pair) == 2 for pair in observed)
    ):
        raise CheckFailed(
            f"the course's driver did not get {exercise.name}'s results back",
            hint="leave the course's own modules alone: only your function is judged",
        )
    return observed


def compare(
    trial: Trial, exercise: Exercise, label: str, cases: list[Case], one_by_one: bool = False
) -> None:
    """Run ``cases`` on the learner's function and on the reference; raise on the first that
    differs, shrunk to the smallest failing case found.

    ``one_by_one`` calls the candidate once per case, so a call that never returns (and
    is stopped at the time limit) is named by its case: worth it for the small cases.
    """
    if one_by_one:
        observed = []
        for case in cases:
            trial.case = f"{label}: {exercise.describe(case)}"
            observed.extend(observe(trial, exercise, label, [case]))
    else:
        trial.case = f"{label}: {len(cases)} cases"
        observed = observe(trial, exercise, label, cases)
    for case, got in zip(cases, observed):
        expected = apply(exercise.reference, *case)
        if exercise.differs(expected, got):
            expect_repeatable(trial, exercise, label, case, expected, got)
            case, expected, got = smallest(trial, exercise, label, case, got)
            trial.case = f"{label}: {exercise.describe(case)}"
            raise exercise.explain(case, expected, got)


def expect_repeatable(
    trial: Trial, exercise: Exercise, label: str, case: Case, expected: tuple, got: tuple
) -> None:
    """Call the learner's function on ``case`` again: a different answer means kept state."""
    again = observe(trial, exercise, label, [case])[0]
    if again != got:
        trial.case = f"{label}: {exercise.describe(case)}, twice"
        raise CheckFailed(
            f"{exercise.name} gave two different answers to the same call",
            expected=exercise.show(expected),
            got=f"{exercise.show(got)}, then {exercise.show(again)}",
            hint="the answer must depend only on the arguments: does your function "
            "keep something between calls (a global, a default list, a class attribute)?",
        )


def smallest(
    trial: Trial,
    exercise: Exercise,
    label: str,
    case: Case,
    got: tuple,
    rounds: int = 150,
) -> tuple[Case, tuple, tuple]:
    """The smallest case found, from ``exercise.smaller``, on which the answer still differs
    *in the same way* (the same hint): a smaller case must not hide the mistake it shows.

    Each round is one call into the candidate; ``rounds`` bounds them (a count, not a
    time: on a busy machine the verdict shows the same case).
    """
    best, best_got = case, got
    hint = exercise.explain(case, apply(exercise.reference, *case), got).hint
    for _ in range(rounds):
        tries = exercise.smaller(best)
        if not tries:
            break
        try:
            observed = observe(trial, exercise, label, tries)
        except LearnerRaised:
            break  # a smaller case raises: show the one that differed instead
        for smaller_case, smaller_got in zip(tries, observed):
            expected = apply(exercise.reference, *smaller_case)
            if (
                exercise.differs(expected, smaller_got)
                and exercise.explain(smaller_case, expected, smaller_got).hint == hint
            ):
                best, best_got = smaller_case, smaller_got
                break
        else:
            break
    return best, apply(exercise.reference, *best), best_got


def shorter_bytes(data: bytes, most: int = 160, total: int = 1 << 18) -> list[bytes]:
    """``data`` with one piece deleted: halves first, then quarters, down to single bytes.

    At most ``most`` of them, and ``total`` bytes in all, so one batch stays small.
    """
    found: list[bytes] = []
    size = len(data) // 2 or 1
    length = 0
    while data and len(found) < most:
        for start in range(0, len(data), size):
            shorter = data[:start] + data[start + size :]
            if len(found) >= most or length + len(shorter) > total:
                return found
            found.append(shorter)
            length += len(shorter)
        if size == 1:
            break
        size //= 2
    return found
