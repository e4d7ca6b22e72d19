"""Instructions per echo, counted by valgrind: a second opinion that other load cannot move.

The echo benchmarks (``run.py``) time servers with a clock. On a shared 2-core
machine the same run varies by 15% or more from one invocation to the next,
more than the differences between the loops. This counts instead: one process
holds both ends of N TCP connections; in each round every client sends 1 KiB,
the server's loop runs **one iteration** (every connection is readable by then:
loopback delivers at once) and echoes, and the clients read the echoes back.
``valgrind --tool=callgrind`` counts the instructions the process runs in user
space. A run of R rounds minus a run of 0 rounds removes start-up and set-up, so

    (count(R) - count(0)) / (R * N)

is the cost of one echo: the loop's Python work plus the client's (the same for
every contender). It does not include the kernel's work, which valgrind cannot
see; every contender makes the same system calls (one ``recv`` and one ``send``
per echo, one ``epoll_wait`` per iteration). The count repeats to within 0.5%
from run to run at 10 and 100 connections, whatever else the machine is doing (at 1
connection, where each round is a whole iteration, within 3-4%).

One iteration is: chapter 09's ``SelectorLoop.run_once()``; asyncio's
``loop._run_once()`` (private, but it is exactly one iteration); our asyncio
loop's engine, ``loop._inner.run_once()``.

    python benchmarks/instructions.py                  # 1, 10, 100 connections, about 3 min
    python benchmarks/instructions.py --connections 10 --rounds 300
    python benchmarks/instructions.py --connections 10 --idle 3000   # does idle cost anything?
    python benchmarks/instructions.py --udp --connections 20          # UDP echo, 20 flows

With ``--udp`` every "connection" is a UDP flow (a connected client socket) sending to one
server socket. Each loop reads one datagram per readiness (one ``recvfrom``), so a round
runs one iteration per flow: chapter 04's ``UDPEchoServer`` (joined to the loop's list, so
it announces its interest) against asyncio's ``DatagramProtocol``.

Writes ``instructions-<UTC time>.md`` into ``--out`` and prints it. Needs valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONTENDERS = {
    "epoll": "chapter 09's SelectorLoop with chapter 05's TCPEchoConnection",
    "asyncio": "asyncio's own loop, an echo Protocol",
    "aio": "the same Protocol on chapter 11's eventloop.aio.EventLoop",
}
MESSAGE = b"x" * 1024
WARM_UP_ROUNDS = 50
TUNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "1048576", "MALLOC_TRIM_THRESHOLD_": "4194304"}
"""As in run.py: asyncio's 256 KiB read buffer is not mmap-ed on every read (CPython #85451)."""


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


def asyncio_loop(contender: str) -> tuple[Any, Callable[[], None]]:
    """An asyncio event loop, and one iteration of it: asyncio's own, or chapter 11's."""
    if contender == "asyncio":
        loop = asyncio.new_event_loop()
        return loop, loop._run_once
    from eventloop.aio import EventLoop

    ours = EventLoop()
    return ours, lambda: ours._inner.run_once(None)


def echo_server(contender: str) -> tuple[int, Callable[[], None], Callable[[], None]]:
    """Start a server: (its port, one iteration of its loop, close everything)."""
    sys.path.insert(0, str(HERE.parent))
    if contender == "epoll":
        from eventloop.selectors_loop import SelectorLoop
        from eventloop.tcp_server import TCPServer

        ours = SelectorLoop(selector="default")
        server = TCPServer(ours.handlers, "127.0.0.1", 0, backlog=1024)

        def close_ours() -> None:
            server.close()
            for handler in list(ours.handlers):
                if handler is not ours.waker:
                    handler.close()
            ours.close()

        ours.run(duration=0.2)  # nothing to accept yet: a short, bounded first run
        return server.address[1], ours.run_once, close_ours
    loop, one_iteration = asyncio_loop(contender)
    listening = loop.run_until_complete(
        loop.create_server(EchoProtocol, "127.0.0.1", 0, backlog=1024)
    )

    def close_asyncio() -> None:
        listening.close()
        loop.run_until_complete(asyncio.sleep(0.05))
        loop.close()

    return listening.sockets[0].getsockname()[1], one_iteration, close_asyncio


