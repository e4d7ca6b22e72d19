"""One notebook graded in a process of its own, so that it can harm no other.

A student's code runs in a kernel whose parent is the process that started it.
If that parent were the grader itself, ``os.kill(os.getppid(), signal.SIGKILL)``
in one notebook would end the grading of the whole class. So the grader starts
``python -m eventloop.grading.worker`` per notebook, in a new session (its own
process group), and the worker starts the kernel. The worker tells the grader
the kernel's process id as soon as it knows it, and its result, as JSON lines
on its standard output.

The grader gives each worker a hard limit: the notebook's ``--timeout`` plus
time for a kernel to start. A worker past it, or one that dies, is killed with
its kernel (each in its own process group), and the notebook is reported; the
others go on. Nothing a notebook catches can stop that: it is not an exception
in the notebook, it is SIGKILL from outside. POSIX only (Linux, macOS).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eventloop.grading.results import NO_VERDICT, ExerciseResult, NotebookResult

KERNEL_START_ALLOWANCE = 90.0
"""Seconds a worker may take beyond ``--timeout``: nbclient waits up to 60 s for a kernel."""


async def grade_in_worker(submission: Any, options: Any) -> NotebookResult:
    """Grade ``submission`` in a worker process; a worker that fails is reported, not raised."""
    request = json.dumps(
        {
            "student": submission.student,
            "path": str(submission.path),
            "notes": submission.notes,
            "options": {
                **asdict(options),
                "solutions": None if options.solutions is None else str(options.solutions),
                "checks_folders": [str(folder) for folder in options.checks_folders],
                "hidden": [str(folder) for folder in options.hidden],
                "handout": None if options.handout is None else str(options.handout),
            },
        }
    )
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eventloop.grading.worker",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    kernel_pid: int | None = None
    result: dict[str, Any] | None = None

    async def read_lines() -> None:
        nonlocal kernel_pid, result
        assert worker.stdout is not None
        async for raw in worker.stdout:
            message = json.loads(raw)
            if not isinstance(message, dict):
                raise ValueError("not a message of the worker's")
            if "kernel_pid" in message:
                kernel_pid = int(message["kernel_pid"])
            else:
                result = message

    assert worker.stdin is not None
    worker.stdin.write(request.encode() + b"\n")
    await worker.stdin.drain()
    worker.stdin.close()
    limit = options.timeout + KERNEL_START_ALLOWANCE
    problem = ""
    reading = asyncio.ensure_future(read_lines())
    waiting = asyncio.ensure_future(worker.wait())
    try:
        _, pending = await asyncio.wait(
            {reading, waiting}, timeout=limit, return_when=asyncio.FIRST_EXCEPTION
        )
        if reading.done() and reading.exception() is not None:
            problem = "the grading process printed something unexpected"  # not its JSON
        elif pending:
            problem = f"stopped by the grader after {limit:g} s"
    except asyncio.CancelledError:  # Ctrl-C or SIGTERM: the worker cleans up, then goes
        await stop(worker)
        raise
    finally:
        for task in (reading, waiting):
            task.cancel()
        await asyncio.gather(reading, waiting, return_exceptions=True)
    if worker.returncode is None:
        await stop(worker)  # its kernel killed and its files removed, by itself if it can
    kill_group(worker.pid)
    if kernel_pid is not None and kernel_pid != worker.pid and kernel_pid > 1:
        kill_group(kernel_pid)
    await worker.wait()
    if worker.returncode != 0:  # killed: it could not remove its kernel's folder and cgroup
        from eventloop.grading.kernel import clean_up_after

        clean_up_after(worker.pid)
    if result is not None:
        try:
            return NotebookResult.from_json(result)
        except (ValueError, TypeError, KeyError, AttributeError):
            problem = "the grading process printed something unexpected"
    if not problem:
        problem = (
            f"the grading process died (exit status {worker.returncode}): killed by the notebook?"
        )
    return failed_run(submission, options, problem)


def failed_run(submission: Any, options: Any, problem: str) -> NotebookResult:
    """The result of a notebook whose worker gave no answer: every exercise without a verdict."""
    import nbformat

    from eventloop.grading.files import NOTEBOOK_LIMIT, read_bounded
    from eventloop.grading.grade import expected_exercises

    result = NotebookResult(submission.student, submission.path, notes=[*submission.notes, problem])
    try:
        data, _ = read_bounded(submission.path.resolve(), NOTEBOOK_LIMIT)
        notebook = nbformat.reads((data or b"").decode("utf-8"), as_version=4)
        expected = expected_exercises(submission.path.name, notebook, options.solutions)
    except Exception:
        expected = []
    result.exercises = {exercise: ExerciseResult(NO_VERDICT, problem) for exercise in expected}
    return result


async def stop(worker: asyncio.subprocess.Process) -> None:
    """SIGTERM: the worker kills its kernel and removes its files; SIGKILL if it takes 10 s."""
    with contextlib.suppress(ProcessLookupError):
        worker.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(worker.wait()), 10)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        pass
    kill_group(worker.pid)
    await worker.wait()
    from eventloop.grading.kernel import clean_up_after

    clean_up_after(worker.pid)


def kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads, if it still exists (its leader may be gone)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)


async def cancelled_by_sigterm(work: Any) -> Any:
    """Await ``work``; SIGTERM (and SIGINT) cancel it, so that every ``finally`` runs."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    return await work


def main() -> int:
    """The worker: read one request on stdin, grade it, write JSON lines on stdout."""
    from eventloop.grading.grade import Options, Submission, grade_one

    request = json.loads(sys.stdin.readline())
    settings = request["options"]
    options = Options(
        timeout=settings["timeout"],
        cell_timeout=settings["cell_timeout"],
        jobs=1,
        solutions=None if settings["solutions"] is None else Path(settings["solutions"]),
        allow_fixed_ports=settings["allow_fixed_ports"],
        checks_folders=[Path(folder) for folder in settings["checks_folders"]],
        user=settings["user"],
        hidden=[Path(folder) for folder in settings["hidden"]],
    )
    submission = Submission(request["student"], Path(request["path"]), request["notes"])
    out = sys.stdout

    def tell_kernel_pid(pid: int) -> None:
        out.write(json.dumps({"kernel_pid": pid}) + "\n")
        out.flush()

    try:
        result = asyncio.run(cancelled_by_sigterm(grade_one(submission, options, tell_kernel_pid)))
    except asyncio.CancelledError:  # SIGTERM from the grader: the kernel and its files are gone
        return 130
    except Exception as error:  # report it in the table: one bad notebook stops nothing
        result = failed_run(submission, options, f"grading error: {type(error).__name__}: {error}")
    out.write(json.dumps(result.to_json()) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
