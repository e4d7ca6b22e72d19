"""tools/make_exercises.py: solutions/ in, exercises/ out, byte for byte, with clear errors."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "exercises"
TOOL = ROOT / "tools" / "make_exercises.py"

spec = importlib.util.spec_from_file_location("make_exercises", TOOL)
assert spec is not None and spec.loader is not None
make_exercises = importlib.util.module_from_spec(spec)
sys.modules["make_exercises"] = make_exercises
spec.loader.exec_module(make_exercises)


class Result:
    """What the command printed and returned."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_tool(solutions: Path, exercises: Path, *extra: str) -> Result:
    """The tool's main(), run from the course folder (in-process: a subprocess costs 1 s here)."""
    import contextlib
    import io
    import os

    out, err = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    os.chdir(solutions.parent)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = make_exercises.main(
                ["--solutions", str(solutions), "--exercises", str(exercises), *extra]
            )
    finally:
        os.chdir(previous)
    return Result(code, out.getvalue(), err.getvalue())


def write_solutions(
    folder: Path, *cells: nbformat.NotebookNode, name: str = "05-demo.ipynb"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(new_notebook(cells=list(cells)), path)
    return path


def generate_one(tmp_path: Path, *cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    path = write_solutions(tmp_path / "solutions", *cells)
    return make_exercises.make_exercise_notebook(path)


GOOD = "\n".join(
    [
        "# Exercise 5.1: say hi",
        "def hi():",
        "    ### BEGIN SOLUTION",
        "    return 'hi'",
        "    ### END SOLUTION",
    ]
)


def exercise_cell(source: str) -> nbformat.NotebookNode:
    return new_code_cell(source)


# --- the fixture chapter: a golden file ---------------------------------------------------------


def test_fixture_generates_the_expected_notebook_byte_for_byte() -> None:
    wanted = make_exercises.generate(FIXTURES / "solutions", FIXTURES / "expected")
    path = FIXTURES / "expected" / "98-demo.ipynb"
    assert list(wanted) == [path]
    assert wanted[path] == path.read_text(encoding="utf-8")


def test_fixture_carol_hands_in_the_untouched_exercise_notebook() -> None:
    """test_grade.py relies on carol's notebook being a fresh stub."""
    carol = FIXTURES / "submissions" / "carol" / "98-demo.ipynb"
    assert carol.read_bytes() == (FIXTURES / "expected" / "98-demo.ipynb").read_bytes()


def test_stub_replaces_each_block_at_its_indentation() -> None:
    notebook = make_exercises.make_exercise_notebook(FIXTURES / "solutions" / "98-demo.ipynb")
    sources = [cell.source for cell in notebook.cells]
    take = next(s for s in sources if s.startswith("# Exercise 98.3"))
    assert take.splitlines()[3:7] == [
        "    for message in messages:",
        "        # YOUR CODE HERE",
        '        raise NotImplementedError("Exercise 98.3: this loop has a bug '
        '(it takes one message too many): fix it")',
        "        taken.append(message)",
    ]
    counter = next(s for s in sources if s.startswith("# Exercise 98.2"))
    stub = (
        'raise NotImplementedError("Exercise 98.2: count the datagrams a callback receives, '
        'and reset the count")'
    )
    assert " " * 12 + stub in counter.splitlines()  # inside a function inside a method
    assert " " * 8 + stub in counter.splitlines()  # the second block, in reset()
    assert counter.count("# YOUR CODE HERE") == 2
    assert "self.count += 1" not in counter and "self.count = 0" in counter  # __init__ stays
    for source in sources:
        assert "SOLUTION" not in source


def test_markdown_solution_sections_are_removed() -> None:
    solution = nbformat.read(FIXTURES / "solutions" / "98-demo.ipynb", as_version=4)
    notebook = make_exercises.make_exercise_notebook(FIXTURES / "solutions" / "98-demo.ipynb")
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert "## Exercise 98.2\n\nA callback that counts.\n\nThen run the check." in markdown
    assert not any("closure" in text or "Why it works" in text for text in markdown)
    # the cell that was only an explanation is gone; every other cell is kept, in order
    assert len(notebook.cells) == len(solution.cells) - 1


def test_cells_are_tagged_and_outputs_cleared() -> None:
    notebook = make_exercises.make_exercise_notebook(FIXTURES / "solutions" / "98-demo.ipynb")
    tagged = [
        c.source.splitlines()[0] for c in notebook.cells if "exercise" in c.metadata.get("tags", [])
    ]
    assert tagged == [
        "# Exercise 98.1: return twice the number you are given",
        "# Exercise 98.2: count the datagrams a callback receives, and reset the count",
        "# Exercise 98.3: this loop has a bug (it takes one message too many): fix it",
    ]
    for cell in notebook.cells:
        assert "raises-exception" not in cell.metadata.get("tags", [])  # stubs are in functions
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert notebook.metadata.kernelspec.name == "python3"


def test_outputs_counts_and_widget_state_are_dropped(tmp_path: Path) -> None:
    cell = exercise_cell(GOOD)
    cell.execution_count = 7
    cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00"}
    cell.metadata["tags"] = ["keep-me"]
    shown = new_code_cell("print(hi())", execution_count=8)
    shown.outputs = [new_output("stream", name="stdout", text="hi\n")]
    path = write_solutions(tmp_path / "solutions", cell, shown)
    solution = nbformat.read(path, as_version=4)
    solution.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nbformat.write(solution, path)

    notebook = make_exercises.make_exercise_notebook(path)
    assert "widgets" not in notebook.metadata
    assert notebook.cells[0].metadata == {"tags": ["keep-me", "exercise"]}
    assert notebook.cells[0].execution_count is None
    assert notebook.cells[1].outputs == [] and notebook.cells[1].execution_count is None


def test_nbgrader_metadata_is_kept_so_nbgrader_can_grade_an_exercise_notebook(
    tmp_path: Path,
) -> None:
    cell = exercise_cell(GOOD)
    cell.metadata["nbgrader"] = {"grade_id": "ex-3-1", "solution": True, "grade": False}
    path = write_solutions(tmp_path / "solutions", cell)
    notebook = make_exercises.make_exercise_notebook(path)
    assert notebook.cells[0].metadata.nbgrader == cell.metadata["nbgrader"]


def test_a_stub_outside_any_function_tags_the_cell_raises_exception(tmp_path: Path) -> None:
    notebook = generate_one(
        tmp_path,
        exercise_cell(
            "# Exercise 5.1: compute the answer\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION"
        ),
    )
    assert notebook.cells[0].source == (
        "# Exercise 5.1: compute the answer\n# YOUR CODE HERE\n"
        'raise NotImplementedError("Exercise 5.1: compute the answer")'
    )
    assert notebook.cells[0].metadata.tags == ["exercise", "raises-exception"]


# --- errors: which file, which cell, what to do ---------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (
            [exercise_cell(GOOD.replace("return 'hi'", "return 'hi'  ### END SOLUTION"))],
            "cell 0: line 4: a solution marker must be alone on its line",
        ),
        (
            [
                exercise_cell(
                    "# Exercise 5.1: say hi\ndef hi():\n    ### BEGIN SOLUTION\n    return 'hi'"
                )
            ],
            "cell 0: `### BEGIN SOLUTION` on line 3 has no `### END SOLUTION`",
        ),
        (
            [
                exercise_cell(
                    "# Exercise 5.1: say hi\ndef hi():\n    return 'hi'\n    ### END SOLUTION"
                )
            ],
            "cell 0: line 4: `### END SOLUTION` without a `### BEGIN SOLUTION`",
        ),
        (
            [
                exercise_cell(
                    "# Exercise 5.1: say hi\ndef hi():\n    ### BEGIN SOLUTION\n"
                    "    ### BEGIN SOLUTION\n    return 'hi'\n    ### END SOLUTION"
                )
            ],
            "cell 0: line 4: `### BEGIN SOLUTION` inside the block opened on line 3",
        ),
        (
            [
                new_markdown_cell("intro"),
                exercise_cell("# Exercise 5.1: say hi\ndef hi():\n    return 'hi'"),
            ],
            "cell 1: exercise 5.1 has no `### BEGIN SOLUTION` / `### END SOLUTION` block",
        ),
        (
            [exercise_cell(GOOD), exercise_cell(GOOD)],
            "cell 1: Exercise 5.1 is already used in cell 0",
        ),
        (
            [exercise_cell(GOOD.replace("5.1", "3.1"))],
            "cell 0: Exercise 3.1 is in chapter 05's notebook: number it 5.M",
        ),
        (
            [
                exercise_cell(
                    "def hi():\n    ### BEGIN SOLUTION\n    return 'hi'\n    ### END SOLUTION"
                )
            ],
            "cell 0: solution markers outside an exercise cell",
        ),
        (
            [exercise_cell("# Exercise 5.1 say hi\ndef hi():\n    pass")],
            "cell 0: malformed exercise header '# Exercise 5.1 say hi'",
        ),
        (
            [exercise_cell(GOOD), new_markdown_cell("Hint.\n<!-- BEGIN SOLUTION -->\nthe answer")],
            "cell 1: `<!-- BEGIN SOLUTION -->` has no `<!-- END SOLUTION -->`",
        ),
        (
            [new_markdown_cell("Hint.\n<!-- END SOLUTION -->")],
            "cell 0: `<!-- END SOLUTION -->` without a BEGIN",
        ),
    ],
    ids=[
        "marker-not-alone",
        "begin-without-end",
        "end-without-begin",
        "nested-begin",
        "exercise-without-markers",
        "duplicate-number",
        "wrong-chapter",
        "markers-outside-exercise",
        "malformed-header",
        "markdown-begin-without-end",
        "markdown-end-without-begin",
    ],
)
def test_malformed_solutions_are_refused_with_file_and_cell(
    tmp_path: Path, cells: list[nbformat.NotebookNode], message: str
) -> None:
    solutions = tmp_path / "solutions"
    write_solutions(solutions, *cells)
    exercises = tmp_path / "exercises"
    result = run_tool(solutions, exercises)
    assert result.returncode == 1
    assert result.stderr.startswith("error: solutions/05-demo.ipynb, " + message), result.stderr
    assert not exercises.exists()  # nothing written


