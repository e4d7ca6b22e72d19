"""Every exercises/NN-*.ipynb works as a learner first meets it.

"Run All" on a fresh exercise notebook must reach every check, and every check must
say "○ Exercise N.M not attempted yet" (a stub that passed or failed would mean the
check does not really test anything). No cell may error except the ones tagged
``raises-exception``; an exercise cell that raises may only raise its own
``NotImplementedError("Exercise N.M: ...")``.

The fixture chapter (tests/fixtures/exercises/expected/98-demo.ipynb) goes through
the same test, so this file tests something even before the course has exercises.
"""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path

import nbformat
import pytest

from eventloop.checks import VERDICT_LINE
from eventloop.grading import kernel, results

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "exercises"
CELL_TIMEOUT = 30
STUB_MESSAGE = re.compile(r"^Exercise (?P<id>\d+\.\d+): \S")

FIXTURE_CHECKS = Path(__file__).parent / "fixtures" / "exercises" / "checks"  # chapter 98's
PAIRS = [
    (path, ROOT / "solutions" / path.name)
    for path in sorted((ROOT / "exercises").glob("[0-9][0-9]-*.ipynb"))
] + [(FIXTURES / "expected" / "98-demo.ipynb", FIXTURES / "solutions" / "98-demo.ipynb")]
IDS = [path.relative_to(ROOT).as_posix() for path, _ in PAIRS]


def header_id(cell: nbformat.NotebookNode) -> str | None:
    header = results.EXERCISE_HEADER.match(cell.source.lstrip())
    return header["id"] if cell.cell_type == "code" and header else None


def stubs_in(source: str) -> list[str]:
    """The exercise named by each ``raise NotImplementedError("Exercise N.M: ...")``."""
    named = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Raise)
            and isinstance(node.exc, ast.Call)
            and getattr(node.exc.func, "id", "") == "NotImplementedError"
            and node.exc.args
            and isinstance(node.exc.args[0], ast.Constant)
            and (match := STUB_MESSAGE.match(str(node.exc.args[0].value)))
        ):
            named.append(match["id"])
    return named


def tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


@pytest.mark.parametrize(("exercises", "solutions"), PAIRS, ids=IDS)
def test_structure(exercises: Path, solutions: Path) -> None:
    notebook = nbformat.read(exercises, as_version=4)
    ids = results.exercise_ids(notebook)
    chapter = int(exercises.name[:2])
    assert ids, f"{exercises.name} has no `# Exercise N.M: ...` cell"
    assert ids == results.exercise_ids(nbformat.read(solutions, as_version=4))
    assert all(int(exercise.split(".")[0]) == chapter for exercise in ids)
    sources = [cell.source for cell in notebook.cells]
    for index, cell in enumerate(notebook.cells):
        where = f"{exercises.name}, cell {index}"
        assert "BEGIN SOLUTION" not in cell.source and "END SOLUTION" not in cell.source, where
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, where
        exercise = header_id(cell)
        assert (exercise is not None) == ("exercise" in tags(cell)), where
        if exercise is None:
            continue
        stubs = stubs_in(cell.source)
        assert stubs, f'{where}: no `raise NotImplementedError("Exercise {exercise}: ...")`'
        assert set(stubs) == {exercise}, f"{where}: the stub names another exercise: {stubs}"
        later = "\n".join(sources[index + 1 :])
        check = f"check_{exercise.replace('.', '_')}("
        assert check in later, f"{where}: no cell after it calls {check}...)"


@pytest.mark.parametrize(("exercises", "solutions"), PAIRS, ids=IDS)
def test_run_all_says_not_attempted(exercises: Path, solutions: Path) -> None:
    run = asyncio.run(kernel.run_notebook(exercises, 120, CELL_TIMEOUT, trusted=[FIXTURE_CHECKS]))
    assert run.problem == "", f"{exercises.name}: {run.problem}"
    assert run.interrupted == [], f"{exercises.name}: cells over {CELL_TIMEOUT} s"
    cells = run.notebook.cells

    stub_raised: set[str] = set()
    for index, cell in enumerate(cells):
        error = results.cell_error(cell)
        if error is None:
            continue
        where = f"{exercises.name}, cell {index} raised {error[0]}: {error[1]}"
        assert "raises-exception" in tags(cell), where
        exercise = header_id(cell)
        if exercise is not None:
            assert error[0] == "NotImplementedError", where
            assert error[1].startswith(f"Exercise {exercise}: "), where
            stub_raised.add(exercise)

    printed: dict[str, list[str]] = {}
    for cell in cells:
        for output in cell.get("outputs", []):
            for line in results.output_text(output).splitlines():
                if match := VERDICT_LINE.match(line):
                    printed.setdefault(match["exercise"], []).append(match["status"])
    for exercise in results.exercise_ids(run.notebook):
        statuses = printed.get(exercise, [])
        assert set(statuses) <= {"not attempted yet"}, (
            f"{exercises.name}: the stub of Exercise {exercise} got a verdict {statuses}: "
            f"does its check really call the learner's code?"
        )
        assert statuses or exercise in stub_raised, (
            f"{exercises.name}: no verdict for Exercise {exercise} after Run All"
        )
    signed = {entry["exercise"]: entry["status"] for entry in run.records}
    assert set(signed.values()) <= {"not attempted"}, f"{exercises.name}: signed {signed}"
    assert set(signed) == set(printed), f"{exercises.name}: printed {printed}, signed {signed}"
