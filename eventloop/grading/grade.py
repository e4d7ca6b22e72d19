"""Grade exercise notebooks: each in its own kernel and process, verdicts signed by the checks.

``python -m eventloop grade submissions/`` finds every notebook under the folders it
is given (one folder per student: ``submissions/alice/03-select.ipynb``) and runs
each one top to bottom in its own kernel, from its own folder, the way a learner's
"Run All" would. The checks print their verdicts for the learner::

    ✓ Exercise 3.2 passed
    ✗ Exercise 3.2 failed: <what is wrong>
    ○ Exercise 3.2 not attempted yet: <how to start>

and sign a copy for the grader (``eventloop.checks.record``): only signed verdicts
count. Which exercises a notebook should have comes from the course's solutions
notebook of the same name (``solutions/03-select.ipynb``) when there is one,
otherwise from the ``# Exercise N.M: ...`` cells of the submission itself.

A grader meets broken notebooks, so none of these stops it; each is reported in
the table: a cell that runs too long is interrupted (``--cell-timeout``), a
notebook that runs too long is stopped (``--timeout``), a kernel that dies is
noted, a cell that binds a fixed port is not run (``ports``), a notebook that
kills the process grading it costs nobody else (``worker``), a symlinked or
duplicated submission is named, and a file that is not a notebook to read (a
FIFO, a device, a folder named ``x.ipynb``, a link out of the submission) is
listed as not graded (``submissions``). Each kernel runs confined (``sandbox``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from eventloop.grading.files import NOTEBOOK_LIMIT, read_bounded
from eventloop.grading.kernel import Sandbox, clear_outputs, run_cells
from eventloop.grading.ports import fixed_port_cells
from eventloop.grading.report import CsvWriter, format_table, missing_results, not_graded
from eventloop.grading.results import (
    EXERCISE_HEADER,
    NO_VERDICT,
    NOT_RUN,
    ExerciseResult,
    NotebookResult,
    address_in_use,
    exercise_ids,
    first_line,
    printed_verdicts,
    signed_verdicts,
    without_verdict,
)
from eventloop.grading.submissions import (
    Submission,
    UsageError,
    course_handout,
    course_solutions,
    find_notebooks,
    unreadable_solutions,
)
from eventloop.grading.worker import cancelled_by_sigterm
from eventloop.student_text import for_terminal


@dataclass
class Options:
    """The command line's choices (see ``eventloop.grading.command``)."""

    timeout: float = 60.0
    cell_timeout: float = 30.0
    jobs: int = 2
    solutions: Path | None = None
    allow_fixed_ports: bool = False
    checks_folders: list[Path] = field(default_factory=list)
    user: str | None = None  # run kernels as this user (None: as the grader, unless root)
    hidden: list[Path] = field(default_factory=list)  # folders no kernel may see
    handout: Path | None = None  # the exercise notebooks as handed out

    def sandbox(self) -> Sandbox:
        """The confinement of every kernel: CPU limited to the notebook's time, and a margin."""
        from eventloop.grading.sandbox import Limits

        limits = Limits(cpu_seconds=int(self.timeout) + 60)
        return Sandbox(self.user, tuple(self.hidden), limits)


# --- the exercises a notebook should have ---------------------------------------------------------


def expected_exercises(
    name: str, submission: nbformat.NotebookNode, solutions: Path | None
) -> list[str]:
    """From the solutions notebook of the same name if there is one, else the submission."""
    if solutions is not None and (solutions / name).is_file():
        return exercise_ids(nbformat.read(solutions / name, as_version=4))
    return exercise_ids(submission)


# --- one notebook (in a worker process: see eventloop.grading.worker) -----------------------------


def skip_fixed_port_cells(notebook: nbformat.NotebookNode) -> dict[str, list[int]]:
    """Empty every cell that binds a fixed port; return the exercises they belonged to."""
    skipped: dict[str, list[int]] = {}
    for index, ports in fixed_port_cells(notebook).items():
        cell = notebook.cells[index]
        header = EXERCISE_HEADER.match(cell.source.lstrip())
        listed = ", ".join(str(port) for port in ports)
        cell.source = f"# Not run by the grader: this cell binds fixed port {listed} (use port 0)."
        skipped.setdefault(header["id"] if header else "", []).extend(ports)
    return skipped


