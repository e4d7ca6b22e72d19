"""The epoll loop holds 10,000 concurrent loopback connections and answers every one.

The server runs in its own process, the clients in two more (5,000 connections
each), so no process needs more descriptors than the soft limit allows once it
is raised to the hard limit. ``select`` could not even watch descriptor 1024.
"""

from __future__ import annotations

import resource
import selectors
import subprocess
import sys
import textwrap

import pytest

CONNECTIONS = 10_000
CLIENTS = 2
TIMEOUT = 60.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(selectors, "EpollSelector"), reason="epoll is Linux-only"),
    pytest.mark.skipif(
        resource.getrlimit(resource.RLIMIT_NOFILE)[1] < CONNECTIONS + 100,
        reason="the hard RLIMIT_NOFILE is too low for 10,000 connections",
    ),
]

RAISE_LIMIT = """
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
"""

SERVER = RAISE_LIMIT + textwrap.dedent(
    """
    import sys
    from eventloop.selectors_loop import SelectorLoop
    from eventloop.tcp_server import TCPServer

    expected = int(sys.argv[1])
    peak = 0

    def done() -> bool:
        global peak
        peak = max(peak, len(loop.members))
        return server.accepted >= expected and len(loop.members) == 2  # waker + listener

    with SelectorLoop(selector="epoll") as loop:
        with TCPServer(loop.handlers, backlog=4096, accept_batch=256) as server:
            print(server.port, flush=True)
            reason = loop.run(until=done, duration=45)
            print(reason, server.accepted, server.refused, peak - 2, flush=True)
    """
)

CLIENT = RAISE_LIMIT + textwrap.dedent(
    """
    import socket, sys
    port, count = int(sys.argv[1]), int(sys.argv[2])
    socks = []
    try:
        for _ in range(count):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=30))
        for n, sock in enumerate(socks):
            sock.sendall(b"%08d" % n)
        answered = sum(sock.recv(8) == b"%08d" % n for n, sock in enumerate(socks))
        print("answered", answered, flush=True)
        sys.stdin.readline()  # hold every connection open until the test says so
    finally:
        for sock in socks:
            sock.close()
    """
)


def python(code: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ten_thousand_concurrent_connections_all_answered() -> None:
    server = python(SERVER, CONNECTIONS)
    clients: list[subprocess.Popen[str]] = []
    try:
        port = int(server.stdout.readline())
        clients = [python(CLIENT, port, CONNECTIONS // CLIENTS) for _ in range(CLIENTS)]
        # every client has all its connections open and answered before any closes
        answers = [client.stdout.readline().split() for client in clients]
        assert answers == [["answered", str(CONNECTIONS // CLIENTS)]] * CLIENTS, [
            client.stderr.read() for client in clients if client.poll() is not None
        ]
        for client in clients:
            client.communicate("close\n", timeout=TIMEOUT)
        out, err = server.communicate(timeout=TIMEOUT)
    finally:
        for process in (*clients, server):
            if process.poll() is None:
                process.kill()
                process.communicate()
    reason, accepted, refused, peak = out.split()
    assert (reason, int(accepted), int(refused)) == ("until", CONNECTIONS, 0), err
    assert int(peak) == CONNECTIONS  # all of them open at the same time
