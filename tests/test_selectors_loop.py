"""Stage 09: the selectors loop keeps registrations in step with the handlers, and only those."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import select
import selectors
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial

import pytest

from eventloop.emfile import EMFILE_RETRY
from eventloop.handler_list import HandlerList
from eventloop.handlers import EventHandler, StopLoop
from eventloop.recorder import Recorder
from eventloop.selectors_loop import (
    READ,
    WRITE,
    SelectorLoop,
    make_selector,
)
from eventloop.tcp import TCPConnection, TCPEchoConnection
from eventloop.tcp_server import TCPServer
from eventloop.udp import UDPEchoServer, UDPTimeServer

TIMEOUT = 5.0


class CountingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The default selector, counting the calls that become system calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def register(self, fileobj, events, data=None):  # type: ignore[no-untyped-def]
        self.calls["register"] += 1
        return super().register(fileobj, events, data)

    def modify(self, fileobj, events, data=None):  # type: ignore[no-untyped-def]
        self.calls["modify"] += 1
        return super().modify(fileobj, events, data)

    def unregister(self, fileobj):  # type: ignore[no-untyped-def]
        self.calls["unregister"] += 1
        return super().unregister(fileobj)


@pytest.fixture
def loop() -> Iterator[SelectorLoop]:
    with SelectorLoop(selector=CountingSelector(), recorder=Recorder()) as loop:
        yield loop


def tcp_client(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=TIMEOUT)
    return sock


def others(loop: SelectorLoop) -> list[EventHandler]:
    """The handlers in the loop, without its own waker (chapter 08)."""
    return [h for h in loop.handlers if h is not loop.waker]


class SocketReader(EventHandler):
    """A handler on one socket that always wants to read; tests add what it does."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def wants_to_receive(self) -> bool:
        return True


def readable(sock: socket.socket) -> bool:
    """True once ``sock`` has something to read: tests wait on this, never on sleep."""
    return bool(select.select([sock], [], [], 0)[0])


def all_readable(socks: list[socket.socket]) -> bool:
    return all(readable(sock) for sock in socks)


def recv_at_most(sock: socket.socket, size: int) -> bytes:
    """Up to ``size`` bytes: fewer if the peer closes first (unlike eventloop's recv_exactly)."""
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


# --- the handlers of chapters 04 and 05 run unchanged -----------------------------------------


def test_udp_echo_and_time_servers_run_unchanged(loop: SelectorLoop, udp_client) -> None:
    with UDPEchoServer() as echo, UDPTimeServer() as clock:
        loop.handlers.extend([echo, clock])
        udp_client.sendto(b"hello", echo.address)
        udp_client.sendto(b"?", clock.address)
        loop.run(until=lambda: echo.requests and clock.requests, duration=TIMEOUT)
        replies = sorted(udp_client.recvfrom(100)[0][:5] for _ in range(2))
        fds = echo.fileno(), clock.fileno()
    assert b"hello" in replies
    trace = loop.recorder.trace()
    waker = loop.waker.fileno()
    assert trace[:3] == [f"note: register fd {n} read" for n in (waker, *fds)]
    assert f"UDPEchoServer.handle_receive(fd {fds[0]})" in trace
    assert f"UDPTimeServer.handle_receive(fd {fds[1]})" in trace


def test_register_once_then_select_only(loop: SelectorLoop, udp_client) -> None:
    with UDPEchoServer() as echo:
        loop.handlers.append(echo)
        fd = echo.fileno()
        for n in range(3):
            udp_client.sendto(b"x%d" % n, echo.address)
            loop.run(until=lambda n=n: echo.requests > n, duration=TIMEOUT)
            assert udp_client.recv(10) == b"x%d" % n
    assert loop.selector.calls == {"register": 2}  # the waker (chapter 08) and the server
    assert loop.recorder.trace()[1] == f"note: register fd {fd} read"
    assert sum(1 for line in loop.recorder.trace() if "register" in line) == 2


