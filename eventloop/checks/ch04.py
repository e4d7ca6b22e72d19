"""Checks for chapter 04's exercises (event handlers): real servers on loopback, bounded in time.

* 4.1 ``UDPUpperServer``: an ``EventHandler`` that replies in upper case.
* 4.2 ``CountingEchoServer(limit)``: echoes, then stops the loop (``StopLoop``) after ``limit``.
* 4.3 ``WordCountServer``: the post's ``recvfrom(1)`` bug (pitfall 14), fixed.
* 4.4 ``UDPAsker(server, questions)``: a whole ``EventHandler`` written from scratch, a UDP
  client that uses ``wants_to_send``/``handle_send`` to send and closes once every reply is in.

Every check runs the learner's handler in ``event_loop(..., on_error="raise")``, so an error in
it (or the exercise stub's ``NotImplementedError``) reaches the verdict instead of being dropped.
"""

from __future__ import annotations

import socket

from eventloop.checks import CheckFailed, Verdict, expect_equal, receive_datagrams, verdict
from eventloop.handlers import EventHandler, event_loop
from eventloop.udp import UDPEchoServer, UDPServer


def client_socket() -> socket.socket:
    """A UDP client on 127.0.0.1 that waits at most half a second for a reply."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    return sock


def make_server(cls: type, *args: object) -> UDPServer:
    """Create the learner's server, or say clearly why it cannot be one."""
    if not (isinstance(cls, type) and issubclass(cls, EventHandler)):
        raise CheckFailed(
            f"{getattr(cls, '__name__', cls)!r} is not an EventHandler class",
            hint="write `class MyServer(UDPServer):` (UDPServer is an EventHandler)",
        )
    server = cls(*args)
    if not isinstance(getattr(server, "sock", None), socket.socket):
        raise CheckFailed(
            "the server has no `sock` attribute",
            hint="subclass eventloop.UDPServer and call super().__init__(...) if you add one",
        )
    return server


def replies_to(cls: type, messages: list[bytes], *args: object) -> list[bytes]:
    """Send ``messages`` to a fresh ``cls(*args)``, run the loop, return every reply."""
    with make_server(cls, *args) as server, client_socket() as client:
        for message in messages:
            client.sendto(message, server.address)
        event_loop([server], max_iterations=len(messages), duration=2.0, on_error="raise")
        return receive_datagrams(client)


# --- 4.1 -------------------------------------------------------------------------------------


def check_4_1(cls: type, time_limit: float = 5) -> Verdict:
    """``cls()`` answers each datagram with the same text in upper case."""
    return verdict("4.1", lambda: run_4_1(cls), time_limit=time_limit)


def expect_guarded(cls: type, *args: object) -> None:
    """A spurious readiness (PITFALL 22): ``handle_receive`` with nothing to read must return."""
    with make_server(cls, *args) as server:
        try:
            server.handle_receive()
        except BlockingIOError:
            raise CheckFailed(
                "handle_receive raised BlockingIOError when the loop called it with nothing "
                "to read",
                expected="it returns quietly: readiness is a hint, not a promise",
                hint="wrap recvfrom in try/except BlockingIOError and return: select may "
                "report a socket readable and recv still find nothing (PITFALL 22)",
            ) from None


def run_4_1(cls: type) -> None:
    replies = replies_to(cls, [b"hello world"])
    if replies == [b"H"]:
        raise CheckFailed(
            "only the first byte came back",
            expected=repr([b"HELLO WORLD"]),
            got=repr(replies),
            hint="recvfrom(1) keeps one byte and throws the rest away: use a big buffer",
        )
    expect_equal(
        "the reply to b'hello world'",
        replies,
        [b"HELLO WORLD"],
        hint="in handle_receive: data, sender = self.sock.recvfrom(...); "
        "then self.sock.sendto(data.upper(), sender)",
    )
    expect_equal(
        "the replies to b'abc' and b'Event Loop'",
        replies_to(cls, [b"abc", b"Event Loop"]),
        [b"ABC", b"EVENT LOOP"],
        hint="reply to each datagram, to the address recvfrom returned with it",
    )
    expect_guarded(cls)


# --- 4.2 -------------------------------------------------------------------------------------


def check_4_2(cls: type, time_limit: float = 5) -> Verdict:
    """``cls(3)`` echoes three datagrams, then raises ``StopLoop``: the loop returns "stopped"."""
    return verdict("4.2", lambda: run_4_2(cls), time_limit=time_limit)


def run_4_2(cls: type) -> None:
    messages = [b"one", b"two", b"three", b"four", b"five"]
    with make_server(cls, 3) as server, client_socket() as client:
        for message in messages:
            client.sendto(message, server.address)
        reason = event_loop([server], duration=1.0, on_error="raise")
        replies = receive_datagrams(client)
    if reason == "duration":
        raise CheckFailed(
            "the loop never stopped: it ran until its 1 s deadline",
            expected="event_loop(...) returns 'stopped'",
            got=repr(reason),
            hint="after the limit-th echo, `raise StopLoop` (from eventloop import StopLoop); "
            "count with += (self.requests, kept by UDPEchoServer, already does)",
        )
    expect_equal("why event_loop stopped", reason, "stopped")
    expect_equal(
        "the echoes before the loop stopped",
        replies,
        messages[:3],
        hint="echo first, then count, then raise StopLoop once the count reaches the limit",
    )


# --- 4.3 -------------------------------------------------------------------------------------


def check_4_3(cls: type, time_limit: float = 5) -> Verdict:
    """``cls()`` replies with the number of words in each datagram, however long it is."""
    return verdict("4.3", lambda: run_4_3(cls), time_limit=time_limit)


