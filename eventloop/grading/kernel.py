"""Run one notebook in a fresh kernel, the grader's own cell first, confined when grading.

Every output is cleared first: saved outputs can be stale or typed by hand, and
only what this run prints counts. The kernel starts in the notebook's folder,
as a learner's "Run All" would. Before the student's first cell, a cell of the
grader's arms ``eventloop.checks.record`` with a file and a key that only this
process knows, so that the checks sign their verdicts.

nbclient runs the cells (``NotebookClient.async_execute``); its hooks tell us
which cell is running and how long each took, so that a cell stopped by the
per-cell limit and a notebook stopped by the whole-run limit can be reported.

When grading, the kernel runs confined (``eventloop.grading.sandbox``): as another
user, on a private copy of the notebook's folder (``files.private_copy``), with
its connection file, sockets, home, IPython and matplotlib folders inside that
copy, started by ``python -I`` (a student's ``ipykernel_launcher.py`` is not the
kernel). What it prints is kept up to ``OUTPUT_LIMIT`` characters; the verdict
file is read up to ``VERDICTS_LIMIT`` bytes, never through a link.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

import eventloop.checks.record
from eventloop.checks.record import read_records
from eventloop.grading.files import private_copy, read_bounded
from eventloop.grading.sandbox import (
    Confinement,
    Limits,
    confined,
    contained,
    needed_folders,
    user_ids,
)
from eventloop.grading.sandbox import clean_up_after as clean_up_cgroups_after

OUTPUT_LIMIT = 1_000_000
"""Characters of printed output and displayed values kept per notebook (errors always kept)."""

VERDICTS_LIMIT = 1_000_000
"""Bytes of the verdict file read back: the checks write a short line per verdict."""

KERNEL_ARGV = [sys.executable, "-I", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
"""``-I``: no student file on ``sys.path`` while ipykernel starts, no PYTHON* variables."""

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
_sys.path += [p for p in {trusted!r} if p not in _sys.path]  # the teacher's checks: importable
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
    cut: list[str] = field(default_factory=list)  # what was not read in full, and why
    processes: tuple[int, int] = (0, 0)  # in the kernel's cgroup: after the grader's cell, now


@dataclass(frozen=True)
class Sandbox:
    """How to confine a graded kernel (see ``eventloop.grading.sandbox``)."""

    user: str | int | None = None
    hidden: tuple[Path, ...] = ()
    limits: Limits = Limits()


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
    sandbox: Sandbox | None = None,
) -> Run:
    """Run every cell of ``path`` in a fresh kernel started in the notebook's folder.

    An error in a cell does not stop the run (later exercises are still graded).
    A cell still running after ``cell_timeout`` seconds is interrupted; the whole
    run stops after ``timeout`` seconds, not counting the kernel's start-up.
    ``on_kernel_start(pid)`` hears the kernel's process id as soon as it runs.
    With a ``sandbox``, the kernel runs confined, on a private copy of the folder.
    """
    notebook = clear_outputs(nbformat.read(path, as_version=4))
    return await run_cells(
        notebook, path.parent, timeout, cell_timeout, trusted or [], on_kernel_start, sandbox
    )


async def run_cells(
    notebook: nbformat.NotebookNode,
    folder: Path,
    timeout: float,
    cell_timeout: float,
    trusted: list[Path],
    on_kernel_start: Any,
    sandbox: Sandbox | None = None,
) -> Run:
    """Run ``notebook`` (already prepared) with the grader's cell first; see ``run_notebook``."""
    cell_limit = max(1, round(min(cell_timeout, timeout)))  # nbclient counts whole seconds
    run = Run(notebook)
    started = asyncio.Event()
    began: dict[int, float] = {}
    with kernel_folders(folder, sandbox, trusted, run) as (where, private, confinement):
        record_path, key = private / "verdicts.jsonl", secrets.token_hex(32)
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
            if confinement is not None and confinement.cgroup is not None:
                count_processes(confinement.cgroup, cell_index, run)

        client = BoundedClient(
            notebook,
            timeout=cell_limit,
            interrupt_on_timeout=True,
            allow_errors=True,
            kernel_name="python3",
            shutdown_kernel="immediate",
            record_timing=False,
            resources={"metadata": {"path": str(where.resolve())}},
            on_notebook_start=kernel_started,
            on_cell_start=cell_started,
            on_cell_executed=cell_executed,
            kernel_manager_class=ConfinedKernelManager,
        )
        client.run = run
        # Unix sockets in our private folder, not TCP ports: kernels started at the same time by
        # separate workers cannot race for the same port, and no other user can connect.
        manager = client.create_kernel_manager()
        manager.transport, manager.ip = "ipc", str(private / "kernel")
        if confinement is not None:
            manager.confine(confinement, private, where)
        try:
            await within(client, run, started, timeout)
        except DeadKernelError:
            run.problem = run.problem or f"kernel died in cell {run.current}"
        except Exception as error:  # a kernel that does not start, a broken notebook file...
            run.problem = run.problem or f"could not run: {type(error).__name__}: {error}"
        run.cut += lingering(run)
        grader_cell = notebook.cells.pop(0)
        if any(output.output_type == "error" for output in grader_cell.get("outputs", [])):
            run.problem = run.problem or "the grader's cell failed: no verdict could be signed"
        run.records, run.forged = read_verdicts(record_path, bytes.fromhex(key), run)
    return run


