"""Probes: what an answer *did*, not only what it returned.

Grows from the checks of chapters 01-09, which compared return values and replies.
Those let through the mistakes that give the right value the wrong way: a socket
never closed, a loop that spins, a wait that sleeps the whole timeout, a timer on
the wall clock, a callback run in the wrong thread, a connect that was never
waited for because loopback connects finish at once. Each probe here makes one
of those visible, so a check can say which mistake it saw:

* ``watch_leaks``: sockets the answer opened and never closed (fd count and
  ``ResourceWarning``), closed afterwards so the check itself leaks nothing.
* ``measure``: CPU time against wall time (a busy loop burns one per the other)
  and the elapsed time (a needless wait).
* ``spy_on``: every call the answer makes to a function such as ``select.select``,
  also through names it imported (``from select import select``).
* ``ClockMover``: a pretend clock for ``time.monotonic`` and friends, while the
  wall clocks (``time.time``, ``time.time_ns``, ``datetime.now``) stand still or
  jump, so an answer on a wall clock gives the wrong result.

The network conditions loopback hides (short sends, a connect that stays in
progress) are in ``eventloop.checks.network``.

Which thread ran what is simply ``threading.get_ident()`` recorded in the
callbacks the check hands over (chapter 08).
"""

from __future__ import annotations

import datetime
import gc
import os
import socket
import stat
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from eventloop.judge.schedstat import runnable_seconds

# --- leaks -----------------------------------------------------------------------------------


def socket_fds() -> set[int]:
    """The descriptors of this process that are sockets (empty where it cannot be listed)."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        found = set()
        for name in names:
            try:
                if stat.S_ISSOCK(os.fstat(int(name)).st_mode):
                    found.add(int(name))
            except (OSError, ValueError):
                pass  # the descriptor listdir itself used, already closed
        return found
    return set()  # Windows: no listing; ResourceWarning still works


@dataclass
class Leaks:
    """What ``watch_leaks`` saw: sockets left open, or collected without being closed."""

    unclosed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.unclosed)


@contextmanager
def watch_leaks() -> Iterator[Leaks]:
    """Record the sockets opened inside the block and not closed by its end.

    Two signs, because each misses a case: a socket still referenced (by a list,
    a traceback, a thread) keeps its descriptor open; a socket the answer dropped
    is collected at once and only says so with a ``ResourceWarning``, which a
    notebook hides. Open the check's own sockets before the block, or close them
    in it. A leaked socket is closed afterwards, so the check leaks nothing itself.
    """
    leaks = Leaks()
    gc.collect()  # earlier code's garbage warns now, not inside the block, where it would count
    before = socket_fds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        try:
            yield leaks
        finally:
            gc.collect()
            left = socket_fds() - before
            for sock in open_sockets(left):
                leaks.unclosed.append(describe_socket(sock))
                sock.close()
    for warning in caught:
        if issubclass(warning.category, ResourceWarning) and "socket" in str(warning.message):
            leaks.unclosed.append(str(warning.message))


def open_sockets(fds: set[int]) -> list[socket.socket]:
    """The live ``socket.socket`` objects holding these descriptors."""
    if not fds:
        return []
    return [
        obj for obj in gc.get_objects() if isinstance(obj, socket.socket) and obj.fileno() in fds
    ]


def describe_socket(sock: socket.socket) -> str:
    kind = {socket.SOCK_STREAM: "TCP", socket.SOCK_DGRAM: "UDP"}.get(sock.type, str(sock.type))
    try:
        where = sock.getsockname()
    except OSError:
        where = "?"
    return f"a {kind} socket (fd {sock.fileno()}, bound to {where}) still open"


# --- time ------------------------------------------------------------------------------------


@dataclass
class Measure:
    """Wall time, CPU time and runnable time of the block, over every thread of the process.

    ``runnable`` is the time the process's threads ran *or waited for a core*
    (Linux's schedstat): a loop that polls is runnable all the time even when a
    busy machine gives it little CPU; one asleep in ``select`` is not. Where
    schedstat cannot be read it is ``None``, and ``busy`` falls back on CPU time.
    """

    wall: float = 0.0
    cpu: float = 0.0
    runnable: float | None = None

    def busy(self, share: float = 0.15) -> bool:
        """Did the block keep a core busy, or try to, while it should have slept?

        Runnable half the wall time or more is a poll whatever the load. On CPU
        time alone: a loop that rests uses one or two percent; one that polls
        ~100% of a core on a quiet machine and perhaps a third on a loaded one,
        so ``share`` (15%) tells the two apart in both cases.
        """
        if self.wall <= 0.05:
            return False
        if self.runnable is not None:
            return self.runnable > max(0.05, 0.5 * self.wall)
        return self.cpu > share * self.wall


@contextmanager
def measure() -> Iterator[Measure]:
    """Time the block with ``time.monotonic``, ``time.process_time`` and schedstat."""
    result = Measure()
    wall, cpu, runnable = time.monotonic(), time.process_time(), runnable_seconds(os.getpid())
    try:
        yield result
    finally:
        result.wall = time.monotonic() - wall
        result.cpu = time.process_time() - cpu
        after = runnable_seconds(os.getpid())
        if runnable is not None and after is not None:
            result.runnable = after - runnable


# --- spying on calls -------------------------------------------------------------------------


def namespaces_of(candidate: object) -> list[dict[str, Any]]:
    """The global namespaces the candidate's code reads names from (a notebook's, usually)."""
    functions = []
    if isinstance(candidate, type):
        for klass in candidate.__mro__:
            if klass.__module__.startswith(("eventloop.", "builtins")):
                continue
            functions += [getattr(v, "__func__", v) for v in vars(klass).values()]
    else:
        functions.append(candidate)
    spaces: list[dict[str, Any]] = []
    for function in functions:
        space = getattr(function, "__globals__", None)
        if isinstance(space, dict) and all(space is not s for s in spaces):
            spaces.append(space)
    return spaces


@contextmanager
def replaced(
    module: object, name: str, replacement: object, candidate: object = None
) -> Iterator[None]:
    """``module.name`` is ``replacement`` in the block, and so is any alias of it that the
    candidate imported (``from select import select``); everything is put back after."""
    original = getattr(module, name)
    undo: list[tuple[dict[str, Any], str, object]] = []
    setattr(module, name, replacement)
    try:
        for space in namespaces_of(candidate) if candidate is not None else []:
            for alias, value in list(space.items()):
                if value is original:
                    undo.append((space, alias, value))
                    space[alias] = replacement
        yield
    finally:
        setattr(module, name, original)
        for space, alias, value in undo:
            space[alias] = value


@dataclass
class Call:
    """One call seen by ``spy_on``: its arguments, how long it took, in which thread."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    seconds: float
    thread: int


