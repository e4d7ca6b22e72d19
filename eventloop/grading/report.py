"""The grades as a teacher reads them: a table in the terminal, a CSV for a spreadsheet.

Folder names and outputs come from students, so every cell goes through
``student_text`` and ``one_line``: control characters (newlines and ESC too) shown
as escapes in the table and in the CSV, so that no name can print a fake row;
cells a spreadsheet would run as formulas quoted in the CSV. A folder name that is
not UTF-8 is shown with escapes (``\\udcff``) rather than losing the CSV.

The CSV is written as the notebooks are graded (``CsvWriter``), so that an
interrupted run keeps what was graded, and rewritten in order, with each
student's totals, when grading ends, before the table is printed. Every student
gets a row for every notebook the class handed in (``missing_results``).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import nbformat

from eventloop.grading.results import ExerciseResult, NotebookResult, exercise_ids, sort_key
from eventloop.student_text import for_spreadsheet, for_terminal

MISSING = "missing"


def one_line(text: str) -> str:
    """``text`` with every control character, newlines and tabs included, shown as an escape."""
    return for_terminal(text).replace("\n", "\\n").replace("\t", "\\t")


def format_table(results: list[NotebookResult]) -> str:
    """One table per notebook name: a row per student, a column per exercise, a total.

    Then, for a class of more than one notebook, each student's total over all of them.
    """
    blocks = []
    for name in sorted({result.name for result in results}):
        rows = sorted((r for r in results if r.name == name), key=lambda r: r.student)
        exercises = sorted({e for result in rows for e in result.exercises}, key=sort_key)
        header = ["student", *exercises, "total", "notes"]
        body = [
            [
                result.student,
                *(result.exercises[e].status if e in result.exercises else "" for e in exercises),
                result.total,
                "; ".join(result.notes),
            ]
            for result in rows
        ]
        lines = [one_line(name), *aligned(header, body)]
        reasons = [
            f"  {one_line(result.student)} {exercise}: {one_line(outcome.text())}"
            for result in rows
            for exercise, outcome in sorted(result.exercises.items(), key=lambda i: sort_key(i[0]))
            if outcome.detail and outcome.status != MISSING
        ]
        if reasons:
            lines += ["", "why:", *reasons]
        blocks.append("\n".join(lines))
    names = sorted({result.name for result in results})
    if len(names) > 1:
        body = [
            [student, *(of_notebook(mine, name) for name in names), total]
            for student, mine, total in per_student(results)
        ]
        blocks.append("\n".join(["all notebooks", *aligned(["student", *names, "total"], body)]))
    return "\n\n".join(blocks) + "\n"


def aligned(header: list[str], body: list[list[str]]) -> list[str]:
    """The rows of a table, columns padded, every cell on one line."""
    rows = [[one_line(cell) for cell in row] for row in [header, *body]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    rows.insert(1, ["-" * width for width in widths])
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def per_student(results: list[NotebookResult]) -> list[tuple[str, list[NotebookResult], str]]:
    """``(student, their results, "passed/total")`` for every student, in order."""
    students = sorted({result.student for result in results})
    totals = []
    for student in students:
        mine = [result for result in results if result.student == student]
        passed = sum(result.passed for result in mine)
        total = sum(len(result.exercises) for result in mine)
        totals.append((student, mine, f"{passed}/{total}"))
    return totals


def of_notebook(mine: list[NotebookResult], name: str) -> str:
    """``2/3``, ``missing`` or "" for one student's notebook ``name``."""
    for result in mine:
        if result.name == name:
            return MISSING if MISSING in result.notes else result.total
    return ""


def not_graded(results: list[NotebookResult]) -> str:
    """The list of files that could not be graded, and why ("" when there is none)."""
    lines = [
        f"  {one_line(result.student)}/{one_line(result.name)}: {one_line(note)}"
        for result in sorted(results, key=lambda r: (r.student, r.name))
        for note in result.notes
        if note.startswith(("not graded: ", "unreadable notebook"))
    ]
    return "\ncould not grade:\n" + "\n".join(lines) + "\n" if lines else ""