async def grade_one(
    submission: Submission, options: Options, on_kernel_start=None
) -> NotebookResult:  # type: ignore[no-untyped-def]
    """Run one notebook (without its fixed-port cells) and judge each expected exercise."""
    result = NotebookResult(submission.student, submission.path, notes=list(submission.notes))
    try:
        data, complete = read_bounded(submission.path.resolve(), NOTEBOOK_LIMIT)
        if data is None or not complete:
            raise ValueError("not a regular file of at most 20 MB")
        notebook = clear_outputs(nbformat.reads(data.decode("utf-8"), as_version=4))
    except Exception as error:
        result.notes.append(
            f"unreadable notebook: {type(error).__name__}: {first_line(str(error))}"
        )
        return result
    expected = expected_exercises(submission.path.name, notebook, options.solutions)
    if not expected:
        result.notes.append("no exercises found")
    skipped = {} if options.allow_fixed_ports else skip_fixed_port_cells(notebook)
    if skipped:
        ports = sorted({port for listed in skipped.values() for port in listed})
        listed = ", ".join(str(port) for port in ports)
        result.notes.append(f"binds fixed port {listed}: those cells not run (use port 0)")

    run = await run_cells(
        notebook,
        submission.path.parent,
        options.timeout,
        options.cell_timeout,
        options.checks_folders,
        on_kernel_start,
        options.sandbox(),
    )
    signed = signed_verdicts(run.records)
    for exercise in expected:
        if exercise in skipped and exercise not in signed:
            ports = ", ".join(str(port) for port in skipped[exercise])
            result.exercises[exercise] = ExerciseResult(NOT_RUN, f"binds fixed port {ports}")
        else:
            result.exercises[exercise] = signed.get(exercise) or without_verdict(
                exercise, run.notebook, run.problem
            )
    result.notes += notes_of(run, signed)
    return result


def notes_of(run, signed: dict[str, ExerciseResult]) -> list[str]:  # type: ignore[no-untyped-def]
    """What the table's notes column says about a run."""
    notes = [run.problem] if run.problem else []
    notes += [f"cell {index} interrupted after {seconds} s" for index, seconds in run.interrupted]
    notes += run.cut
    if address_in_use(run.notebook):
        notes.append("Address already in use: binds a fixed port?")
    unsigned = [
        exercise
        for exercise, printed in printed_verdicts(run.notebook).items()
        if exercise not in signed or signed[exercise].status != printed.status
    ]
    if unsigned:
        notes.append("printed a verdict no check signed: " + ", ".join(sorted(unsigned)))
    if run.forged:
        notes.append(f"{run.forged} verdict record(s) with a wrong signature: ignored")
    return notes


# --- the class ------------------------------------------------------------------------------------


async def grade_all(
    submissions: list[Submission],
    options: Options,
    on_result: Callable[[NotebookResult], None] | None = None,
) -> list[NotebookResult]:
    """Grade every notebook, ``options.jobs`` workers at a time; results in the same order.

    ``on_result`` hears each result as soon as it is known (the CSV is written as we go).
    """
    from eventloop.grading.worker import grade_in_worker

    slots = asyncio.Semaphore(options.jobs)

    async def one(submission: Submission) -> NotebookResult:
        if submission.refused:
            result = refused_result(submission, options)
        else:
            async with slots:
                began = time.monotonic()
                result = await grade_in_worker(submission, options)
                where = f"{submission.student}/{submission.path.name}"
                print(
                    for_terminal(f"graded {where} in {time.monotonic() - began:.1f} s"),
                    file=sys.stderr,
                    flush=True,
                )
        if on_result is not None:
            on_result(result)
        return result

    return list(await asyncio.gather(*(one(submission) for submission in submissions)))


def refused_result(submission: Submission, options: Options) -> NotebookResult:
    """A file that is not a notebook to read: every expected exercise without a verdict."""
    notes = [*submission.notes, "not graded: " + submission.refused]
    result = NotebookResult(submission.student, submission.path, notes=notes)
    solutions = options.solutions
    if solutions is not None and (solutions / submission.path.name).is_file():
        expected = exercise_ids(nbformat.read(solutions / submission.path.name, as_version=4))
        result.exercises = {e: ExerciseResult(NO_VERDICT, submission.refused) for e in expected}
    return result


def grade(paths: list[Path], options: Options) -> list[NotebookResult]:
    """Find the notebooks in ``paths`` and grade them (raises ``UsageError``)."""
    return asyncio.run(grade_all(find_notebooks(paths, options.handout), options))


