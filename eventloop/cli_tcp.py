"""The ``tcp-echo`` command: chapter 05's TCP echo server, from a terminal.

Grows from: ``tcp`` and ``tcp_server`` (chapter 05), whose echo server it runs,
``timers`` (chapter 07) for ``--idle-timeout``, and ``cli_serving``, which says
where it listens and runs it until stopped.
Adds: a server a learner can attack from another terminal (flood it without
reading, reset, vanish mid-send) and watch survive, and a summary on stop that
shows backpressure at work: the largest outgoing buffer stays near
``--high-water`` whatever the clients do. ``CountedEchoConnection`` collects
those numbers; without ``--idle-timeout``, clients that connect and say nothing
could hold every descriptor the server has (PITFALL 29).
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from collections.abc import MutableSequence
from functools import partial
from typing import Any

from eventloop import threads
from eventloop.cli_serving import (
    OUT_OF_DESCRIPTORS,
    add_loop_option,
    explain_bind_error,
    highest_watchable_fd,
    host_port,
    make_loop,
    run_loop_until_stopped,
    warn_if_exposed,
)
from eventloop.cli_values import byte_count, default_port, duration, port
from eventloop.handlers import EventHandler
from eventloop.tcp import HIGH_WATER, LOW_WATER, TCPEchoConnection
from eventloop.tcp_server import TCPServer
from eventloop.timers import IdleTimeout

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
Port 0 picks any free port; the address is printed either way. On a JupyterHub
(JUPYTERHUB_USER is set) 0 is the default: other learners share the machine,
and loopback keeps servers off the network, not away from them.
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
    parser.add_argument(
        "--port", type=port, default=default_port(16000), help="default: 16000 (0 on a hub)"
    )
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
        if error.errno in OUT_OF_DESCRIPTORS:
            raise  # not a bind error: ``cli.main`` says so, as for every command
        print(explain_tcp_bind_error(error, args), file=sys.stderr)
        return 2
    with loop, server:  # closes the server and every connection it accepted, then the loop
        warn_if_exposed(args.host)
        where = host_port(server.address)
        print(f"echo server listening on tcp {where} (loop: {args.loop})", flush=True)
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
    """One clear line instead of a traceback: a port in use names ``--port``."""
    if error.errno == errno.EADDRINUSE:
        return (
            f"error: port {args.port} is already in use on {args.host}: is another server "
            f"running? Stop it, or choose another port with --port (0 picks any free port)."
        )
    return explain_bind_error(error, args.host)
