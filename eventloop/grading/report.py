"""The grades as a teacher reads them: a table in the terminal, a CSV for a spreadsheet.

Folder names and outputs come from students, so every cell goes through
``student_text``: control characters shown as escapes in the terminal, cells a
spreadsheet would run as formulas quoted in the CSV.
"""

from __future__ import annotations

import csv
from pathlib import Path

from eventloop.grading.results import NotebookResult, sort_key
from eventloop.student_text import for_spreadsheet, for_terminal


def format_table(results: list[NotebookResult]) -> str:
    """One table per notebook name: a row per student, a column per exercise, a total."""
    blocks = []
    for name in sorted({result.name for result in results}):
        rows = [result for result in results if result.name == name]
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
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        lines = [name]
        for row in [header, ["-" * w for w in widths], *body]:
            lines.append(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
        reasons = [
            f"  {result.student} {exercise}: {outcome.text()}"
            for result in rows
            for exercise, outcome in sorted(result.exercises.items(), key=lambda i: sort_key(i[0]))
            if outcome.detail
        ]
        if reasons:
            lines += ["", "why:", *reasons]
        blocks.append("\n".join(lines))
    return for_terminal("\n\n".join(blocks) + "\n")  # names and reasons come from students


def write_csv(results: list[NotebookResult], path: Path) -> None:
    """The same as the table, one row per student and notebook, full reasons in the cells."""
    exercises = sorted({e for result in results for e in result.exercises}, key=sort_key)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["student", "notebook", *exercises, "passed", "total", "notes"])
        for result in sorted(results, key=lambda r: (r.name, r.student)):
            row = [
                result.student,
                result.name,
                *(result.exercises[e].text() if e in result.exercises else "" for e in exercises),
                result.passed,
                len(result.exercises),
                "; ".join(result.notes),
            ]
            writer.writerow([for_spreadsheet(cell) for cell in row])  # students name folders
