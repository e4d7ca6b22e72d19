"""eventloop.aio at the edges: where asyncio's semantics are easy to get subtly wrong.

Each test runs on our loop AND on asyncio's own, and asserts what both do
(issue 26, "asyncio's semantics at every edge").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import math
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from eventloop.aio import EventLoop

LOOPS = {"ours": EventLoop, "asyncio": asyncio.new_event_loop}


@pytest.fixture(params=list(LOOPS))
def loop(request) -> Iterator[asyncio.AbstractEventLoop]:
    loop = LOOPS[request.param]()
    try:
        yield loop
    finally:
        if not loop.is_closed():
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()


def loop_is_asyncio(loop: asyncio.AbstractEventLoop) -> bool:
    return not isinstance(loop, EventLoop)


def nodelay(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_stream_transports_set_tcp_nodelay(loop):
    """Nagle's algorithm would hold a request written in two pieces for a round trip."""
    accepted = []

    async def main():
        server = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        while not accepted:
            await asyncio.sleep(0)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as plain:
            plain.connect(server.sockets[0].getsockname())
            other, _ = await loop.connect_accepted_socket(asyncio.Protocol, plain.dup())
            while len(accepted) < 2:
                await asyncio.sleep(0)
        seen = [
            nodelay(writer.get_extra_info("socket")),
            nodelay(accepted[0].get_extra_info("socket")),
            nodelay(other.get_extra_info("socket")),
        ]
        other.close()
        for closing in (writer, *accepted):
            closing.close()
            await closing.wait_closed()
        server.close()
        await server.wait_closed()
        return seen

    assert loop.run_until_complete(main()) == [True, True, True]


# --- the ready queue -----------------------------------------------------------------------------


