"""Give solutions/NN-*.ipynb the cell metadata that makes them nbgrader source notebooks.

Usage:  python tools/nbgrader_metadata.py            write the metadata into solutions/
        python tools/nbgrader_metadata.py --check    fail if the metadata is missing or stale

nbgrader's ``generate_assignment`` refuses a ``### BEGIN SOLUTION`` region in a
cell that is not marked as a solution cell, and ``autograde`` only scores cells
marked as grade cells. This tool marks them, from the notebook's own structure:

- each exercise cell (first line ``# Exercise N.M: <task>``) becomes a solution
  cell with grade id ``ex-N-M`` (nbgrader's "autograded answer");
- the one cell that calls ``check_N_M(...)`` becomes a locked grade cell worth
  1 point, grade id ``check-N-M`` (nbgrader's "autograder tests"): under
  nbgrader the check raises for a wrong or missing answer, and a grade cell
  that raises scores 0.

Every other cell loses any ``nbgrader`` metadata, so the result depends only on
the cells' sources. Nothing else changes: outputs, ids and tags stay as
``tools/run_notebooks.py`` saved them, so nbval sees the same notebook.
``make_exercises.py`` copies the metadata into exercises/, so nbgrader can grade
an exercise notebook however it reached the learner; the release nbgrader
generates has the same marks, plus its checksums and cell locks.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script or loaded by a test

from make_exercises import (  # noqa: E402
    MARKDOWN_MARKER,
    NOTEBOOK_NAME,
    ExerciseError,
    check_numbers,
    display,
    find_exercises,
    render,
)

ROOT = Path(__file__).resolve().parent.parent
CHECK_CALL = re.compile(r"\bcheck_(?P<chapter>\d+)_(?P<number>\d+)\s*\(")
SCHEMA_VERSION = 3
POINTS = 1


def solution_metadata(exercise: str) -> dict[str, object]:
    """An nbgrader "autograded answer" cell: the learner's code, no points of its own."""
    return {
        "grade": False,
        "grade_id": f"ex-{exercise.replace('.', '-')}",
        "locked": False,
        "schema_version": SCHEMA_VERSION,
        "solution": True,
        "task": False,
    }


def check_metadata(exercise: str) -> dict[str, object]:
    """An nbgrader "autograder tests" cell: locked, worth ``POINTS`` when it does not raise."""
    return {
        "grade": True,
        "grade_id": f"check-{exercise.replace('.', '-')}",
        "locked": True,
        "points": POINTS,
        "schema_version": SCHEMA_VERSION,
        "solution": False,
        "task": False,
    }


def with_metadata(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path`` with its nbgrader cell metadata set; raises ``ExerciseError``."""
    name = NOTEBOOK_NAME.match(path.name)
    if not name:
        raise ExerciseError(f"{display(path)}: name it NN-topic.ipynb (e.g. 03-select.ipynb)")
    notebook = nbformat.read(path, as_version=4)
    exercises = find_exercises(notebook)
    check_numbers(exercises, int(name["chapter"]), path)
    by_cell = {exercise.cell_index: exercise.id for exercise in exercises}
    known = set(by_cell.values())
    checked: dict[str, int] = {}

    for index, cell in enumerate(notebook.cells):
        where = f"{display(path)}, cell {index}"
        cell.metadata.pop("nbgrader", None)
        if cell.cell_type == "markdown" and MARKDOWN_MARKER.search(cell.source):
            raise ExerciseError(
                f"{where}: nbgrader cannot remove a `<!-- BEGIN SOLUTION -->` section from "
                f"prose (it would ask for a written answer there): move the explanation into "
                f"the exercise cell's comments"
            )
        if cell.cell_type != "code":
            continue
        calls = {f"{m['chapter']}.{m['number']}" for m in CHECK_CALL.finditer(cell.source)}
        calls &= known
        if index in by_cell:
            if calls:
                raise ExerciseError(
                    f"{where}: the exercise cell also calls its check: put the check call in "
                    f"a cell of its own after it (nbgrader locks that one)"
                )
            cell.metadata["nbgrader"] = solution_metadata(by_cell[index])
        elif calls:
            if len(calls) > 1:
                raise ExerciseError(
                    f"{where}: one cell calls the checks of {sorted(calls)}: one check per cell, "
                    f"so each exercise is scored on its own"
                )
            (exercise,) = calls
            if exercise in checked:
                raise ExerciseError(
                    f"{where}: Exercise {exercise} is checked already in cell {checked[exercise]}"
                )
            checked[exercise] = index
            cell.metadata["nbgrader"] = check_metadata(exercise)

    for exercise in exercises:
        if exercise.id not in checked:
            raise ExerciseError(
                f"{display(path)}, cell {exercise.cell_index}: no cell calls "
                f"check_{exercise.id.replace('.', '_')}(...) for Exercise {exercise.id}"
            )
        if checked[exercise.id] < exercise.cell_index:
            raise ExerciseError(
                f"{display(path)}, cell {checked[exercise.id]}: the check of Exercise "
                f"{exercise.id} comes before the exercise (cell {exercise.cell_index})"
            )
    return notebook


def generate(solutions: Path) -> dict[Path, str]:
    """Map each solutions notebook to its text with the metadata set; raises ``ExerciseError``."""
    sources = sorted(p for p in solutions.glob("*.ipynb") if NOTEBOOK_NAME.match(p.name))
    return {path: render(with_metadata(path)) for path in sources}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only check that the metadata is current"
    )
    parser.add_argument(
        "--solutions", type=Path, default=ROOT / "solutions", help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    try:
        wanted = generate(args.solutions)
    except ExerciseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    stale = [path for path, text in wanted.items() if path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(
                f"{display(path)}: nbgrader metadata missing or stale: "
                f"run python tools/nbgrader_metadata.py",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path], encoding="utf-8", newline="\n")
        print(f"wrote {display(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
