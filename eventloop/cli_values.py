"""What ``python -m eventloop`` accepts: argparse types that refuse bad values in one line.

Used by: ``cli_udp`` and ``cli_tcp`` (every server command), ``grading.command`` and ``cli``.
Why: ``--port 70000`` used to end in a 15-line ``OverflowError`` traceback, ``--duration nan``
in a server that never stopped and burned a core, ``--duration inf`` in an ``OverflowError``
after "listening", and ``--host 0`` bound every interface without the warning ``0.0.0.0``
gets. Each type below turns such a value into argparse's usage error: one line naming the
option and what it accepts, exit status 2, before anything is bound.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import socket
from typing import NoReturn

LONGEST_DURATION = 7 * 24 * 3600  # epoll's wait overflows past about 24 days (2**31 ms)


def default_port(fixed: int) -> int:
    """``fixed`` on one's own machine; 0 (any free port) in a JupyterHub user's server.

    On a hub every learner's terminal runs on the same machine, so the post's fixed ports
    (``serve``'s 14000 and 15000, ``tcp-echo``'s 16000) are free for the first learner only.
    Loopback keeps a server off the network, not away from the other learners: anyone on the
    machine can reach 127.0.0.1. JupyterHub sets ``JUPYTERHUB_USER`` in every user's server,
    and its terminals and kernels inherit it.
    """
    return 0 if os.environ.get("JUPYTERHUB_USER") else fixed


def port(text: str) -> int:
    """A TCP/UDP port: 0 (any free port) to 65535."""
    value = whole_number(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port: use 0 to 65535 (0: any free)")
    return value


def duration(text: str) -> float:
    """Seconds to run: above 0, at most a week (NaN never ends; inf and 1e300 overflow waits)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or not 0 < value <= LONGEST_DURATION:
        raise argparse.ArgumentTypeError(
            f"{text} is not a usable duration: give a number of seconds above 0 and at most "
            f"{LONGEST_DURATION} (a week); leave the option out to run until Ctrl-C"
        )
    return value


def byte_count(text: str) -> int:
    """A buffer size in bytes: a whole number, 0 or more."""
    value = whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} bytes cannot be: give 0 or more")
    return value


def how_many(text: str) -> int:
    """A count of things, such as notebooks graded at once: a whole number, at least 1."""
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too few: give at least 1")
    return value


def check_watermarks(high_water: int, low_water: int) -> str | None:
    """What is wrong with this pair of watermarks, or None: reading pauses above ``high_water``
    and resumes at or below ``low_water``, so low must not exceed high, and high must be > 0."""
    if high_water < 1:
        return f"--high-water {high_water}: give at least 1 byte"
    if low_water > high_water:
        return (
            f"--low-water {low_water} is above --high-water {high_water}: reading would pause "
            f"and resume on every read; give a low water at or below the high water"
        )
    return None


def whole_number(text: str) -> int:
    """``int(text)``, with a message that says what was wrong."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def means_every_interface(host: str) -> bool:
    """True for every spelling of "all interfaces": '', 0.0.0.0, ::, and also 0, 0x0, ::0.

    The C library reads ``0`` and ``0x0`` as the IPv4 address 0.0.0.0 (``inet_aton``),
    so a check for the string ``"0.0.0.0"`` alone misses them.
    """
    if host == "":
        return True
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        pass
    try:
        return socket.inet_aton(host) == bytes(4)
    except OSError:
        return False  # a name such as localhost: resolved later, by bind


class CourseArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad value costs one line on stderr (and exit status 2), not a screenful."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
