"""A judged check: the learner's answer in a candidate, generated cases, an honest verdict.

Grows from ``eventloop.checks.verdict``, which ran the learner's code in the
check's own interpreter. Here the check's scenario runs in the judge and calls
the learner's answer in a candidate process (``candidate.Candidate``), and the
verdict says whose fault each outcome is:

* the stub's own ``NotImplementedError("Exercise N.M ...")``: not attempted;
* ``CheckFailed`` from the scenario: a wrong answer, with the generated case
  (its seed), what was expected, what was observed, and a hint;
* an exception the learner's code raised (any ``BaseException``): their error,
  with their line and the traceback of their frames;
* the candidate killed at the time limit, or ending by itself: their code;
* anything else raised in the judge: "the check could not run", never theirs.

Each check runs several generated cases in the same candidate: an answer that
keeps state between calls, or fits only one example, meets a second case. The
seed is printed with every ✗, and ``seed=`` replays it.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eventloop.checks import (
    FAILED,
    NOT_ATTEMPTED,
    PASSED,
    CheckFailed,
    Tee,
    Verdict,
    record,
    under_nbgrader,
)
from eventloop.judge.candidate import (
    CallTimedOut,
    Candidate,
    CandidateEnded,
    LearnerRaised,
    Remote,
    Usage,
)
from eventloop.judge.schedstat import this_thread_waiting


@dataclass
class Trial:
    """What a scenario works with: the learner's answers as ``Remote``s, a seeded random source."""

    candidate: Candidate
    answers: dict[str, Remote]
    seed: int
    random: random.Random = field(init=False)
    case: str = "the first case"

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def __getitem__(self, name: str) -> Remote:
        return self.answers[name]

    def usage(self) -> Usage:
        """The candidate's CPU time, threads and descriptors, read from outside."""
        return self.candidate.usage()

    def left_behind(self, before: Usage, wait: float = 1.0) -> Usage:
        """What a call left (threads, descriptors), once joined threads have had time to end.

        ``join`` returns as soon as a thread's Python code is done; the operating
        system's thread ends a little later. A thread still running after ``wait``
        seconds is one the answer did not wait for.
        """
        deadline = time.monotonic() + wait
        left = self.usage() - before
        while (left.threads > 0 or left.descriptors > 0) and time.monotonic() < deadline:
            time.sleep(0.02)
            left = self.usage() - before
        return left

    def stopwatch(self) -> Stopwatch:
        """``with trial.stopwatch() as took:`` around a call: see ``Stopwatch``."""
        return Stopwatch(self)


class Stopwatch:
    """Times one call into the candidate as the candidate lived it, as far as load allows.

    ``wall``: the judge's wall time around the call. ``elapsed``: ``wall`` less the
    time the judge's own thread waited for a core (it may read the answer late on a
    busy machine), or the candidate's own measure of the call if that is longer
    (but never beyond ``wall``). ``active``: ``elapsed`` less the time the candidate waited for a
    core, which leaves its time running plus its time asleep: for an answer that
    only waits, the time it *asked* to wait. ``used``: the candidate's ``Usage``.
    Use ``active`` for a lower bound on a wait (``select(..., timeout)``), and
    ``elapsed`` for a loop that ends at a deadline of its own.
    """

    def __init__(self, trial: Trial) -> None:
        self.trial = trial
        self.wall = self.elapsed = self.active = 0.0

    def __enter__(self) -> Stopwatch:
        self.before = self.trial.usage()
        self.judge_waited = this_thread_waiting()
        self.began = time.monotonic()
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is not None:  # the call failed: nothing to time, and the candidate may be gone
            return
        self.wall = time.monotonic() - self.began
        judge_waited = this_thread_waiting() - self.judge_waited  # before anything else runs
        self.used = self.trial.usage() - self.before
        # The candidate's own clock, which no delay of the judge's stretches, may only raise
        # the estimate, and never above the judge's wall time: a wrong clock cannot buy time.
        own_clock = min(self.trial.candidate.took, self.wall)
        self.elapsed = max(0.0, self.wall - judge_waited, own_clock)
        self.active = max(0.0, self.elapsed - self.used.waiting)


@dataclass(frozen=True)
class Outcome:
    """The status and the lines a verdict prints (the first line is the verdict line)."""

    status: str
    lines: list[str]