@contextmanager
def spy_on(module: object, name: str, candidate: object = None) -> Iterator[list[Call]]:
    """Record every call to ``module.name`` made in the block; the calls still happen."""
    original = getattr(module, name)
    calls: list[Call] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        began = time.monotonic()
        try:
            return original(*args, **kwargs)
        finally:
            calls.append(Call(args, kwargs, time.monotonic() - began, threading.get_ident()))

    with replaced(module, name, spy, candidate):
        yield calls


# --- clocks ----------------------------------------------------------------------------------


class ClockMover:
    """A pretend time for the monotonic clocks; the wall clocks stand still or jump.

    In the block, ``time.monotonic``, ``time.perf_counter`` (and their ``_ns``
    forms) read ``start + moved``, which only ``advance`` changes: a check sees
    exact deadlines and never sleeps. ``time.time``, ``time.time_ns`` and
    ``datetime.datetime.now`` read the wall clock frozen at the start, plus
    ``wall_jump`` (set it to pretend someone adjusted the clock). So an answer that
    measures time with a wall clock sees no time pass at all, and sees the jumps.
    """

    def __init__(self, candidate: object = None) -> None:
        self.candidate = candidate
        self.start = time.monotonic()
        self.frozen_wall = time.time()
        self.moved = 0.0
        self.wall_jump = 0.0

    def advance(self, seconds: float) -> None:
        self.moved += seconds

    def monotonic(self) -> float:
        return self.start + self.moved

    def wall(self) -> float:
        return self.frozen_wall + self.wall_jump

    @contextmanager
    def installed(self) -> Iterator[ClockMover]:
        mover = self

        class PretendDatetime(datetime.datetime):
            @classmethod
            def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:  # type: ignore[override]
                return datetime.datetime.fromtimestamp(mover.wall(), tz)

            @classmethod
            def today(cls) -> datetime.datetime:  # type: ignore[override]
                return datetime.datetime.fromtimestamp(mover.wall())

            @classmethod
            def utcnow(cls) -> datetime.datetime:  # type: ignore[override]
                return datetime.datetime.fromtimestamp(mover.wall(), datetime.timezone.utc)

        clocks: list[tuple[object, str, object]] = [
            (time, "monotonic", self.monotonic),
            (time, "perf_counter", self.monotonic),
            (time, "monotonic_ns", lambda: int(self.monotonic() * 1e9)),
            (time, "perf_counter_ns", lambda: int(self.monotonic() * 1e9)),
            (time, "time", self.wall),
            (time, "time_ns", lambda: int(self.wall() * 1e9)),
            (datetime, "datetime", PretendDatetime),
        ]
        with nested_replacements(clocks, self.candidate):
            yield self


@contextmanager
def nested_replacements(
    replacements: list[tuple[object, str, object]], candidate: object
) -> Iterator[None]:
    if not replacements:
        yield
        return
    (module, name, value), *rest = replacements
    with replaced(module, name, value, candidate), nested_replacements(rest, candidate):
        yield


@contextmanager
def watch_wall_clocks(candidate: object = None) -> Iterator[list[str]]:
    """Record which wall clocks the block reads (``time.time``, ``time.time_ns``,
    ``datetime.now``/``today``/``utcnow``); they still tell the real time.

    A deadline or a timer on a wall clock jumps when the clock is adjusted
    (PITFALL 19); a loop that measures durations should read ``time.monotonic``.
    """
    read: list[str] = []
    real_time, real_time_ns = time.time, time.time_ns

    def wall_time() -> float:
        read.append("time.time()")
        return real_time()

    def wall_time_ns() -> int:
        read.append("time.time_ns()")
        return real_time_ns()

    class WatchedDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:  # type: ignore[override]
            read.append("datetime.now()")
            return datetime.datetime.fromtimestamp(real_time(), tz)

        @classmethod
        def today(cls) -> datetime.datetime:  # type: ignore[override]
            read.append("datetime.today()")
            return datetime.datetime.fromtimestamp(real_time())

    watched: list[tuple[object, str, object]] = [
        (time, "time", wall_time),
        (time, "time_ns", wall_time_ns),
        (datetime, "datetime", WatchedDatetime),
    ]
    with nested_replacements(watched, candidate):
        yield read
