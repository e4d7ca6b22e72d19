"""Grade exercise notebooks: run each in a fresh kernel and read its verdict lines back.

``python -m eventloop grade submissions/`` finds every notebook under the folders it
is given (one folder per student: ``submissions/alice/03-select.ipynb``), runs each
one top to bottom in its own kernel, from its own folder, the way a learner's
"Run All" would, and collects the lines the checks print (``eventloop.checks``)::

    ✓ Exercise 3.2 passed
    ✗ Exercise 3.2 failed: <what is wrong>
    ○ Exercise 3.2 not attempted yet: <how to start>

Why run a kernel at all, rather than trust the outputs saved in the file? Saved
outputs can be stale (the learner edited a cell and did not re-run it) or typed by
hand. So every output is cleared first, and only what this run prints counts.

Which exercises a notebook should have comes from the course's solutions notebook
of the same name (``solutions/03-select.ipynb``) when there is one, otherwise from
the ``# Exercise N.M: ...`` cells of the submission itself.

A grader meets broken notebooks, so none of these stops it; each is reported in
the table: a cell that runs too long is interrupted (``--cell-timeout``), a
notebook that runs too long is stopped (``--timeout``), a kernel that dies
(``os._exit``) is noted. A notebook whose code binds a fixed port (``bind(("",
14000))``) is not run at all: two of them graded side by side would fail with
``Address already in use`` (pitfall 13), and the grading machine is shared.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import csv
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from eventloop.checks import VERDICT_LINE
from eventloop.student_text import for_spreadsheet, for_terminal

EXERCISE_HEADER = re.compile(r"^#\s*Exercise\s+(?P<id>\d+\.\d+)\s*:")
DETAIL_LINE = re.compile(r"^\s{4}(?P<key>expected|got):\s*(?P<value>.*)$")
TIMING_MAGIC = re.compile(r"^([ \t]*)%{1,2}(?:time|timeit)\b(?:[ \t]+-\S+)*[ \t]*", re.MULTILINE)
ADDRESS_IN_USE = re.compile(r"\[Errno (98|48|10048)\]|Address already in use")

PASSED = "passed"
FAILED = "failed"
NOT_ATTEMPTED = "not attempted"
NO_VERDICT = "no verdict"
NOT_RUN = "not run"

STATUS_OF_VERDICT = {"passed": PASSED, "failed": FAILED, "not attempted yet": NOT_ATTEMPTED}


class UsageError(Exception):
    """The command line asks for something that cannot be done (exit status 2)."""


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


@dataclass
class Run:
    """What running a notebook produced: its cells with outputs, and what went wrong."""

    notebook: nbformat.NotebookNode
    problem: str = ""  # "timed out after 60 s", "kernel died", ...
    current: int = -1  # the cell running when the run stopped
    interrupted: list[tuple[int, int]] = field(default_factory=list)  # (cell, seconds)


# --- finding notebooks and their exercises --------------------------------------------------------


def find_notebooks(paths: Iterable[Path]) -> list[tuple[str, Path]]:
    """``(student, notebook)`` for every notebook in ``paths`` (files or folders, recursively)."""
    found: dict[Path, tuple[str, Path]] = {}
    for path in paths:
        if path.is_dir():
            for notebook in sorted(path.rglob("*.ipynb")):
                relative = notebook.relative_to(path)
                if any(part.startswith(".") for part in relative.parts):
                    continue  # .ipynb_checkpoints and other hidden copies
                folder = relative.parent
                student = folder.as_posix() if folder != Path(".") else path.resolve().name
                found.setdefault(notebook.resolve(), (student, notebook))
        elif path.is_file() and path.suffix == ".ipynb":
            found.setdefault(path.resolve(), (path.resolve().parent.name, path))
        else:
            raise UsageError(f"{path}: not a notebook or a folder")
    if not found:
        raise UsageError("no notebooks found in " + ", ".join(str(p) for p in paths))
    return sorted(found.values(), key=lambda item: (item[1].name, item[0]))


def exercise_ids(notebook: nbformat.NotebookNode) -> list[str]:
    """The ``N.M`` of every ``# Exercise N.M: ...`` code cell, in order, once each."""
    ids: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            header = EXERCISE_HEADER.match(cell.source.lstrip())
            if header and header["id"] not in ids:
                ids.append(header["id"])
    return ids


def course_solutions() -> Path | None:
    """``solutions/`` beside the installed package, when the course is checked out."""
    folder = Path(__file__).resolve().parent.parent / "solutions"
    return folder if folder.is_dir() else None


