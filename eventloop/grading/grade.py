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
duplicated submission is named.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from eventloop.grading.kernel import clear_outputs, run_cells
from eventloop.grading.ports import fixed_port_cells
from eventloop.grading.report import format_table, write_csv
from eventloop.grading.results import (
    EXERCISE_HEADER,
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
from eventloop.student_text import for_terminal


class UsageError(Exception):
    """The command line asks for something that cannot be done (exit status 2)."""


@dataclass
class Options:
    """The command line's choices (see ``eventloop.grading.command``)."""

    timeout: float = 60.0
    cell_timeout: float = 30.0
    jobs: int = 2
    solutions: Path | None = None
    allow_fixed_ports: bool = False
    checks_folders: list[Path] = field(default_factory=list)


@dataclass
class Submission:
    """One notebook to grade, whose student it is, and what the grader noticed about the file."""

    student: str
    path: Path
    notes: list[str] = field(default_factory=list)


# --- finding notebooks and their exercises --------------------------------------------------------


def find_notebooks(paths: Iterable[Path]) -> list[Submission]:
    """Every notebook in ``paths`` (files or folders, recursively); symlinks and copies noted.

    Nothing is merged or dropped silently: a symlink is graded and noted with its
    target; two submissions that are the same file, or have the same contents,
    are both graded and each notes the other.
    """
    found: list[Submission] = []
    for path in paths:
        if path.is_dir():
            for notebook in sorted(path.rglob("*.ipynb")):
                relative = notebook.relative_to(path)
                if any(part.startswith(".") for part in relative.parts):
                    continue  # .ipynb_checkpoints and other hidden copies
                folder = relative.parent
                student = folder.as_posix() if folder != Path(".") else path.resolve().name
                found.append(Submission(student, notebook, symlink_note(path, relative)))
        elif path.is_file() and path.suffix == ".ipynb":
            found.append(Submission(path.resolve().parent.name, path, symlink_note(path, Path())))
        else:
            raise UsageError(f"{path}: not a notebook or a folder")
    if not found:
        raise UsageError("no notebooks found in " + ", ".join(str(p) for p in paths))
    found = once_each(found)
    note_links_and_copies(found)
    return sorted(found, key=lambda item: (item.path.name, item.student))


def once_each(found: list[Submission]) -> list[Submission]:
    """One submission named twice on the command line (a folder and a file in it) is one."""
    seen: set[tuple[str, Path]] = set()
    kept = []
    for submission in found:
        key = (submission.student, submission.path.resolve())
        if key not in seen:
            seen.add(key)
            kept.append(submission)
    return kept


def symlink_note(root: Path, relative: Path) -> list[str]:
    """``["symlink to ..."]`` if the notebook, or a folder on its way from ``root``, is a link."""
    steps = [root / Path(*relative.parts[: i + 1]) for i in range(len(relative.parts))] or [root]
    if any(step.is_symlink() for step in steps):
        return [f"symlink to {(root / relative).resolve()}"]
    return []


def note_links_and_copies(submissions: list[Submission]) -> None:
    """Add a note to each submission that another one duplicates (same bytes, same name)."""
    by_content: dict[tuple[str, bytes], list[Submission]] = {}
    for submission in submissions:
        digest = hashlib.sha256(submission.path.read_bytes()).digest()
        by_content.setdefault((submission.path.name, digest), []).append(submission)
    for same in by_content.values():
        for submission in same:
            others = [
                f"{other.student}/{other.path.name}" for other in same if other is not submission
            ]
            if len(others) > 3:
                others = [*others[:2], f"{len(others) - 2} others"]
            if others:
                submission.notes.append("same file as " + ", ".join(others))


def course_solutions() -> Path | None:
    """``solutions/`` beside the installed package, when the course is checked out."""
    folder = Path(__file__).resolve().parents[2] / "solutions"
    return folder if folder.is_dir() else None


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
        notebook = clear_outputs(nbformat.read(submission.path, as_version=4))
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


async def grade_all(submissions: list[Submission], options: Options) -> list[NotebookResult]:
    """Grade every notebook, ``options.jobs`` workers at a time; results in the same order."""
    from eventloop.grading.worker import grade_in_worker

    slots = asyncio.Semaphore(options.jobs)

    async def one(submission: Submission) -> NotebookResult:
        async with slots:
            began = time.monotonic()
            result = await grade_in_worker(submission, options)
            where = f"{submission.student}/{submission.path.name}"
            print(
                for_terminal(f"graded {where} in {time.monotonic() - began:.1f} s"),
                file=sys.stderr,
                flush=True,
            )
            return result

    return list(await asyncio.gather(*(one(submission) for submission in submissions)))


def grade(paths: list[Path], options: Options) -> list[NotebookResult]:
    """Find the notebooks in ``paths`` and grade them (raises ``UsageError``)."""
    return asyncio.run(grade_all(find_notebooks(paths), options))


def main(args: argparse.Namespace) -> int:
    """``python -m eventloop grade``: see ``eventloop.grading.command``."""
    solutions = args.solutions if args.solutions is not None else course_solutions()
    for folder in [args.solutions, *args.checks_folder]:
        if folder is not None and not folder.is_dir():
            print(f"error: {folder}: no such folder", file=sys.stderr)
            return 2
    options = Options(
        args.timeout,
        args.cell_timeout,
        args.jobs,
        solutions,
        args.allow_fixed_ports,
        [folder.resolve() for folder in args.checks_folder],
    )
    began = time.monotonic()
    try:
        results = grade(args.paths, options)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_table(results), end="")
    print(f"\ngraded {len(results)} notebook(s) in {time.monotonic() - began:.1f} s")
    if args.csv is not None:
        write_csv(results, args.csv)
        print(f"wrote {args.csv}")
    return 0