def missing_results(
    results: list[NotebookResult], solutions: Path | None = None
) -> list[NotebookResult]:
    """A ``missing`` result for every notebook a student did not hand in that others did.

    With the worked answers, only notebooks that have one count (a student's own
    ``scratch.ipynb`` is nobody else's missing notebook).
    """
    names = sorted({result.name for result in results})
    if solutions is not None:
        names = [name for name in names if (solutions / name).is_file()]
    handed_in = {(result.student, result.name) for result in results}
    missing = []
    for student in sorted({result.student for result in results}):
        for name in names:
            if (student, name) in handed_in:
                continue
            exercises = expected_of(name, results, solutions)
            missing.append(
                NotebookResult(
                    student,
                    Path(student) / name,
                    {exercise: ExerciseResult(MISSING) for exercise in exercises},
                    [MISSING],
                )
            )
    return missing


def expected_of(name: str, results: list[NotebookResult], solutions: Path | None) -> list[str]:
    """The exercises of notebook ``name``: its worked answers', else what others were graded on."""
    if solutions is not None and (solutions / name).is_file():
        return exercise_ids(nbformat.read(solutions / name, as_version=4))
    return sorted(
        {e for result in results if result.name == name for e in result.exercises}, key=sort_key
    )


def csv_rows(results: list[NotebookResult], exercises: list[str]) -> list[list[Any]]:
    """One row per student and notebook, full reasons in the cells."""
    return [
        [
            result.student,
            result.name,
            *(result.exercises[e].text() if e in result.exercises else "" for e in exercises),
            result.passed,
            len(result.exercises),
            "; ".join(result.notes),
        ]
        for result in results
    ]


def csv_header(exercises: list[str]) -> list[str]:
    return ["student", "notebook", *exercises, "passed", "total", "notes"]


def safe(row: list[Any]) -> list[Any]:
    """Cells a spreadsheet shows as text, each on one line (students name folders)."""
    return [for_spreadsheet(one_line(cell) if isinstance(cell, str) else cell) for cell in row]


def write_csv(results: list[NotebookResult], path: Path) -> None:
    """The same as the table: every notebook's row, then each student's total over all."""
    exercises = sorted({e for result in results for e in result.exercises}, key=sort_key)
    ordered = sorted(results, key=lambda r: (r.name, r.student))
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(csv_header(exercises))
        for row in csv_rows(ordered, exercises):
            writer.writerow(safe(row))
        for student, _, total in per_student(results):
            passed, count = total.split("/")
            empty = [""] * len(exercises)
            writer.writerow(safe([student, "all notebooks", *empty, int(passed), int(count), ""]))


class CsvWriter:
    """The CSV, opened (and checked) before grading, a row written as each notebook is graded.

    Raises ``OSError`` at once if the file cannot be written (a missing folder,
    ``/dev/full``, a folder in its place), so that nobody grades a class for nothing.
    """

    def __init__(self, path: Path, exercises: list[str]) -> None:
        self.path = path
        self.exercises = exercises
        self.results: list[NotebookResult] = []
        self.file: Any = path.open("w", newline="", encoding="utf-8")
        try:
            self.writer = csv.writer(self.file)
            self.writer.writerow(csv_header(exercises))
            self.file.flush()
        except OSError:
            self.close()
            raise

    def add(self, result: NotebookResult) -> None:
        """One more graded notebook, written at once (a full disk is reported at the end)."""
        self.results.append(result)
        if self.file is None:
            return
        try:
            self.writer.writerow(safe(csv_rows([result], self.exercises)[0]))
            self.file.flush()
        except (OSError, ValueError):
            self.close()

    def close(self) -> None:
        if self.file is not None:
            try:
                self.file.close()
            except OSError:
                pass
            self.file = None

    def finish(self, results: list[NotebookResult]) -> None:
        """Rewrite the whole file in order, with the students' totals."""
        self.close()
        write_csv(results, self.path)
