"""What happened to each exercise: signed verdicts first, then why there is none.

A check signs a copy of its verdict for the grader (``eventloop.checks.record``).
An exercise with a signed verdict gets that verdict. One without gets a reason
read from the notebook: its exercise cell raised, its check cell raised, the run
stopped (a time limit, a dead kernel), or the learner never started it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from eventloop.checks import VERDICT_LINE

EXERCISE_HEADER = re.compile(r"^#\s*Exercise\s+(?P<id>\d+\.\d+)\s*:")
DETAIL_LINE = re.compile(r"^\s{4}(?P<key>expected|got):\s*(?P<value>.*)$")
ADDRESS_IN_USE = re.compile(r"\[Errno (98|48|10048)\]|Address already in use")

PASSED = "passed"
FAILED = "failed"
NOT_ATTEMPTED = "not attempted"
NO_VERDICT = "no verdict"
NOT_RUN = "not run"

STATUS_OF_VERDICT = {"passed": PASSED, "failed": FAILED, "not attempted yet": NOT_ATTEMPTED}


@dataclass
class ExerciseResult:
    """What happened to one exercise of one notebook."""

    status: str
    detail: str = ""

    def text(self) -> str:
        """``failed: the reply is not right (expected b'x', got None)``."""
        return f"{self.status}: {self.detail}" if self.detail else self.status


@dataclass
class NotebookResult:
    """One student's notebook, graded."""

    student: str
    path: Path
    exercises: dict[str, ExerciseResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The notebook's file name, e.g. ``03-select.ipynb``."""
        return self.path.name

    @property
    def passed(self) -> int:
        """How many of its exercises passed."""
        return sum(result.status == PASSED for result in self.exercises.values())

    @property
    def total(self) -> str:
        """``2/3``: passed out of all exercises, as the table shows it."""
        return f"{self.passed}/{len(self.exercises)}"

    def to_json(self) -> dict[str, Any]:
        """Plain data, for the worker process to hand back."""
        return {**asdict(self), "path": str(self.path)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NotebookResult:
        exercises = {e: ExerciseResult(**r) for e, r in data["exercises"].items()}
        return cls(data["student"], Path(data["path"]), exercises, list(data["notes"]))


def exercise_ids(notebook: nbformat.NotebookNode) -> list[str]:
    """The ``N.M`` of every ``# Exercise N.M: ...`` code cell, in order, once each."""
    ids: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            header = EXERCISE_HEADER.match(cell.source.lstrip())
            if header and header["id"] not in ids:
                ids.append(header["id"])
    return ids


def sort_key(exercise: str) -> tuple[int, ...]:
    return tuple(int(part) for part in exercise.split("."))


def signed_verdicts(records: list[dict[str, str]]) -> dict[str, ExerciseResult]:
    """The last signed verdict of each exercise."""
    found: dict[str, ExerciseResult] = {}
    for entry in records:
        status = STATUS_OF_VERDICT.get(entry["status"], entry["status"])
        found[entry["exercise"]] = ExerciseResult(status, entry.get("detail", ""))
    return found


def output_text(output: nbformat.NotebookNode) -> str:
    """The text a learner saw for one output (printed, or a cell's value); "" for the rest."""
    if output.output_type == "stream":
        return output.text
    if output.output_type in ("execute_result", "display_data"):
        return output.get("data", {}).get("text/plain", "")
    return ""


def printed_verdicts(notebook: nbformat.NotebookNode) -> dict[str, ExerciseResult]:
    """The last verdict line printed for each exercise, with its expected/got lines.

    Printed lines do not count for the grade (anyone can print one); the grader
    compares them with the signed verdicts, to notice a line no check wrote.
    """
    found: dict[str, ExerciseResult] = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        lines = "".join(output_text(output) for output in cell.outputs).splitlines()
        for index, line in enumerate(lines):
            match = VERDICT_LINE.match(line)
            if not match:
                continue
            status = STATUS_OF_VERDICT[match["status"]]
            detail = (match["reason"] or "").strip() if status == FAILED else ""
            details = []
            for following in lines[index + 1 : index + 3]:
                extra = DETAIL_LINE.match(following)
                if extra and status == FAILED:
                    details.append(f"{extra['key']} {extra['value'].strip()}")
            if details:
                detail += f" ({', '.join(details)})"
            found[match["exercise"]] = ExerciseResult(status, detail)
    return found


def cell_error(cell: nbformat.NotebookNode) -> tuple[str, str] | None:
    """``(ename, evalue)`` of the error a cell raised in this run, if it raised."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            return output.ename, output.evalue
    return None


def without_verdict(exercise: str, notebook: nbformat.NotebookNode, problem: str) -> ExerciseResult:
    """Why an exercise printed no verdict: its cell's error, the run's problem, or no attempt."""
    chapter, number = exercise.split(".")
    check_call = re.compile(rf"\bcheck_{chapter}_{number}\s*\(")
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        header = EXERCISE_HEADER.match(cell.source.lstrip())
        if header and header["id"] == exercise and (error := cell_error(cell)):
            ename, evalue = error
            if ename == "NotImplementedError" and f"Exercise {exercise}" in evalue:
                return ExerciseResult(NOT_ATTEMPTED)
            return ExerciseResult(NO_VERDICT, f"cell errored ({ename}: {first_line(evalue)})")
    for cell in notebook.cells:
        if (
            cell.cell_type == "code"
            and check_call.search(cell.source)
            and (error := cell_error(cell))
        ):
            ename, evalue = error
            return ExerciseResult(NO_VERDICT, f"check cell errored ({ename}: {first_line(evalue)})")
    if problem:
        return ExerciseResult(NO_VERDICT, problem)
    return ExerciseResult(NOT_ATTEMPTED)


def first_line(text: str, limit: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def address_in_use(notebook: nbformat.NotebookNode) -> bool:
    """Did the code meet ``OSError: [Errno 98] Address already in use`` (a fixed port)?"""
    for cell in notebook.cells:
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            continue  # a cell that shows the error on purpose
        error = cell_error(cell)
        if error and ADDRESS_IN_USE.search(error[1]):
            return True
        for output in cell.get("outputs", []):
            for line in output_text(output).splitlines():
                if VERDICT_LINE.match(line) and ADDRESS_IN_USE.search(line):
                    return True
    return False