def main(args: argparse.Namespace) -> int:
    """``python -m eventloop grade``: see ``eventloop.grading.command``."""
    solutions = args.solutions if args.solutions is not None else course_solutions()
    handout = args.handout if args.handout is not None else course_handout()
    for folder in [args.solutions, args.handout, *args.checks_folder]:
        if folder is not None and not folder.is_dir():
            print(f"error: {folder}: no such folder", file=sys.stderr)
            return 2
    try:
        submissions = find_notebooks(args.paths, handout)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if solutions is None:
        print(
            "note: no worked answers (solutions/) found: each notebook is graded on the "
            "exercises it lists itself; pass --solutions FOLDER",
            file=sys.stderr,
        )
    else:
        problem = unreadable_solutions(solutions, {item.path.name for item in submissions})
        if problem is not None:
            print(
                f"error: cannot read the worked answers, which list the exercises to grade: "
                f"{problem}\nNothing was graded. Run grade as a user who can read them, or "
                "pass --solutions FOLDER (a copy only the grader can read).",
                file=sys.stderr,
            )
            return 2
    from eventloop.grading.sandbox import default_user, user_ids

    user = args.user if args.user is not None else default_user()
    if args.user is not None:
        try:
            user_ids(args.user)
        except KeyError:
            print(f"error: --user {args.user}: no such user", file=sys.stderr)
            return 2
        if os.geteuid() != 0:
            print("error: --user needs root (to switch to that user)", file=sys.stderr)
            return 2
    options = Options(
        args.timeout,
        args.cell_timeout,
        args.jobs,
        solutions,
        args.allow_fixed_ports,
        [folder.resolve() for folder in args.checks_folder],
        user,
        hidden_folders(args.paths, solutions),
        handout,
    )
    csv = None
    if args.csv is not None:
        try:
            csv = CsvWriter(args.csv, exercise_columns(submissions, solutions))
        except OSError as error:
            print(f"error: cannot write {args.csv}: {error.strerror or error}", file=sys.stderr)
            return 2
    began = time.monotonic()
    try:
        grading = grade_all(submissions, options, csv.add if csv else None)
        results = asyncio.run(cancelled_by_sigterm(grading))
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C or SIGTERM
        done = len(csv.results) if csv else 0
        print(
            "\ninterrupted: grading stopped, every kernel killed"
            + (f"; {args.csv} holds the {done} notebook(s) graded so far" if csv else ""),
            file=sys.stderr,
        )
        return 130
    finally:
        if csv is not None:
            csv.close()
    results += missing_results(results, solutions)
    if csv is not None:
        try:
            csv.finish(results)
        except OSError as error:
            print(f"error: cannot write {args.csv}: {error.strerror or error}", file=sys.stderr)
            return 1
        print(f"wrote {args.csv}", file=sys.stderr)
    try:
        print(format_table(results), end="")
        print(not_graded(results), end="")
        print(f"\ngraded {len(results)} notebook(s) in {time.monotonic() - began:.1f} s")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):  # stdout closed (`| head`): the CSV is written
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (nothing more to flush at exit)
        return 1
    return 0


def exercise_columns(submissions: list[Submission], solutions: Path | None) -> list[str]:
    """Every exercise the class will be graded on, in order: the CSV's columns."""
    found: set[str] = set()
    for name in {item.path.name for item in submissions}:
        if solutions is not None and (solutions / name).is_file():
            found.update(exercise_ids(nbformat.read(solutions / name, as_version=4)))
            continue
        for item in submissions:
            if item.path.name != name or item.refused:
                continue
            data, complete = read_bounded(item.path.resolve(), NOTEBOOK_LIMIT)
            if data is not None and complete:
                try:
                    found.update(exercise_ids(nbformat.reads(data.decode(), as_version=4)))
                except Exception:
                    continue  # graded (and reported) as unreadable
    return sorted(found, key=lambda exercise: tuple(int(p) for p in exercise.split(".")))


def hidden_folders(paths: list[Path], solutions: Path | None) -> list[Path]:
    """What no kernel may see: the worked answers and the submissions (each gets a copy),
    with the students' folders a teacher linked in from elsewhere."""
    folders = [path if path.is_dir() else path.parent for path in paths]
    folders += [
        child
        for path in paths
        if path.is_dir()
        for child in path.iterdir()
        if child.is_symlink() and child.is_dir()
    ]
    if solutions is not None:
        folders.append(solutions)
    return sorted({folder.resolve() for folder in folders})