def test_reads_are_dispatched_before_writes_in_selector_order(loop: SelectorLoop) -> None:
    events: list[str] = []

    class Both(EventHandler):
        def __init__(self, name: str, sock: socket.socket) -> None:
            self.name, self.sock = name, sock

        def fileno(self) -> int:
            return self.sock.fileno()

        def wants_to_receive(self) -> bool:
            return True

        def wants_to_send(self) -> bool:
            return True

        def handle_receive(self) -> None:
            events.append(f"{self.name} receive")
            self.sock.recv(10)

        def handle_send(self) -> None:
            events.append(f"{self.name} send")

    a, a_peer = socket.socketpair()
    b, b_peer = socket.socketpair()
    with a, a_peer, b, b_peer:
        a_peer.send(b"1")
        b_peer.send(b"1")
        loop.handlers.extend([Both("a", a), Both("b", b)])
        loop.run(max_iterations=1)
    assert sorted(events[:2]) == ["a receive", "b receive"]
    assert sorted(events[2:]) == ["a send", "b send"]


# --- registration is persistent: register once, modify on change, unregister on close ---------


def test_echo_costs_no_modify_when_sends_complete(loop: SelectorLoop) -> None:
    with TCPServer(loop.handlers) as server, tcp_client(server.address) as client:
        for n in range(20):
            client.sendall(b"message %d\n" % n)
            loop.run(until=lambda: readable(client), duration=TIMEOUT)
            assert recv_at_most(client, len(b"message %d\n" % n)) == b"message %d\n" % n
        client.shutdown(socket.SHUT_WR)
        loop.run(until=lambda: len(others(loop)) == 1, duration=TIMEOUT)
        assert client.recv(10) == b""
    assert loop.selector.calls == {"register": 3, "unregister": 2}  # waker, server, connection
    assert set(loop.registered) == {id(loop.waker)}


class LateReader(threading.Thread):
    """Reads ``size`` bytes from ``sock``, but only after ``go`` is set.

    The tests set ``go`` once the server had to queue data (a partial send),
    so the server's buffers are full before anyone reads: the loop must wait
    for writability, and that is what the tests are about.
    """

    def __init__(self, sock: socket.socket, size: int) -> None:
        super().__init__(daemon=True)
        self.sock, self.size = sock, size
        self.go, self.done = threading.Event(), threading.Event()
        self.data = b""

    def run(self) -> None:
        if self.go.wait(TIMEOUT):
            with contextlib.suppress(OSError):
                self.data = recv_at_most(self.sock, self.size)
        self.done.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)  # the server sees EOF: its loop wakes up

    def until_done(self, server: TCPServer) -> Callable[[], bool]:
        """An ``until=`` for the loop: start the reader once a connection queued data."""

        def check() -> bool:
            if any(c.outgoing for c in list(server.connections)):
                self.go.set()
            return self.done.is_set()

        return check


def test_partial_send_modifies_to_write_and_back(loop: SelectorLoop) -> None:
    big = os.urandom(16 * 1024 * 1024)  # more than the loopback buffers hold
    with TCPServer(loop.handlers) as server, tcp_client(server.address) as client:
        reader = LateReader(client, len(big))
        sender = threading.Thread(target=client.sendall, args=(big,), daemon=True)
        reader.start()
        sender.start()
        loop.run(until=reader.until_done(server), duration=TIMEOUT * 2)
        reader.go.set()
        reader.join(TIMEOUT)
        sender.join(TIMEOUT)
    assert reader.data == big
    notes = [line for line in loop.recorder.trace() if "modify" in line]
    assert any(line.endswith("read+write") for line in notes)  # a partial send waited
    assert notes[-1].endswith(" read")  # ... and went back to reading only
    assert loop.selector.calls["register"] == 3  # waker, server, connection: never twice


def test_a_second_register_is_the_pitfall_and_modify_is_the_fix() -> None:
    a, b = socket.socketpair()
    with a, b, selectors.DefaultSelector() as selector:
        selector.register(a, READ)
        with pytest.raises(KeyError, match="is already registered"):
            selector.register(a, READ | WRITE)
        selector.modify(a, READ | WRITE)
        assert selector.get_key(a).events == READ | WRITE


def test_closed_handler_is_unregistered_and_never_called_again(loop: SelectorLoop) -> None:
    calls = []

    class CloseOnRead(SocketReader):
        def handle_receive(self) -> None:
            calls.append(self.sock.fileno())
            self.sock.close()

    a, b = socket.socketpair()
    with a, b:
        fd = a.fileno()
        loop.handlers.append(CloseOnRead(a))
        b.send(b"bye")
        assert loop.run(duration=TIMEOUT) == "no handlers"
    assert calls == [fd]
    assert f"note: unregister fd {fd}" in loop.recorder.trace()
    assert "note: dropped CloseOnRead: closed" in loop.recorder.trace()
    assert list(loop.selector.get_map()) == [loop.waker.fileno()]


