"""The echo servers ``benchmarks/run.py`` compares, one per process.

Usage (``run.py`` does this for you)::

    python benchmarks/servers.py CONTENDER tcp|udp

The server binds ``127.0.0.1`` port 0 and prints ``READY <port>``, or ``SKIP
<reason>`` and exits when it cannot run here (uvloop not installed, a course
stage not written yet). It then serves until it is terminated.

On ``SIGUSR1`` it prints ``STATS <waits> <cpu>``: how many times it has waited
for readiness so far (calls to ``select.select`` or to a ``selectors``
selector's ``select``: one per loop iteration; ``-`` for the threaded server,
which has no loop, and for uvloop, whose loop waits in C) and its CPU seconds
(``time.process_time()``, every thread). ``run.py`` asks at the start and the
end of the measuring window; the difference gives the cost of one iteration.

Every contender echoes the same way: whatever one ``recv`` returned is sent
back. The asyncio ones are written as a reader of the asyncio docs would.
"""

from __future__ import annotations

import asyncio
import resource
import select
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import cast

HOST = "127.0.0.1"
BACKLOG = 1024


class WaitCounter:
    """Counts waits for readiness by wrapping ``select.select`` and the selectors' ``select``.

    The wrapper costs one Python call per loop iteration, the same for every
    loop that has one, and nothing per message.
    """

    def __init__(self) -> None:
        self.waits = 0
        self.uncounted = False  # a threaded server has no loop; uvloop's loop is in C

    def install(self) -> None:
        real_select = select.select

        def counted_select(*args: object, **kwargs: object) -> object:
            self.waits += 1
            return real_select(*args, **kwargs)  # type: ignore[arg-type]

        select.select = counted_select  # type: ignore[assignment]
        for name in ("EpollSelector", "PollSelector", "DevpollSelector", "KqueueSelector"):
            cls = getattr(selectors, name, None)
            if cls is not None:
                self.wrap(cls)

    def wrap(self, cls: type) -> None:
        real = cls.select

        def counted(selector: object, timeout: float | None = None) -> object:
            self.waits += 1
            return real(selector, timeout)

        cls.select = counted  # type: ignore[attr-defined]

    def report(self, *_: object) -> None:
        waits = "-" if self.uncounted else str(self.waits)
        print(f"STATS {waits} {time.process_time():.6f}", flush=True)


def raise_fd_limit() -> None:
    """Allow as many descriptors as the hard limit: 10,000 idle connections need them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def ready(port: int) -> None:
    print(f"READY {port}", flush=True)


def skip(reason: str) -> int:
    print(f"SKIP {reason}", flush=True)
    return 0


def on_signal(counter: WaitCounter) -> None:
    """SIGUSR1 prints the stats; SIGTERM ends the process at once (the OS closes sockets)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        counter.report()

    signal.signal(signal.SIGUSR1, handler)


# --- the course's loops -------------------------------------------------------------------------


def serve_select(proto: str, counter: WaitCounter) -> int:
    """Chapter 04's ``event_loop`` (the post's select loop) with chapter 05's TCP handlers."""
    from eventloop.handlers import event_loop

    handlers: list = []
    if proto == "tcp":
        try:
            from eventloop.tcp_server import TCPServer
        except ImportError as error:
            return skip(f"eventloop.tcp is not available yet ({error})")
        server = TCPServer(handlers, HOST, 0, backlog=BACKLOG)
    else:
        from eventloop.udp import UDPEchoServer

        server = UDPEchoServer(HOST, 0)
        handlers.append(server)
    on_signal(counter)
    ready(server.address[1])
    event_loop(handlers)
    return 0


def serve_epoll(proto: str, counter: WaitCounter) -> int:
    """Chapter 09's ``SelectorLoop`` on epoll (kqueue on macOS), persistent registration."""
    try:
        from eventloop.selectors_loop import SelectorLoop
    except ImportError as error:
        return skip(f"eventloop.selectors_loop is not available yet ({error})")
    loop = SelectorLoop(selector="default")
    if proto == "tcp":
        from eventloop.tcp_server import TCPServer

        server = TCPServer(loop.handlers, HOST, 0, backlog=BACKLOG)
    else:
        from eventloop.udp import UDPEchoServer

        server = UDPEchoServer(HOST, 0, handlers=loop.handlers)  # joins, and announces
    on_signal(counter)
    ready(server.address[1])
    loop.run()
    return 0


# --- asyncio and uvloop -------------------------------------------------------------------------


