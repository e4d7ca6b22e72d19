"""Subprocesses on our loop: three pipes, and one more thing to wait for, the exit.

Grows from: ``pipes`` (a transport over each of the child's stdin, stdout and
stderr) and chapter 08 (a thread that waits, then wakes the loop).
Adds: ``subprocess_exec`` and ``subprocess_shell``, so that
``asyncio.create_subprocess_exec`` and ``create_subprocess_shell`` (with
``communicate()``, ``wait()`` and ``returncode``) run on our loop.

A child process is pipes, which the loop already watches, plus its *exit*,
which is not a descriptor at all in the classic Unix API: the parent learns of
it from ``waitpid``, a blocking call, or from the SIGCHLD signal. asyncio's
child watchers tried each in turn (a SIGCHLD handler, a thread per child, ...).
This loop uses the two that need no signal handler:

* **Linux 5.3+: ``os.pidfd_open(pid)``**, a descriptor that becomes readable
  when the child exits. The exit becomes readiness like any other: the loop
  watches it with ``add_reader``, then reaps the child with ``Popen.wait()``,
  which no longer blocks (asyncio's ``PidfdChildWatcher``, its default on
  Linux from 3.12).
* **Elsewhere (macOS): a thread** that blocks in ``Popen.wait()`` and hands the
  exit status to the loop with ``call_soon_threadsafe``: chapter 08's
  run-it-in-a-thread, for a call that cannot be made non-blocking (asyncio's
  ``ThreadedChildWatcher``).

The order of events is asyncio's: ``connection_made`` once every pipe is
connected; then ``pipe_data_received``, ``pipe_connection_lost`` and
``process_exited`` as they happen; ``connection_lost`` once the child has
exited *and* every pipe is closed; ``wait()`` returns then (Python 3.11+'s rule).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import warnings
from asyncio import futures
from typing import Any

from eventloop.aio.pipes import PipeTransport


class PipeProtocol(asyncio.Protocol):
    """The protocol of one pipe of the child: forwards what happens to the transport."""

    def __init__(self, process: SubprocessTransport, fd: int) -> None:
        self.process = process
        self.fd = fd  # 0, 1 or 2: stdin, stdout, stderr
        self.pipe: PipeTransport | None = None
        self.disconnected = False

    def connection_made(self, transport: Any) -> None:
        self.pipe = transport

    def data_received(self, data: bytes) -> None:
        self.process.call(self.process.protocol.pipe_data_received, self.fd, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.disconnected = True
        self.process.call(self.process.protocol.pipe_connection_lost, self.fd, exc)
        self.process.try_finish()

    def pause_writing(self) -> None:  # stdin is full: asyncio's stream protocol waits in drain()
        self.process.protocol.pause_writing()

    def resume_writing(self) -> None:
        self.process.protocol.resume_writing()


class SubprocessTransport(asyncio.SubprocessTransport):
    """A running child: its pipes' transports, its pid, its return code once it has exited."""

    def __init__(self, loop: Any, protocol: Any, args: Any, shell: bool, **popen: Any) -> None:
        super().__init__()
        self.loop = loop
        self.protocol = protocol
        self.closed = True  # until the child exists
        self.returncode: int | None = None
        self.exit_waiters: list[asyncio.Future[int]] = []
        self.pending: list[tuple[Any, tuple[Any, ...]]] | None = []  # before connection_made
        self.finished = False
        self.proc = subprocess.Popen(args, shell=shell, universal_newlines=False, **popen)
        self.closed = False
        self.pid = self.proc.pid
        self.extra = {"subprocess": self.proc}
        ends = (self.proc.stdin, self.proc.stdout, self.proc.stderr)
        # every pipe is known from the start: the end (try_finish) waits for each of them
        self.pipes = {fd: PipeProtocol(self, fd) for fd, end in enumerate(ends) if end is not None}
        watch_exit(loop, self.proc, self.process_exited)

    async def connect_pipes(self) -> None:
        """A transport on each pipe; then ``connection_made``, then what happened meanwhile."""
        ends = (self.proc.stdin, self.proc.stdout, self.proc.stderr)
        for fd, pipe in self.pipes.items():
            connect = self.loop.connect_write_pipe if fd == 0 else self.loop.connect_read_pipe
            await connect(lambda pipe=pipe: pipe, ends[fd])
        self.loop.call_soon(self.protocol.connection_made, self)
        for callback, args in self.pending or ():
            self.loop.call_soon(callback, *args)
        self.pending = None
        made = self.loop.create_future()
        self.loop.call_soon(futures._set_result_unless_cancelled, made, None)
        await made  # connection_made has run: asyncio's Process may be built now

    def call(self, callback: Any, *args: Any) -> None:
        """Call the protocol soon; before ``connection_made``, keep the call for after it."""
        if self.pending is not None:
            self.pending.append((callback, args))
        else:
            self.loop.call_soon(callback, *args)

    def process_exited(self, returncode: int) -> None:
        self.returncode = returncode
        self.call(self.protocol.process_exited)
        self.try_finish()

    def try_finish(self) -> None:
        """Exited, and every pipe closed: the transport's life is over."""
        if self.finished or self.returncode is None:
            return
        if all(pipe.disconnected for pipe in self.pipes.values()):
            self.finished = True
            self.call(self.connection_lost)

    def connection_lost(self) -> None:
        try:
            self.protocol.connection_lost(None)
        finally:  # wait() returns now
            for waiter in self.exit_waiters:
                if not waiter.done():
                    waiter.set_result(self.returncode)
            self.exit_waiters = []

    async def _wait(self) -> int:
        """What ``asyncio.subprocess.Process.wait()`` awaits (a private name asyncio relies on)."""
        if self.returncode is not None:
            return self.returncode
        waiter = self.loop.create_future()
        self.exit_waiters.append(waiter)
        return await waiter

    # --- asyncio's SubprocessTransport API ------------------------------------------------------

    def get_pid(self) -> int:
        return self.pid

    def get_returncode(self) -> int | None:
        return self.returncode

    def get_pipe_transport(self, fd: int) -> Any:
        pipe = self.pipes.get(fd)
        return None if pipe is None else pipe.pipe

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)

    def get_protocol(self) -> Any:
        return self.protocol

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def send_signal(self, signal: int) -> None:
        self.check_proc()
        self.proc.send_signal(signal)

    def terminate(self) -> None:
        self.check_proc()
        self.proc.terminate()

    def kill(self) -> None:
        self.check_proc()
        self.proc.kill()

    def check_proc(self) -> None:
        if self.closed:
            raise ProcessLookupError()

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        """Close the pipes; a child still running is killed (asyncio's rule)."""
        if self.closed:
            return
        self.closed = True
        for pipe in self.pipes.values():
            if pipe.pipe is not None:
                pipe.pipe.close()
        if self.returncode is None and self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass

    def __del__(self) -> None:
        if not getattr(self, "closed", True):
            warnings.warn(f"unclosed transport {self!r}", ResourceWarning, 2, source=self)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "running" if self.returncode is None else "exited"
        code = "" if self.returncode is None else f" returncode={self.returncode}"
        return f"<SubprocessTransport pid={self.pid} {state}{code}>"