def test_a_bad_notebook_stops_every_write(tmp_path: Path) -> None:
    solutions = tmp_path / "solutions"
    write_solutions(solutions, exercise_cell(GOOD), name="05-good.ipynb")
    write_solutions(solutions, exercise_cell(GOOD.replace("5.1", "6.1")), name="06-bad.ipynb")
    write_solutions(solutions, exercise_cell(GOOD.replace("5.1", "7.1")[:-20]), name="07-bad.ipynb")
    result = run_tool(solutions, tmp_path / "exercises")
    assert result.returncode == 1
    assert "06-bad.ipynb" not in result.stderr  # 06 is fine: its only exercise is 6.1
    assert "07-bad.ipynb, cell 0" in result.stderr
    assert not (tmp_path / "exercises").exists()


# --- the command: writing, idempotence, --check -------------------------------------------------


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A course folder with the fixture chapter in solutions/."""
    (tmp_path / "solutions").mkdir()
    shutil.copy(FIXTURES / "solutions" / "98-demo.ipynb", tmp_path / "solutions")
    return tmp_path


def test_writes_then_rewrites_nothing(course: Path) -> None:
    first = run_tool(course / "solutions", course / "exercises")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "wrote exercises/98-demo.ipynb\n"
    written = (course / "exercises" / "98-demo.ipynb").read_bytes()
    assert written == (FIXTURES / "expected" / "98-demo.ipynb").read_bytes()

    second = run_tool(course / "solutions", course / "exercises")
    assert second.returncode == 0 and second.stdout == ""
    assert (course / "exercises" / "98-demo.ipynb").read_bytes() == written


def test_check_passes_when_current(course: Path) -> None:
    run_tool(course / "solutions", course / "exercises")
    result = run_tool(course / "solutions", course / "exercises", "--check")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_check_detects_a_stale_exercise(course: Path) -> None:
    run_tool(course / "solutions", course / "exercises")
    solution = nbformat.read(course / "solutions" / "98-demo.ipynb", as_version=4)
    solution.cells[0].source += "\n\nA new sentence."
    nbformat.write(solution, course / "solutions" / "98-demo.ipynb")
    result = run_tool(course / "solutions", course / "exercises", "--check")
    assert result.returncode == 1
    assert result.stderr == "exercises/98-demo.ipynb is stale: run make exercises\n"


def test_check_detects_a_hand_edit(course: Path) -> None:
    run_tool(course / "solutions", course / "exercises")
    path = course / "exercises" / "98-demo.ipynb"
    path.write_text(path.read_text().replace("YOUR CODE HERE", "my code"))
    result = run_tool(course / "solutions", course / "exercises", "--check")
    assert result.returncode == 1 and "98-demo.ipynb is stale" in result.stderr


def test_check_detects_missing_and_orphaned_exercises(course: Path) -> None:
    (course / "exercises").mkdir()
    shutil.copy(FIXTURES / "expected" / "98-demo.ipynb", course / "exercises" / "97-gone.ipynb")
    result = run_tool(course / "solutions", course / "exercises", "--check")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "exercises/98-demo.ipynb is missing: run make exercises",
        "exercises/97-gone.ipynb has no source solutions/97-gone.ipynb: "
        "delete it or add the solutions notebook, then run make exercises",
    ]
    # generating removes the orphan and writes the missing one
    fixed = run_tool(course / "solutions", course / "exercises")
    assert fixed.returncode == 0
    assert sorted(p.name for p in (course / "exercises").iterdir()) == ["98-demo.ipynb"]


def test_no_solutions_is_nothing_to_do(tmp_path: Path) -> None:
    (tmp_path / "solutions").mkdir()
    result = run_tool(tmp_path / "solutions", tmp_path / "exercises")
    assert result.returncode == 0 and "nothing to do" in result.stdout
    assert run_tool(tmp_path / "solutions", tmp_path / "exercises", "--check").returncode == 0


def test_the_course_exercises_are_current(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `make test` checks first: exercises/ is exactly what solutions/ generates."""
    monkeypatch.chdir(ROOT)
    assert make_exercises.main(["--check"]) == 0, capsys.readouterr().err