@contextlib.contextmanager
def kernel_folders(
    folder: Path, sandbox: Sandbox | None, trusted: list[Path], run: Run
) -> Iterator[tuple[Path, Path, Confinement | None]]:
    """Where the kernel starts, the folder for its sockets and verdicts, and its confinement.

    Without a sandbox: the notebook's own folder, and a private temporary folder.
    With one: a copy of the notebook's folder and a ``.grader`` folder beside it, both
    inside one temporary folder, the only one the confined kernel can write; every
    process it started is killed when this ends.
    """
    prefix = f"{FOLDER_PREFIX}{os.getpid()}-"  # the worker's pid: see clean_up_after
    with tempfile.TemporaryDirectory(prefix=prefix, dir=socket_folder()) as temporary:
        top = Path(temporary)
        if sandbox is None:
            yield folder, top, None
            return
        private, where = top / ".grader", top / (folder.resolve().name or "submission")
        for name in ("home", "tmp", "ipython", "matplotlib", "jupyter", "cache"):
            (private / name).mkdir(parents=True)
        run.cut += private_copy(folder, where)
        environment = {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.defpath]),
            "HOME": str(private / "home"),
            "TMPDIR": str(private / "tmp"),
            "IPYTHONDIR": str(private / "ipython"),
            "MPLCONFIGDIR": str(private / "matplotlib"),
            "JUPYTER_CONFIG_DIR": str(private / "jupyter"),
            "JUPYTER_DATA_DIR": str(private / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(private / "jupyter"),
            "XDG_CACHE_HOME": str(private / "cache"),
            "LANG": "C.UTF-8",
        }
        confinement = Confinement(
            writable=top,
            user=sandbox.user,
            hidden=sandbox.hidden,
            visible=(*needed_folders(), *trusted),  # the teacher's checks, read-only
            env=environment,
            limits=sandbox.limits,
        )
        with contained(confinement) as confinement:
            yield where, private, confinement


FOLDER_PREFIX = "eventloop-grade-"
"""A kernel's temporary folder: then the pid of the worker that made it."""


def clean_up_after(pid: int) -> None:
    """Remove the kernel folders and cgroups of worker ``pid``, which was killed (SIGKILL).

    A worker removes its own when it ends; one killed first cannot. Only the grader
    calls this, with the pid of a worker it has just reaped.
    """
    for folder in {tempfile.gettempdir(), "/tmp"}:
        for leftover in Path(folder).glob(f"{FOLDER_PREFIX}{pid}-*"):
            shutil.rmtree(leftover, ignore_errors=True)  # links inside are not followed
    clean_up_cgroups_after(pid)