def expected_exercises(
    name: str, submission: nbformat.NotebookNode, solutions: Path | None
) -> list[str]:
    """From the solutions notebook of the same name if there is one, else the submission."""
    if solutions is not None and (solutions / name).is_file():
        return exercise_ids(nbformat.read(solutions / name, as_version=4))
    return exercise_ids(submission)


def sort_key(exercise: str) -> tuple[int, ...]:
    return tuple(int(part) for part in exercise.split("."))


# --- fixed ports: found in the code before anything runs -----------------------------------------


def fixed_ports(notebook: nbformat.NotebookNode) -> list[int]:
    """Ports the code binds by number: ``bind(("", 14000))``, ``UDPTimeServer(host, 14000)``."""
    trees = [tree for cell in notebook.cells if (tree := parse_cell(cell)) is not None]
    constants: dict[str, int] = {}  # PORT = 14000
    for tree in trees:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant)
                and type(node.value.value) is int
            ):
                constants[node.targets[0].id] = node.value.value
    ports = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                port = port_of_call(node, constants)
                if port:
                    ports.add(port)
    return sorted(ports)


def parse_cell(cell: nbformat.NotebookNode) -> ast.AST | None:
    """A code cell's syntax tree, magics turned into Python; None for prose or bad syntax."""
    if cell.cell_type != "code":
        return None
    source = TIMING_MAGIC.sub(r"\1", cell.source)  # `%time sock.bind(...)` still binds
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
    except ImportError:
        pass
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def port_of_call(call: ast.Call, constants: dict[str, int]) -> int | None:
    """The literal port a ``bind``/``create_server``/``...Server(...)`` call uses, if any."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name in ("bind", "create_server") and call.args:
        return port_in_address(call.args[0], constants)
    if name.endswith("Server"):
        if call.args and isinstance(call.args[0], (ast.Tuple, ast.List)):
            return port_in_address(call.args[0], constants)
        port = next((k.value for k in call.keywords if k.arg == "port"), None)
        if port is None and len(call.args) > 1:
            port = call.args[1]
        return literal_int(port, constants) if port is not None else None
    return None


def port_in_address(address: ast.expr, constants: dict[str, int]) -> int | None:
    """The port of a literal ``(host, port)`` address, if it is a number we can read."""
    if isinstance(address, (ast.Tuple, ast.List)) and len(address.elts) >= 2:
        return literal_int(address.elts[1], constants)
    return None


def literal_int(node: ast.expr, constants: dict[str, int]) -> int | None:
    """``14000``, or ``PORT`` where the notebook says ``PORT = 14000``; else None."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


# --- running a notebook in a kernel ---------------------------------------------------------------