def run_4_3(cls: type) -> None:
    expect_equal(
        "the reply to b'hello big world'",
        replies_to(cls, [b"hello big world"]),
        [b"3"],
        hint="reply str(len(data.split())).encode(); read the whole datagram first",
    )
    long = b"word " * 3000  # 15000 bytes: more than the post's 8192-byte buffer
    got = replies_to(cls, [long])
    counted = got[0] if len(got) == 1 and got[0].isdigit() else b""
    if counted and int(counted) > 3000:
        raise CheckFailed(
            f"3000 words were counted as {int(counted)}: too many",
            expected=repr([b"3000"]),
            got=repr(got),
            hint="data.split() with no argument splits on any run of whitespace and drops "
            "empty pieces; split(b' ') also counts the empty piece after the last space, "
            "and len(data) counts bytes",
        )
    if got != [b"3000"]:
        raise CheckFailed(
            "a 15000-byte datagram was counted short: it was cut when it was read",
            expected=repr([b"3000"]),
            got=repr(got),
            hint="a UDP datagram can carry up to 65507 bytes: recvfrom(65535) "
            "(eventloop.udp.MAX_DATAGRAM) never truncates",
        )
    expect_guarded(cls)


# --- 4.4 -------------------------------------------------------------------------------------

QUESTIONS = [b"one", b"two", b"three"]


def check_4_4(cls: type, time_limit: float = 5) -> Verdict:
    """``cls(server, questions)`` sends every question, keeps every reply, then closes."""
    return verdict("4.4", lambda: run_4_4(cls), time_limit=time_limit)


def sockets_of(handler: object) -> list[socket.socket]:
    """The sockets a handler keeps in its attributes, whatever the learner named them."""
    return [value for value in vars(handler).values() if isinstance(value, socket.socket)]


def run_4_4(cls: type) -> None:
    if not (isinstance(cls, type) and issubclass(cls, EventHandler)):
        raise CheckFailed(
            f"{getattr(cls, '__name__', cls)!r} is not an EventHandler class",
            hint="write `class UDPAsker(EventHandler):` and its five methods",
        )
    with UDPEchoServer() as server:
        asker = cls(server.address, list(QUESTIONS))
        try:
            ask_and_judge(asker, server)
        finally:
            for sock in sockets_of(asker):
                sock.close()


def ask_and_judge(asker: EventHandler, server: UDPEchoServer) -> None:
    """Run the asker against an echo server, then judge what it did."""
    owned = sockets_of(asker)
    if not owned:
        raise CheckFailed(
            "the handler keeps no socket in an attribute",
            hint="create it in __init__: self.sock = socket.socket(AF_INET, SOCK_DGRAM), and "
            "return self.sock.fileno() from fileno()",
        )
    if any(sock.getblocking() for sock in owned):
        raise CheckFailed(
            "the handler's socket is blocking",
            hint="call self.sock.setblocking(False) in __init__: a blocking recv inside an "
            "event loop stalls every other handler",
        )
    if not asker.wants_to_send():
        raise CheckFailed(
            "a new handler with three questions says wants_to_send() == False",
            expected="True: it has something to send",
            hint="wants_to_send must return True while a question is left to send",
        )
    replies = getattr(asker, "replies", None)
    if not isinstance(replies, list):
        raise CheckFailed(
            "the handler has no `replies` list",
            hint="set self.replies = [] in __init__ and append each reply in handle_receive",
        )
    event_loop(
        [server, asker],
        until=lambda: len(replies) >= len(QUESTIONS) and asker.fileno() == -1,
        duration=1.0,
        on_error="raise",
    )
    if server.requests > len(QUESTIONS):
        raise CheckFailed(
            f"the server received {server.requests} datagrams for {len(QUESTIONS)} questions",
            hint="after sending a question, take it off the list (e.g. self.to_send.pop(0)), "
            "so that each is sent once and wants_to_send becomes False",
        )
    if not replies:
        raise CheckFailed(
            "no reply was kept",
            expected=repr(QUESTIONS),
            got="[]",
            hint="wants_to_receive must return True while replies are awaited; "
            "handle_receive appends self.sock.recv(...) to self.replies",
        )
    expect_equal(
        "the replies",
        replies,
        QUESTIONS,
        hint="send each question once, in order, with sendto(question, server); keep each "
        "reply (the echo server sends the question back)",
    )
    if asker.wants_to_send():
        raise CheckFailed(
            "every question was sent, yet wants_to_send() still returns True",
            hint="wants_to_send must return True only while a question is left to send: "
            "otherwise the socket, always writable, wakes the loop for nothing (a busy loop)",
        )
    if asker.fileno() != -1:
        raise CheckFailed(
            "after its last reply the handler's socket is still open",
            hint="close the socket in handle_receive once every reply is in: the loop drops "
            "a closed handler, and nothing leaks",
        )
    expect_guarded_asker(type(asker), server)


def expect_guarded_asker(cls: type, server: UDPEchoServer) -> None:
    """A spurious readiness (PITFALL 22): ``handle_receive`` with nothing to read returns."""
    asker = cls(server.address, list(QUESTIONS))
    try:
        asker.handle_receive()
    except BlockingIOError:
        raise CheckFailed(
            "handle_receive raised BlockingIOError when the loop called it with nothing to read",
            expected="it returns quietly: readiness is a hint, not a promise",
            hint="wrap recv in try/except BlockingIOError and return (PITFALL 22)",
        ) from None
    finally:
        for sock in sockets_of(asker):
            sock.close()