def test_removed_in_the_same_iteration_is_not_called(loop: SelectorLoop) -> None:
    calls = []

    class Remover(EventHandler):
        def __init__(self, sock: socket.socket, victims: list[EventHandler]) -> None:
            self.sock, self.victims = sock, victims

        def fileno(self) -> int:
            return self.sock.fileno()

        def wants_to_receive(self) -> bool:
            return True

        def handle_receive(self) -> None:
            calls.append(self)
            self.sock.recv(10)
            for victim in self.victims:
                if victim is not self and victim in loop.handlers:
                    loop.handlers.remove(victim)

    pairs = [socket.socketpair() for _ in range(2)]
    try:
        victims: list[EventHandler] = []
        victims.extend(Remover(a, victims) for a, _ in pairs)
        loop.handlers.extend(victims)
        for _, b in pairs:
            b.send(b"go")
        loop.run(max_iterations=1)
    finally:
        for a, b in pairs:
            a.close()
            b.close()
    assert len(calls) == 1  # the first removed the second before its turn
    assert len(others(loop)) == 1


def test_a_reused_descriptor_replaces_the_stale_registration(loop: SelectorLoop) -> None:
    class Reader(SocketReader):
        def handle_receive(self) -> None:
            self.sock.recv(10)

    a, b = socket.socketpair()
    old = Reader(a)
    loop.handlers.append(old)
    loop.run_once(loop.time() + 0.05)
    fd = a.fileno()
    a.close()  # closed behind the loop's back: nobody tells it
    c, d = socket.socketpair()
    with b, c, d:
        newer = Reader(c if c.fileno() == fd else d)
        loop.handlers.append(newer)
        loop.run_once(loop.time() + 0.05)  # run() would refuse a list with a closed handler
        assert others(loop) == [newer]
    assert "note: dropped Reader: its fd" in "\n".join(loop.recorder.trace())


# --- the trap: a send from *another* handler must still get out -----------------------------


class ChatConnection(TCPConnection):
    """Sends every chunk it receives to every *other* connection of the server."""

    def data_received(self, data: bytes) -> None:
        for other in list(self.handlers):
            if isinstance(other, ChatConnection) and other is not self:
                other.send(data)


def broadcast_one_big_message(loop: SelectorLoop, size: int) -> tuple[int, str]:
    """A sends ``size`` bytes; B (which never writes) must receive all of them."""
    with TCPServer(loop.handlers, connection=ChatConnection) as server:
        with tcp_client(server.address) as a, tcp_client(server.address) as b:
            loop.run(until=lambda: server.accepted == 2, duration=TIMEOUT)
            reader = LateReader(b, size)
            sender = threading.Thread(target=a.sendall, args=(b"x" * size,), daemon=True)
            reader.start()
            sender.start()
            try:
                reason = loop.run(until=reader.until_done(server), duration=1.0)
            finally:
                reader.go.set()
                for sock in (a, b):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                reader.join(TIMEOUT)
                sender.join(TIMEOUT)
    return len(reader.data), reason


def test_broadcast_from_another_handler_gets_all_its_data_out(loop: SelectorLoop) -> None:
    size = 8 * 1024 * 1024  # far more than B's socket buffers: B's sends go partial
    received, reason = broadcast_one_big_message(loop, size)
    assert (received, reason) == (size, "until")
    assert any(
        line.endswith("read+write") or line.endswith(" write")
        for line in loop.recorder.trace()
        if "modify" in line
    )


def test_without_the_notice_a_partial_broadcast_is_stuck(loop: SelectorLoop) -> None:
    """The test above can fail: silence interest_changed and B never gets the rest."""

    class Silent(HandlerList):
        def interest_changed(self, handler: EventHandler) -> None:
            pass

    loop.handlers = Silent(loop)
    size = 8 * 1024 * 1024
    received, reason = broadcast_one_big_message(loop, size)
    assert reason == "duration"
    assert received < size


def test_update_marks_a_handler_for_re_checking(loop: SelectorLoop) -> None:
    class Flag(EventHandler):
        def __init__(self, sock: socket.socket) -> None:
            self.sock, self.want = sock, False

        def fileno(self) -> int:
            return self.sock.fileno()

        def wants_to_send(self) -> bool:
            return self.want

        def handle_send(self) -> None:
            self.want = False
            raise StopLoop

    a, b = socket.socketpair()
    with a, b:
        flag = Flag(a)
        loop.handlers.append(flag)
        assert loop.run(max_iterations=2, duration=0.05) in ("max_iterations", "duration")
        flag.want = True  # nobody tells the loop: it must not poll every handler
        loop.run(max_iterations=2, duration=0.05)
        assert flag.want  # handle_send never ran: the loop did not ask wants_to_send again
        loop.update(flag)
        assert loop.run(max_iterations=2, duration=TIMEOUT) == "stopped"


