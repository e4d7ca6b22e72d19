"""The UDP commands: ``serve`` (the post's two servers) and ``udp-echo`` (one server, any loop).

Grows from: ``udp`` (chapter 04), whose servers they run, and ``cli_serving``, which
says where they listen and runs them until stopped.
Adds: the course's servers outside a notebook. ``serve`` is where chapter 04
ends: the post's time and echo servers in one loop, reachable with ``nc -u``
from another terminal. ``udp-echo`` runs one echo server on the loop ``--loop``
names, so that a load generator in another terminal can compare chapter 08's
``select`` loop with chapter 09's.

Each section is one command: its help, its options, then the function that runs it.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys

from eventloop.cli_serving import (
    OUT_OF_DESCRIPTORS,
    add_loop_option,
    explain_bind_error,
    host_port,
    make_loop,
    run_loop_until_stopped,
    serve_until_stopped,
    warn_if_exposed,
)
from eventloop.cli_values import default_port, duration, port
from eventloop.udp import UDPEchoServer, UDPServer, UDPTimeServer

# --- serve: the post's two UDP servers -----------------------------------------------------------

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
Port 0 picks any free port, which is printed. On a JupyterHub (JUPYTERHUB_USER is
set) 0 is the default: other learners share the machine, and loopback keeps
servers off the network, not away from them.
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
    parser.add_argument(
        "--time-port", type=port, default=default_port(14000), help="default: 14000 (0 on a hub)"
    )
    parser.add_argument(
        "--echo-port", type=port, default=default_port(15000), help="default: 15000 (0 on a hub)"
    )
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
        if error.errno in OUT_OF_DESCRIPTORS:
            raise  # not a bind error: ``cli.main`` says so, as for every command
        print(explain_serve_bind_error(error, args), file=sys.stderr)
        return 2
    try:
        warn_if_exposed(args.host)
        for server in servers:
            kind = "time" if isinstance(server, UDPTimeServer) else "echo"
            print(f"{kind} server listening on udp {host_port(server.address)}", flush=True)
    except BaseException:  # stdout closed (BrokenPipeError), Ctrl-C: close them first
        for server in servers:
            server.close()
        raise
    return serve_until_stopped(list(servers), args.duration)


def addresses_of(host: str) -> list[str]:
    """The addresses to bind for ``host``: each address ``localhost`` has, else ``host`` itself."""
    if host != "localhost":
        return [host]
    found = []
    for family, _, _, _, address in socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM):
        if family in (socket.AF_INET, socket.AF_INET6) and address[0] not in found:
            found.append(address[0])
    return found or ["127.0.0.1"]


def explain_serve_bind_error(error: OSError, args: argparse.Namespace) -> str:
    """One clear line instead of a traceback: a port in use names both ports' options."""
    if error.errno == errno.EADDRINUSE:
        return (
            f"error: a port is already in use on {args.host} (time {args.time_port}, "
            f"echo {args.echo_port}): is another server running? Stop it, or choose other "
            f"ports with --time-port/--echo-port (0 picks any free port)."
        )
    return explain_bind_error(error, args.host)


# --- udp-echo: one UDP echo server on the loop --loop names (chapter 09) -------------------------

UDP_ECHO_HELP = """\
Run a UDP echo server on the loop of your choice, so that a load generator in
another terminal can compare the loops:

    python -m eventloop udp-echo --loop select
    python -m eventloop udp-echo --loop epoll --port 15000
    echo hello | nc -u -w1 127.0.0.1 15000

It prints the address it listens on (port 0, the default, picks a free one),
and stops on Ctrl-C or after --duration seconds.
"""


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
        if error.errno in OUT_OF_DESCRIPTORS:
            raise  # not a bind error: ``cli.main`` says so, as for every command
        reason = error.strerror or error
        print(f"error: cannot bind {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 2
    warn_if_exposed(args.host)
    with server, make_loop(args.loop) as loop:
        loop.handlers.append(server)
        where = host_port(server.address)
        print(f"echo server listening on udp {where} (loop: {args.loop})", flush=True)
        return run_loop_until_stopped(loop, args.duration)
