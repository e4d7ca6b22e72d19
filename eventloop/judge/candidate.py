"""The judge's side of a candidate: the learner's code in a process of its own.

Why a process: a check that runs in the same interpreter as the learner's code
can be fooled by it without anyone meaning to (state a class keeps between
runs, a patched module, a leaked thread still answering), and forged by
anyone who means to (the check's own functions are right there to replace).
So the learner's definitions are shipped to a child process, the candidate,
and the judge drives it by calls: arguments in (sockets handed over as
descriptors of the judge's own sockets), a plain value or an error out. What
the judge believes is what it observes: replies on its own sockets, values it
decodes itself, and the candidate's CPU time, threads and open descriptors,
read from outside (``psutil``), never reported by the candidate.

A call that runs past its time limit is not interrupted inside the learner's
code (which could catch it): the candidate is killed, with every process it
started (its own session, and so its own process group).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

import cloudpickle
import psutil

from eventloop.judge.channel import ChannelClosed, decode, receive_message, send_message
from eventloop.judge.schedstat import process_schedstat
from eventloop.judge.sources import source_map


class CandidateFailed(Exception):
    """The candidate process could not do what the judge asked: the judge's problem or a crash."""


class CandidateEnded(CandidateFailed):
    """The candidate process ended in the middle of a request: the learner's code ended it."""


class CallTimedOut(Exception):
    """A call ran past its limit; the candidate was killed."""


@dataclass(frozen=True)
class Raised:
    """What the learner's code raised, as the candidate described it."""

    type: str
    message: str
    where: str
    traceback: str
    stub: bool  # the exercise stub's own NotImplementedError("Exercise N.M ...")
    base: bool  # a BaseException that is not an Exception (SystemExit, KeyboardInterrupt, ...)

    def __str__(self) -> str:
        return f"{self.type}: {self.message} ({self.where})"


class LearnerRaised(Exception):
    """Raised in the judge when a call into the candidate raised: carries what it raised."""

    def __init__(self, raised: Raised) -> None:
        super().__init__(str(raised))
        self.raised = raised


@dataclass(frozen=True)
class Usage:
    """What the candidate used, read from outside: CPU seconds, threads, open descriptors.

    ``runnable`` is the time its threads were running *or waiting for a core*
    (Linux's ``/proc/PID/task/*/schedstat``). On a busy machine a loop that polls
    gets little CPU but is runnable the whole time, while a loop asleep in
    ``select`` is neither: so ``runnable`` tells them apart whatever the load.
    Where it cannot be read (macOS), it is the CPU time and ``load_proof`` is False.
    """

    cpu: float
    runnable: float
    threads: int
    descriptors: int
    non_loopback: tuple[str, ...]  # addresses it listens or is bound on beyond 127.0.0.0/8
    load_proof: bool = True
    sleeps: int = 0  # voluntary context switches: each sleep or blocking wait is one
    waiting: float = 0.0  # of ``runnable``, the time spent ready to run but without a core

    def __sub__(self, before: Usage) -> Usage:
        return Usage(
            self.cpu - before.cpu,
            self.runnable - before.runnable,
            self.threads - before.threads,
            self.descriptors - before.descriptors,
            tuple(a for a in self.non_loopback if a not in before.non_loopback),
            self.load_proof and before.load_proof,
            self.sleeps - before.sleeps,
            self.waiting - before.waiting,
        )

    def busy(self, wall: float) -> bool:
        """Did the candidate keep a core busy (or try to) while it should have slept?

        A rested wait is runnable a few milliseconds (plus the call's own
        overhead, a few more on a busy machine); a poll, nearly all of ``wall``.
        Without schedstat, CPU time must do: a poll gets a whole core on a quiet
        machine and about a third beside two busy processes per core, so 15% of
        the wall time (and at least 20 ms) still tells them apart there.
        """
        if wall < 0.1:  # too short to tell a poll from the call's own overhead
            return False
        if self.load_proof:
            return self.runnable > 0.05 + 0.5 * wall
        return self.cpu > max(0.02, 0.15 * wall)

    def describe_busy(self, wall: float) -> str:
        """``busy 0.27 s of a 0.30 s wait``: what ``busy`` saw, in words."""
        if self.load_proof:
            return f"running or ready to run {self.runnable:.2f} s of a {wall:.2f} s wait"
        return f"{self.cpu:.2f} s of CPU in a {wall:.2f} s wait"


@dataclass(frozen=True)
class Named:
    """An argument that stands for what the candidate holds under ``name`` (say, the
    learner's class), so a course function called in the candidate can be handed it."""

    name: str


