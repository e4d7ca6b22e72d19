"""``python -m eventloop``: the course's servers and tools, from a terminal.

Each sub-command is one section below: its arguments, then the function that
runs it. Every server binds loopback by default, prints where it listens,
and stops on Ctrl-C or after ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import errno
import selectors
import socket
import sys
from collections.abc import MutableSequence, Sequence
from functools import partial
from typing import Any

from eventloop import threads
from eventloop.cli_stop import (
    SignalStop,
    stop_description,
    stop_loop_on_signals,
    stop_on_termination_signals,
)
from eventloop.cli_values import (
    CourseArgumentParser,
    byte_count,
    check_watermarks,
    duration,
    means_every_interface,
    port,
)
from eventloop.grading.command import add_grade_command
from eventloop.handlers import EventHandler, event_loop
from eventloop.select_loop import FD_SETSIZE
from eventloop.selectors_loop import SelectorLoop
from eventloop.tcp import HIGH_WATER, LOW_WATER, TCPEchoConnection
from eventloop.tcp_server import TCPServer
from eventloop.timers import IdleTimeout
from eventloop.udp import UDPEchoServer, UDPServer, UDPTimeServer

EXPOSED_WARNING = (
    "warning: {host} listens on every network interface: anyone who can reach this machine "
    "can talk to these servers. Use the default (localhost) unless you mean it."
)


def warn_if_exposed(host: str) -> None:
    """Warn on stderr when ``host`` means every network interface (PITFALL 16)."""
    if means_every_interface(host):
        print(EXPOSED_WARNING.format(host=host or "''"), file=sys.stderr)


def host_port(address: tuple[str, int]) -> str:
    """``127.0.0.1:5000``, or ``[::1]:5000`` for IPv6: an address as ``nc`` users write it."""
    host, port = address[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- serve: the post's two UDP servers ---------------------------------------------------------

SERVE_HELP = """\
Run the post's two UDP servers in one event loop:
a time server (answers any datagram with the current time) and an echo server
(sends every datagram back). Try them from another terminal:

    echo 'hello' | nc -u localhost 14000     # prints the time
    echo 'hello' | nc -u localhost 15000     # prints hello

(nc keeps waiting for more replies: press Ctrl-C, or add -w1 to give up after a second.)

By default the servers listen on every address the name "localhost" has on
this machine (127.0.0.1, and ::1 where localhost means IPv6 too), so only
programs on this machine can reach them. --host 0.0.0.0 exposes them to the
network: on a shared JupyterHub anyone on the network could then reach them.
Port 0 picks any free port, which is printed.
"""


def add_serve_command(commands: argparse._SubParsersAction) -> None:
    """``serve``: its options, and ``run_serve`` to run it."""
    parser = commands.add_parser(
        "serve",
        help="run the post's UDP time and echo servers",
        description=SERVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="localhost", help="address to bind (default: localhost, loopback only)"
    )
    parser.add_argument("--time-port", type=port, default=14000, help="default: 14000")
    parser.add_argument("--echo-port", type=port, default=15000, help="default: 15000")
    parser.add_argument(
        "--duration", type=duration, default=None, help="stop after this many seconds"
    )
    parser.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Bind both servers on every address of ``--host``, then loop until stopped."""
    servers: list[UDPServer] = []
    try:
        for host in addresses_of(args.host):
            servers.append(UDPTimeServer(host, args.time_port))
            servers.append(UDPEchoServer(host, args.echo_port))
    except OSError as error:
        for server in servers:
            server.close()
        print(explain_bind_error(error, args), file=sys.stderr)
        return 2
    warn_if_exposed(args.host)
    for server in servers:
        kind = "time" if isinstance(server, UDPTimeServer) else "echo"
        print(f"{kind} server listening on udp {host_port(server.address)}", flush=True)
    return serve_until_stopped(list(servers), args.duration)


def serve_until_stopped(handlers: list[EventHandler], duration: float | None) -> int:
    """Run the loop; close every handler however it ends. Ctrl-C is a normal stop."""
    try:
        print("Ctrl-C to stop.", flush=True)  # inside the try: a stop from now on is clean
        with stop_loop_on_signals(handlers) as stopper:
            event_loop(handlers, duration=duration)
        print(stopped_line(stopper), flush=True)
    except KeyboardInterrupt as stop:  # Ctrl-C before or after the loop ran
        print(f"stopped ({stop_description(stop)})", flush=True)
    finally:
        for handler in handlers:
            close = getattr(handler, "close", None)
            if close is not None:
                close()
    return 0


def addresses_of(host: str) -> list[str]:
    """The addresses to bind for ``host``: each address ``localhost`` has, else ``host`` itself."""
    if host != "localhost":
        return [host]
    found = []
    for family, _, _, _, address in socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM):
        if family in (socket.AF_INET, socket.AF_INET6) and address[0] not in found:
            found.append(address[0])
    return found or ["127.0.0.1"]