def test_a_udp_server_that_joins_the_list_is_asked_its_interest_once(
    loop: SelectorLoop, udp_client
) -> None:
    asked: Counter[str] = Counter()

    class CountingEcho(UDPEchoServer):
        def wants_to_receive(self) -> bool:
            asked["joined" if self.announces_interest else "listed"] += 1
            return True

    with CountingEcho(handlers=loop.handlers) as joined, CountingEcho() as listed:
        loop.handlers.append(listed)  # the post's way: the server does not know its list
        for n in range(5):
            udp_client.sendto(b"a", joined.address)
            udp_client.sendto(b"b", listed.address)
            loop.run(until=lambda n=n: joined.requests > n < listed.requests, duration=TIMEOUT)
            assert sorted(udp_client.recv(10) for _ in range(2)) == [b"a", b"b"]
    assert asked["joined"] == 1  # when it was registered, never again
    assert asked["listed"] >= 5  # registered, then re-asked after each datagram but the last


def test_a_udp_server_that_joins_the_list_leaves_it_when_closed(loop: SelectorLoop) -> None:
    server = UDPEchoServer(handlers=loop.handlers)
    fd = server.fileno()
    loop.call_later(0.01, server.close)  # closed from outside: by a timer
    assert loop.run(duration=TIMEOUT) == "no handlers"
    assert server not in loop.handlers
    assert f"note: unregister fd {fd}" in loop.recorder.trace()


def test_a_joined_udp_server_that_closes_itself_is_never_called_again(
    loop: SelectorLoop, udp_client
) -> None:
    class OneReply(UDPEchoServer):
        def handle_receive(self) -> None:
            super().handle_receive()
            self.close()

    server = OneReply(handlers=loop.handlers)
    udp_client.sendto(b"one", server.address)
    udp_client.sendto(b"two", server.address)
    assert loop.run(duration=TIMEOUT) == "no handlers"
    assert server.requests == 1 and udp_client.recv(10) == b"one"


def test_poll_reports_a_handler_closed_behind_the_loops_back_and_the_loop_drops_it() -> None:
    with SelectorLoop(selector="poll", recorder=Recorder()) as loop:
        a, b = socket.socketpair()
        with a, b:
            loop.handlers.append(SocketReader(a))  # does not announce: closing is not told
            loop.call_later(0.01, a.close)
            assert loop.run(duration=TIMEOUT) == "no handlers"  # not a spin until the deadline
        assert loop.iteration < 10
        assert "note: dropped SocketReader: closed" in loop.recorder.trace()


def test_epoll_cannot_see_a_closed_descriptor_so_closing_from_outside_needs_update(
    loop: SelectorLoop,
) -> None:
    a, b = socket.socketpair()
    still_listed = []
    with a, b:
        reader = SocketReader(a)
        loop.handlers.append(reader)
        loop.call_later(0.01, a.close)  # the kernel forgets the fd: no event will ever come
        loop.call_later(0.1, lambda: still_listed.append(reader in loop.handlers))
        loop.call_later(0.1, loop.update, reader)  # "its answer changed": re-checked, dropped
        assert loop.run(duration=TIMEOUT) == "no handlers"
    assert still_listed == [True]
    assert "note: dropped SocketReader: closed" in loop.recorder.trace()


# --- production concerns: FD_SETSIZE, EMFILE, fairness, leaks ---------------------------------


def test_select_selector_names_fd_setsize_past_1023() -> None:
    a, b = socket.socketpair()
    high = os.dup2(a.fileno(), 1500)
    with a, b, socket.socket(fileno=high) as far:

        class Far(EventHandler):
            def fileno(self) -> int:
                return far.fileno()

            def wants_to_receive(self) -> bool:
                return True

            def handle_receive(self) -> None:
                far.recv(10)
                raise StopLoop

        with SelectorLoop([Far()], selector="select") as slow:
            with pytest.raises(ValueError, match="FD_SETSIZE"):
                slow.run(max_iterations=1, duration=0.05)
        b.send(b"hi")
        with SelectorLoop([Far()], selector="epoll") as fast:
            assert fast.run(duration=TIMEOUT) == "stopped"


