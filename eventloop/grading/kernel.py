"""Run one notebook in a fresh kernel, the grader's own cell first.

Every output is cleared first: saved outputs can be stale or typed by hand, and
only what this run prints counts. The kernel starts in the notebook's folder,
as a learner's "Run All" would. Before the student's first cell, a cell of the
grader's arms ``eventloop.checks.record`` with a file and a key that only this
process knows, so that the checks sign their verdicts.

nbclient runs the cells (``NotebookClient.async_execute``); its hooks tell us
which cell is running and how long each took, so that a cell stopped by the
per-cell limit and a notebook stopped by the whole-run limit can be reported.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

import eventloop.checks.record
from eventloop.checks.record import read_records

ARMING_CELL = """\
# The grader's cell: arm the checks so that they sign their verdicts.
import os as _os, sys as _sys
_saved_path = list(_sys.path)
_sys.path[:] = [p for p in _sys.path if p not in ("", ".", _os.getcwd())]  # no student module
try:
    import eventloop.checks.record as _record
finally:
    _sys.path[:] = _saved_path
if _os.path.realpath(_record.__file__) != {module!r}:
    raise RuntimeError("grader: this kernel's eventloop.checks is not the grader's own")
_record.arm({path!r}, {key!r}, {trusted!r})
del _os, _sys, _saved_path, _record
"""


@dataclass
class Run:
    """What running a notebook produced: its cells with outputs, the signed verdicts, problems."""

    notebook: nbformat.NotebookNode
    problem: str = ""  # "timed out after 60 s in cell 5", "kernel died in cell 5", ...
    current: int = -1  # the student's cell running when the run stopped
    interrupted: list[tuple[int, int]] = field(default_factory=list)  # (cell, seconds)
    records: list[dict[str, str]] = field(default_factory=list)
    forged: int = 0  # record lines whose signature did not hold


def clear_outputs(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Saved outputs do not count: only what this run prints is graded."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return notebook


def arming_cell(record_path: Path, key: str, trusted: list[Path]) -> nbformat.NotebookNode:
    """The grader's first cell, with this run's file and key."""
    source = ARMING_CELL.format(
        module=str(Path(eventloop.checks.record.__file__).resolve()),
        path=str(record_path),
        key=key,
        trusted=[str(folder.resolve()) for folder in trusted],
    )
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["grader"]})


async def run_notebook(
    path: Path,
    timeout: float,
    cell_timeout: float,
    trusted: list[Path] | None = None,
    on_kernel_start: Any = None,
) -> Run:
    """Run every cell of ``path`` in a fresh kernel started in the notebook's folder.

    An error in a cell does not stop the run (later exercises are still graded).
    A cell still running after ``cell_timeout`` seconds is interrupted; the whole
    run stops after ``timeout`` seconds, not counting the kernel's start-up.
    ``on_kernel_start(pid)`` hears the kernel's process id as soon as it runs.
    """
    notebook = clear_outputs(nbformat.read(path, as_version=4))
    return await run_cells(
        notebook, path.parent, timeout, cell_timeout, trusted or [], on_kernel_start
    )


async def run_cells(
    notebook: nbformat.NotebookNode,
    folder: Path,
    timeout: float,
    cell_timeout: float,
    trusted: list[Path],
    on_kernel_start: Any,
) -> Run:
    """Run ``notebook`` (already prepared) with the grader's cell first; see ``run_notebook``."""
    cell_limit = max(1, round(min(cell_timeout, timeout)))  # nbclient counts whole seconds
    run = Run(notebook)
    started = asyncio.Event()
    began: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="eventloop-grade-") as private:
        record_path, key = Path(private) / "verdicts.jsonl", secrets.token_hex(32)
        notebook.cells.insert(0, arming_cell(record_path, key, trusted))

        def kernel_started(**_: Any) -> None:
            pid = getattr(client.km.provisioner, "pid", None) if client.km else None
            if on_kernel_start is not None and pid is not None:
                on_kernel_start(pid)
            started.set()

        def cell_started(cell: Any, cell_index: int, **_: Any) -> None:
            run.current = cell_index - 1  # the student's numbering: without the grader's cell
            began[cell_index] = time.monotonic()

        def cell_executed(cell: Any, cell_index: int, **_: Any) -> None:
            if cell.cell_type == "code" and time.monotonic() - began[cell_index] >= cell_limit:
                run.interrupted.append((cell_index - 1, cell_limit))

        client = NotebookClient(
            notebook,
            timeout=cell_limit,
            interrupt_on_timeout=True,
            allow_errors=True,
            kernel_name="python3",
            shutdown_kernel="immediate",
            record_timing=False,
            resources={"metadata": {"path": str(folder.resolve())}},
            on_notebook_start=kernel_started,
            on_cell_start=cell_started,
            on_cell_executed=cell_executed,
        )
        # Unix sockets in our private folder, not TCP ports: kernels started at the same time by
        # separate workers cannot race for the same port, and no other user can connect.
        manager = client.create_kernel_manager()
        manager.transport, manager.ip = "ipc", str(Path(private) / "kernel")
        try:
            await within(client, run, started, timeout)
        except DeadKernelError:
            run.problem = run.problem or f"kernel died in cell {run.current}"
        except Exception as error:  # a kernel that does not start, a broken notebook file...
            run.problem = run.problem or f"could not run: {type(error).__name__}: {error}"
        grader_cell = notebook.cells.pop(0)
        if any(output.output_type == "error" for output in grader_cell.get("outputs", [])):
            run.problem = run.problem or "the grader's cell failed: no verdict could be signed"
        run.records, run.forged = read_records(record_path, bytes.fromhex(key))
    return run


async def within(client: NotebookClient, run: Run, started: asyncio.Event, timeout: float) -> None:
    """``client.async_execute()``, stopped after ``timeout`` s from the kernel's start."""
    execution = asyncio.ensure_future(client.async_execute(stderr=subprocess.DEVNULL))
    kernel_up = asyncio.ensure_future(started.wait())
    await asyncio.wait({execution, kernel_up}, return_when=asyncio.FIRST_COMPLETED)
    kernel_up.cancel()
    done, _ = await asyncio.wait({execution}, timeout=timeout)
    if not done:
        run.problem = f"timed out after {timeout:g} s in cell {run.current}"
        execution.cancel()
        await asyncio.gather(execution, return_exceptions=True)
    else:
        execution.result()
