"""Generate exercises/NN-*.ipynb from solutions/NN-*.ipynb (the source of truth).

Usage:  python tools/make_exercises.py            write exercises/ (what `make exercises` runs)
        python tools/make_exercises.py --check    fail if exercises/ is not what would be written

In a solutions notebook, an exercise is a code cell whose first line is
``# Exercise N.M: <the task in one line>``. The learner's part of it sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION``. In the exercise notebook each
such block becomes, at the block's indentation::

    # YOUR CODE HERE
    raise NotImplementedError("Exercise N.M: <the task in one line>")

so defining the stub never fails and "Run All" reaches every check. The cell is
tagged ``exercise`` (and ``raises-exception`` when the stub is not inside a
function, because then running the cell raises). Markdown cells may hold
``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->`` sections: they are
removed. Every output, execution count and piece of run-time metadata is dropped,
so the result is byte-identical from one run to the next. A cell's ``tags``,
``jupyter`` and ``nbgrader`` metadata are kept: the last (written into
solutions/ by ``tools/nbgrader_metadata.py``) lets nbgrader grade an exercise
notebook however it reached the learner.

Errors (a BEGIN without an END, an exercise cell without markers, an exercise
number that repeats or belongs to another chapter, ...) name the file and the
cell index, and nothing is written.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent

NOTEBOOK_NAME = re.compile(r"^(?P<chapter>\d\d)-[\w.-]+\.ipynb$")
EXERCISE_HEADER = re.compile(
    r"^#\s*Exercise\s+(?P<id>(?P<chapter>\d+)\.\d+)\s*:\s*(?P<task>\S.*?)\s*$"
)
LOOKS_LIKE_HEADER = re.compile(r"^#\s*Exercise\s+\d", re.IGNORECASE)
BEGIN_CODE = re.compile(r"^(?P<indent>[ \t]*)###\s*BEGIN SOLUTION\s*$")
END_CODE = re.compile(r"^[ \t]*###\s*END SOLUTION\s*$")
ANY_CODE_MARKER = re.compile(r"###\s*(BEGIN|END) SOLUTION")
MARKDOWN_MARKER = re.compile(r"<!--\s*(?P<kind>BEGIN|END) SOLUTION\s*-->")

EXERCISE_TAG = "exercise"
RAISES_TAG = "raises-exception"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
KEPT_CELL_METADATA = ("tags", "jupyter", "nbgrader")


class ExerciseError(ValueError):
    """A solutions notebook breaks the exercise rules; the message says where."""


@dataclass(frozen=True)
class Exercise:
    """One ``# Exercise N.M: task`` cell of a notebook."""

    id: str
    task: str
    cell_index: int


def display(path: Path) -> str:
    """``solutions/03-select.ipynb`` rather than an absolute path, when inside the repo."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def exercise_header(source: str) -> re.Match[str] | None:
    """The ``# Exercise N.M: task`` match of a cell's first line, if it is one."""
    first_line = source.lstrip("\n").split("\n", 1)[0]
    return EXERCISE_HEADER.match(first_line)


def find_exercises(notebook: nbformat.NotebookNode) -> list[Exercise]:
    """Every exercise cell of ``notebook``, in order (no validation)."""
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            header = exercise_header(cell.source)
            if header:
                found.append(Exercise(header["id"], header["task"], index))
    return found


def stub_lines(indent: str, exercise: Exercise) -> list[str]:
    """What replaces a solution block: a comment and the ``NotImplementedError``."""
    message = f"Exercise {exercise.id}: {exercise.task}"
    quoted = '"' + message.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError({quoted})"]