def test_old_notebooks_without_cell_ids_get_stable_ones(tmp_path: Path) -> None:
    """nbformat 4.4 has no cell ids: invented ones would differ on every run."""
    solution = new_notebook(cells=[new_markdown_cell("# Old"), exercise_cell(GOOD)])
    solution.nbformat_minor = 4
    for cell in solution.cells:
        del cell["id"]
    folder = tmp_path / "solutions"
    folder.mkdir()
    (folder / "05-old.ipynb").write_text(nbformat.writes(solution, version=4))
    texts = [make_exercises.render(make_exercises.make_exercise_notebook(folder / "05-old.ipynb"))
             for _ in range(2)]  # fmt: skip
    assert texts[0] == texts[1]
    assert [cell.id for cell in nbformat.reads(texts[0], as_version=4).cells] == [
        "cell-0",
        "cell-1",
    ]


def test_only_chapter_notebooks_are_sources(course: Path) -> None:
    shutil.copy(course / "solutions" / "98-demo.ipynb", course / "solutions" / "scratch.ipynb")
    result = run_tool(course / "solutions", course / "exercises")
    assert result.returncode == 0
    assert sorted(p.name for p in (course / "exercises").iterdir()) == ["98-demo.ipynb"]


def test_markdown_without_markers_is_left_alone() -> None:
    text = "A line with a hard break  \nnext line\n\n\n\nfar below\n"
    assert make_exercises.strip_markdown(text, "here") == text


def test_only_exercise_cells_keep_the_exercise_tag(tmp_path: Path) -> None:
    stray = new_code_cell("print('setup')", metadata={"tags": ["exercise"]})
    kept = new_code_cell("1 / 0", metadata={"tags": ["exercise", "raises-exception"]})
    notebook = generate_one(tmp_path, stray, kept, exercise_cell(GOOD))
    assert [cell.metadata.get("tags") for cell in notebook.cells] == [
        None,
        ["raises-exception"],
        ["exercise"],
    ]