async def run_notebook(path: Path, timeout: float, cell_timeout: float) -> Run:
    """Run every cell of ``path`` in a fresh kernel started in the notebook's folder.

    An error in a cell does not stop the run (later exercises are still graded).
    A cell still running after ``cell_timeout`` seconds is interrupted; the whole
    run stops after ``timeout`` seconds, not counting the kernel's start-up.
    """
    notebook = clear_outputs(nbformat.read(path, as_version=4))
    cell_limit = max(1, round(min(cell_timeout, timeout)))  # nbclient counts whole seconds
    client = NotebookClient(
        notebook,
        timeout=cell_limit,
        interrupt_on_timeout=True,
        allow_errors=True,
        kernel_name="python3",
        shutdown_kernel="immediate",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    run = Run(notebook)
    try:
        async with client.async_setup_kernel(stderr=subprocess.DEVNULL):  # start-up chatter
            cells = asyncio.ensure_future(run_cells(client, run, cell_limit))
            done, _ = await asyncio.wait({cells}, timeout=timeout)
            if not done:
                run.problem = f"timed out after {timeout:g} s in cell {run.current}"
                cells.cancel()
                await asyncio.gather(cells, return_exceptions=True)
            else:
                cells.result()
    except DeadKernelError:
        run.problem = run.problem or f"kernel died in cell {run.current}"
    except Exception as error:  # a kernel that does not start, a broken notebook file...
        run.problem = run.problem or f"could not run: {type(error).__name__}: {error}"
    return run


async def run_cells(client: NotebookClient, run: Run, cell_limit: int) -> None:
    """What ``NotebookClient.async_execute`` does inside its kernel, noting interrupted cells."""
    assert client.kc is not None
    await client.async_wait_for_reply(await ensure_async(client.kc.kernel_info()))
    for index, cell in enumerate(client.nb.cells):
        run.current = index
        began = time.monotonic()
        await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        if cell.cell_type == "code" and time.monotonic() - began >= cell_limit:
            run.interrupted.append((index, cell_limit))


def clear_outputs(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Saved outputs do not count: only what this run prints is graded."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return notebook


# --- reading the verdicts back --------------------------------------------------------------------


def output_text(output: nbformat.NotebookNode) -> str:
    """The text a learner saw for one output (printed, or a cell's value); "" for the rest."""
    if output.output_type == "stream":
        return output.text
    if output.output_type in ("execute_result", "display_data"):
        return output.get("data", {}).get("text/plain", "")
    return ""


def verdicts(notebook: nbformat.NotebookNode) -> dict[str, ExerciseResult]:
    """The last verdict printed for each exercise, with its expected/got lines."""
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


# --- grading -------------------------------------------------------------------------------------


@dataclass
class Options:
    """The command line's choices (see ``eventloop.cli``)."""

    timeout: float = 60.0
    cell_timeout: float = 30.0
    jobs: int = 2
    solutions: Path | None = None
    allow_fixed_ports: bool = False


async def grade_one(student: str, path: Path, options: Options) -> NotebookResult:
    """Run one notebook (unless it binds a fixed port) and judge each expected exercise."""
    result = NotebookResult(student, path)
    try:
        submission = nbformat.read(path, as_version=4)
    except Exception as error:
        result.notes.append(
            f"unreadable notebook: {type(error).__name__}: {first_line(str(error))}"
        )
        return result
    expected = expected_exercises(path.name, submission, options.solutions)
    if not expected:
        result.notes.append("no exercises found")
    ports = fixed_ports(submission)
    if ports and not options.allow_fixed_ports:
        listed = ", ".join(str(port) for port in ports)
        result.notes.append(f"binds fixed port {listed}: not run (use port 0)")
        result.exercises = {exercise: ExerciseResult(NOT_RUN) for exercise in expected}
        return result

    run = await run_notebook(path, options.timeout, options.cell_timeout)
    found = verdicts(run.notebook)
    for exercise in expected:
        result.exercises[exercise] = found.get(exercise) or without_verdict(
            exercise, run.notebook, run.problem
        )
    if run.problem:
        result.notes.append(run.problem)
    for index, seconds in run.interrupted:
        result.notes.append(f"cell {index} interrupted after {seconds} s")
    if address_in_use(run.notebook):
        result.notes.append("Address already in use: binds a fixed port?")
    return result


async def grade_all(items: list[tuple[str, Path]], options: Options) -> list[NotebookResult]:
    """Grade every notebook, ``options.jobs`` kernels at a time; results in ``items`` order."""
    slots = asyncio.Semaphore(options.jobs)

    async def one(student: str, path: Path) -> NotebookResult:
        async with slots:
            began = time.monotonic()
            try:
                result = await grade_one(student, path, options)
            except Exception as error:  # one bad notebook must not stop the class's grading
                result = NotebookResult(student, path)
                result.notes.append(
                    f"grading error: {type(error).__name__}: {first_line(str(error))}"
                )
            print(
                for_terminal(f"graded {student}/{path.name} in {time.monotonic() - began:.1f} s"),
                file=sys.stderr,
                flush=True,
            )
            return result

    return list(await asyncio.gather(*(one(student, path) for student, path in items)))


def grade(paths: list[Path], options: Options) -> list[NotebookResult]:
    """Find the notebooks in ``paths`` and grade them (raises ``UsageError``)."""
    return asyncio.run(grade_all(find_notebooks(paths), options))


# --- reporting -----------------------------------------------------------------------------------


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


def main(args: argparse.Namespace) -> int:
    """``python -m eventloop grade``: see ``eventloop.cli``."""
    solutions = args.solutions if args.solutions is not None else course_solutions()
    if args.solutions is not None and not args.solutions.is_dir():
        print(f"error: --solutions {args.solutions}: no such folder", file=sys.stderr)
        return 2
    if args.jobs < 1 or args.timeout <= 0 or args.cell_timeout <= 0:
        print("error: --jobs, --timeout and --cell-timeout must be positive", file=sys.stderr)
        return 2
    options = Options(args.timeout, args.cell_timeout, args.jobs, solutions, args.allow_fixed_ports)
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