class ArgumentPickler(pickle.Pickler):
    """Pickles call arguments, replacing each socket by a placeholder and keeping its descriptor."""

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.fds: list[int] = []

    def persistent_id(self, obj: object) -> tuple[str, int | str, float | None] | None:
        """A socket travels as its descriptor and its timeout (which lives in the object)."""
        if isinstance(obj, socket.socket):
            self.fds.append(obj.fileno())
            return ("socket", len(self.fds) - 1, obj.gettimeout())
        if isinstance(obj, Named):
            return ("named", obj.name, None)
        return None


def ship_by_value(target: object) -> None:
    """Make cloudpickle copy ``target``'s module by value when the candidate could not import it.

    Functions typed in a notebook live in ``__main__`` (copied by value anyway);
    functions in a test module or a learner's own file could not be imported by
    the candidate, so they travel as code too. The course's own package and
    installed libraries are imported by name on the other side.
    """
    module_name = getattr(target, "__module__", None) or "__main__"
    if module_name == "__main__" or module_name.split(".")[0] == "eventloop":
        return
    module = sys.modules.get(module_name)
    if module is None or module_name in sys.stdlib_module_names:
        return
    filename = getattr(module, "__file__", "") or ""
    if "site-packages" in filename or "dist-packages" in filename:
        return
    cloudpickle.register_pickle_by_value(module)


class Candidate:
    """A child process holding the learner's definitions; used as a context manager.

    ``wrap`` turns a learner's function into a ``Remote`` the judge can call
    like the function itself, so a check reads as it did in one process.
    """

    def __init__(self, *, command_prefix: Sequence[str] = (), cwd: str | None = None) -> None:
        self.command_prefix = list(command_prefix)
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.channel: socket.socket | None = None
        self.output: IO[bytes] | None = None
        self.unclosed: list[str] = []  # sockets the last call dropped without closing them
        self.observed: dict[str, list[str]] = {}  # what the last call's probes saw

    def __enter__(self) -> Candidate:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start the child: ``python -m eventloop.judge.agent FD``, in a session of its own."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.output = tempfile.TemporaryFile()
        try:
            self.process = subprocess.Popen(
                [
                    *self.command_prefix,
                    sys.executable,
                    "-m",
                    "eventloop.judge.agent",
                    str(theirs.fileno()),
                ],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=self.output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.cwd,
            )
        except BaseException:
            ours.close()
            self.output.close()
            raise
        finally:
            theirs.close()
        self.channel = ours

    @property
    def pid(self) -> int:
        if self.process is None:
            raise CandidateFailed("the candidate was never started")
        return self.process.pid

    def define(self, name: str, value: object) -> None:
        """Ship ``value`` (a function or class, by value) into the candidate as ``name``."""
        ship_by_value(value)
        self.request(
            {
                "kind": "define",
                "name": name,
                "object": cloudpickle.dumps(value),
                "sources": source_map(value),
            }
        )

    def run_source(self, source: str, filename: str = "<submission>") -> Raised | None:
        """Run ``source`` in the candidate's namespace; what it raised, if anything."""
        reply = self.request({"kind": "exec", "source": source, "filename": filename})
        return raised_of(reply["raised"]) if "raised" in reply else None

    def call(
        self,
        name: str,
        *args: object,
        time_limit: float = 10.0,
        probes: Sequence[str] = (),
        **kwargs: object,
    ) -> object:
        """Call ``name(*args, **kwargs)`` in the candidate; its value, or ``LearnerRaised``.

        ``probes`` asks the candidate to watch the call (``"wall_clocks"``); what
        it saw is in ``self.observed`` afterwards, like ``self.unclosed``.
        """
        pickler_file = _BytesSink()
        pickler = ArgumentPickler(pickler_file)
        pickler.dump((args, kwargs))
        reply = self.request(
            {"kind": "call", "name": name, "args": pickler_file.getvalue(), "probes": list(probes)},
            fds=pickler.fds,
            time_limit=time_limit,
        )
        unclosed = reply.get("unclosed")
        self.unclosed = (
            [str(item)[:300] for item in unclosed[:20]] if isinstance(unclosed, list) else []
        )
        observed = reply.get("observed")
        self.observed = {
            str(key): [str(item)[:200] for item in found[:20]]
            for key, found in (observed.items() if isinstance(observed, dict) else [])
            if isinstance(found, list)
        }
        if "raised" in reply:
            raise LearnerRaised(raised_of(reply["raised"]))
        return decode(reply.get("returned"))

    def wrap(self, name: str, value: Callable[..., object], time_limit: float = 10.0) -> Remote:
        """Define ``value`` in the candidate and return a callable stand-in for it."""
        self.define(name, value)
        return Remote(self, name, time_limit)

    def request(
        self, request: dict[str, Any], fds: list[int] | None = None, time_limit: float = 30.0
    ) -> dict[str, Any]:
        """Send one request and wait for its reply, killing the candidate past ``time_limit``."""
        if self.channel is None:
            raise CandidateFailed("the candidate is not running")
        try:
            send_message(self.channel, pickle.dumps(request), fds)
            self.channel.settimeout(time_limit)
            data, extra = receive_message(self.channel)
        except TimeoutError:
            self.kill()
            raise CallTimedOut(f"still running after {time_limit:g} s") from None
        except (ChannelClosed, OSError) as error:
            code = self.kill()
            raise CandidateEnded(
                f"the process running your code ended ({describe_exit(code)})"
            ) from error
        for fd in extra:  # the judge asked for no descriptors back
            os.close(fd)
        try:
            reply = json.loads(data)
        except ValueError:
            raise CandidateFailed("the candidate's reply was not readable") from None
        if not isinstance(reply, dict):
            raise CandidateFailed("the candidate's reply was not a reply")
        if "agent_failed" in reply:
            raise CandidateFailed(
                f"the candidate could not run the request: {reply['agent_failed']}"
            )
        return reply

    def usage(self) -> Usage:
        """The candidate's CPU time, threads, descriptors and non-loopback sockets, from outside."""
        try:
            return self.read_usage(psutil.Process(self.pid))
        except psutil.NoSuchProcess:
            raise CandidateEnded("the process running your code ended") from None

    def read_usage(self, process: psutil.Process) -> Usage:
        """``usage`` for a process that exists (it may still end while we read)."""
        with process.oneshot():
            times = process.cpu_times()
            threads = process.num_threads()
            descriptors = process.num_fds() if hasattr(process, "num_fds") else 0
            sleeps = process.num_ctx_switches().voluntary
        cpu = times.user + times.system
        scheduled = process_schedstat(self.pid)
        return Usage(
            cpu,
            cpu if scheduled is None else sum(scheduled),
            threads,
            descriptors,
            non_loopback_of(process),
            load_proof=scheduled is not None,
            sleeps=sleeps,
            waiting=0.0 if scheduled is None else scheduled[1],
        )

    def printed(self, limit: int = 4000) -> str:
        """What the learner's code printed, at most the last ``limit`` characters."""
        if self.output is None:
            return ""
        self.output.flush()
        size = self.output.seek(0, os.SEEK_END)
        self.output.seek(max(0, size - limit))
        return self.output.read(limit).decode("utf-8", "replace")

    def kill(self) -> int | None:
        """Kill the candidate and everything in its process group; its exit status."""
        if self.process is None:
            return None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            return self.process.wait(5)
        except subprocess.TimeoutExpired:
            return None
        finally:
            self.close_channel()

    def close_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def close(self) -> None:
        """Say goodbye, give the candidate a moment, then kill what is left."""
        if self.process is not None and self.channel is not None:
            try:
                self.channel.settimeout(1)
                send_message(self.channel, pickle.dumps({"kind": "bye"}))
                self.process.wait(1)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        if self.output is not None:
            self.output.close()
            self.output = None
        self.process = None