@pytest.mark.parametrize("escaping", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_from_a_callback_leaves_the_rest_for_the_next_run(loop, escaping):
    """Ctrl-C in a callback propagates out of run_forever; the callbacks queued behind it
    are not lost: the next run_forever runs them (aiohttp's run_app cleans up that way)."""
    ran = []

    def interrupt():
        raise escaping

    loop.call_soon(interrupt)
    loop.call_soon(ran.append, "behind it")
    loop.call_soon(loop.stop)
    with pytest.raises(escaping):
        loop.run_forever()
    assert ran == []
    loop.call_later(5, loop.stop)  # the safety net: without the fix, nothing else runs
    loop.run_forever()
    assert ran == ["behind it"]


def test_io_callbacks_run_after_the_callbacks_queued_before_them(loop):
    """asyncio's _run_once: select, then the ready queue in order: what call_soon queued
    before the wait first, then the I/O callbacks the wait found."""
    order = []
    a, b = socket.socketpair()
    with a, b:
        b.send(b"x")  # readable before the loop even starts
        loop.add_reader(a.fileno(), order.append, "readable")
        loop.call_soon(order.append, "soon")
        loop.call_soon(loop.stop)
        loop.run_forever()
        loop.remove_reader(a.fileno())
    assert order[:2] == ["soon", "readable"]


def test_a_reader_removed_by_a_done_callback_fires_once(loop):
    """add_reader(fd, fut.set_result, None), remove_reader in fut's done callback: the done
    callback runs before the next I/O callback, so set_result is not called twice."""
    errors = []
    loop.set_exception_handler(lambda loop, context: errors.append(context))
    a, b = socket.socketpair()

    async def main():
        future = loop.create_future()
        future.add_done_callback(lambda _: loop.remove_reader(a.fileno()))
        loop.add_reader(a.fileno(), future.set_result, None)
        b.send(b"x")  # never read: the socket stays readable
        await future
        for _ in range(3):
            await asyncio.sleep(0)

    with a, b:
        loop.run_until_complete(main())
    assert errors == []


# --- timers: forever, and very long --------------------------------------------------------------


def cancel_from_a_thread(loop, task, after: float = 0.05) -> threading.Timer:
    """Cancel ``task`` later without a timer on the loop: its own wait must be the only one."""
    timer = threading.Timer(after, loop.call_soon_threadsafe, (task.cancel,))
    timer.start()
    return timer


@pytest.mark.parametrize("delay", [math.inf, 30 * 24 * 3600, 1e300])
def test_sleep_forever_or_for_very_long_waits_until_cancelled(loop, delay):
    """asyncio.sleep(math.inf) is anyio's sleep_forever; a wait past ~24.8 days must not
    overflow the selector's timeout (asyncio caps each wait at a day)."""
    task = loop.create_task(asyncio.sleep(delay))
    timer = cancel_from_a_thread(loop, task)
    try:
        with pytest.raises(asyncio.CancelledError):
            loop.run_until_complete(task)
    finally:
        timer.join()


def test_a_timer_at_infinity_never_fires_and_can_be_cancelled(loop):
    fired = []
    forever = loop.call_later(math.inf, fired.append, "forever")
    assert forever.when() == math.inf
    loop.call_later(0.02, loop.stop)
    loop.run_forever()
    forever.cancel()
    assert fired == [] and forever.cancelled()


def test_infinite_timeouts_mean_no_timeout(loop):
    async def main():
        result = await asyncio.wait_for(asyncio.sleep(0.01, "wait_for"), math.inf)
        results = [result]
        if hasattr(asyncio, "timeout"):  # Python 3.11+
            async with asyncio.timeout(math.inf):
                results.append(await asyncio.sleep(0.01, "timeout"))
        return results

    results = loop.run_until_complete(main())
    assert results[0] == "wait_for" and results[1:] in ([], ["timeout"])


def test_a_nan_delay_is_still_refused():
    loop = EventLoop()
    try:
        with pytest.raises(ValueError, match="NaN"):
            loop.call_later(math.nan, print)
    finally:
        loop.close()


# --- sock_* methods ------------------------------------------------------------------------------


def test_a_cancelled_sock_recv_leaves_a_newer_one_on_the_same_socket_waiting(loop):
    a, b = socket.socketpair()
    a.setblocking(False)

    async def main():
        first = asyncio.ensure_future(loop.sock_recv(a, 10))
        await asyncio.sleep(0)  # first waits for readability
        second = asyncio.ensure_future(loop.sock_recv(a, 10))  # steps before first's cancel
        first.cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        b.send(b"for second")
        return first.cancelled(), await asyncio.wait_for(second, 5)

    with a, b:
        assert loop.run_until_complete(main()) == (True, b"for second")


def test_a_cancelled_sock_sendall_leaves_a_newer_one_on_the_same_socket_waiting(loop):
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    try:
        while True:
            a.send(b"x" * 65536)  # fill the buffers: the next send must wait
    except BlockingIOError:
        pass

    async def main():
        first = asyncio.ensure_future(loop.sock_sendall(a, b"1" * 100))
        await asyncio.sleep(0)  # first waits for writability
        second = asyncio.ensure_future(loop.sock_sendall(a, b"2" * 100))
        first.cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        received = bytearray()
        while not received.endswith(b"2" * 100):  # make room; second then sends
            try:
                received += b.recv(1 << 20)
            except BlockingIOError:
                await asyncio.sleep(0.001)
        await second
        return first.cancelled()

    with a, b:
        assert loop.run_until_complete(asyncio.wait_for(main(), 5)) is True


# --- streams and servers -------------------------------------------------------------------------


def test_connect_accepted_socket_with_ssl_refuses_instead_of_running_plain_tcp():
    """A silent downgrade to plain TCP would hand the ClientHello to the protocol as data."""
    loop = EventLoop()
    received = []

    class Recorder(asyncio.Protocol):
        def data_received(self, data):
            received.append(data)

    a, b = socket.socketpair()
    try:
        with pytest.raises(NotImplementedError, match="connect_accepted_socket.*TLS"):
            loop.run_until_complete(
                loop.connect_accepted_socket(Recorder, a, ssl=ssl.create_default_context())
            )
        assert received == [] and a.fileno() >= 0  # untouched: still the caller's to close
    finally:
        a.close()
        b.close()
        loop.close()


def test_tls_options_without_ssl_are_refused_not_ignored(loop):
    a, b = socket.socketpair()
    with a, b, pytest.raises(ValueError, match="ssl_handshake_timeout is only meaningful"):
        loop.run_until_complete(
            loop.connect_accepted_socket(asyncio.Protocol, a, ssl_handshake_timeout=1)
        )


class OutOfDescriptors(socket.socket):
    """A listening socket whose accept() fails with EMFILE while ``full`` is set."""

    full = True

    def accept(self):
        if self.full:
            raise OSError(errno.EMFILE, "Too many open files")
        return super().accept()


def test_a_server_out_of_descriptors_backs_off_instead_of_spinning(loop):
    """asyncio stops accepting for a while and reports once per retry; a loop that only
    reports would call the handler tens of thousands of times a second, at 100% CPU."""
    reports = []
    loop.set_exception_handler(lambda loop, context: reports.append(context["message"]))
    made = []

    class Served(asyncio.Protocol):
        def connection_made(self, transport):
            made.append(transport)
            transport.close()

    listener = OutOfDescriptors(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))

    async def main():
        server = await loop.create_server(Served, sock=listener)
        with socket.create_connection(listener.getsockname(), timeout=5):
            await asyncio.sleep(0.3)  # the client waits in the backlog: readable throughout
            out_of_descriptors = len(reports)
            listener.full = False  # a descriptor was freed: the next retry accepts it
            for _ in range(500):
                if made:
                    break
                await asyncio.sleep(0.01)
        server.close()
        await server.wait_closed()
        return out_of_descriptors

    out_of_descriptors = loop.run_until_complete(main())
    # asyncio retries after 1 s, and reports every attempt of its batch (100); ours retries
    # after chapter 09's EMFILE_RETRY (0.1 s: ~3 in 0.3 s), or when a descriptor is freed
    limit = 20 if isinstance(loop, EventLoop) else 100  # spinning: thousands
    assert 1 <= out_of_descriptors <= limit, out_of_descriptors
    assert "socket.accept() out of system resource" in reports
    if not loop_is_asyncio(loop):  # asyncio 3.10 also reports its retry failing after close()
        assert set(reports) == {"socket.accept() out of system resource"}
    assert len(made) == 1


