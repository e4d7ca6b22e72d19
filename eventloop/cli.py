"""``python -m eventloop``: the course's servers and tools, from a terminal.

Each sub-command is one section below: its arguments, then the function that
runs it. Every server binds loopback by default, prints where it listens,
and stops on Ctrl-C or after ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from collections.abc import Sequence

from eventloop.handlers import EventHandler, event_loop
from eventloop.udp import UDPEchoServer, UDPServer, UDPTimeServer

EXPOSED_WARNING = (
    "warning: {host} listens on every network interface: anyone who can reach this machine "
    "can talk to these servers. Use the default (localhost) unless you mean it."
)


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
    parser = commands.add_parser(
        "serve",
        help="run the post's UDP time and echo servers",
        description=SERVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="localhost", help="address to bind (default: localhost, loopback only)"
    )
    parser.add_argument("--time-port", type=int, default=14000, help="default: 14000")
    parser.add_argument("--echo-port", type=int, default=15000, help="default: 15000")
    parser.add_argument(
        "--duration", type=float, default=None, help="stop after this many seconds"
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
    if args.host in ("", "0.0.0.0", "::"):
        print(EXPOSED_WARNING.format(host=args.host or "''"), file=sys.stderr)
    for server in servers:
        kind = "time" if isinstance(server, UDPTimeServer) else "echo"
        host, port = server.address
        shown = f"[{host}]" if ":" in host else host
        print(f"{kind} server listening on udp {shown}:{port}", flush=True)
    print("Ctrl-C to stop.", flush=True)
    return serve_until_stopped(list(servers), args.duration)


def serve_until_stopped(handlers: list[EventHandler], duration: float | None) -> int:
    """Run the loop; close every handler however it ends. Ctrl-C is a normal stop."""
    try:
        event_loop(handlers, duration=duration)
    except KeyboardInterrupt:
        print("stopped (Ctrl-C)", flush=True)
    else:
        print("stopped", flush=True)
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


# --- main ----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m eventloop",
        description="Servers and tools of the Event Loop IO course.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_serve_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    return args.run(args)