def strip_code(source: str, exercise: Exercise, where: str) -> str:
    """Replace each marked solution block of an exercise cell by its stub."""
    out: list[str] = []
    begin_line: int | None = None
    blocks = 0
    for number, line in enumerate(source.split("\n"), start=1):
        begin = BEGIN_CODE.match(line)
        if begin:
            if begin_line is not None:
                raise ExerciseError(
                    f"{where}: line {number}: `### BEGIN SOLUTION` inside the block opened on "
                    f"line {begin_line}; close it with `### END SOLUTION` first"
                )
            begin_line = number
            blocks += 1
            out.extend(stub_lines(begin["indent"], exercise))
        elif END_CODE.match(line):
            if begin_line is None:
                raise ExerciseError(
                    f"{where}: line {number}: `### END SOLUTION` without a `### BEGIN SOLUTION`"
                )
            begin_line = None
        elif ANY_CODE_MARKER.search(line):
            raise ExerciseError(
                f"{where}: line {number}: a solution marker must be alone on its line: "
                f"{line.strip()!r}"
            )
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise ExerciseError(
            f"{where}: `### BEGIN SOLUTION` on line {begin_line} has no `### END SOLUTION`"
        )
    if blocks == 0:
        raise ExerciseError(
            f"{where}: exercise {exercise.id} has no `### BEGIN SOLUTION` / `### END SOLUTION` "
            f"block: mark the learner's part of the cell"
        )
    return "\n".join(out)


def strip_markdown(source: str, where: str) -> str:
    """Remove every ``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->`` section.

    A cell without markers is returned as it is (trailing spaces can be line breaks).
    """
    if not MARKDOWN_MARKER.search(source):
        return source
    pieces: list[str] = []
    position = 0
    opened: re.Match[str] | None = None
    for marker in MARKDOWN_MARKER.finditer(source):
        if marker["kind"] == "BEGIN":
            if opened is not None:
                raise ExerciseError(f"{where}: `<!-- BEGIN SOLUTION -->` twice without an END")
            pieces.append(source[position : marker.start()])
            opened = marker
        else:
            if opened is None:
                raise ExerciseError(f"{where}: `<!-- END SOLUTION -->` without a BEGIN")
            opened = None
            position = marker.end()
    if opened is not None:
        raise ExerciseError(f"{where}: `<!-- BEGIN SOLUTION -->` has no `<!-- END SOLUTION -->`")
    pieces.append(source[position:])
    text = "".join(pieces)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def stub_runs_when_cell_runs(source: str) -> bool:
    """True when a stub's ``raise`` is not inside a function, so running the cell raises."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
    except ImportError:  # plain Python is enough when the cell has no magics
        pass
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False

    def raises_outside_functions(node: ast.AST) -> bool:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return False
        if isinstance(node, ast.Raise) and "NotImplementedError" in ast.unparse(node):
            return True
        return any(raises_outside_functions(child) for child in ast.iter_child_nodes(node))

    return raises_outside_functions(tree)


def check_numbers(exercises: list[Exercise], chapter: int, path: Path) -> None:
    """Exercise numbers are unique and belong to the notebook's chapter."""
    seen: dict[str, int] = {}
    for exercise in exercises:
        where = f"{display(path)}, cell {exercise.cell_index}"
        if int(exercise.id.split(".")[0]) != chapter:
            raise ExerciseError(
                f"{where}: Exercise {exercise.id} is in chapter {chapter:02d}'s notebook: "
                f"number it {chapter}.M"
            )
        if exercise.id in seen:
            raise ExerciseError(
                f"{where}: Exercise {exercise.id} is already used in cell {seen[exercise.id]}"
            )
        seen[exercise.id] = exercise.cell_index


def clean_cell(cell: nbformat.NotebookNode, index: int) -> nbformat.NotebookNode:
    """A copy of ``cell`` without outputs, counts, ids that vary, or run-time metadata."""
    metadata = {key: cell.metadata[key] for key in KEPT_CELL_METADATA if key in cell.metadata}
    if cell.cell_type == "code":
        new = nbformat.v4.new_code_cell(source=cell.source, metadata=metadata)
    elif cell.cell_type == "markdown":
        new = nbformat.v4.new_markdown_cell(source=cell.source, metadata=metadata)
    else:
        new = nbformat.v4.new_raw_cell(source=cell.source, metadata=metadata)
    new["id"] = cell.get("id") or f"cell-{index}"
    return new


