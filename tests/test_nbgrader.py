"""solutions/ are nbgrader source notebooks: nbgrader itself generates exercises/ and grades them.

The metadata (tools/nbgrader_metadata.py) is checked without nbgrader. The rest
builds a throw-away nbgrader course directory, as TEACHING.md describes it, and
runs the real command line: ``generate_assignment`` over every chapter (its
release must have exactly the code cells and grading metadata of exercises/),
then ``autograde`` of one chapter, submitted once as solutions/ (full marks)
and once as exercises/, the stubs (zero, because every check cell raises).
It needs nbgrader, which ``make test`` installs with the ``teach`` extra;
without it these tests skip and say so.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "nbgrader_metadata.py"
ASSIGNMENT = "ps1"
GRADED = ["06-framing"]  # one chapter: each notebook autograded costs a kernel start (~1.5 s)
NBGRADER_CONFIG = """\
from eventloop.grading.nbgrader_stubs import configure

c = get_config()  # noqa: F821  (nbgrader provides it)
configure(c)
"""

spec = importlib.util.spec_from_file_location("nbgrader_metadata", TOOL)
assert spec is not None and spec.loader is not None
nbgrader_metadata = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nbgrader_metadata)

needs_nbgrader = pytest.mark.skipif(
    importlib.util.find_spec("nbgrader") is None,
    reason="nbgrader is not installed: pip install -e '.[teach]' (make test installs it)",
)


def code_cells(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


# --- the metadata, without nbgrader ---------------------------------------------------------------


def test_solutions_carry_current_nbgrader_metadata() -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert nbgrader_metadata.main(["--check"]) == 0, err.getvalue()


def test_every_exercise_is_a_solution_cell_and_its_check_a_one_point_locked_grade_cell() -> None:
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]-*.ipynb")):
        marked = [
            (cell.metadata["nbgrader"], cell.source)
            for cell in nbformat.read(path, as_version=4).cells
            if "nbgrader" in cell.metadata
        ]
        assert marked, path.name
        for (answer, source), (check, check_source) in zip(marked[::2], marked[1::2]):
            exercise = answer["grade_id"].removeprefix("ex-")
            assert source.startswith(f"# Exercise {exercise.replace('-', '.')}:"), path.name
            assert (answer["solution"], answer["grade"], answer["locked"]) == (True, False, False)
            assert check["grade_id"] == f"check-{exercise}", path.name
            assert f"check_{exercise.replace('-', '_')}(" in check_source, path.name
            assert (check["grade"], check["locked"], check["points"]) == (True, True, 1)
            assert check["solution"] is False and check["schema_version"] == 3


def tool_on(tmp_path: Path, *cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    path = tmp_path / "03-demo.ipynb"
    nbformat.write(new_notebook(cells=list(cells)), path)
    return nbgrader_metadata.with_metadata(path)


EXERCISE = (
    "# Exercise 3.1: double it\n"
    "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
)
CHECK = "from eventloop.checks.ch03 import check_3_1\n\ncheck_3_1(double)"


def test_the_tool_marks_only_exercise_and_check_cells_and_drops_stale_marks(tmp_path: Path) -> None:
    stale = new_code_cell("print('setup')", metadata={"nbgrader": {"grade": True}, "tags": ["x"]})
    notebook = tool_on(tmp_path, stale, new_code_cell(EXERCISE), new_code_cell(CHECK))
    assert notebook.cells[0].metadata == {"tags": ["x"]}
    assert notebook.cells[1].metadata.nbgrader.grade_id == "ex-3-1"
    assert notebook.cells[2].metadata.nbgrader.grade_id == "check-3-1"


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([EXERCISE], "no cell calls check_3_1"),
        ([CHECK, EXERCISE], "comes before the exercise"),
        ([EXERCISE, CHECK, CHECK], "checked already in cell 1"),
        ([EXERCISE + "\ncheck_3_1(double)"], "also calls its check"),
    ],
)
def test_the_tool_refuses_what_nbgrader_could_not_score(
    tmp_path: Path, cells: list[str], message: str
) -> None:
    with pytest.raises(nbgrader_metadata.ExerciseError, match=message):
        tool_on(tmp_path, *(new_code_cell(source) for source in cells))


def test_the_tool_refuses_a_markdown_solution_section(tmp_path: Path) -> None:
    prose = new_markdown_cell("Why:\n<!-- BEGIN SOLUTION -->\nbecause\n<!-- END SOLUTION -->")
    with pytest.raises(nbgrader_metadata.ExerciseError, match="cannot remove"):
        tool_on(tmp_path, prose, new_code_cell(EXERCISE), new_code_cell(CHECK))


# --- nbgrader itself ------------------------------------------------------------------------------


def nbgrader(course: Path, *args: str) -> None:
    """Run ``nbgrader ARGS`` in ``course`` as a teacher would, with this checkout's eventloop."""
    env = dict(os.environ)
    env.pop("NBGRADER_EXECUTION", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # nbgrader runs `alembic` when it creates the gradebook: the one beside this Python.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["JUPYTER_CONFIG_DIR"] = str(course / ".jupyter")  # not the user's own nbgrader config
    run = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert run.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{run.stdout}{run.stderr}"


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course directory, its assignment generated from solutions/ and two learners autograded."""
    course = tmp_path_factory.mktemp("course")
    (course / "nbgrader_config.py").write_text(NBGRADER_CONFIG)
    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]-*.ipynb")):
        shutil.copy(path, source)
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    for student, folder in (("solver", "solutions"), ("stubber", "exercises")):
        submitted = course / "submitted" / student / ASSIGNMENT
        submitted.mkdir(parents=True)
        for name in GRADED:
            shutil.copy(ROOT / folder / f"{name}.ipynb", submitted)
    nbgrader(course, "autograde", ASSIGNMENT)  # creates both students in the gradebook
    return course


@needs_nbgrader
def test_generate_assignment_writes_our_exercises(course: Path) -> None:
    release = course / "release" / ASSIGNMENT
    exercises = sorted((ROOT / "exercises").glob("[0-9][0-9]-*.ipynb"))
    assert sorted(p.name for p in release.glob("*.ipynb")) == [p.name for p in exercises]
    for path in exercises:
        assert code_cells(release / path.name) == code_cells(path), path.name
        assert grading_marks(release / path.name) == grading_marks(path), path.name


def grading_marks(path: Path) -> list[tuple[object, ...]]:
    """What nbgrader grades by, cell by cell (the release adds checksums and cell locks too)."""
    keys = ("grade_id", "solution", "grade", "locked", "points")
    return [
        tuple(cell.metadata["nbgrader"].get(key) for key in keys)
        for cell in nbformat.read(path, as_version=4).cells
        if "nbgrader" in cell.metadata
    ]


def scores(course: Path, student: str) -> dict[str, tuple[float, float]]:
    """``{notebook: (score, max_score)}`` of the submitted chapters, read from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {
            name: (notebook.score, notebook.max_score)
            for name in GRADED
            for notebook in [gradebook.find_submission_notebook(name, ASSIGNMENT, student)]
        }


def check_errors(course: Path, student: str, name: str) -> list[str]:
    """The first line of each error that a grade cell of the autograded notebook raised."""
    path = course / "autograded" / student / ASSIGNMENT / f"{name}.ipynb"
    return [
        f"{output.ename}: {output.evalue.splitlines()[0]}"
        for cell in nbformat.read(path, as_version=4).cells
        if cell.metadata.get("nbgrader", {}).get("grade")
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]


@needs_nbgrader
def test_autograde_gives_the_solutions_full_marks(course: Path) -> None:
    assert scores(course, "solver") == {"06-framing": (3, 3)}
    for name in GRADED:
        assert check_errors(course, "solver", name) == [], name


@needs_nbgrader
def test_autograde_gives_the_stubs_zero_because_each_check_raises_not_attempted(
    course: Path,
) -> None:
    assert scores(course, "stubber") == {"06-framing": (0, 3)}
    assert check_errors(course, "stubber", "06-framing") == [
        f"AssertionError: ○ Exercise 6.{n} not attempted yet: replace "
        "`raise NotImplementedError(...)` in the exercise cell with your code, run that cell, "
        "then run this one again."
        for n in (1, 2, 3)
    ]


def test_teaching_md_gives_the_course_directory_the_config_tested_here() -> None:
    assert NBGRADER_CONFIG in (ROOT / "TEACHING.md").read_text()
