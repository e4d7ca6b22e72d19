"""Instruments: objects the loop tells what it does, in the spirit of trio's ``Instrument``.

A loop that is slow, or stuck, rarely says why. An *instrument* is told, as
it happens, about every task and every wait: a task spawned, scheduled,
stepped and finished; every callback; every wait for I/O. From those few
hooks come the tools of this chapter: step times per task, a watchdog that
catches a blocked loop, the recorder's timeline.

Add one with ``eventloop.aio.run(main(), instruments=[...])`` or
``loop.add_instrument(...)``. Every hook is called on the loop's thread, so an
instrument needs no lock unless another thread reads it. Hooks must be quick:
they run between callbacks, on the loop's time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from eventloop.aio.watching import task_of


class Instrument:
    """Every hook the loop calls; each does nothing here. Override the ones you need."""

    def task_spawned(self, task: asyncio.Task[Any]) -> None:
        """A new task's first step was queued."""

    def task_scheduled(self, task: asyncio.Task[Any]) -> None:
        """``task``'s next step was queued: it is ready to run, and waits for its turn."""

    def before_task_step(self, task: asyncio.Task[Any]) -> None:
        """``task`` is about to run, up to its next ``await`` that suspends."""

    def after_task_step(self, task: asyncio.Task[Any]) -> None:
        """``task`` suspended (or finished): the loop has its thread back."""

    def task_exited(self, task: asyncio.Task[Any]) -> None:
        """``task`` finished: returned, raised or was cancelled."""

    def before_callback(self, handle: asyncio.Handle) -> None:
        """Any callback, a task's step included, is about to run."""

    def after_callback(self, handle: asyncio.Handle, seconds: float) -> None:
        """That callback returned after ``seconds`` of the loop's time."""

    def before_io_wait(self, timeout: float | None) -> None:
        """The loop will block in the selector, at most ``timeout`` s (``None``: no limit)."""

    def after_io_wait(self, timeout: float | None, ready: int) -> None:
        """The selector returned ``ready`` ready descriptors."""


class HookLog(Instrument):
    """Writes down every task hook and I/O wait, to see the order they come in.

    Names are read at the end (``lines``): ``asyncio.create_task(coro, name=...)``
    names a task only after its first step is scheduled, on Python 3.11.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, asyncio.Task[Any] | None]] = []

    def task_spawned(self, task: asyncio.Task[Any]) -> None:
        self.calls.append(("spawned", task))

    def task_scheduled(self, task: asyncio.Task[Any]) -> None:
        self.calls.append(("scheduled", task))

    def before_task_step(self, task: asyncio.Task[Any]) -> None:
        self.calls.append(("step", task))

    def task_exited(self, task: asyncio.Task[Any]) -> None:
        self.calls.append(("exited", task))

    def before_io_wait(self, timeout: float | None) -> None:
        self.calls.append(("wait for I/O", None))

    @property
    def lines(self) -> list[str]:
        """``"spawned   child"``, ``"step      child"``, ``"wait for I/O"``..., in order."""
        return [f"{hook:<9} {task.get_name()}" if task else hook for hook, task in self.calls]


@dataclass
class TaskSteps:
    """How one task used the loop: how many steps, how long in all, the longest one."""

    name: str
    steps: int = 0
    total: float = 0.0
    longest: float = 0.0


class StepTimes(Instrument):
    """Times every task step: the task with the longest step is the one blocking the loop.

    A step is the code between two ``await``s that suspend; while it runs no
    other task, callback or I/O can. asyncio's debug mode warns about one step
    over ``slow_callback_duration``; this keeps the numbers for every task.
    """

    def __init__(self) -> None:
        self.running: dict[int, TaskSteps] = {}  # id(task) -> its steps, while it lives
        self.finished: list[TaskSteps] = []  # an id is reused once its task is gone
        self.io_waits = 0

    def after_callback(self, handle: asyncio.Handle, seconds: float) -> None:
        task = task_of(handle)
        if task is None:
            return  # a plain callback, not a task's step
        steps = self.running.setdefault(id(task), TaskSteps(task.get_name()))
        steps.steps += 1
        steps.total += seconds
        steps.longest = max(steps.longest, seconds)
        if task.done():
            self.finished.append(self.running.pop(id(task)))

    def after_io_wait(self, timeout: float | None, ready: int) -> None:
        self.io_waits += 1

    @property
    def tasks(self) -> list[TaskSteps]:
        """Every task seen: the finished ones, then those still running."""
        return self.finished + list(self.running.values())

    def slowest(self) -> TaskSteps | None:
        """The task whose longest step was longest, or ``None`` if no task ran."""
        return max(self.tasks, key=lambda steps: steps.longest, default=None)

    def table(self) -> str:
        """One line per task, slowest first, times in milliseconds."""
        rows = [f"{'task':<16} {'steps':>5} {'total ms':>9} {'longest ms':>10}"]
        for steps in sorted(self.tasks, key=lambda s: -s.longest):
            rows.append(
                f"{steps.name:<16} {steps.steps:>5} {steps.total * 1000:>9.1f}"
                f" {steps.longest * 1000:>10.1f}"
            )
        return "\n".join(rows)