def test_make_selector_names_what_exists() -> None:
    with make_selector("poll") as poll:
        assert isinstance(poll, selectors.PollSelector)
    with pytest.raises(ValueError, match="no 'nonsense' selector"):
        make_selector("nonsense")


def test_emfile_pauses_the_handler_instead_of_dropping_it(loop: SelectorLoop) -> None:
    class Starved(SocketReader):
        calls = 0

        def handle_receive(self) -> None:
            self.calls += 1
            if self.calls == 1:
                raise OSError(errno.EMFILE, "Too many open files")
            raise StopLoop

    a, b = socket.socketpair()
    with a, b:
        b.send(b"connect me")
        starved = Starved(a)
        loop.handlers.append(starved)
        assert loop.run(duration=TIMEOUT) == "stopped"
        fd = a.fileno()
    trace = loop.recorder.trace()
    assert starved.calls == 2
    assert others(loop) == [starved]  # not dropped, as a handler that raises would be
    paused = trace.index("note: paused Starved: Too many open files")
    resumed = trace.index("note: resumed Starved")
    assert trace[paused + 1 : resumed + 3] == [
        f"note: unregister fd {fd}",  # no reading while paused: no busy loop
        f"select read=[{loop.waker.fileno()}] write=[] -> read=[] write=[]",
        "note: resumed Starved",
        "SelectorLoop.resume_paused.timer",  # the retry timer ran, EMFILE_RETRY later
        f"note: register fd {fd} read",
    ]


def test_a_paused_handler_caps_the_wait_so_the_loop_retries_soon(loop):
    a, b = socket.socketpair()
    with a, b:
        handler = SocketReader(a)  # a listener, say
        loop.handlers.append(handler)
        assert loop.timeout(None) is None  # nothing to wake up for: wait as long as it takes
        loop.pause(handler, OSError(errno.EMFILE, "Too many open files"))
        assert 0 < loop.timeout(None) <= EMFILE_RETRY  # the retry timer wakes the wait
        assert loop.timeout(loop.time() + EMFILE_RETRY / 10) <= EMFILE_RETRY / 10
        loop.handlers.remove(handler)  # leaving resumes the others; the timer finds none
        assert loop.paused == {}


EMFILE_SERVER = textwrap.dedent(
    """
    import resource, sys
    from eventloop.selectors_loop import SelectorLoop
    from eventloop.tcp_server import TCPServer
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    with SelectorLoop() as loop, TCPServer(loop.handlers) as server:
        print(server.port, flush=True)
        reason = loop.run(until=lambda: server.accepted >= 200, duration=20)
        print(reason, server.refused > 0, flush=True)
    """
)


