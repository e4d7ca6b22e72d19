"""``python -m eventloop tcp-echo``: real clients, misbehaving ones among them."""

from __future__ import annotations

import re
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from eventloop.cli_serving import LOOPS as LOOP_CHOICES
from eventloop.tcp import RECV_SIZE

HIGH_WATER = 32 * 1024
LOW_WATER = 8 * 1024


LOOPS = ["select", LOOP_CHOICES[-1]]  # chapter 08's select loop, and the default (epoll)


def start(port: int = 0, loop: str = LOOPS[-1], *options: str) -> tuple[subprocess.Popen[str], int]:
    """Start the server; return it and the port it printed."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "eventloop",
            "tcp-echo",
            "--loop",
            loop,
            "--port",
            str(port),
            "--duration",
            "60",
            "--high-water",
            str(HIGH_WATER),
            "--low-water",
            str(LOW_WATER),
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = server.stdout.readline()
    found = re.search(r"listening on tcp 127\.0\.0\.1:(\d+)", line)
    if found is None:
        server.kill()
        server.wait(5)
        pytest.fail(f"no address printed: {line!r} {server.stderr.read()!r}")
    server.stdout.readline()  # "Ctrl-C to stop."
    return server, int(found.group(1))


def stop(server: subprocess.Popen[str]) -> tuple[int, str, str]:
    server.send_signal(signal.SIGINT)
    out, err = server.communicate(timeout=10)
    return server.returncode, out, err


@pytest.fixture(params=LOOPS)
def echo_server(request) -> Iterator[tuple[subprocess.Popen[str], int]]:
    server, port = start(loop=request.param)
    try:
        yield server, port
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate(timeout=10)


def echo(port: int, message: bytes) -> bytes:
    """A well-behaved client: send, half-close, read the reply to EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(message)
        client.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := client.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def flood(client: socket.socket, deadline: float) -> int:
    """Send without reading until the kernel takes no more (the server stopped reading)."""
    client.setblocking(False)
    sent = 0
    chunk = b"x" * 65536
    idle_since = None
    while time.monotonic() < deadline and sent < 256 << 20:
        try:
            sent += client.send(chunk)
            idle_since = None
        except BlockingIOError:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 0.3:
                break  # full for 0.3 s: the server has stopped reading from us
            time.sleep(0.01)
    return sent


def test_echo_and_clean_stop(echo_server):
    server, port = echo_server
    assert echo(port, b"hello\n") == b"hello\n"
    code, out, err = stop(server)
    assert code == 0, err
    assert "stopped (Ctrl-C)" in out
    assert "served 1 connection(s)" in out
    assert "Traceback" not in err


def test_misbehaving_clients_never_stop_a_good_one(echo_server):
    server, port = echo_server
    address = ("127.0.0.1", port)
    big = b"y" * (4 << 20)

    # 1. A flooder that never reads: the server stops reading from it.
    flooder = socket.create_connection(address, timeout=5)
    sent = flood(flooder, time.monotonic() + 10)
    assert sent > HIGH_WATER
    assert echo(port, b"after flooder") == b"after flooder"

    # 2. A client that resets (SO_LINGER 0) while the server has data for it.
    resetter = socket.create_connection(address, timeout=5)
    resetter.sendall(b"z" * 200_000)
    resetter.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    resetter.close()
    assert echo(port, b"after reset") == b"after reset"

    # 3. A client that vanishes mid-send: half of a big message, then close without reading.
    vanisher = socket.create_connection(address, timeout=5)
    vanisher.sendall(big[: len(big) // 2])
    vanisher.close()
    assert echo(port, b"after vanisher") == b"after vanisher"

    # 4. A client that sends, then closes at once (the Cookbook handler's bug, PITFALL 10).
    for _ in range(20):
        with socket.create_connection(address, timeout=5) as quick:
            quick.sendall(b"bye")
    assert echo(port, b"after quick closers") == b"after quick closers"

    # A good client talking while the flooder is still connected and still not reading.
    with socket.create_connection(address, timeout=5) as good:
        for i in range(20):
            good.sendall(b"line %d\n" % i)
            expected = b"line %d\n" % i
            got = b""
            while len(got) < len(expected):
                got += good.recv(100)
            assert got == expected

    code, out, err = stop(server)
    flooder.close()
    assert code == 0, err
    assert "Traceback" not in err
    found = re.search(
        r"largest outgoing buffer (\d+) bytes \(high water (\d+)\); reading paused (\d+) time", out
    )
    assert found, out
    largest, high, pauses = (int(group) for group in found.groups())
    assert high == HIGH_WATER
    assert pauses >= 1  # the server itself says it stopped reading from the flooder
    assert HIGH_WATER < largest <= HIGH_WATER + RECV_SIZE  # and its buffer stayed bounded


def test_port_is_free_after_sigint():
    server, port = start()
    assert echo(port, b"one") == b"one"
    code, _, err = stop(server)
    assert code == 0, err
    again, same_port = start(port)  # a restart binds the same port at once
    try:
        assert same_port == port
        assert echo(port, b"two") == b"two"
    finally:
        code, _, err = stop(again)
    assert code == 0, err


def test_port_in_use_is_one_clear_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "eventloop", "tcp-echo", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: port {port} is already in use on 127.0.0.1")
    assert "Traceback" not in result.stderr


def test_duration_stops_by_itself():
    result = subprocess.run(
        [sys.executable, "-m", "eventloop", "tcp-echo", "--port", "0", "--duration", "0.2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "stopped" in result.stdout and "served 0 connection(s)" in result.stdout


def test_idle_timeout_closes_a_silent_client_and_keeps_an_active_one():
    server, port = start(0, LOOPS[-1], "--idle-timeout", "0.3")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as silent:
            assert silent.recv(100) == b""  # closed by the server after 0.3 s of silence
        assert echo(port, b"still served") == b"still served"
        status, out, err = stop(server)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate(timeout=10)
    assert status == 0, err
    assert "1 closed as idle" in out
