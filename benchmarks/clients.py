"""Load generators for ``benchmarks/run.py``: each runs in its own process.

Two roles, both stdlib only and both driven by ``run.py`` over stdin/stdout:

* ``echo``: open N connections (TCP) or N flows (connected UDP sockets), check
  each one answers, print ``READY``, wait for ``GO <t0>``, then run a *closed
  loop*: every connection sends one message and waits for the whole echo before
  sending the next. Echoes completed in the window ``[t0 + warmup, t0 + warmup
  + duration]`` are counted; the process prints one JSON line with the count
  and its own CPU time during the window (so ``run.py`` can show whether the
  load generator, not the server, was the bottleneck).
* ``idle``: open K connections, check each one answers once, print ``READY``,
  then hold them open without sending until stdin closes. This is the "K idle
  connections" of the idle-scaling series.

Times are ``time.monotonic()``, which on Linux is one clock for every process
of the machine, so the parent and the clients agree on the window.
"""

from __future__ import annotations

import argparse
import errno
import json
import resource
import select
import selectors
import socket
import sys
import time

HOST = "127.0.0.1"
CONNECT_BATCH = 100
"""Connections opened at once: below every server's listen backlog, so no SYN is dropped."""
UDP_RESEND_AFTER = 0.2
"""Seconds without a reply after which a UDP flow sends again (the datagram was lost)."""


def raise_fd_limit() -> None:
    """Allow as many descriptors as the hard limit: 10,000 idle connections need them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def open_tcp(port: int, count: int, deadline: float) -> list[socket.socket]:
    """``count`` connections, each proven served by one 1-byte echo, in batches."""
    socks: list[socket.socket] = []
    try:
        for start in range(0, count, CONNECT_BATCH):
            batch = [connect(port) for _ in range(min(CONNECT_BATCH, count - start))]
            socks.extend(batch)
            ping_all(batch, deadline)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def connect(port: int) -> socket.socket:
    """A non-blocking connect in progress (EINPROGRESS is the normal answer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    code = sock.connect_ex((HOST, port))
    if code not in (0, errno.EINPROGRESS):
        sock.close()
        raise OSError(code, f"connect to port {port}: {errno.errorcode.get(code, code)}")
    return sock


def ping_all(socks: list[socket.socket], deadline: float) -> None:
    """Wait until each socket is connected, then until each echoes one byte."""
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_WRITE)
        waiting = len(socks)
        while waiting:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                raise TimeoutError(f"{waiting} of {len(socks)} connections never answered")
            for key, events in selector.select(timeout):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if events & selectors.EVENT_WRITE:
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if code:
                        raise OSError(code, f"connect failed: {errno.errorcode.get(code, code)}")
                    sock.send(b"!")
                    selector.modify(sock, selectors.EVENT_READ)
                elif sock.recv(1) == b"!":
                    selector.unregister(sock)
                    waiting -= 1
                else:
                    raise ConnectionError("the server closed a connection instead of echoing")


def open_udp(port: int, count: int) -> list[socket.socket]:
    """``count`` UDP sockets connected to the server, so ``recv`` hears only it."""
    socks = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect((HOST, port))
        sock.setblocking(False)
        socks.append(sock)
    return socks


def wait_for_go() -> float:
    """Tell the parent we are ready; return the start time it sends back."""
    print("READY", flush=True)
    words = sys.stdin.readline().split()
    if len(words) != 2 or words[0] != "GO":
        raise SystemExit(f"expected 'GO <t0>' on stdin, got {words!r}")
    return float(words[1])