def test_a_protocol_whose_connection_made_raises_is_reported_and_its_client_let_go(loop):
    """Both loops report it to the exception handler. Ours also closes the connection, as the
    issue asks: asyncio (3.10-3.13) leaves this client connected and never served."""
    reports = []
    loop.set_exception_handler(lambda loop, context: reports.append(context.get("exception")))

    class Broken(asyncio.Protocol):
        def connection_made(self, transport):
            raise RuntimeError("broken protocol")

    async def main():
        server = await loop.create_server(Broken, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        try:
            read = await asyncio.wait_for(reader.read(), 0.5)
        except asyncio.TimeoutError:
            read = "still connected"
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return read

    read = loop.run_until_complete(main())
    assert [str(error) for error in reports] == ["broken protocol"]
    assert read == (b"" if isinstance(loop, EventLoop) else "still connected")


class RecordingExecutor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor, remembering which functions it was given."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.calls: list[tuple] = []

    def submit(self, fn, /, *args, **kwargs):
        self.calls.append((getattr(fn, "__name__", repr(fn)), args[:1]))
        return super().submit(fn, *args, **kwargs)


def test_create_server_resolves_host_names_in_the_executor(loop):
    """A name lookup can block for seconds: never inside the loop."""
    executor = RecordingExecutor()
    loop.set_default_executor(executor)

    async def main():
        server = await loop.create_server(asyncio.Protocol, "localhost", 0)
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())
    assert ("getaddrinfo", ("localhost",)) in executor.calls


def passive_families() -> set[int]:
    infos = socket.getaddrinfo(None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    return {info[0] for info in infos}


def test_start_server_without_a_host_listens_on_every_address_family(loop):
    async def main():
        server = await asyncio.start_server(lambda r, w: None, None, 0)
        families = {sock.family for sock in server.sockets}
        server.close()
        await server.wait_closed()
        return families

    assert loop.run_until_complete(main()) == passive_families()


def test_reuse_port_is_set_before_bind(loop):
    """Two servers on one port: SO_REUSEPORT must be set before bind() to mean anything."""

    async def main():
        first = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0, reuse_port=True)
        port = first.sockets[0].getsockname()[1]
        second = await loop.create_server(asyncio.Protocol, "127.0.0.1", port, reuse_port=True)
        udp, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0), reuse_port=True
        )
        udp_port = udp.get_extra_info("sockname")[1]
        udp2, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", udp_port), reuse_port=True
        )
        ports = {second.sockets[0].getsockname()[1], port}
        for server in (first, second):
            server.close()
            await server.wait_closed()
        udp.close()
        udp2.close()
        await asyncio.sleep(0)
        return ports, udp2.get_extra_info("sockname")[1] == udp_port

    ports, same_udp_port = loop.run_until_complete(main())
    assert len(ports) == 1 and same_udp_port