def add_tag(cell: nbformat.NotebookNode, tag: str) -> None:
    tags = cell.metadata.setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def make_exercise_notebook(path: Path) -> nbformat.NotebookNode:
    """The exercise notebook for the solutions notebook at ``path``."""
    name = NOTEBOOK_NAME.match(path.name)
    if not name:
        raise ExerciseError(f"{display(path)}: name it NN-topic.ipynb (e.g. 03-select.ipynb)")
    chapter = int(name["chapter"])
    solution = nbformat.read(path, as_version=4)
    exercises = {e.cell_index: e for e in find_exercises(solution)}
    check_numbers(list(exercises.values()), chapter, path)

    cells = []
    for index, cell in enumerate(solution.cells):
        where = f"{display(path)}, cell {index}"
        new = clean_cell(cell, index)
        if index not in exercises and EXERCISE_TAG in new.metadata.get("tags", []):
            new.metadata["tags"].remove(EXERCISE_TAG)  # the tag means "has a stub", nothing else
            if not new.metadata["tags"]:
                del new.metadata["tags"]
        if cell.cell_type == "code":
            if index in exercises:
                new.source = strip_code(cell.source, exercises[index], where)
                add_tag(new, EXERCISE_TAG)
                if stub_runs_when_cell_runs(new.source):
                    add_tag(new, RAISES_TAG)
            elif ANY_CODE_MARKER.search(cell.source):
                raise ExerciseError(
                    f"{where}: solution markers outside an exercise cell: the cell's first line "
                    f"must be `# Exercise {chapter}.M: <task>`"
                )
            elif LOOKS_LIKE_HEADER.match(cell.source.lstrip("\n")):
                raise ExerciseError(
                    f"{where}: malformed exercise header "
                    f"{cell.source.lstrip().splitlines()[0]!r}: "
                    f"write `# Exercise {chapter}.M: <the task in one line>`"
                )
        elif cell.cell_type == "markdown":
            new.source = strip_markdown(cell.source, where)
            if not new.source.strip():
                continue  # the whole cell was an explanation of the answer
        cells.append(new)

    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.nbformat_minor = 5
    notebook.metadata = nbformat.from_dict(
        {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    )
    nbformat.validate(notebook)
    return notebook


def render(notebook: nbformat.NotebookNode) -> str:
    """The exact text written to disk (what nbformat.write would write)."""
    text = nbformat.writes(notebook)
    return text if text.endswith("\n") else text + "\n"


def generate(solutions: Path, exercises: Path) -> dict[Path, str]:
    """Map each exercise notebook path to its text; raises ``ExerciseError``."""
    sources = sorted(p for p in solutions.glob("*.ipynb") if NOTEBOOK_NAME.match(p.name))
    return {exercises / path.name: render(make_exercise_notebook(path)) for path in sources}


def generated_files(exercises: Path) -> list[Path]:
    """The NN-*.ipynb files that are in ``exercises`` now."""
    return sorted(p for p in exercises.glob("*.ipynb") if NOTEBOOK_NAME.match(p.name))


def problems(wanted: dict[Path, str], exercises: Path, solutions: Path) -> list[str]:
    """What differs between ``exercises`` and what would be generated, one line each."""
    found = []
    for path, text in wanted.items():
        if not path.exists():
            found.append(f"{display(path)} is missing: run make exercises")
        elif path.read_text(encoding="utf-8") != text:
            found.append(f"{display(path)} is stale: run make exercises")
    for path in generated_files(exercises):
        if path not in wanted:
            found.append(
                f"{display(path)} has no source {display(solutions / path.name)}: "
                f"delete it or add the solutions notebook, then run make exercises"
            )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only check that exercises/ is current"
    )
    parser.add_argument(
        "--solutions", type=Path, default=ROOT / "solutions", help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--exercises", type=Path, default=ROOT / "exercises", help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    try:
        wanted = generate(args.solutions, args.exercises)
    except ExerciseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.check:
        found = problems(wanted, args.exercises, args.solutions)
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    if not wanted:
        print(f"nothing to do: no NN-*.ipynb in {display(args.solutions)}")
    args.exercises.mkdir(parents=True, exist_ok=True)
    for path, text in wanted.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote {display(path)}")
    for path in generated_files(args.exercises):
        if path not in wanted:
            path.unlink()
            print(f"removed {display(path)} (no {display(args.solutions / path.name)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