def explain_bind_error(error: OSError, args: argparse.Namespace) -> str:
    """One clear line instead of a traceback."""
    if error.errno == errno.EADDRINUSE:
        return (
            f"error: a port is already in use on {args.host} (time {args.time_port}, "
            f"echo {args.echo_port}): is another server running? Stop it, or choose other "
            f"ports with --time-port/--echo-port (0 picks any free port)."
        )
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"error: not allowed to bind {args.host} (ports below 1024 need root): {error}"
    return f"error: cannot bind {args.host}: {error.strerror or error}"


# --- udp-echo, and --loop: one server on each stage's loop (chapter 09) -----------------------

LOOPS = (
    ["select", "poll", "epoll"] if hasattr(selectors, "EpollSelector") else ["select", "default"]
)
LOOP_HELP = (
    "which loop waits: 'select' is chapter 08's loop, which hands select() every descriptor "
    "on every iteration; 'poll' and 'epoll' ('default' elsewhere) are chapter 09's loop, which "
    "registers each descriptor once (default: %(default)s)"
)

UDP_ECHO_HELP = """\
Run a UDP echo server on the loop of your choice, so that a load generator in
another terminal can compare the loops:

    python -m eventloop udp-echo --loop select
    python -m eventloop udp-echo --loop epoll --port 15000
    echo hello | nc -u -w1 127.0.0.1 15000

It prints the address it listens on (port 0, the default, picks a free one),
and stops on Ctrl-C or after --duration seconds.
"""


def add_loop_option(parser: argparse.ArgumentParser) -> None:
    """``--loop select|poll|epoll``: the same server on chapter 08's or chapter 09's loop."""
    parser.add_argument("--loop", choices=LOOPS, default=LOOPS[-1], help=LOOP_HELP)


def make_loop(kind: str) -> threads.Loop:
    """The loop ``--loop`` names: select-based (chapter 08) or selectors-based (chapter 09)."""
    if kind == "select":
        return threads.Loop()
    return SelectorLoop(selector=kind)


def highest_watchable_fd(kind: str) -> int | None:
    """The highest descriptor the ``--loop`` can watch: select() stops at FD_SETSIZE - 1."""
    return FD_SETSIZE - 1 if kind == "select" else None


def run_loop_until_stopped(loop: threads.Loop, duration: float | None) -> int:
    """Run ``loop``; Ctrl-C is a normal stop. The caller closes what it opened."""
    try:
        print("Ctrl-C to stop.", flush=True)  # inside the try: a stop from now on is clean
        with stop_loop_on_signals(loop.handlers) as stopper:
            loop.run(duration=duration)
        print(stopped_line(stopper), flush=True)
    except KeyboardInterrupt as stop:  # Ctrl-C before or after the loop ran
        print(f"stopped ({stop_description(stop)})", flush=True)
    return 0


def stopped_line(stopper: SignalStop) -> str:
    """``stopped (Ctrl-C)``, ``stopped (SIGTERM)``, or ``stopped`` after ``--duration``."""
    return f"stopped ({stopper.received[0]})" if stopper.received else "stopped"


def add_udp_echo_command(commands: argparse._SubParsersAction) -> None:
    """``udp-echo``: its options, and ``run_udp_echo`` to run it."""
    parser = commands.add_parser(
        "udp-echo",
        help="run a UDP echo server on the select, poll or epoll loop",
        description=UDP_ECHO_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=port, default=0, help="default: 0, any free port")
    add_loop_option(parser)
    parser.add_argument(
        "--duration", type=duration, default=None, help="stop after this many seconds"
    )
    parser.set_defaults(run=run_udp_echo)