class EchoProtocol(asyncio.Protocol):
    """The asyncio docs' echo server: write back what arrived."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class EchoDatagramProtocol(asyncio.DatagramProtocol):
    """Send every datagram back to its sender."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)


async def handle_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The asyncio streams echo: read, write, drain, until EOF."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def asyncio_main(proto: str, style: str, counter: WaitCounter) -> None:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()

    def finish() -> None:
        if not stop.done():
            stop.set_result(None)

    try:
        loop.add_signal_handler(signal.SIGUSR1, counter.report)
        loop.add_signal_handler(signal.SIGTERM, finish)
    except NotImplementedError:  # the course's loop (eventloop.aio) has no signal handlers:
        # Python's own, which hand the work to the loop with call_soon_threadsafe
        signal.signal(signal.SIGUSR1, lambda *_: loop.call_soon_threadsafe(counter.report))
        signal.signal(signal.SIGTERM, lambda *_: loop.call_soon_threadsafe(finish))
    if proto == "udp":
        transport, _ = await loop.create_datagram_endpoint(
            EchoDatagramProtocol, local_addr=(HOST, 0)
        )
        ready(transport.get_extra_info("sockname")[1])
        await stop
        transport.close()
        return
    if style == "streams":
        server = await asyncio.start_server(handle_stream, HOST, 0, backlog=BACKLOG)
    else:
        server = await loop.create_server(EchoProtocol, HOST, 0, backlog=BACKLOG)
    ready(server.sockets[0].getsockname()[1])
    await stop
    server.close()


def run_asyncio(
    proto: str, style: str, counter: WaitCounter, new_loop: Callable[[], asyncio.AbstractEventLoop]
) -> int:
    loop = new_loop()
    try:
        loop.run_until_complete(asyncio_main(proto, style, counter))
    finally:
        loop.close()
    return 0


def serve_asyncio(proto: str, counter: WaitCounter) -> int:
    """asyncio Protocol; run.py decides the malloc settings (tuned or stock) in the environment."""
    return run_asyncio(proto, "protocol", counter, asyncio.new_event_loop)


def serve_asyncio_streams(proto: str, counter: WaitCounter) -> int:
    if proto != "tcp":
        return skip("asyncio streams are TCP only")
    return run_asyncio(proto, "streams", counter, asyncio.new_event_loop)


def serve_aio(proto: str, counter: WaitCounter) -> int:
    """The same asyncio Protocol on the course's loop (chapter 11's eventloop.aio)."""
    import eventloop.aio

    return run_asyncio(proto, "protocol", counter, eventloop.aio.new_event_loop)


def serve_aio_streams(proto: str, counter: WaitCounter) -> int:
    if proto != "tcp":
        return skip("asyncio streams are TCP only")
    import eventloop.aio

    return run_asyncio(proto, "streams", counter, eventloop.aio.new_event_loop)


def serve_uvloop(proto: str, counter: WaitCounter) -> int:
    try:
        import uvloop
    except ImportError:
        return skip("uvloop is not installed (pip install -e '.[bench]')")
    counter.uncounted = True  # libuv waits in C: its iterations cannot be counted from Python
    return run_asyncio(proto, "protocol", counter, uvloop.new_event_loop)


# --- a thread per connection ----------------------------------------------------------------------


def serve_threads(proto: str, counter: WaitCounter) -> int:
    """Blocking sockets: one thread per TCP connection; one blocking thread for UDP."""
    counter.uncounted = True
    on_signal(counter)
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as listener:
        listener.bind((HOST, 0))
        ready_port = listener.getsockname()[1]
        if proto == "udp":
            ready(ready_port)
            while True:
                data, sender = listener.recvfrom(65535)
                listener.sendto(data, sender)
        listener.listen(BACKLOG)
        ready(ready_port)
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=echo_blocking, args=(conn,), daemon=True).start()


def echo_blocking(conn: socket.socket) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except ConnectionError:
            pass


SERVERS: dict[str, Callable[[str, WaitCounter], int]] = {
    "select": serve_select,
    "epoll": serve_epoll,
    "asyncio": serve_asyncio,
    "asyncio-stock": serve_asyncio,
    "asyncio-streams": serve_asyncio_streams,
    "aio": serve_aio,
    "aio-streams": serve_aio_streams,
    "uvloop": serve_uvloop,
    "threads": serve_threads,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in SERVERS or argv[1] not in ("tcp", "udp"):
        print(f"usage: servers.py {{{','.join(SERVERS)}}} tcp|udp", file=sys.stderr)
        return 2
    raise_fd_limit()
    counter = WaitCounter()
    counter.install()
    return SERVERS[argv[0]](argv[1], counter)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
