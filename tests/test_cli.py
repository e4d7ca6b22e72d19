"""`python -m eventloop serve` as a learner runs it: a real process, real datagrams, Ctrl-C."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

LISTENING = re.compile(r"^(time|echo) server listening on udp (\S+):(\d+)$")


class Server:
    """A `serve` subprocess and the addresses it printed."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "eventloop", "serve", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.addresses: dict[str, tuple[str, int]] = {}
        assert self.process.stdout is not None
        for line in self.process.stdout:
            match = LISTENING.match(line.strip())
            if match:
                kind, host, port = match.groups()
                self.addresses.setdefault(kind, (host.strip("[]"), int(port)))
            if line.startswith("Ctrl-C to stop"):
                break

    def stop(self) -> tuple[int, str, str]:
        """Send Ctrl-C (SIGINT) and collect what the process said."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=10)
        return self.process.returncode, out, err


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server("--time-port", "0", "--echo-port", "0", "--duration", "20")
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.communicate()


def ask(address: tuple[str, int], message: bytes) -> bytes:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as client:
        client.settimeout(5)
        client.sendto(message, address)
        return client.recv(65535)


def test_serve_answers_time_and_echo_and_stops_cleanly_on_ctrl_c(server):
    assert set(server.addresses) == {"time", "echo"}
    assert server.addresses["echo"][0] in ("127.0.0.1", "::1")
    assert re.match(
        rb"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}", ask(server.addresses["time"], b"hello")
    )
    assert ask(server.addresses["echo"], b"hello\n") == b"hello\n"

    status, out, err = server.stop()
    assert status == 0
    assert "stopped (Ctrl-C)" in out
    assert "Traceback" not in err
    for address in server.addresses.values():  # nothing left listening: the ports are free again
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", address[1]))


def test_serve_stops_by_itself_after_duration():
    server = Server("--time-port", "0", "--echo-port", "0", "--duration", "0.2")
    out, err = server.process.communicate(timeout=10)
    assert server.process.returncode == 0
    assert out.strip().endswith("stopped")


def test_a_port_in_use_gives_one_clear_line_and_exit_status_2():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "eventloop",
                "serve",
                "--host",
                "127.0.0.1",
                "--time-port",
                str(port),
                "--echo-port",
                "0",
                "--duration",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=10,
        )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "already in use" in result.stderr and "--time-port" in result.stderr
    assert "Traceback" not in result.stderr


def test_binding_every_interface_warns_that_it_exposes_the_servers():
    server = Server(
        "--host", "0.0.0.0", "--time-port", "0", "--echo-port", "0", "--duration", "0.2"
    )
    _, err = server.process.communicate(timeout=10)
    assert "anyone who can reach this machine" in err


def test_help_explains_the_servers_and_the_nc_commands():
    result = subprocess.run(
        [sys.executable, "-m", "eventloop", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    for text in (
        "echo 'hello' | nc -u localhost 14000",
        "15000",
        "--host",
        "0.0.0.0",
        "--duration",
    ):
        assert text in result.stdout


def test_no_command_prints_help_and_exits_2():
    result = subprocess.run(
        [sys.executable, "-m", "eventloop"], capture_output=True, text=True, timeout=10
    )
    assert result.returncode == 2
    assert "serve" in result.stdout


def nc_says(port: int, message: str) -> str:
    """Run the post's test, `echo MESSAGE | nc -u localhost PORT`, and return what nc printed."""
    nc = subprocess.Popen(
        ["nc", "-u", "localhost", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        out, _ = nc.communicate(message + "\n", timeout=1.5)
    except subprocess.TimeoutExpired:  # nc -u keeps waiting for more replies, as in the post
        nc.kill()
        out, _ = nc.communicate()
    return out


@pytest.mark.skipif(shutil.which("nc") is None, reason="nc (netcat) is not installed")
def test_the_posts_own_nc_commands_work_exactly_as_written():
    for port in (14000, 15000):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                pytest.skip(f"port {port} is in use on this machine")
    server = Server("--duration", "20")
    try:
        assert re.match(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}", nc_says(14000, "hello"))
        assert nc_says(15000, "hello") == "hello\n"
    finally:
        status, _, _ = server.stop()
    assert status == 0


def test_addresses_are_printed_as_nc_users_write_them():
    from eventloop.cli_serving import host_port

    assert host_port(("127.0.0.1", 14000)) == "127.0.0.1:14000"
    assert host_port(("::1", 14000, 0, 0)) == "[::1]:14000"


# --- every server command at the edges of its environment ---------------------------------------

SERVER_COMMANDS = [
    ["serve", "--time-port", "0", "--echo-port", "0"],
    ["udp-echo", "--port", "0"],
    ["tcp-echo", "--port", "0"],
    ["tcp-echo", "--port", "0", "--loop", "select"],
]


def run_command(args: list[str], **options) -> subprocess.Popen[str]:
    """``python -m eventloop ARGS`` in a child that turns unclosed sockets into messages."""
    return subprocess.Popen(
        [sys.executable, "-W", "error::ResourceWarning", "-m", "eventloop", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


@pytest.mark.parametrize("args", SERVER_COMMANDS, ids=" ".join)
def test_a_closed_stdout_ends_the_command_with_one_line_and_no_traceback(args):
    """``python -m eventloop tcp-echo | head -1``: head reads one line and closes the pipe."""
    process = run_command([*args, "--duration", "0.3"])
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    assert "listening on" in first
    process.stdout.close()  # what `head -1` does once it has its line
    err = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=10) == 1
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "standard output" in err


def limit_descriptors(count: int):
    """For ``preexec_fn``: the child may have at most ``count`` descriptors open (ulimit -n)."""
    import resource

    def limit() -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))

    return limit


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_NOFILE on Windows")
@pytest.mark.parametrize("args", SERVER_COMMANDS, ids=" ".join)
def test_too_few_descriptors_is_one_clear_line_and_no_traceback(args):
    """Started with ``ulimit -n`` 5 to 9, each command either runs or says so in one line."""
    failed = 0
    for count in range(5, 10):
        process = run_command([*args, "--duration", "0.2"], preexec_fn=limit_descriptors(count))
        out, err = process.communicate(timeout=20)
        assert "Traceback" not in err, (count, err)
        if process.returncode == 0:
            assert err == "" and out.rstrip().splitlines()[-1].startswith(("stopped", "served"))
            continue
        failed += 1
        assert process.returncode == 1, (count, out, err)
        assert err.count("\n") == 1 and "ulimit -n" in err, (count, err)
        assert f"may open {count} " in err, (count, err)  # says what the limit is now
    assert failed >= 1  # the smallest limit is too small for every command


def test_out_of_descriptors_is_explained_for_the_process_and_for_the_system():
    import errno

    from eventloop.cli_serving import explain_out_of_descriptors

    process = explain_out_of_descriptors(OSError(errno.EMFILE, "Too many open files"))
    assert process.startswith("error: out of file descriptors: this process may open ")
    assert "ulimit -n" in process and "\n" not in process
    system = explain_out_of_descriptors(OSError(errno.ENFILE, "Too many open files in system"))
    assert system.startswith("error: the whole system is out of file descriptors")