def run_udp_echo(args: argparse.Namespace) -> int:
    """Bind the echo server, print where, loop until stopped, close everything."""
    try:
        server = UDPEchoServer(args.host, args.port)
    except OSError as error:
        reason = error.strerror or error
        print(f"error: cannot bind {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 2
    warn_if_exposed(args.host)
    with server, make_loop(args.loop) as loop:
        loop.handlers.append(server)
        where = host_port(server.address)
        print(f"echo server listening on udp {where} (loop: {args.loop})", flush=True)
        return run_loop_until_stopped(loop, args.duration)


# --- tcp-echo: the robust TCP echo server of chapter 05 ----------------------------------------

TCP_ECHO_HELP = """\
Run chapter 05's TCP echo server: it sends back every byte it receives, and
keeps serving well-behaved clients whatever the others do (flood without
reading, reset, vanish mid-send, send and close at once). Try it from another
terminal:

    nc 127.0.0.1 16000                          # type lines, see them come back
    echo hello | nc -N 127.0.0.1 16000          # half-close: the reply, then EOF
    socat - TCP:127.0.0.1:16000

A client that sends without reading cannot make the server's memory grow:
each connection stops reading while more than --high-water bytes wait to be
sent to it. On stop (Ctrl-C, or after --duration seconds) it prints how many
connections it served, the largest outgoing buffer any of them had, and how
many times a connection stopped reading because its buffer was full.
Port 0 picks any free port; the address is printed either way.
"""


class CountedEchoConnection(TCPEchoConnection):
    """The echo connection; on closing, it adds its largest buffer to the command's ``totals``.

    With ``idle_timeout``, a client that sends nothing for that many seconds is closed:
    otherwise idle connections can hold every descriptor the server has, for ever.
    """

    def __init__(
        self,
        sock: socket.socket,
        handlers: MutableSequence[EventHandler],
        *,
        totals: dict[str, int],
        loop: threads.Loop | None = None,
        idle_timeout: float | None = None,
        **options: Any,
    ) -> None:
        super().__init__(sock, handlers, **options)
        self.totals = totals
        self.idle: IdleTimeout | None = None
        if loop is not None and idle_timeout is not None:
            self.idle = IdleTimeout(loop, idle_timeout, self.close_idle)

    def data_received(self, data: bytes) -> None:
        """The client is active: note it, then echo."""
        if self.idle is not None:
            self.idle.touch()
        super().data_received(data)

    def close_idle(self) -> None:
        """The idle timer fired: nothing came from this client for ``idle_timeout`` seconds."""
        self.totals["closed idle"] += 1
        self.close()

    def connection_lost(self, error: Exception | None) -> None:
        """Closed: forget the idle timer; report its largest outgoing buffer and its pauses."""
        if self.idle is not None:
            self.idle.cancel()
        self.totals["largest buffer"] = max(self.totals["largest buffer"], self.max_buffered)
        self.totals["pauses"] += self.pauses


def add_tcp_echo_command(commands: argparse._SubParsersAction) -> None:
    """``tcp-echo``: its options, and ``run_tcp_echo`` to run it."""
    parser = commands.add_parser(
        "tcp-echo",
        help="run chapter 05's TCP echo server (backpressure, survives bad clients)",
        description=TCP_ECHO_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=port, default=16000, help="default: 16000; 0: any free port")
    parser.add_argument(
        "--duration", type=duration, default=None, help="stop after this many seconds"
    )
    parser.add_argument(
        "--high-water", type=byte_count, default=HIGH_WATER, help="default: %(default)s bytes"
    )
    parser.add_argument(
        "--low-water", type=byte_count, default=LOW_WATER, help="default: %(default)s bytes"
    )
    parser.add_argument(
        "--idle-timeout",
        type=duration,
        default=None,
        metavar="SECONDS",
        help="close a client that sends nothing for this long (default: never)",
    )
    add_loop_option(parser)
    parser.set_defaults(run=run_tcp_echo)


def run_tcp_echo(args: argparse.Namespace) -> int:
    """Listen, print where, loop until stopped, then print what the connections did."""
    totals = {"largest buffer": 0, "closed idle": 0, "pauses": 0}
    loop = make_loop(args.loop)  # --loop: chapter 08's select loop or chapter 09's
    connection = partial(
        CountedEchoConnection,
        totals=totals,
        loop=loop,
        idle_timeout=args.idle_timeout,
        high_water=args.high_water,
        low_water=args.low_water,
    )
    try:
        server = TCPServer(
            loop.handlers,
            args.host,
            args.port,
            connection=connection,
            highest_fd=highest_watchable_fd(args.loop),
        )
    except OSError as error:
        loop.close()
        print(explain_tcp_bind_error(error, args), file=sys.stderr)
        return 2
    warn_if_exposed(args.host)
    where = host_port(server.address)
    print(f"echo server listening on tcp {where} (loop: {args.loop})", flush=True)
    with loop, server:  # closes the server and every connection it accepted, then the loop
        status = run_loop_until_stopped(loop, args.duration)
    idle = f"; {totals['closed idle']} closed as idle" if args.idle_timeout is not None else ""
    print(
        f"served {server.accepted} connection(s); largest outgoing buffer "
        f"{totals['largest buffer']} bytes (high water {args.high_water}); "
        f"reading paused {totals['pauses']} time(s) for backpressure{idle}",
        flush=True,
    )
    return status


def explain_tcp_bind_error(error: OSError, args: argparse.Namespace) -> str:
    """One clear line instead of a traceback (the serve section's wording for the rest)."""
    if error.errno == errno.EADDRINUSE:
        return (
            f"error: port {args.port} is already in use on {args.host}: is another server "
            f"running? Stop it, or choose another port with --port (0 picks any free port)."
        )
    return explain_bind_error(error, args)


# --- main ----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m eventloop`` parser, one sub-command per section above."""
    parser = CourseArgumentParser(
        prog="python -m eventloop",
        description="Servers and tools of the Event Loop IO course.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_serve_command(commands)
    add_tcp_echo_command(commands)
    add_grade_command(commands)
    add_udp_echo_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sub-command ``argv`` names; its exit status (2: usage or bind error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    if hasattr(args, "high_water"):
        problem = check_watermarks(args.high_water, args.low_water)
        if problem is not None:
            parser.error(problem)
    with stop_on_termination_signals():
        return args.run(args)
