"""``python -m eventloop``: the course's servers and tools, from a terminal.

This module is the entry point: it builds the parser from one sub-command per
module and runs the command the user named. Each command's help, options and
the function that runs it live together, so a reader of one command reads one
module:

    serve, udp-echo   cli_udp            the post's UDP servers; one echo server on any loop
    tcp-echo          cli_tcp            chapter 05's TCP echo server, backpressure shown
    grade             grading.command    run a class's exercise notebooks, tabulate verdicts

What they share is below them: ``cli_values`` (what the options accept),
``cli_stop`` (Ctrl-C, SIGTERM and SIGHUP stop the same way) and ``cli_serving``
(where a server listens, which loop, until stopped). Every server binds
loopback by default, prints where it listens, and stops on Ctrl-C or after
``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from eventloop.cli_serving import OUT_OF_DESCRIPTORS, explain_out_of_descriptors
from eventloop.cli_stop import stop_on_termination_signals
from eventloop.cli_tcp import add_tcp_echo_command
from eventloop.cli_udp import add_serve_command, add_udp_echo_command
from eventloop.cli_values import CourseArgumentParser, check_watermarks
from eventloop.grading.command import add_grade_command


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m eventloop`` parser, one sub-command per command module."""
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
    """Run the sub-command ``argv`` names; its exit status.

    2: a usage or bind error; 1: it could not go on, said in one line on stderr
    (stdout closed, or out of file descriptors), not a traceback.
    """
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
        try:
            status = args.run(args)
            sys.stdout.flush()  # a closed stdout fails here, inside the try, not at exit
        except BrokenPipeError:
            return stdout_closed()
        except OSError as error:
            if error.errno not in OUT_OF_DESCRIPTORS:
                raise
            print(explain_out_of_descriptors(error), file=sys.stderr)
            return 1
    return status


def stdout_closed() -> int:
    """Whoever read our output has gone (``| head -1``): say so on stderr, exit with 1.

    Python's recipe (the ``signal`` module's "Note on SIGPIPE"): point stdout at
    devnull, so that Python's own flush at exit does not fail with a second
    ``BrokenPipeError`` after the program has finished.
    """
    print(
        "error: standard output was closed (its reader, such as `| head`, has gone): stopped",
        file=sys.stderr,
    )
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no descriptor left, or stdout is not a file (a test)
        pass
    return 1