SOCKET_PATH_LIMIT = 100
"""A Unix socket's path must fit in 104 (macOS) or 108 (Linux) bytes, ``.grader/kernel-4`` in."""


def socket_folder() -> str | None:
    """The temporary folder, or ``/tmp`` where its name is too long for the kernel's sockets."""
    default = tempfile.gettempdir()
    long = len(os.fsencode(default)) + len("/eventloop-grade-4194304-12345678/.grader/kernel-4")
    return "/tmp" if long > SOCKET_PATH_LIMIT and os.path.isdir("/tmp") else None


class ConfinedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel is started by ``sandbox.confined`` (after ``confine``)."""

    confinement: Confinement | None = None

    def confine(self, confinement: Confinement, private: Path, cwd: Path) -> None:
        """Start the kernel confined, its connection file in ``private``, from ``cwd``."""
        self.confinement = confinement
        self.connection_file = str(private / "kernel.json")
        self._kernel_spec = KernelSpec(
            argv=confined(KERNEL_ARGV, confinement, cwd=cwd),
            display_name="Python 3 (confined)",
            language="python",
            interrupt_mode="message",  # SIGINT would reach bwrap, not the kernel
        )

    def write_connection_file(self, **kwargs: Any) -> None:
        """The confined user must read it: it is theirs (the folder is already)."""
        super().write_connection_file(**kwargs)
        ids = user_ids(self.confinement.user) if self.confinement else None
        if ids is not None:
            os.chown(self.connection_file, *ids)


class BoundedClient(NotebookClient):
    """nbclient keeping at most ``OUTPUT_LIMIT`` characters of output; errors always kept."""

    run: Run | None = None
    kept: int = 0

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        content = msg.get("content", {})
        if msg.get("msg_type") == "error":
            content["traceback"] = content.get("traceback", [])[-20:]
            content["evalue"] = str(content.get("evalue", ""))[:2000]
            return super().output(outs, msg, display_id, cell_index)
        size = len(str(content.get("text", ""))) + sum(
            len(str(value)) for value in content.get("data", {}).values()
        )
        self.kept += size
        if self.kept > OUTPUT_LIMIT:
            if self.run is not None and not any(c.startswith("printed") for c in self.run.cut):
                self.run.cut.append(f"printed over {OUTPUT_LIMIT:,} characters: the rest not read")
            return None
        return super().output(outs, msg, display_id, cell_index)


def count_processes(cgroup: Path, cell_index: int, run: Run) -> None:
    """The kernel's processes after the grader's cell (its own), and after the latest cell."""
    try:
        count = len((cgroup / "cgroup.procs").read_text().split())
    except OSError:
        return
    run.processes = (count, count) if cell_index == 0 else (run.processes[0], count)


def lingering(run: Run) -> list[str]:
    """A note if the notebook left processes running (``setsid`` or not): killed all the same."""
    own, last = run.processes
    return [f"left {last - own} process(es) running at the end: killed"] if last > own else []


def read_verdicts(path: Path, key: bytes, run: Run) -> tuple[list[dict[str, str]], int]:
    """The signed verdicts, read from at most ``VERDICTS_LIMIT`` bytes of a regular file."""
    data, complete = read_bounded(path, VERDICTS_LIMIT)
    if not complete:
        run.cut.append(f"verdict file over {VERDICTS_LIMIT:,} bytes or not a plain file: cut")
    if data is None:
        return [], 0
    with tempfile.TemporaryDirectory(prefix="eventloop-verdicts-") as folder:
        copy = Path(folder) / "verdicts.jsonl"
        copy.write_bytes(data)
        try:
            return read_records(copy, key)
        except UnicodeDecodeError:
            return [], 1


async def within(client: NotebookClient, run: Run, started: asyncio.Event, timeout: float) -> None:
    """``client.async_execute()``, stopped after ``timeout`` s from the kernel's start."""
    execution = asyncio.ensure_future(
        client.async_execute(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    )  # the kernel never holds the worker's pipe to the grader
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