# --- datagrams -----------------------------------------------------------------------------------


def test_sock_sendto_recvfrom_and_recvfrom_into(loop):
    if not hasattr(loop, "sock_recvfrom"):
        pytest.skip("asyncio's own sock_recvfrom and sock_sendto are Python 3.11+")
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    async def main():
        for sock in (a, b):
            sock.setblocking(False)
            sock.bind(("127.0.0.1", 0))
        pending = asyncio.ensure_future(loop.sock_recvfrom(b, 100))  # waits: nothing yet
        await asyncio.sleep(0)
        sent = await loop.sock_sendto(a, b"first", b.getsockname())
        data, sender = await asyncio.wait_for(pending, 5)
        await loop.sock_sendto(a, b"second", b.getsockname())
        buffer = bytearray(100)
        size, sender2 = await asyncio.wait_for(loop.sock_recvfrom_into(b, buffer, 3), 5)
        return sent, data, sender == sender2 == a.getsockname(), bytes(buffer[:size])

    with a, b:
        assert loop.run_until_complete(main()) == (5, b"first", True, b"sec")


def test_datagram_transport_pauses_reading_and_has_write_buffer_limits(loop):
    """anyio's UDP sockets use these: reading paused means datagrams wait in the kernel."""
    received = []

    class Receiver(asyncio.DatagramProtocol):
        def datagram_received(self, data, address):
            received.append(data)

    async def main():
        transport, _ = await loop.create_datagram_endpoint(Receiver, local_addr=("127.0.0.1", 0))
        if loop_is_asyncio(loop) and sys.version_info < (3, 11):  # not in asyncio's before
            transport.close()
            return None
        seen = [transport.get_write_buffer_limits(), transport.is_reading()]
        transport.set_write_buffer_limits(high=1000)
        seen.append(transport.get_write_buffer_limits())
        with pytest.raises(ValueError):
            transport.set_write_buffer_limits(high=1, low=2)
        transport.pause_reading()
        seen.append(transport.is_reading())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"while paused", transport.get_extra_info("sockname"))
            for _ in range(5):
                await asyncio.sleep(0.01)
            seen.append(list(received))
            transport.resume_reading()
            seen.append(transport.is_reading())
            for _ in range(500):
                if received:
                    break
                await asyncio.sleep(0.01)
        seen.append(list(received))
        transport.close()
        await asyncio.sleep(0)
        return seen

    seen = loop.run_until_complete(main())
    if seen is None:
        pytest.skip("asyncio's datagram transport has no pause_reading before Python 3.11")
    assert seen == [
        (16 * 1024, 64 * 1024),
        True,
        (250, 1000),
        False,
        [],
        True,
        [b"while paused"],
    ]


# --- BufferedProtocol ----------------------------------------------------------------------------


class BufferedEcho(asyncio.BufferedProtocol):
    """Reads into its own buffer (no bytes object per read), echoes, records the calls."""

    def __init__(self, log: list) -> None:
        self.log = log
        self.buffer = bytearray(4)  # smaller than a message: several reads

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        return self.buffer

    def buffer_updated(self, nbytes):
        self.log.append(bytes(self.buffer[:nbytes]))
        self.transport.write(self.buffer[:nbytes])

    def eof_received(self):
        self.log.append("eof")

    def connection_lost(self, error):
        self.log.append("lost")


