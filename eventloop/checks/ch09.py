"""Checks for chapter 09's exercises (selectors): real sockets on loopback, bounded in time.

* 9.1 ``events_for(handler) -> int``: the ``selectors`` mask for what a handler wants.
* 9.2 ``echo(selector, sock, count)``: the loop that registers on every iteration
  (PITFALL 3, ``KeyError: ... is already registered``), fixed.
* 9.3 ``sync(selector, changed)``: keep a selector in step with the handlers
  whose interest may have changed: register, modify, unregister, or nothing.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from eventloop.checks import CheckFailed, Verdict, expect_equal, verdict
from eventloop.handlers import EventHandler

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
MASKS = {0: "0", READ: "EVENT_READ", WRITE: "EVENT_WRITE", READ | WRITE: "EVENT_READ | EVENT_WRITE"}


class CountingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The platform's selector, counting ``register``, ``modify``, ``unregister`` calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.registered_events: list[int] = []

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        self.calls["register"] += 1
        self.registered_events.append(events)
        return super().register(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self.calls["select"] += 1
        return super().select(timeout)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        self.calls["modify"] += 1
        return super().modify(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        self.calls["unregister"] += 1
        return super().unregister(fileobj)


class Wanting(EventHandler):
    """A handler on one end of a socketpair whose wishes the check sets by hand."""

    def __init__(self, name: str, receive: bool = False, send: bool = False) -> None:
        self.name = name
        self.sock, self.peer = socket.socketpair()
        self.receive, self.send = receive, send

    def fileno(self) -> int:
        return self.sock.fileno()

    def wants_to_receive(self) -> Verdict:
        return self.receive

    def wants_to_send(self) -> Verdict:
        return self.send

    def close(self) -> None:
        self.sock.close()
        self.peer.close()

    def __repr__(self) -> str:
        return f"<{self.name} receive={self.receive} send={self.send}>"


def mask_name(mask: object) -> str:
    """``EVENT_READ | EVENT_WRITE`` rather than ``3``."""
    return MASKS.get(mask, repr(mask)) if isinstance(mask, int) else repr(mask)


# --- 9.1 -----------------------------------------------------------------------------------------


def check_9_1(events_for: Callable[[EventHandler], int], time_limit: float = 5) -> Verdict:
    """``events_for`` turns the two ``wants_*`` answers into a ``selectors`` mask."""
    return verdict("9.1", lambda: run_9_1(events_for), time_limit=time_limit)


def run_9_1(events_for: Callable[[EventHandler], int]) -> None:
    cases = [
        (False, False, 0),
        (True, False, READ),
        (False, True, WRITE),
        (True, True, READ | WRITE),
    ]
    for receive, send, expected in cases:
        handler = Wanting("handler", receive, send)
        try:
            got = events_for(handler)
        finally:
            handler.close()
        if not isinstance(got, int) or isinstance(got, bool) and expected not in (0, 1):
            raise CheckFailed(
                f"events_for should return an int mask, for a handler that wants to receive: "
                f"{receive}, to send: {send}",
                expected=mask_name(expected),
                got=repr(got),
                hint="combine selectors.EVENT_READ and selectors.EVENT_WRITE with |",
            )
        if got != expected:
            hint = "EVENT_READ is for wants_to_receive, EVENT_WRITE for wants_to_send"
            if receive and send and got in (READ, WRITE):
                hint = (
                    "both bits: EVENT_READ | EVENT_WRITE. `a and b` gives only b, an if/elif "
                    "chain only one of them, and `events = ...` instead of `events |= ...` "
                    "keeps only the last"
                )
            raise CheckFailed(
                f"wrong mask for a handler that wants to receive: {receive}, to send: {send}",
                expected=mask_name(expected),
                got=mask_name(got),
                hint=hint,
            )


# --- 9.2 -----------------------------------------------------------------------------------------


def try_echo(echo: Callable[[selectors.BaseSelector, socket.socket, int], None]) -> None:
    """Run an ``echo`` as the exercise does (three datagrams), printing what happened.

    Used on the buggy version: it shows the learner the exception, then returns.
    """
    try:
        replies, selector_calls, _ = run_echo(echo, 3)
    except Exception as error:  # the point: show what the buggy loop raises
        print(f"{type(error).__name__}: {error}")
        return
    changes = {name: n for name, n in selector_calls.items() if name != "select"}
    print(f"{len(replies)} echoes; the selector saw {changes}")


def run_echo(
    echo: Callable[[selectors.BaseSelector, socket.socket, int], None], count: int
) -> tuple[list[bytes], Counter[str], bool]:
    """Echo ``count`` datagrams with ``echo``; return the replies, the selector's calls
    and whether the socket was still registered when ``echo`` returned."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
        CountingSelector() as selector,
    ):
        server.bind(("127.0.0.1", 0))
        server.setblocking(False)
        client.bind(("127.0.0.1", 0))
        client.settimeout(0.5)
        for n in range(count - 1):
            client.sendto(b"message %d" % n, server.getsockname())

        def last_one_later() -> None:  # a gap in which a polling loop spins
            time.sleep(0.25)
            client.sendto(b"message %d" % (count - 1), server.getsockname())

        late = threading.Thread(target=last_one_later)
        late.start()
        try:
            echo(selector, server, count)
        finally:
            still_registered = server in selector.get_map()
            late.join()
        replies = []
        for _ in range(count):
            try:
                replies.append(client.recv(100))
            except TimeoutError:
                break
        return replies, selector.calls, still_registered