def judge(
    exercise: str,
    answers: dict[str, Callable[..., object]],
    scenario: Callable[[Trial], None],
    *,
    time_limit: float = 10.0,
    seed: int | None = None,
) -> Verdict:
    """Judge ``answers`` (name → the learner's function) with ``scenario``; print one verdict.

    ``time_limit`` bounds each call into the learner's code; the check as a
    whole gets a generous multiple of it as a safety net.
    """
    seed = seed if seed is not None else int.from_bytes(os.urandom(3), "big")
    outcome = run_trial(exercise, answers, scenario, time_limit, seed)
    printed = Tee(sys.stdout)
    for line in outcome.lines:
        print(line, file=printed)
    detail = outcome.lines[0].split(": ", 1)[1] if outcome.status == "failed" else ""
    record.record(exercise, outcome.status, scenario, detail)
    if under_nbgrader() and outcome.status != "passed":
        raise AssertionError(printed.verdict())
    return Verdict(exercise, outcome.status)


def run_trial(
    exercise: str,
    answers: dict[str, Callable[..., object]],
    scenario: Callable[[Trial], None],
    time_limit: float,
    seed: int,
) -> Outcome:
    """Start a candidate, ship the answers, run the scenario: the outcome, whoever failed."""
    replay = f"    case:     {{case}} (seed {seed}; pass seed={seed} to the check to repeat it)"
    trial: Trial | None = None
    try:
        with Candidate() as candidate:
            try:
                remotes = {
                    name: candidate.wrap(name, value, time_limit) for name, value in answers.items()
                }
            except Exception as error:  # cloudpickle could not ship it: say so, plainly
                return could_not_run(exercise, f"your answer could not be sent to it ({error})")
            trial = Trial(candidate, remotes, seed)
            try:
                scenario(trial)
            except CheckFailed as failure:
                return wrong(exercise, failure, replay.format(case=trial.case), candidate)
            except LearnerRaised as raised:
                return learner_raised(exercise, raised, replay.format(case=trial.case))
            except CallTimedOut as stopped:
                return timed_out(exercise, str(stopped), replay.format(case=trial.case))
            except CandidateEnded as ended:
                return process_ended(exercise, str(ended), replay.format(case=trial.case))
    except Exception as error:  # the judge's own machinery: never the learner's fault
        return could_not_run(exercise, f"{type(error).__name__}: {error}")
    return Outcome("passed", [f"{PASSED} Exercise {exercise} passed"])


def wrong(exercise: str, failure: CheckFailed, case: str, candidate: Candidate) -> Outcome:
    """A wrong answer: what, the case, expected and observed, a hint, and what the code printed."""
    lines = [f"{FAILED} Exercise {exercise} failed: {failure.problem}", case]
    if failure.expected is not None:
        lines.append(f"    expected: {failure.expected}")
    if failure.got is not None:
        lines.append(f"    got:      {failure.got}")
    if failure.hint:
        lines.append(f"    hint:     {failure.hint}")
    printed = candidate.printed(1200).strip()
    if printed:
        lines.append("    your code printed:")
        lines.extend("      " + line for line in printed.splitlines()[-12:])
    return Outcome("failed", lines)


def timed_out(exercise: str, how: str, case: str) -> Outcome:
    """The call ran past its limit and the candidate was killed."""
    return Outcome(
        "failed",
        [
            f"{FAILED} Exercise {exercise} failed: your code was {how} and was stopped.",
            case,
            "    hint:     does every loop have a stop condition, and every wait a timeout?",
        ],
    )


def process_ended(exercise: str, how: str, case: str) -> Outcome:
    """The learner's code ended its own process (``os._exit``, a crash, a signal)."""
    return Outcome(
        "failed",
        [
            f"{FAILED} Exercise {exercise} failed: {how}: your code ended it "
            "(os._exit, a crash, or a signal).",
            case,
            "    hint:     return from the function instead of ending the process.",
        ],
    )


def learner_raised(exercise: str, error: LearnerRaised, case: str) -> Outcome:
    """The stub's own error is "not attempted"; any other is the learner's, with their traceback."""
    raised = error.raised
    if raised.type == "NotImplementedError" and raised.stub:
        return Outcome(
            "not attempted",
            [
                f"{NOT_ATTEMPTED} Exercise {exercise} not attempted yet: replace "
                "`raise NotImplementedError(...)` in the exercise cell with your code, run that "
                "cell, then run this one again."
            ],
        )
    lines = [f"{FAILED} Exercise {exercise} failed: your code raised {raised}", case]
    if raised.traceback.strip():
        lines.append("    traceback (your code):")
        lines.extend("      " + line for line in raised.traceback.rstrip().splitlines()[-12:])
    if raised.base:
        lines.append(
            f"    hint:     {raised.type} ends a program: a function should return "
            "or raise an ordinary exception instead."
        )
    return Outcome("failed", lines)


def could_not_run(exercise: str, why: str) -> Outcome:
    """The judge failed, not the learner: say so, and give no verdict on their code."""
    return Outcome(
        "failed",
        [
            f"{FAILED} Exercise {exercise} failed: the check could not run: {why}",
            "    hint:     this is a fault of the check, not of your code: run the cell again, "
            "and tell the course's maintainers if it stays.",
        ],
    )
