"""What every server command of ``python -m eventloop`` does around its own servers.

Used by: ``cli_udp`` (``serve``, ``udp-echo``) and ``cli_tcp`` (``tcp-echo``).
Why a module of its own: each command binds different servers, but all of them
print where they listen the same way (``127.0.0.1:5000``, ``[::1]:5000``), warn
the same way when that is every network interface (PITFALL 16), explain a bind
error in one line, run the loop ``--loop`` names, and stop the same clean way,
saying why. Written once here, the commands cannot drift apart, and a reader of
one command's module sees only what is particular to that command.
"""

from __future__ import annotations

import argparse
import errno
import selectors
import sys

from eventloop import threads
from eventloop.cli_stop import SignalStop, stop_description, stop_loop_on_signals
from eventloop.cli_values import means_every_interface
from eventloop.handlers import EventHandler, event_loop
from eventloop.select_loop import FD_SETSIZE
from eventloop.selectors_loop import SelectorLoop

# --- where a server listens ----------------------------------------------------------------------

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


OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)
"""The process (EMFILE) or the whole system (ENFILE) has no file descriptor left."""


def explain_out_of_descriptors(error: OSError) -> str:
    """One clear line for EMFILE or ENFILE, with the process's limit and how to raise it.

    Not a bind error: a command with too few descriptors fails wherever it opens
    the one too many (the loop's epoll, a socket, the signal wake-up socketpair).
    """
    if error.errno == errno.ENFILE:
        return (
            f"error: the whole system is out of file descriptors ({error.strerror}): "
            f"close some programs and start again"
        )
    try:
        import resource  # Unix only
    except ImportError:
        return f"error: out of file descriptors ({error.strerror})"
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return (
        f"error: out of file descriptors: this process may open {limit} ({error.strerror}); "
        f"raise the limit with `ulimit -n 1024` and start again"
    )


def explain_bind_error(error: OSError, host: str) -> str:
    """One clear line instead of a traceback, for what no command explains better.

    A port already in use is each command's own wording: it names the option to change.
    """
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"error: not allowed to bind {host} (ports below 1024 need root): {error}"
    return f"error: cannot bind {host}: {error.strerror or error}"


# --- --loop: one server on each stage's loop (chapter 09) ----------------------------------------

LOOPS = (
    ["select", "poll", "epoll"] if hasattr(selectors, "EpollSelector") else ["select", "default"]
)
LOOP_HELP = (
    "which loop waits: 'select' is chapter 08's loop, which hands select() every descriptor "
    "on every iteration; 'poll' and 'epoll' ('default' elsewhere) are chapter 09's loop, which "
    "registers each descriptor once (default: %(default)s)"
)


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


# --- until stopped: Ctrl-C, SIGTERM, SIGHUP or --duration ----------------------------------------


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