def check_9_2(
    echo: Callable[[selectors.BaseSelector, socket.socket, int], None], time_limit: float = 5
) -> Verdict:
    """``echo`` registers once, echoes ``count`` datagrams, and unregisters at the end."""
    return verdict("9.2", lambda: run_9_2(echo), time_limit=time_limit)


def run_9_2(echo: Callable[[selectors.BaseSelector, socket.socket, int], None]) -> None:
    try:
        replies, calls, still_registered = run_echo(echo, 3)
    except BlockingIOError:
        raise CheckFailed(
            "the selector said ready, and recvfrom found nothing: BlockingIOError",
            hint="register for selectors.EVENT_READ: a UDP socket is always writable, so "
            "EVENT_WRITE is ready at once with nothing to read",
        ) from None
    except KeyError as error:
        if "already registered" not in str(error):
            raise
        raise CheckFailed(
            "the loop registered the socket a second time: KeyError: ... is already registered",
            hint="register once, before the loop; the selector remembers it between waits",
        ) from None
    expect_equal(
        "the echoes of three datagrams",
        sorted(replies),
        [b"message 0", b"message 1", b"message 2"],
        hint="recvfrom the ready socket, then sendto the sender, once per datagram",
    )
    if calls["register"] != 1:
        raise CheckFailed(
            "the socket was registered more than once",
            expected="1 register call",
            got=f"{calls['register']} register calls ({calls['unregister']} unregister)",
            hint="register and unregister in every iteration works, but costs two system calls "
            "per wait with epoll: register once, before the loop",
        )
    if still_registered:
        raise CheckFailed(
            "the socket was still registered when echo returned",
            hint="unregister it at the end (in a finally:), so the selector can be reused",
        )
    if calls["select"] > 20:
        raise CheckFailed(
            f"echo called selector.select {calls['select']} times for 3 datagrams: it polls",
            expected="a few select calls, each sleeping until a datagram arrives",
            got=f"{calls['select']} calls while waiting 0.25 s for the third datagram",
            hint="select(timeout=0) returns at once and the loop spins, burning a CPU core: "
            "give select a timeout (the time left until your deadline)",
        )


# --- 9.3 -----------------------------------------------------------------------------------------


def check_9_3(
    sync: Callable[[selectors.BaseSelector, Iterable[EventHandler]], None], time_limit: float = 5
) -> Verdict:
    """``sync`` registers, modifies, unregisters or leaves alone, as each handler needs."""
    return verdict("9.3", lambda: run_9_3(sync), time_limit=time_limit)


def run_9_3(sync: Callable[[selectors.BaseSelector, Iterable[EventHandler]], None]) -> None:
    a, b = Wanting("a", receive=True), Wanting("b")
    try:
        with CountingSelector() as selector:
            steps: list[tuple[str, list[Wanting], Callable[[], None], dict[str, int], dict]] = [
                ("a wants to receive, b nothing", [a, b], lambda: None, {"register": 1}, {a: READ}),
                (
                    "a now wants to send as well",
                    [a],
                    lambda: setattr(a, "send", True),
                    {"modify": 1},
                    {a: READ | WRITE},
                ),
                ("a again, unchanged", [a], lambda: None, {}, {a: READ | WRITE}),
                (
                    "b now wants to send",
                    [b],
                    lambda: setattr(b, "send", True),
                    {"register": 1},
                    {a: READ | WRITE, b: WRITE},
                ),
                (
                    "b wants nothing any more",
                    [b],
                    lambda: setattr(b, "send", False),
                    {"unregister": 1},
                    {a: READ | WRITE},
                ),
                ("a was closed", [a], a.sock.close, {"unregister": 1}, {}),
            ]
            for what, changed, change, expected_calls, expected_map in steps:
                change()
                check_sync_step(sync, selector, what, changed, expected_calls, expected_map)
    finally:
        a.close()
        b.close()


def check_sync_step(
    sync: Callable[[selectors.BaseSelector, Iterable[EventHandler]], None],
    selector: CountingSelector,
    what: str,
    changed: list[Wanting],
    expected_calls: dict[str, int],
    expected_map: dict[Wanting, int],
) -> None:
    """Run ``sync`` for one step; fail on the wrong selector calls or the wrong watched set."""
    before = Counter(selector.calls)
    try:
        sync(selector, changed)
    except KeyError as error:
        raise CheckFailed(
            f"step '{what}': KeyError: {error}",
            hint="register only what is not registered yet; otherwise modify",
        ) from None
    except ValueError as error:
        hint = "a closed handler's fileno() is -1: unregister it, do not modify it"
        if "Invalid events" in str(error):
            hint = "a handler that wants nothing must be unregistered (0 is no mask)"
        raise CheckFailed(f"step '{what}': ValueError: {error}", hint=hint) from None
    calls = dict(Counter(selector.calls) - before)
    watched = {key.fileobj: key.events for key in selector.get_map().values()}
    if calls != expected_calls:
        raise CheckFailed(
            f"step '{what}': the wrong selector calls",
            expected=expected_calls or "no call at all",
            got=calls or "no call at all",
            hint="nothing changed means no call: compare with get_key(h).events"
            if not expected_calls
            else "register what is new, modify what changed, unregister what "
            "wants nothing or was closed",
        )
    if watched != expected_map:
        raise CheckFailed(
            f"step '{what}': the selector watches the wrong things",
            expected={h.name: mask_name(m) for h, m in expected_map.items()},
            got={getattr(h, "name", h): mask_name(m) for h, m in watched.items()},
            hint="register each handler itself (fileobj=handler), with its mask",
        )
