"""Draw the README's figure: a readiness timeline of the post's two servers sharing one loop.

Usage:  python tools/readme_figure.py [PATH]     (default: docs/readiness-timeline.png)

The run is chapter 00's first timeline: the echo server and the time server in one
``event_loop``, while a client in another thread asks them four questions, 25 ms apart.
``tests/test_readme.py`` runs this script, so the picture the README shows is the one the
course's code draws today.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from eventloop import Recorder, UDPEchoServer, UDPTimeServer, event_loop  # noqa: E402
from eventloop.timeline import plot_timeline  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "docs" / "readiness-timeline.png"


def visitor(addresses: list[tuple[str, int]], replies: list[bytes]) -> None:
    """Ask each address in turn, 25 ms apart; keep the answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(2.0)
        for address in addresses:
            time.sleep(0.025)  # a person, typing
            client.sendto(b"hello", address)
            replies.append(client.recvfrom(100)[0])


def record() -> Recorder:
    """Two servers, one loop, four questions: the recording."""
    recorder, replies = Recorder(), []
    with UDPEchoServer() as echo, UDPTimeServer() as clock:
        asked = [echo.address, clock.address, echo.address, clock.address]
        talker = threading.Thread(target=visitor, args=(asked, replies))
        talker.start()
        event_loop(
            [echo, clock],
            until=lambda: echo.requests + clock.requests == 4,
            duration=2.0,
            recorder=recorder,
        )
        talker.join()
    return recorder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    args = parser.parse_args(argv)
    recorder = record()
    ax = plot_timeline(
        recorder, title="Two UDP servers, one loop: it waits, and wakes only to work"
    )
    args.path.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(args.path, dpi=100)
    print(f"wrote {args.path}: {recorder.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