class DatagramEchoProtocol(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)


def udp_echo_server(contender: str) -> tuple[int, Callable[[], None], Callable[[], None]]:
    """As ``echo_server``, for a UDP echo server."""
    sys.path.insert(0, str(HERE.parent))
    if contender == "epoll":
        from eventloop.selectors_loop import SelectorLoop
        from eventloop.udp import UDPEchoServer

        ours = SelectorLoop(selector="default")
        server = UDPEchoServer("127.0.0.1", 0, handlers=ours.handlers)

        def close_ours() -> None:
            server.close()
            ours.close()

        return server.port, ours.run_once, close_ours
    loop, one_iteration = asyncio_loop(contender)
    transport, _ = loop.run_until_complete(
        loop.create_datagram_endpoint(DatagramEchoProtocol, local_addr=("127.0.0.1", 0))
    )

    def close_asyncio() -> None:
        transport.close()
        loop.run_until_complete(asyncio.sleep(0.05))
        loop.close()

    return transport.get_extra_info("sockname")[1], one_iteration, close_asyncio


def udp_rounds(contender: str, flows: int, rounds: int) -> int:
    """Every flow sends 1 KiB; the loop runs once per datagram; every flow reads its echo.
    Returns how many bytes came back (a sanity check)."""
    port, one_iteration, close = udp_echo_server(contender)
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(flows)]
    echoed = 0
    try:
        for client in clients:
            client.connect(("127.0.0.1", port))
            client.settimeout(5)  # a lost echo fails the count, it does not hang
        for number in range(WARM_UP_ROUNDS + rounds):
            for client in clients:
                client.send(MESSAGE)
            for _ in clients:
                one_iteration()
            got = sum(len(client.recv(2 * len(MESSAGE))) for client in clients)
            if number >= WARM_UP_ROUNDS:
                echoed += got
    finally:
        for client in clients:
            client.close()
        close()
    return echoed


def echo_rounds(contender: str, connections: int, rounds: int, idle: int = 0) -> int:
    """Run the rounds in this process, beside ``idle`` connections that stay quiet once
    accepted; return how many bytes came back (a sanity check)."""
    port, one_iteration, close = echo_server(contender)
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    quiet: list[socket.socket] = []
    echoed = 0
    try:
        for client in clients:
            client.settimeout(5)  # a round that does not echo fails, it does not hang
        settle(one_iteration, clients)
        while len(quiet) < idle:  # in batches, so the listener's backlog never fills
            batch = [
                socket.create_connection(("127.0.0.1", port))
                for _ in range(min(100, idle - len(quiet)))
            ]
            quiet += batch
            settle(one_iteration, batch)
        for number in range(WARM_UP_ROUNDS + rounds):
            got = one_round(one_iteration, clients)
            if number >= WARM_UP_ROUNDS:
                echoed += got
    finally:
        for client in clients + quiet:
            client.close()
        close()
    return echoed


def settle(one_iteration: Callable[[], None], clients: list[socket.socket]) -> None:
    """Let the server accept every client: one round trip each, however many iterations."""
    for client in clients:
        client.sendall(b"?")
    pending = set(clients)
    for _ in range(100 * len(clients)):
        one_iteration()
        for client in list(pending):
            client.setblocking(False)
            try:
                if client.recv(16):
                    pending.discard(client)
            except BlockingIOError:
                pass
            finally:
                client.settimeout(5)
        if not pending:
            return
    raise RuntimeError(f"{len(pending)} client(s) never answered during the set-up")


def one_round(one_iteration: Callable[[], None], clients: list[socket.socket]) -> int:
    """Every client sends 1 KiB; the loop runs once; every client reads its echo."""
    for client in clients:
        client.sendall(MESSAGE)
    one_iteration()
    echoed = 0
    for client in clients:
        got = b""
        while len(got) < len(MESSAGE):
            got += client.recv(len(MESSAGE) - len(got))
        echoed += len(got)
    return echoed


# --- counting with valgrind -------------------------------------------------------------------