def watch_exit(loop: Any, proc: subprocess.Popen[bytes], exited: Any) -> None:
    """Call ``exited(returncode)`` in the loop once ``proc`` has exited, and reap it."""
    try:
        pidfd = os.pidfd_open(proc.pid)  # type: ignore[attr-defined]  # Linux 5.3+
    except (AttributeError, OSError):  # macOS, or an older kernel: a thread waits
        threading.Thread(
            target=wait_in_thread, args=(loop, proc, exited), name="eventloop-aio-waitpid",
            daemon=True,
        ).start()  # fmt: skip
        return

    def readable() -> None:  # the child has exited: wait() returns at once
        loop.remove_reader(pidfd)
        os.close(pidfd)
        exited(proc.wait())

    loop.add_reader(pidfd, readable)


def wait_in_thread(loop: Any, proc: subprocess.Popen[bytes], exited: Any) -> None:
    returncode = proc.wait()
    try:
        loop.call_soon_threadsafe(exited, returncode)
    except RuntimeError:  # the loop was closed meanwhile: no one to tell
        pass


class SubprocessMethods:
    """``subprocess_exec`` and ``subprocess_shell``; mixed into ``EventLoop``."""

    async def subprocess_exec(
        self, protocol_factory: Any, program: Any, *args: Any,
        stdin: Any = subprocess.PIPE, stdout: Any = subprocess.PIPE,
        stderr: Any = subprocess.PIPE, universal_newlines: bool = False, shell: bool = False,
        bufsize: int = 0, encoding: Any = None, errors: Any = None, text: Any = None,
        **kwargs: Any,
    ) -> tuple[SubprocessTransport, Any]:  # fmt: skip
        """Run ``program`` with ``args`` (no shell); pipes for stdin, stdout, stderr by default."""
        check_bytes_only(universal_newlines, bufsize, text, encoding, errors)
        if shell:
            raise ValueError("shell must be False")
        return await start(self, protocol_factory, (program, *args), False, stdin, stdout,
                           stderr, kwargs)  # fmt: skip

    async def subprocess_shell(
        self, protocol_factory: Any, cmd: str | bytes, *,
        stdin: Any = subprocess.PIPE, stdout: Any = subprocess.PIPE,
        stderr: Any = subprocess.PIPE, universal_newlines: bool = False, shell: bool = True,
        bufsize: int = 0, encoding: Any = None, errors: Any = None, text: Any = None,
        **kwargs: Any,
    ) -> tuple[SubprocessTransport, Any]:  # fmt: skip
        """Run ``cmd`` in the shell (``/bin/sh -c``)."""
        if not isinstance(cmd, (bytes, str)):
            raise ValueError("cmd must be a string")
        check_bytes_only(universal_newlines, bufsize, text, encoding, errors)
        if not shell:
            raise ValueError("shell must be True")
        return await start(self, protocol_factory, cmd, True, stdin, stdout, stderr, kwargs)


def check_bytes_only(universal_newlines: bool, bufsize: int, text: Any, encoding: Any,
                     errors: Any) -> None:  # fmt: skip
    """Transports carry bytes, unbuffered: asyncio refuses text mode the same way."""
    if universal_newlines:
        raise ValueError("universal_newlines must be False")
    if bufsize != 0:
        raise ValueError("bufsize must be 0")
    if text:
        raise ValueError("text must be False")
    if encoding is not None:
        raise ValueError("encoding must be None")
    if errors is not None:
        raise ValueError("errors must be None")


async def start(loop: Any, protocol_factory: Any, args: Any, shell: bool, stdin: Any,
                stdout: Any, stderr: Any, popen: dict[str, Any]) -> tuple[Any, Any]:  # fmt: skip
    """Start the child, connect its pipes; on failure, close (kill) it before raising."""
    protocol = protocol_factory()
    transport = SubprocessTransport(
        loop, protocol, args, shell, stdin=stdin, stdout=stdout, stderr=stderr, bufsize=0, **popen
    )
    try:
        await transport.connect_pipes()
    except BaseException:
        transport.close()  # the exit watcher reaps it
        raise
    return transport, protocol