def test_a_buffered_protocol_reads_into_its_own_buffer(loop):
    log: list = []

    async def main():
        server = await loop.create_server(lambda: BufferedEcho(log), "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        writer.write(b"hello world")
        echoed = await asyncio.wait_for(reader.readexactly(11), 5)
        writer.write_eof()
        await asyncio.wait_for(reader.read(), 5)  # the server closes after EOF
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        for _ in range(3):
            await asyncio.sleep(0)
        return echoed

    assert loop.run_until_complete(main()) == b"hello world"
    assert b"".join(part for part in log if isinstance(part, bytes)) == b"hello world"
    assert all(len(part) <= 4 for part in log if isinstance(part, bytes))
    assert log[-2:] == ["eof", "lost"]


def test_pause_reading_queued_before_data_arrives_delivers_nothing(loop):
    """pause_reading() runs in the ready queue before the I/O callbacks of the same
    iteration: the data that made the socket readable stays in the kernel."""
    received = []

    class Receiver(asyncio.Protocol):
        def data_received(self, data):
            received.append(data)

    a, b = socket.socketpair()

    async def main():
        transport, _ = await loop.connect_accepted_socket(Receiver, a)
        await asyncio.sleep(0)
        b.send(b"not yet")
        loop.call_soon(transport.pause_reading)
        for _ in range(3):
            await asyncio.sleep(0)
        paused = list(received)
        transport.resume_reading()
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.01)
        transport.close()
        await asyncio.sleep(0)
        return paused, received

    with b:
        assert loop.run_until_complete(main()) == ([], [b"not yet"])


# --- Server --------------------------------------------------------------------------------------

NEW_WAIT_CLOSED = sys.version_info >= (3, 12, 1)  # asyncio's wait_closed before: returned at once


def test_server_sockets_are_transport_sockets(loop):
    async def main():
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        sockets = server.sockets
        server.close()
        await server.wait_closed()
        return sockets, server.sockets

    sockets, after = loop.run_until_complete(main())
    assert [type(sock) for sock in sockets] == [asyncio.trsock.TransportSocket]
    assert after == ()


def test_wait_closed_waits_for_close_and_for_every_connection(loop):
    """3.12.1+: wait_closed returns once the server is closed AND its connections are gone."""
    if not isinstance(loop, EventLoop) and not NEW_WAIT_CLOSED:
        pytest.skip("asyncio's own wait_closed has these semantics from Python 3.12.1")
    served = []

    async def main():
        server = await asyncio.start_server(lambda r, w: served.append(w), "127.0.0.1", 0)
        waiting = asyncio.ensure_future(server.wait_closed())
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        while not served:
            await asyncio.sleep(0)
        states = [waiting.done()]  # open: waits
        server.close()
        for _ in range(5):
            await asyncio.sleep(0)
        states.append(waiting.done())  # closed, one connection left: still waits
        served[0].close()
        await asyncio.wait_for(waiting, 5)
        states.append(waiting.done())
        writer.close()
        await writer.wait_closed()
        await server.wait_closed()  # once done, returns at once
        return states

    assert loop.run_until_complete(main()) == [False, False, True]


@pytest.mark.parametrize("how", ["close_clients", "abort_clients"])
def test_close_clients_and_abort_clients_end_every_connection(loop, how):
    if not hasattr(asyncio.base_events.Server, how) and not isinstance(loop, EventLoop):
        pytest.skip(f"asyncio's own Server.{how} is Python 3.13+")
    made, lost = [], []

    class Tracked(asyncio.Protocol):
        def connection_made(self, transport):
            made.append(transport)

        def connection_lost(self, error):
            lost.append(error)

    async def main():
        server = await loop.create_server(Tracked, "127.0.0.1", 0)
        clients = [
            await asyncio.open_connection(*server.sockets[0].getsockname()) for _ in range(2)
        ]
        server.close()
        while len(made) < 2:  # until the server has accepted both
            await asyncio.sleep(0.01)
        getattr(server, how)()
        await asyncio.wait_for(server.wait_closed(), 5)
        ends = [await asyncio.wait_for(reader.read(), 5) for reader, _ in clients]
        for _, writer in clients:
            writer.close()
            await writer.wait_closed()
        return ends

    assert loop.run_until_complete(main()) == [b"", b""]
    assert lost == [None, None]


# --- create_connection: every keyword means something --------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "options",
    [{"ssl_handshake_timeout": 1}, {"ssl_shutdown_timeout": 1}, {"server_hostname": "x"}],
)
def test_create_connection_refuses_tls_options_without_ssl(loop, options):
    if "ssl_shutdown_timeout" in options and sys.version_info < (3, 11) and loop_is_asyncio(loop):
        pytest.skip("asyncio's own create_connection has ssl_shutdown_timeout from Python 3.11")
    with pytest.raises(ValueError, match="only meaningful with ssl"):
        loop.run_until_complete(
            loop.create_connection(asyncio.Protocol, "127.0.0.1", closed_port(), **options)
        )


