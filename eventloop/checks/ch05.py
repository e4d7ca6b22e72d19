"""Checks for chapter 05's exercises (TCP connections): real sockets on loopback, bounded in time.

* 5.1 ``connect_result(address) -> int``: a non-blocking connect, then ``SO_ERROR`` (PITFALLS 5, 6).
* 5.2 ``UpperEchoConnection``: a ``TCPConnection`` that echoes in upper case, through ``send``.
* 5.3 ``ByteCounter``: a handler that ignores EOF and spins (PITFALL 8), fixed.
* 5.4 ``should_read(reading, queued, high, low)``: the watermark rule (PITFALL 12; the check is
  in ``ch05_watermarks``, re-exported here).
* 5.5 ``OutgoingEcho``: an echo handler's outgoing ``bytearray`` written by hand (the check is
  in ``ch05_outgoing``, re-exported here).

Notebooks import every check from here (``from eventloop.checks.ch05 import check_5_4``), so
the exercise notebooks learners already hold keep working whichever module a check lives in.

Servers run in ``event_loop(..., on_error="raise")``, so an error in the learner's handler (or
the exercise stub's ``NotImplementedError``) reaches the verdict instead of being dropped.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable

from eventloop.checks import CheckFailed, Verdict, expect_equal, verdict
from eventloop.checks.ch05_outgoing import check_5_5 as check_5_5
from eventloop.checks.ch05_watermarks import check_5_4 as check_5_4
from eventloop.checks.network import (
    connect_in_progress,
    exchange,
    expect_non_blocking_connect,
    loop_until,
    receive_all,
    serving,
    slow_reader,
    watching_connects,
)
from eventloop.checks.probes import measure
from eventloop.handlers import EventHandler, event_loop
from eventloop.recorder import Recorder
from eventloop.tcp import TCPConnection


def require_class(candidate: object, base: type, example: str) -> None:
    if not (isinstance(candidate, type) and issubclass(candidate, base)):
        raise CheckFailed(
            f"{getattr(candidate, '__name__', candidate)!r} is not a {base.__name__} class",
            hint=f"define it as `{example}`",
        )


# --- 5.1 -----------------------------------------------------------------------------------------


def check_5_1(connect_result: Callable[[tuple[str, int]], int]) -> Verdict:
    """``connect_result(address)``: 0 for a listening port, 111 (ECONNREFUSED) for a refused one."""
    return verdict("5.1", lambda: run_5_1(connect_result), time_limit=8)


def run_5_1(connect_result: Callable[[tuple[str, int]], int]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listening:
        with watching_connects(connect_result) as seen, measure() as took:
            got = attempt(connect_result, listening.getsockname(), "a listening port")
        if got == errno.EINPROGRESS:
            raise CheckFailed(
                "the connect had not finished when you read its result",
                expected="0",
                got=f"{got} (EINPROGRESS)",
                hint="EINPROGRESS means 'still going': wait with select([], [sock], [], 2) "
                "until the socket is writable, then read SO_ERROR",
            )
        expect_equal("connect_result(a listening address)", got, 0)
        expect_non_blocking_connect(seen, took.wall)
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        with watching_connects(connect_result) as seen, measure() as took:
            got = attempt(connect_result, bound.getsockname(), "a refused port")
        if got == 0:
            raise CheckFailed(
                "a refused connect was reported as a success",
                expected=f"{errno.ECONNREFUSED} (ECONNREFUSED)",
                got="0",
                hint="a refused connect is writable too: read "
                "sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) after select",
            )
        expect_equal("connect_result(a refused address)", got, errno.ECONNREFUSED)
        expect_non_blocking_connect(seen, took.wall)
    with connect_in_progress() as slow:
        if slow is None:  # not Linux: no connect that stays in progress on loopback
            return
        with watching_connects(connect_result, on_connect=slow.connect_seen) as seen:
            got = attempt(connect_result, slow.address, "a server that answers after 1 s")
        expect_non_blocking_connect(seen, 0.0)
        if got != errno.ECONNREFUSED:
            raise CheckFailed(
                "a connect still in progress was read before it finished",
                expected=f"{errno.ECONNREFUSED} (ECONNREFUSED, about 1 s later)",
                got=repr(got),
                hint="SO_ERROR is 0 while the connect is still going: wait until select "
                "says the socket is writable (up to 2 s), and only then read SO_ERROR",
            )


def attempt(connect_result: Callable, address: tuple[str, int], what: str) -> int:
    try:
        got = connect_result(address)
    except ConnectionRefusedError:
        raise CheckFailed(
            f"connecting to {what} raised ConnectionRefusedError",
            expected="an errno returned, not raised",
            hint="with setblocking(False), connect raises BlockingIOError (catch it); the "
            "result of the attempt is in SO_ERROR once the socket is writable",
        ) from None
    if not isinstance(got, int):
        raise CheckFailed(
            f"connect_result({what}) should return an int (0 or an errno)", got=repr(got)
        )
    return got


# --- 5.2 -----------------------------------------------------------------------------------------


def check_5_2(cls: type) -> Verdict:
    """``cls``: a ``TCPConnection`` that sends back every byte in upper case, without losing any."""
    return verdict("5.2", lambda: run_5_2(cls), time_limit=10)


def run_5_2(cls: type) -> None:
    require_class(cls, TCPConnection, "class UpperEchoConnection(TCPConnection):")
    first: list[TCPConnection] = []

    def remembered(sock: socket.socket, handlers: list[EventHandler]) -> EventHandler:
        first.append(cls(sock, handlers))
        return first[-1]

    with (
        serving(remembered) as (server, handlers),
        socket.create_connection(server.address, 3) as client,
    ):
        client.sendall(b"hello, ")
        loop_until(handlers, lambda: bool(first) and (first[0].bytes_in > 0 or first[0].closed), 3)
        closed_early = bool(first) and first[0].closed
        if not closed_early:
            client.sendall(b"world")
            client.shutdown(socket.SHUT_WR)
            loop_until(handlers, lambda: server.accepted == 1 and len(handlers) == 1, 3)
        try:
            reply = receive_all(client)
        except ConnectionError:
            reply = b""
    if closed_early:
        raise CheckFailed(
            "the connection closed itself after the first data, before the client had finished",
            hint="do not close in data_received: a TCPConnection closes when the client's EOF "
            "comes (eof_received), after sending what is queued",
        )
    expect_equal(
        "the reply to b'hello, ' and b'world', then EOF",
        reply,
        b"HELLO, WORLD",
        hint="in data_received(self, data): self.send(data.upper())",
    )
    big = bytes(range(97, 123)) * 40_000  # about 1 MB of a..z: more than the kernel buffers

    made: list[EventHandler] = []

    def small_buffers(sock: socket.socket, handlers: list[EventHandler]) -> EventHandler:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)  # so that send fills it
        made.append(cls(sock, handlers))
        return made[-1]

    with serving(small_buffers) as (server, handlers), slow_reader(server.address) as client:
        try:
            echoed = exchange(client, handlers, big, deadline=time.monotonic() + 6)
        except ConnectionError:
            echoed = b""
        except BlockingIOError:
            raise CheckFailed(
                "with about 1 MB to echo, your handler raised BlockingIOError",
                hint="the kernel's buffer was full: use self.send(...), which keeps what "
                "the kernel does not take now and sends it when the socket is writable",
            ) from None
    if echoed != big.upper() and any(getattr(h, "closed", False) for h in made):
        raise CheckFailed(
            f"of about 1 MB sent, {len(echoed)} bytes came back: the connection closed "
            "itself before the client had finished",
            hint="do not close in data_received: a TCPConnection closes when the client's EOF "
            "comes (eof_received), after sending what is queued",
        )
    if echoed != big.upper():
        raise CheckFailed(
            f"of about 1 MB sent, {len(echoed)} bytes came back right",
            expected=f"{len(big)} bytes, in upper case",
            got=f"{len(echoed)} bytes",
            hint="use self.send(...), which keeps what the kernel does not take now; "
            "self.sock.send may send only part of the data",
        )


# --- 5.3 -----------------------------------------------------------------------------------------


def check_5_3(cls: type) -> Verdict:
    """``cls(sock, handlers)`` counts the bytes a client sends, and closes on EOF: no busy loop."""
    return verdict("5.3", lambda: run_5_3(cls), time_limit=8)


def run_5_3(cls: type) -> None:
    require_class(cls, EventHandler, "class ByteCounter(EventHandler):")
    made: list[EventHandler] = []

    def create(sock: socket.socket, handlers: list[EventHandler]) -> EventHandler:
        made.append(cls(sock, handlers))
        return made[-1]

    closed_by_learner = False
    with serving(create) as (server, handlers):
        recorder = Recorder()
        try:
            with socket.create_connection(server.address, 3) as client:
                for _ in range(3):  # three pieces, each its own recv: a count kept with = is short
                    client.sendall(b"x" * 1000)
                    event_loop(handlers, duration=0.05, recorder=recorder, on_error="raise")
            event_loop(handlers, duration=0.3, recorder=recorder, on_error="raise")
            closed_by_learner = all(socket_closed(handler) for handler in made)
        finally:  # the check's own cleanup, only after the learner's close was looked at
            for handler in made:
                sock = getattr(handler, "sock", None)
                if isinstance(sock, socket.socket):
                    sock.close()
        calls = [c for c in recorder.handler_calls() if c.handler != "TCPServer"]
        counter = made[0] if made else None
    if len(calls) > 15:
        raise CheckFailed(
            f"after the client closed, the loop called your handler {len(calls)} times in 0.3 s",
            expected="a few calls: the data, then b'' once",
            got=f"{len(calls)} calls: a busy loop",
            hint="recv returns b'' at EOF, again and again: close the socket and remove "
            "the handler from self.handlers",
        )
    if counter is not None:
        expect_equal(
            "the bytes counted (3 × 1000 bytes, in three recv results)",
            getattr(counter, "count", None),
            3000,
            hint="add each recv's length: self.count += len(data); = keeps only the last one",
        )
    elif not calls:
        raise CheckFailed("the handler was never called", hint="does wants_to_receive return True?")
    if any(note.text.startswith("dropped") for note in recorder.notes()):
        raise CheckFailed(
            "the handler was still in the handler list after EOF: the loop had to drop it",
            hint="self.handlers.remove(self) right after closing the socket",
        )
    if counter is not None and not closed_by_learner:
        raise CheckFailed(
            "the socket is still open after EOF: it leaks a descriptor per client",
            hint="at EOF: self.sock.close(), then self.handlers.remove(self)",
        )


def socket_closed(handler: EventHandler) -> bool:
    sock = getattr(handler, "sock", None)
    return isinstance(sock, socket.socket) and sock.fileno() == -1