def parse_collected(output: str) -> int:
    """The total from callgrind's summary line, e.g. ``==12== Collected : 123456789``."""
    match = re.search(r"Collected\s*:\s*([\d,]+)", output)
    if match is None:
        raise RuntimeError(f"no 'Collected' line in valgrind's output: {output[-300:]!r}")
    return int(match.group(1).replace(",", ""))


def count_instructions(
    contender: str, connections: int, rounds: int, idle: int, udp: bool = False
) -> int:
    """Instructions the whole process ran (user space), under callgrind."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        contender,
        str(connections),
        str(rounds),
        "--idle",
        str(idle),
        *(["--udp"] if udp else []),
    ]
    env = os.environ | TUNED_MALLOC
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{contender} failed under valgrind: {done.stderr[-500:]}")
    return parse_collected(done.stderr)


def per_echo(
    contender: str, connections: int, rounds: int, idle: int = 0, udp: bool = False
) -> float:
    """Instructions per echo: R rounds minus 0 rounds, divided by the echoes."""
    with_rounds = count_instructions(contender, connections, rounds, idle, udp)
    without = count_instructions(contender, connections, 0, idle, udp)
    return (with_rounds - without) / (rounds * connections)


def markdown(
    results: dict[int, dict[str, float]], rounds: int, note: str, idle: int = 0, udp: bool = False
) -> str:
    """The table: instructions per echo, and the ratio to asyncio (lower is better)."""
    names = list(next(iter(results.values())))
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# Instructions per echo, {when}",
        "",
        f"CPython {platform.python_version()}, {platform.machine()}; valgrind callgrind, user "
        f"space only; {rounds} rounds of 1 KiB {'UDP' if udp else 'TCP'} echoes minus 0 rounds, "
        + (
            "every flow sending one datagram per round, one loop iteration per datagram"
            if udp
            else "one loop iteration per round"
        )
        + " (benchmarks/instructions.py). Lower is better; the ratio is to asyncio's count "
        "in the same row."
        + (f" Beside {idle:,} idle connections, accepted and quiet." if idle else "")
        + (f" {note}" if note else ""),
        "",
        f"| {'flows' if udp else 'connections'} | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for connections, row in results.items():
        base = row.get("asyncio")
        cells = [
            f"{count:,.0f}" + (f" ({count / base:.2f}x)" if base else "") for count in row.values()
        ]
        lines.append(f"| {connections} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("WHO", "N", "ROUNDS"), help=argparse.SUPPRESS)
    parser.add_argument("--connections", default="1,10,100", help="comma-separated counts")
    parser.add_argument("--rounds", type=int, default=1000, help="rounds counted (default 1000)")
    parser.add_argument("--idle", type=int, default=0, help="quiet connections beside them")
    parser.add_argument("--only", default=",".join(CONTENDERS), help="contenders, comma-separated")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where to write")
    parser.add_argument("--note", default="", help="a note saved with the results")
    parser.add_argument("--udp", action="store_true", help="UDP flows instead of TCP connections")
    args = parser.parse_args(argv)
    if args.udp and args.idle:
        parser.error("--idle counts quiet TCP connections; it does not go with --udp")
    if args.child:
        contender, connections, rounds = args.child
        if args.udp:
            print(udp_rounds(contender, int(connections), int(rounds)))
        else:
            print(echo_rounds(contender, int(connections), int(rounds), args.idle))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt install valgrind); nothing counted.")
        return 2
    chosen = [name for name in args.only.split(",") if name]
    unknown = set(chosen) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contender(s) {sorted(unknown)}; choose from {list(CONTENDERS)}")
    results: dict[int, dict[str, float]] = {}
    for connections in (int(n) for n in args.connections.split(",")):
        results[connections] = {}
        for name in chosen:
            count = per_echo(name, connections, args.rounds, args.idle, args.udp)
            results[connections][name] = count
            unit = "flows" if args.udp else "connections"
            print(
                f"{connections:>5} {unit}  {name:8} {count:>9,.0f} instructions per echo",
                file=sys.stderr,
            )
    report = markdown(results, args.rounds, args.note, args.idle, args.udp)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"instructions-{stamp}.md"
    path.write_text(report)
    print(report)
    print(f"saved {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