class Remote:
    """Stands in for a learner's function that lives in the candidate: call it like the function."""

    def __init__(self, candidate: Candidate, name: str, time_limit: float) -> None:
        self.candidate = candidate
        self.name = name
        self.time_limit = time_limit
        self.__name__ = name

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self.candidate.call(self.name, *args, time_limit=self.time_limit, **kwargs)

    def watched(self, *args: object, probes: Sequence[str] = ("wall_clocks", "sleeps")) -> object:
        """Call it with ``probes`` watching; see ``Candidate.observed`` afterwards."""
        return self.candidate.call(self.name, *args, time_limit=self.time_limit, probes=probes)


class _BytesSink:
    """A minimal binary file for the pickler (``io.BytesIO`` without the import noise)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


def raised_of(fields: object) -> Raised:
    """A ``Raised`` from the candidate's JSON, accepting only the fields it should have."""
    if not isinstance(fields, dict):
        raise CandidateFailed("the candidate described an error the judge cannot read")
    return Raised(
        type=str(fields.get("type", "?"))[:100],
        message=str(fields.get("message", ""))[:2000],
        where=str(fields.get("where", "?"))[:200],
        traceback=str(fields.get("traceback", ""))[:6000],
        stub=bool(fields.get("stub", False)),
        base=bool(fields.get("base", False)),
    )


def non_loopback_of(process: psutil.Process) -> tuple[str, ...]:
    """Local addresses of the process's inet sockets that are not on loopback."""
    try:
        connections = process.net_connections(kind="inet")
    except (psutil.AccessDenied, AttributeError):  # macOS without rights; psutil < 6
        return ()
    found = []
    for connection in connections:
        if not connection.laddr:
            continue
        host = connection.laddr.ip
        if not (host.startswith("127.") or host == "::1"):
            found.append(f"{host}:{connection.laddr.port}")
    return tuple(sorted(found))


def describe_exit(code: int | None) -> str:
    """``exit status 3`` or ``killed by SIGSEGV``: how a process ended, for a verdict."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
