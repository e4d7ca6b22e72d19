"""eventloop/aio/subprocesses.py: asyncio's subprocess API on our loop, observed as on asyncio's."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from eventloop.aio import EventLoop

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")

LOOPS = {"ours": EventLoop, "asyncio": asyncio.new_event_loop}
PIPE = asyncio.subprocess.PIPE
PYTHON = sys.executable


@pytest.fixture(params=list(LOOPS))
def loop(request) -> Iterator[asyncio.AbstractEventLoop]:
    loop = LOOPS[request.param]()
    try:
        yield loop
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def test_communicate_feeds_stdin_and_collects_stdout_stderr_and_the_return_code(loop):
    script = (
        "import sys; data = sys.stdin.read(); print(data.upper());"
        " print('oops', file=sys.stderr); sys.exit(3)"
    )

    async def main() -> tuple[bytes, bytes, int | None, int]:
        process = await asyncio.create_subprocess_exec(
            PYTHON, "-c", script, stdin=PIPE, stdout=PIPE, stderr=PIPE
        )
        out, err = await process.communicate(b"hello")
        return out, err, process.returncode, await process.wait()

    assert loop.run_until_complete(main()) == (b"HELLO\n", b"oops\n", 3, 3)


def test_a_shell_command_and_its_exit_status(loop):
    async def main() -> tuple[bytes, int]:
        process = await asyncio.create_subprocess_shell("echo from the shell; exit 4", stdout=PIPE)
        return await process.stdout.read(), await process.wait()

    assert loop.run_until_complete(main()) == (b"from the shell\n", 4)


def test_a_megabyte_each_way_through_cat(loop):
    """Both directions fill their pipes: stdin waits in drain(), stdout pauses the reader."""
    payload = os.urandom(1 << 20)

    async def main() -> bytes:
        process = await asyncio.create_subprocess_exec("cat", stdin=PIPE, stdout=PIPE)
        out, _ = await process.communicate(payload)
        return out

    assert loop.run_until_complete(main()) == payload


def test_terminate_kill_and_send_signal_end_the_child_with_that_signal(loop):
    async def main() -> list[int]:
        codes = []
        for how in ("terminate", "kill", "send_signal"):
            process = await asyncio.create_subprocess_exec("sleep", "30")
            if how == "send_signal":
                process.send_signal(signal.SIGUSR1)
            else:
                getattr(process, how)()
            codes.append(await asyncio.wait_for(process.wait(), 10))
        return codes

    assert loop.run_until_complete(main()) == [-signal.SIGTERM, -signal.SIGKILL, -signal.SIGUSR1]


def test_wait_with_no_pipes_and_with_stdin_left_open(loop):
    async def main() -> list[int]:
        quiet = await asyncio.create_subprocess_exec(PYTHON, "-c", "pass")
        # stdin is a pipe nobody closes: the child exits anyway, and wait() must see it
        ignoring = await asyncio.create_subprocess_exec(
            PYTHON, "-c", "import sys; sys.exit(5)", stdin=PIPE
        )
        return [
            await asyncio.wait_for(quiet.wait(), 10),
            await asyncio.wait_for(ignoring.wait(), 10),
        ]

    assert loop.run_until_complete(main()) == [0, 5]


class Recording(asyncio.SubprocessProtocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.events: list[object] = []
        self.done = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append("connection_made")

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.events.append(("pipe_data_received", fd, data))

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self.events.append(("pipe_connection_lost", fd, exc))

    def process_exited(self) -> None:
        self.events.append("process_exited")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(("connection_lost", exc))
        self.done.set_result(None)


def test_a_protocol_hears_connection_made_first_and_connection_lost_last(loop):
    async def main() -> tuple[list[object], int | None, bool, bool]:
        transport, protocol = await loop.subprocess_exec(
            lambda: Recording(loop), PYTHON, "-c", "print('out')", stdin=None, stderr=None
        )
        pid_ok = transport.get_pid() > 0 and transport.get_pipe_transport(0) is None
        stdout_ok = transport.get_pipe_transport(1) is not None
        await asyncio.wait_for(protocol.done, 10)
        returncode = transport.get_returncode()
        transport.close()
        return protocol.events, returncode, pid_ok, stdout_ok

    events, returncode, pid_ok, stdout_ok = loop.run_until_complete(main())
    assert (returncode, pid_ok, stdout_ok) == (0, True, True)
    assert events[0] == "connection_made"
    assert events[-1] == ("connection_lost", None)
    # between them, in an order that depends on the kernel: the output (in one chunk or
    # more), the end of stdout, the exit
    middle = events[1:-1]
    output = b"".join(event[2] for event in middle if event[0] == "pipe_data_received")
    others = sorted(str(event) for event in middle if event[0] != "pipe_data_received")
    assert (output, others) == (b"out\n", ["('pipe_connection_lost', 1, None)", "process_exited"])


def outcomes(loop: asyncio.AbstractEventLoop) -> dict[str, str]:
    """What each call raises (``type: message``), or ``ok``."""

    async def exec_(*args: object, **kwargs: object) -> None:
        transport, _ = await loop.subprocess_exec(asyncio.SubprocessProtocol, *args, **kwargs)
        transport.close()

    async def shell(cmd: object, **kwargs: object) -> None:
        transport, _ = await loop.subprocess_shell(asyncio.SubprocessProtocol, cmd, **kwargs)
        transport.close()

    calls = {
        "text": lambda: exec_("true", text=True),
        "universal_newlines": lambda: exec_("true", universal_newlines=True),
        "bufsize": lambda: exec_("true", bufsize=1),
        "encoding": lambda: exec_("true", encoding="utf-8"),
        "errors": lambda: exec_("true", errors="strict"),
        "exec with shell": lambda: exec_("true", shell=True),
        "shell without shell": lambda: shell("true", shell=False),
        "shell with a list": lambda: shell(["true"]),
        "no such program": lambda: exec_("/nonexistent/program"),
    }
    seen = {}
    for name, call in calls.items():
        try:
            loop.run_until_complete(call())
            seen[name] = "ok"
        except Exception as error:
            seen[name] = f"{type(error).__name__}: {error}"
    return seen


def test_mistakes_raise_what_asyncio_raises():
    ours, theirs = EventLoop(), asyncio.new_event_loop()
    try:
        assert outcomes(ours) == outcomes(theirs)
    finally:
        ours.close()
        theirs.close()


def test_the_thread_that_waits_where_there_is_no_pidfd(monkeypatch):
    """macOS has no pidfd_open: a thread blocks in waitpid and wakes the loop (chapter 08)."""
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    loop = EventLoop()
    try:

        async def main() -> tuple[bytes, int]:
            process = await asyncio.create_subprocess_exec(
                PYTHON, "-c", "print('no pidfd'); raise SystemExit(7)", stdout=PIPE
            )
            out, _ = await asyncio.wait_for(process.communicate(), 10)
            return out, process.returncode

        assert loop.run_until_complete(main()) == (b"no pidfd\n", 7)
    finally:
        loop.close()


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="Linux 5.3+")
def test_the_exit_is_a_readable_descriptor_on_linux(monkeypatch):
    """pidfd_open: the loop learns of the exit through readiness, no thread, no SIGCHLD."""
    opened: list[int] = []
    real = os.pidfd_open

    def recording_pidfd_open(pid: int, flags: int = 0) -> int:
        opened.append(pid)
        return real(pid, flags)

    monkeypatch.setattr(os, "pidfd_open", recording_pidfd_open)
    loop = EventLoop()
    try:

        async def main() -> tuple[int, int, int]:
            process = await asyncio.create_subprocess_exec(PYTHON, "-c", "pass")
            return process.pid, await asyncio.wait_for(process.wait(), 10), len(opened)

        pid, returncode, count = loop.run_until_complete(main())
        assert (opened, returncode, count) == ([pid], 0, 1)
    finally:
        loop.close()


def test_closing_the_transport_kills_a_child_still_running():
    loop = EventLoop()
    try:

        async def main() -> int | None:
            transport, protocol = await loop.subprocess_exec(
                lambda: Recording(loop), "sleep", "30", stdin=None, stdout=None, stderr=None
            )
            transport.close()
            await asyncio.wait_for(protocol.done, 10)
            with pytest.raises(ProcessLookupError):
                transport.kill()
            return transport.get_returncode()

        assert loop.run_until_complete(main()) == -signal.SIGKILL
    finally:
        loop.close()


def test_popen_options_pass_through(loop, tmp_path):
    async def main() -> bytes:
        process = await asyncio.create_subprocess_exec(
            "pwd", stdout=PIPE, cwd=tmp_path, env={"PATH": os.environ["PATH"]}
        )
        out, _ = await process.communicate()
        return out

    assert loop.run_until_complete(main()).strip() == os.fsencode(os.path.realpath(tmp_path))
    assert subprocess.PIPE == PIPE


def test_anyio_runs_processes_on_both_loops(loop):
    anyio = pytest.importorskip("anyio")

    async def main() -> list[object]:
        result = await anyio.run_process([PYTHON, "-c", "print('anyio')"])
        async with await anyio.open_process(["cat"]) as process:
            await process.stdin.send(b"through anyio's streams")
            await process.stdin.aclose()
            echoed = await process.stdout.receive()
            returncode = await process.wait()
        return [result.stdout, result.returncode, echoed, returncode]

    assert loop.run_until_complete(main()) == [b"anyio\n", 0, b"through anyio's streams", 0]