def test_emfile_on_accept_keeps_the_loop_serving() -> None:
    """A server limited to 64 descriptors survives 120 clients, then serves new ones."""
    server = subprocess.Popen(
        [sys.executable, "-c", EMFILE_SERVER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    clients: list[socket.socket] = []
    try:
        port = int(server.stdout.readline())
        clients = [tcp_client(("127.0.0.1", port)) for _ in range(120)]
        answered = 0
        for client in clients:
            try:
                client.sendall(b"?")
                answered += client.recv(1) == b"?"
            except OSError:
                pass  # refused: accepted and closed at once (or reset)
        assert 0 < answered < 120
        for client in clients:
            client.close()
        served = 0
        for _ in range(300):  # the server stops by itself after 200 accepted connections
            if server.poll() is not None:
                break
            try:
                with tcp_client(("127.0.0.1", port)) as late:
                    late.sendall(b"!")
                    served += late.recv(1) == b"!"
            except OSError:
                pass  # refused: the server still held old descriptors, or has just stopped
        assert served > 0  # new clients were served after the storm: the loop survived
        out, err = server.communicate(timeout=TIMEOUT)
    finally:
        for client in clients:
            client.close()
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert out.split() == ["until", "True"], err
    assert "cannot accept: Too many open files" in err


def test_one_busy_client_does_not_starve_a_quiet_one(loop: SelectorLoop) -> None:
    class Sink(TCPConnection):
        name = "Sink"

        def data_received(self, data: bytes) -> None:
            pass

    class Answer(TCPEchoConnection):
        name = "Answer"

    def factory(sock: socket.socket, handlers: list[EventHandler]) -> TCPConnection:
        return (Sink if not [h for h in handlers if isinstance(h, Sink)] else Answer)(
            sock, handlers
        )

    with TCPServer(loop.handlers, connection=factory) as server:
        with tcp_client(server.address) as busy:
            loop.run(until=lambda: server.accepted == 1, duration=TIMEOUT)
            with tcp_client(server.address) as quiet:
                loop.run(until=lambda: server.accepted == 2, duration=TIMEOUT)
                busy.setblocking(False)
                flood = b"z" * (1 << 20)
                queued = 0
                while True:  # fill the kernel's buffers towards the server
                    try:
                        queued += busy.send(flood)
                    except BlockingIOError:
                        break
                quiet.sendall(b"ping")
                loop.run(until=lambda: quiet_answered(quiet), duration=TIMEOUT)
    calls = [(e.iteration, e.handler) for e in loop.recorder.handler_calls()]
    busy_before = [it for it, name in calls if name == "Sink"]
    answer_at = next(it for it, name in calls if name == "Answer")
    assert queued > 4 * 65536  # the busy client had many reads' worth waiting
    assert Counter(busy_before)[answer_at] <= 1  # one read per handler per iteration
    assert sum(1 for it in busy_before if it <= answer_at) <= 2  # quiet served at once


def quiet_answered(sock: socket.socket) -> bool:
    sock.settimeout(0.001)
    try:
        return sock.recv(4) == b"ping"
    except TimeoutError:
        return False
    except OSError:
        return False


def test_no_leaks_after_many_connections(loop: SelectorLoop) -> None:
    with TCPServer(loop.handlers) as server:
        for _ in range(3):
            clients = [tcp_client(server.address) for _ in range(50)]
            for client in clients:
                client.sendall(b"hi")
            loop.run(until=partial(all_readable, clients), duration=TIMEOUT)
            for client in clients:
                assert recv_at_most(client, 2) == b"hi"
                client.close()
            loop.run(until=lambda: len(others(loop)) == 1, duration=TIMEOUT)
        # what remains: the listener (and the loop's own waker)
        assert others(loop) == [server]
        assert len(loop.selector.get_map()) == 2
        assert set(loop.registered) == {id(server), id(loop.waker)}
        assert loop.members == {id(server), id(loop.waker)}
    assert loop.selector.calls["register"] == 152
    assert loop.selector.calls["unregister"] == 151
    assert loop.pending == {}


# --- chapters 07 and 08 run unchanged: timers, threads, the handler list -------------------


def test_timers_fire_in_order_and_the_loop_sleeps_until_them(loop: SelectorLoop) -> None:
    fired: list[str] = []
    loop.call_later(0.02, fired.append, "second")
    loop.call_later(0.01, fired.append, "first")
    assert loop.run(duration=TIMEOUT) == "no handlers"
    assert fired == ["first", "second"]
    assert [e.action for e in loop.recorder.handler_calls()] == ["timer", "timer"]


def test_a_timer_that_sends_on_a_connection_gets_its_data_out(loop: SelectorLoop) -> None:
    with TCPServer(loop.handlers, connection=TCPConnection) as server:
        with tcp_client(server.address) as client:
            loop.run(until=lambda: server.accepted == 1, duration=TIMEOUT)
            (connection,) = server.connections
            loop.call_later(0.01, connection.send, b"tick")
            loop.run(until=lambda: readable(client), duration=TIMEOUT)
            assert client.recv(4) == b"tick"


def test_call_soon_threadsafe_wakes_the_selector(loop: SelectorLoop) -> None:
    results: list[int] = []
    running = threading.Event()

    def worker() -> None:
        if running.wait(TIMEOUT):  # the loop is running and will sleep in epoll
            loop.call_soon_threadsafe(results.append, 42)

    thread = threading.Thread(target=worker)
    thread.start()
    with UDPEchoServer() as idle:  # something to watch, so the loop is not idle
        loop.handlers.append(idle)
        loop.call_later(0, running.set)
        reason = loop.run(until=lambda: bool(results), duration=TIMEOUT)
    thread.join(TIMEOUT)
    assert (reason, results) == ("until", [42])
    assert any(e.handler == "Waker" for e in loop.recorder.handler_calls())


def test_run_in_executor_delivers_its_result(loop: SelectorLoop) -> None:
    results: list[int] = []
    loop.run_in_executor(sum, [1, 2, 3], callback=lambda f: results.append(f.result()))
    assert loop.run(duration=TIMEOUT) == "no handlers"
    assert results == [6]


def test_the_handler_list_tells_the_loop_every_change(loop: SelectorLoop) -> None:
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        servers = [UDPEchoServer() for _ in range(3)]
        loop.handlers += servers[:1]
        loop.handlers.insert(0, servers[1])
        loop.handlers.append(servers[2])
        assert loop.members == {id(h) for h in loop.handlers}
        loop.run(max_iterations=1, duration=0.05)
        assert len(loop.registered) == 4
        assert loop.handlers.pop() is servers[2]
        loop.handlers.remove(servers[0])
        assert set(loop.registered) == {id(loop.waker), id(servers[1])}
        with pytest.raises(TypeError, match="append/remove"):
            loop.handlers[0] = servers[0]
        loop.handlers.clear()
        assert loop.registered == {} and loop.members == set()
    finally:
        for server in servers:
            server.close()
        for a, b in pairs:
            a.close()
            b.close()


# --- the command line: the same servers on each stage's loop ---------------------------------



class Comparing(EventHandler):
    """A handler that counts the ``==`` comparisons made with it: each is one step of a scan."""

    comparisons = 0

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def __eq__(self, other: object) -> bool:
        Comparing.comparisons += 1
        return self is other

    __hash__ = object.__hash__


def test_leaving_the_handler_list_does_not_scan_it() -> None:
    """``h in handlers`` and ``handlers.remove(h)``, as ``TCPConnection.close`` does: before,
    each scanned the list, so closing n connections cost O(n**2) (40,000: 1,500x 1,000's)."""
    with SelectorLoop() as loop:
        handlers = [Comparing(10_000 + i) for i in range(2000)]  # never waited on: fds unused
        for handler in handlers:
            loop.handlers.append(handler)
        Comparing.comparisons = 0
        for handler in handlers:
            assert handler in loop.handlers
            loop.handlers.remove(handler)
            assert handler not in loop.handlers
        assert Comparing.comparisons == 0  # by identity, in O(1): no scan at all
        assert list(loop.handlers) == [loop.waker] and loop.members == {id(loop.waker)}


class ComparingConnection(TCPConnection):
    __eq__ = Comparing.__eq__
    __hash__ = object.__hash__


def test_closing_connections_does_not_scan_the_handler_list() -> None:
    pairs = [socket.socketpair() for _ in range(200)]
    try:
        with SelectorLoop() as loop:
            connections = [ComparingConnection(a, loop.handlers) for a, _ in pairs]
            for connection in connections:
                loop.handlers.append(connection)
            loop.call_soon(lambda: None)  # one iteration that does not sleep
            loop.run(max_iterations=1, duration=TIMEOUT)
            assert len(loop.registered) == 1 + len(connections)  # the waker too
            Comparing.comparisons = 0
            for connection in reversed(connections):  # the newest first: at the list's end
                connection.close()
            assert Comparing.comparisons == 0
            assert list(loop.handlers) == [loop.waker] and loop.registered.keys() == {
                id(loop.waker)
            }
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_the_handler_list_still_reads_like_a_list(loop: SelectorLoop) -> None:
    servers = [UDPEchoServer() for _ in range(3)]
    try:
        loop.handlers.extend(servers)
        assert loop.handlers == [loop.waker, *servers]  # in the order they joined
        assert loop.handlers[1] is servers[0] and loop.handlers[-1] is servers[2]
        assert loop.handlers[1:] == servers and len(loop.handlers) == 4
        assert loop.handlers.index(servers[1]) == 2
        assert repr(loop.handlers) == repr([loop.waker, *servers])
        loop.handlers.remove(servers[1])
        assert loop.handlers == [loop.waker, servers[0], servers[2]]
        with pytest.raises(ValueError, match="not in"):
            loop.handlers.remove(servers[1])
        with pytest.raises(ValueError, match="already"):
            loop.handlers.append(servers[0])  # a loop watches a handler once
        for handler in loop.handlers:  # leaving while the list is walked is fine
            loop.handlers.remove(handler)
        assert loop.handlers == [] and loop.members == set()
        with pytest.raises(IndexError):
            loop.handlers.pop()
    finally:
        for server in servers:
            server.close()


def start_cli(*args: str) -> tuple[subprocess.Popen[str], tuple[str, int]]:
    """Start ``python -m eventloop ARGS``; return it and the address it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "eventloop", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    found = re.search(r"listening on (?:udp|tcp) 127\.0\.0\.1:(\d+) \(loop: (\w+)\)$", line.strip())
    if found is None:
        process.kill()
        process.communicate()
        pytest.fail(f"no address printed: {line!r}")
    assert found.group(2) == args[args.index("--loop") + 1]
    assert process.stdout.readline().startswith("Ctrl-C to stop")
    return process, ("127.0.0.1", int(found.group(1)))


@pytest.mark.parametrize("loop_kind", ["select", "poll", "epoll"])
def test_udp_echo_command_on_each_loop(loop_kind: str, udp_client) -> None:
    process, address = start_cli("udp-echo", "--loop", loop_kind, "--duration", "20")
    try:
        udp_client.sendto(b"hello " + loop_kind.encode(), address)
        assert udp_client.recv(100) == b"hello " + loop_kind.encode()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert (process.returncode, out, err) == (0, "stopped (Ctrl-C)\n", "")


@pytest.mark.parametrize("loop_kind", ["select", "epoll"])
def test_tcp_echo_command_takes_a_loop(loop_kind: str) -> None:
    process, address = start_cli("tcp-echo", "--port", "0", "--loop", loop_kind, "--duration", "20")
    try:
        with tcp_client(address) as client:
            client.sendall(b"ping")
            client.shutdown(socket.SHUT_WR)
            assert recv_at_most(client, 5) == b"ping"  # then EOF: the server closed it
        with tcp_client(address) as second:  # still open at Ctrl-C: the server closes it
            second.sendall(b"pong")
            assert recv_at_most(second, 4) == b"pong"
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "served 2 connection(s)" in out


def test_udp_echo_command_stops_after_its_duration() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "eventloop", "udp-echo", "--duration", "0.2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("Ctrl-C to stop.\nstopped\n")
    assert "(loop: epoll)" in result.stdout


def test_a_paused_handler_resumes_as_soon_as_another_leaves(loop: SelectorLoop) -> None:
    class Starved(SocketReader):
        def handle_receive(self) -> None:
            raise OSError(errno.EMFILE, "Too many open files")

    a, b = socket.socketpair()
    with a, b, UDPEchoServer() as other:
        b.send(b"connect me")
        starved = Starved(a)
        loop.handlers.extend([starved, other])
        loop.run(max_iterations=1, duration=TIMEOUT)
        assert id(starved) in loop.paused
        loop.handlers.remove(other)  # a descriptor is about to be freed
        assert loop.paused == {}
        assert loop.recorder.trace()[-1] == "note: resumed Starved"


class WrongFileno(EventHandler):
    """A handler whose fileno() is a number the selector cannot watch."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def wants_to_receive(self) -> bool:
        return True


def closed_fd() -> int:
    sock = socket.socket()
    fd = sock.fileno()
    sock.close()
    return fd


@pytest.mark.parametrize("fd", [closed_fd(), 10**6], ids=["closed fd", "huge fd"])
def test_a_handler_with_an_unwatchable_fileno_is_named_and_dropped(capsys, fd):
    with SelectorLoop(selector="default") as loop:
        bad = WrongFileno(fd)
        loop.add(bad)
        loop.call_later(0.01, loop.stop)
        assert loop.run(duration=5) == "stopped"  # the loop went on without it
        assert bad not in loop.handlers
    err = capsys.readouterr().err
    assert f"cannot watch WrongFileno: its fileno() returned {fd}" in err


def test_with_on_error_raise_the_unwatchable_handler_is_named_in_the_exception():
    with SelectorLoop(selector="default", on_error="raise") as loop:
        loop.add(WrongFileno(closed_fd()))
        with pytest.raises((OSError, ValueError), match="cannot watch WrongFileno"):
            loop.run(duration=5)


def test_a_connection_closed_after_its_loop_closed_is_harmless() -> None:
    """``with loop, server:`` closes the loop first; its connections leave the list after.
    Before: ``KeyError: ... is not registered`` from the closed selector."""
    a, b = socket.socketpair()
    with b:
        loop = SelectorLoop()
        connection = TCPConnection(a, loop.handlers)
        loop.handlers.append(connection)
        loop.call_soon(lambda: None)
        loop.run(max_iterations=1, duration=TIMEOUT)
        assert id(connection) in loop.registered
        loop.close()
        connection.close()
        assert connection.closed and a.fileno() == -1
        assert list(loop.handlers) == []