def echo_loop(
    socks: list[socket.socket], proto: str, size: int, t0: float, warmup: float, duration: float
) -> dict[str, float]:
    """The closed loop: one message in flight per connection; count echoes in the window.

    This is the load generator's hot path, so it is written for speed: bound methods
    looked up once, no function call per echo unless a send is partial.
    """
    message = b"x" * size
    view = memoryview(bytearray(65536))
    udp = proto == "udp"
    missing = {sock.fileno(): size for sock in socks}
    sent_at = {sock.fileno(): 0.0 for sock in socks}
    by_fd = {sock.fileno(): sock for sock in socks}
    recv_into = {sock.fileno(): sock.recv_into for sock in socks}
    send = {sock.fileno(): sock.send for sock in socks}
    window_start, window_end = t0 + warmup, t0 + warmup + duration
    echoes = lost = 0
    cpu_start = None
    monotonic = time.monotonic
    with Poller(socks) as poller:
        poll = poller.poll
        while monotonic() < t0:
            time.sleep(min(0.01, max(0.0, t0 - monotonic())))
        now = monotonic()
        for sock in socks:
            send_all(sock, message)
            sent_at[sock.fileno()] = now
        next_check = now + UDP_RESEND_AFTER
        while now < window_end:
            if cpu_start is None and now >= window_start:
                cpu_start = time.process_time()
            counting = now >= window_start
            for fd, _ in poll(min(0.05, window_end - now)):
                try:
                    got = recv_into[fd](view)
                except (BlockingIOError, InterruptedError):
                    continue
                if got == 0:
                    raise ConnectionError("the server closed a connection during the run")
                left = 0 if udp else missing[fd] - got
                if left > 0:
                    missing[fd] = left
                    continue
                missing[fd] = size
                if counting:
                    echoes += 1
                try:
                    sent = send[fd](message)
                except BlockingIOError:
                    sent = 0
                if sent != size:  # rare: the closed loop leaves the send buffer empty
                    send_all(by_fd[fd], message[sent:])
                if udp:
                    sent_at[fd] = now
            now = monotonic()
            if udp and now >= next_check:
                lost += resend_stale(by_fd, sent_at, message, now)
                next_check = now + UDP_RESEND_AFTER
        cpu_end = time.process_time()
    cpu = cpu_end - cpu_start if cpu_start is not None else 0.0
    return {"echoes": echoes, "bytes": 2 * echoes * size, "cpu": cpu, "lost": lost}


class Poller:
    """``poll(timeout)`` gives ``(fd, events)`` pairs: ``select.epoll`` where there is one
    (the cheapest), else ``selectors``.

    The load generator must cost as little per echo as it can, next to the servers it
    measures, so it uses the thinnest wrapper the platform has.
    """

    def __init__(self, socks: list[socket.socket]) -> None:
        self.selector: selectors.BaseSelector | None = None
        if hasattr(select, "epoll"):
            self.epoll = select.epoll()
            for sock in socks:
                self.epoll.register(sock.fileno(), select.EPOLLIN)
            self.poll = self.epoll.poll
        else:
            self.selector = selectors.DefaultSelector()
            for sock in socks:
                self.selector.register(sock, selectors.EVENT_READ)
            self.poll = self.select

    def select(self, timeout: float) -> list[tuple[int, int]]:
        assert self.selector is not None
        return [(key.fd, events) for key, events in self.selector.select(timeout)]

    def __enter__(self) -> Poller:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.selector is not None:
            self.selector.close()
        else:
            self.epoll.close()


def send_all(sock: socket.socket, message: bytes) -> None:
    """Send a whole message; the closed loop leaves the buffer empty, so this rarely waits."""
    view = memoryview(message)
    while view:
        try:
            sent = sock.send(view)
        except BlockingIOError:
            with selectors.DefaultSelector() as selector:
                selector.register(sock, selectors.EVENT_WRITE)
                selector.select(1.0)
            continue
        view = view[sent:]


def resend_stale(
    by_fd: dict[int, socket.socket], sent_at: dict[int, float], message: bytes, now: float
) -> int:
    """UDP may drop a datagram: resend on flows silent for too long; count them as lost."""
    lost = 0
    for fd, when in sent_at.items():
        if now - when > UDP_RESEND_AFTER:
            try:
                by_fd[fd].send(message)
            except (BlockingIOError, ConnectionRefusedError):
                pass
            sent_at[fd] = now
            lost += 1
    return lost


def run_echo(args: argparse.Namespace) -> None:
    deadline = time.monotonic() + args.setup_timeout
    if args.proto == "tcp":
        socks = open_tcp(args.port, args.connections, deadline)
    else:
        socks = open_udp(args.port, args.connections)
    try:
        t0 = wait_for_go()
        result = echo_loop(socks, args.proto, args.size, t0, args.warmup, args.duration)
    finally:
        for sock in socks:
            sock.close()
    print(json.dumps(result), flush=True)


def run_idle(args: argparse.Namespace) -> None:
    deadline = time.monotonic() + args.setup_timeout
    socks = open_tcp(args.port, args.connections, deadline)
    try:
        print("READY", flush=True)
        sys.stdin.read()  # hold the connections until the parent closes our stdin
    finally:
        for sock in socks:
            sock.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["echo", "idle"])
    parser.add_argument("--proto", choices=["tcp", "udp"], default="tcp")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--setup-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    raise_fd_limit()
    if args.role == "echo":
        run_echo(args)
    else:
        run_idle(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