def test_create_connection_refuses_host_and_sock_together(loop):
    with socket.socket() as sock, pytest.raises(ValueError, match="can not be specified"):
        loop.run_until_complete(loop.create_connection(asyncio.Protocol, "127.0.0.1", 1, sock=sock))


def test_create_connection_all_errors_raises_every_attempts_error(loop):
    if sys.version_info < (3, 11) or (sys.version_info < (3, 12) and loop_is_asyncio(loop)):
        pytest.skip("all_errors is Python 3.12+ in asyncio (ours: 3.11+, for ExceptionGroup)")
    with pytest.raises(ExceptionGroup) as raised:  # noqa: F821 (3.11+)
        loop.run_until_complete(
            loop.create_connection(asyncio.Protocol, "127.0.0.1", closed_port(), all_errors=True)
        )
    assert [type(error) for error in raised.value.exceptions] == [ConnectionRefusedError]


def test_create_connection_with_happy_eyeballs_connects(loop):
    async def main():
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport, _ = await loop.create_connection(
            asyncio.Protocol, "127.0.0.1", port, happy_eyeballs_delay=0.05, interleave=2
        )
        peer = transport.get_extra_info("peername")
        transport.close()
        server.close()
        await server.wait_closed()
        return peer[1] == port

    assert loop.run_until_complete(main())


def test_create_connection_with_ssl_refuses_plainly():
    loop = EventLoop()
    try:
        with pytest.raises(NotImplementedError, match="create_connection.*TLS"):
            loop.run_until_complete(
                loop.create_connection(
                    asyncio.Protocol, "127.0.0.1", 1, ssl=ssl.create_default_context()
                )
            )
    finally:
        loop.close()


# --- what the course's loop does not provide says so ---------------------------------------------

NOT_PROVIDED = [
    ("create_unix_connection", "Unix sockets"),
    ("create_unix_server", "Unix sockets"),
    ("start_tls", "TLS"),
    ("connect_read_pipe", "pipes"),
    ("connect_write_pipe", "pipes"),
    ("subprocess_exec", "subprocesses"),
    ("subprocess_shell", "subprocesses"),
    ("add_signal_handler", "signal handlers"),
    ("remove_signal_handler", "signal handlers"),
    ("sendfile", "sendfile"),
    ("sock_sendfile", "sendfile"),
]


@pytest.mark.parametrize(("method", "what"), NOT_PROVIDED)
def test_what_is_not_provided_names_the_method(method, what):
    loop = EventLoop()
    try:
        try:
            result = getattr(loop, method)()
            if asyncio.iscoroutine(result):
                loop.run_until_complete(result)
        except NotImplementedError as error:
            assert f"{method}()" in str(error) and what in str(error)
            assert "the course's loop does not provide" in str(error)
        except TypeError:  # provided since (it wants its arguments)
            pytest.skip(f"{method} is provided")
    finally:
        loop.close()


def test_debug_mode_times_a_slow_connection_made_on_a_server(loop, caplog):
    """A server's accept runs through the watched seam, as a transport's reads do."""
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01

    class Slow(asyncio.Protocol):
        def connection_made(self, transport):
            time.sleep(0.03)
            transport.close()

    async def main():
        server = await loop.create_server(Slow, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.run_until_complete(main())
    slow = [record.getMessage() for record in caplog.records if "took" in record.getMessage()]
    assert slow, "the slow connection_made was not reported"


@pytest.mark.parametrize("option", ["ssl_handshake_timeout", "ssl_shutdown_timeout"])
def test_create_server_refuses_tls_options_without_ssl(loop, option):
    if option == "ssl_shutdown_timeout" and sys.version_info < (3, 11) and loop_is_asyncio(loop):
        pytest.skip("asyncio's own create_server has ssl_shutdown_timeout from Python 3.11")
    with pytest.raises(ValueError, match="only meaningful with ssl"):
        loop.run_until_complete(loop.create_server(asyncio.Protocol, "127.0.0.1", 0, **{option: 1}))


def test_create_server_with_ssl_refuses_plainly():
    loop = EventLoop()
    try:
        with pytest.raises(NotImplementedError, match="create_server.*TLS"):
            loop.run_until_complete(
                loop.create_server(
                    asyncio.Protocol, "127.0.0.1", 0, ssl=ssl.create_default_context()
                )
            )
    finally:
        loop.close()
