"""Stage 06: framing on a byte stream (eventloop/framing.py)."""

from __future__ import annotations

import select
import socket
from collections.abc import Callable, Iterator
from functools import partial

import pytest

from eventloop.blocking import recv_exactly
from eventloop.framing import (
    HEADER,
    KEYS_PIECE,
    MAX_VALUE,
    BufferBudget,
    KeyValueProtocol,
    KeyValueStore,
    LengthPrefixedProtocol,
    LineProtocol,
    frame_message,
    recv_message,
)
from eventloop.handlers import EventHandler, event_loop
from eventloop.tcp import HIGH_WATER, TCPConnection
from eventloop.tcp_server import TCPServer


class Lines(LineProtocol):
    max_line = 16

    def __init__(self, sock, handlers, **options):
        super().__init__(sock, handlers, **options)
        self.lines: list[bytes] = []

    def line_received(self, line: bytes) -> None:
        self.lines.append(line)
        self.send_line(line.upper())


class Messages(LengthPrefixedProtocol):
    max_size = 1000

    def __init__(self, sock, handlers, **options):
        super().__init__(sock, handlers, **options)
        self.messages: list[bytes] = []

    def message_received(self, message: bytes) -> None:
        self.messages.append(message)
        self.send_message(message[::-1])


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    right.settimeout(3)
    with left, right:
        yield left, right


def serve(factory: Callable, sock: socket.socket) -> tuple[list[EventHandler], EventHandler]:
    handlers: list[EventHandler] = []
    connection = factory(sock.dup(), handlers)
    handlers.append(connection)
    return handlers, connection


def feed(handlers: list[EventHandler], connection, chunks: list[bytes], peer: socket.socket):
    """Deliver ``chunks`` one ``recv`` at a time: each chunk is one data_received."""
    for chunk in chunks:
        peer.sendall(chunk)
        before = connection.bytes_in
        event_loop(handlers, until=lambda b=before: connection.bytes_in > b, duration=3)


def test_lines_split_across_recvs_and_many_in_one(pair):
    left, right = pair
    handlers, lines = serve(Lines, left)
    feed(handlers, lines, [b"he", b"llo\nwor", b"ld\r\none\ntwo\nthr", b"ee\n"], right)
    assert lines.lines == [b"hello", b"world", b"one", b"two", b"three"]
    assert lines.pieces == 4 and lines.frames == 5
    assert recv_exactly(right, 26) == b"HELLO\nWORLD\nONE\nTWO\nTHREE\n"
    lines.close()


def test_a_line_too_long_gets_an_error_then_eof_and_a_clean_close(pair):
    left, right = pair
    handlers, lines = serve(Lines, left)
    feed(handlers, lines, [b"ok\n", b"x" * 17], right)
    assert lines.lines == [b"ok"] and lines.refused
    assert recv_exactly(right, 3) == b"OK\n"
    assert right.recv(100) == b"error: line longer than 16 bytes\n"
    assert right.recv(100) == b""  # EOF: the server half-closed
    feed(handlers, lines, [b"ignored\n"], right)  # still read, and discarded
    assert lines.lines == [b"ok"] and not lines.closed
    right.shutdown(socket.SHUT_WR)
    event_loop(handlers, until=lambda: lines.closed, duration=3)
    assert lines.closed and handlers == []


def test_a_long_line_whose_newline_comes_late_is_refused_too(pair):
    left, right = pair
    handlers, lines = serve(Lines, left)
    feed(handlers, lines, [b"y" * 20 + b"\n"], right)
    assert lines.refused and lines.lines == []
    lines.close()


def test_length_prefixed_messages_in_pieces_and_binary_safe(pair):
    left, right = pair
    handlers, messages = serve(Messages, left)
    stream = frame_message(b"one\n\x00two") + frame_message(b"") + frame_message(b"three")
    feed(handlers, messages, [stream[:2], stream[2:9], stream[9:]], right)
    assert messages.messages == [b"one\n\x00two", b"", b"three"]
    assert recv_message(right) == b"owt\x00\neno"
    assert recv_message(right) == b""
    assert recv_message(right) == b"eerht"
    messages.close()


def test_an_oversized_length_is_refused_before_any_body_arrives(pair):
    left, right = pair
    handlers, messages = serve(Messages, left)
    feed(handlers, messages, [HEADER.pack(4_000_000_000)], right)
    assert messages.refused and len(messages.buffer) == 0
    assert recv_message(right) == b"error: message of 4000000000 bytes is larger than 1000"
    with pytest.raises(EOFError):
        recv_message(right)
    messages.close()


def ask(client: socket.socket, handlers, line: bytes) -> bytes:
    client.sendall(line + b"\n")
    reply = bytearray()
    event_loop(
        handlers, until=lambda: reply.endswith(b"\n") or read_some(client, reply), duration=3
    )
    return bytes(reply).rstrip(b"\n")


def read_some(client: socket.socket, into: bytearray) -> bool:
    client.setblocking(False)
    try:
        into += client.recv(4096)
    except BlockingIOError:
        pass
    return into.endswith(b"\n")


def test_key_value_server_shares_its_store_and_survives_a_bad_client():
    store = KeyValueStore()
    handlers: list[EventHandler] = []
    factory = partial(KeyValueProtocol, store=store)
    with TCPServer(handlers, connection=factory) as server:
        alice = socket.create_connection(server.address, timeout=3)
        bob = socket.create_connection(server.address, timeout=3)
        bad = socket.create_connection(server.address, timeout=3)
        with alice, bob, bad:
            assert ask(alice, handlers, b"SET colour dark blue") == b"OK"
            assert ask(bob, handlers, b"GET colour") == b"VALUE dark blue"
            assert ask(bob, handlers, b"KEYS") == b"colour"
            assert (
                ask(bob, handlers, b"FLY away")
                == b"error: expected SET key value, GET key, DEL key or KEYS"
            )
            bad.sendall(b"x" * 70_000)  # longer than MAX_LINE, no newline
            bad.settimeout(3)
            reply = b""
            while not reply.endswith(b"\n"):
                event_loop(handlers, duration=0.05)
                reply += bad.recv(200)
            assert reply == b"error: line longer than 65536 bytes\n"
            assert ask(alice, handlers, b"DEL colour") == b"OK"
            assert ask(bob, handlers, b"GET colour") == b"NOT FOUND"
            assert ask(bob, handlers, b"KEYS") == b"(no keys)"
        assert store == {}


# --- the key-value server's memory has limits (hardening) -------------------------------------


def key_value_server(store: KeyValueStore) -> tuple[list[EventHandler], TCPServer]:
    handlers: list[EventHandler] = []
    return handlers, TCPServer(handlers, connection=partial(KeyValueProtocol, store=store))


def test_pipelined_commands_never_read_cannot_grow_the_outgoing_buffer_past_high_water():
    """20,000 five-byte KEYS commands, each answered with 1 KiB, and the client never reads.

    Answering a whole 64 KiB read at once queued about 13 MB; parsing now stops while
    reading is paused, so the peak buffer stays near the high-water mark.
    """
    store = KeyValueStore()
    for n in range(10):
        store[b"k%02d" % n + b"x" * 97] = b"v"
    handlers, server = key_value_server(store)
    commands = b"KEYS\n" * 20_000
    with server, socket.create_connection(server.address, timeout=3) as client:
        client.setblocking(False)
        sent = client.send(commands)  # the kernel takes what fits; the client then stops
        event_loop(
            handlers,
            duration=3,
            until=lambda: server_paused(handlers),
        )
        event_loop(handlers, max_iterations=20, duration=3)  # the paused server stays paused
        [connection] = [h for h in handlers if isinstance(h, TCPConnection)]
        reply_size = len(b" ".join(sorted(store))) + 1
        assert sent > 60_000  # enough commands arrived to queue megabytes if all were answered
        assert connection.pauses >= 1
        assert connection.max_buffered <= HIGH_WATER + reply_size, connection.max_buffered


def test_parsing_resumes_when_the_client_reads_and_every_command_is_answered():
    store = KeyValueStore()
    store[b"key" + b"x" * 1000] = b"v"
    handlers, server = key_value_server(store)
    count = 10_000  # 50 KB of commands fit in the kernel's buffers; 10 MB of replies do not
    with server, socket.create_connection(server.address, timeout=3) as client:
        client.sendall(b"KEYS\n" * count)
        client.setblocking(False)
        event_loop(handlers, duration=3, until=lambda: server_paused(handlers))
        replies = bytearray()
        for _ in range(2_000):  # serve a little, read what came, until every reply is in
            event_loop(handlers, max_iterations=3, duration=0.05)
            while drain_once(client, replies):
                pass
            if replies.count(b"\n") == count:
                break
        [connection] = [h for h in handlers if isinstance(h, TCPConnection)]
    assert replies.count(b"\n") == count
    assert connection.pauses >= 1  # it did pause, and came back to the waiting commands


def server_paused(handlers: list[EventHandler]) -> bool:
    """Has a connection paused reading because its outgoing buffer passed high water?"""
    return any(isinstance(h, TCPConnection) and h.pauses for h in handlers)


def drain_once(client: socket.socket, into: bytearray) -> bool:
    """Read one chunk if there is one: True if something was read."""
    try:
        chunk = client.recv(65536)
    except BlockingIOError:
        return False
    into += chunk
    return bool(chunk)


def test_a_value_too_large_and_a_full_store_are_refused_with_a_reason():
    store = KeyValueStore(max_bytes=100)
    handlers, server = key_value_server(store)
    with server, socket.create_connection(server.address, timeout=3) as client:
        too_big = b"SET big " + b"x" * (MAX_VALUE + 1)
        assert ask(client, handlers, too_big) == b"error: value larger than %d bytes" % MAX_VALUE
        assert ask(client, handlers, b"SET a " + b"x" * 90) == b"OK"
        assert (
            ask(client, handlers, b"SET b " + b"x" * 20) == b"error: the store is full (100 bytes)"
        )
        assert ask(client, handlers, b"SET a " + b"y" * 95) == b"OK"  # replacing frees the old
        assert ask(client, handlers, b"DEL a") == b"OK"
        assert store.bytes_used == 0
        assert ask(client, handlers, b"SET b " + b"x" * 20) == b"OK"


def test_a_plain_dict_as_store_is_refused_with_what_to_use():
    left, right = socket.socketpair()
    with left, right, pytest.raises(TypeError, match="store = KeyValueStore()"):
        KeyValueProtocol(left, [], store={})


EVICTED = (
    b"error: the server holds too much unfinished data from its clients, and yours is the largest"
)


def test_unfinished_messages_from_many_clients_share_one_bounded_budget():
    """Five clients each send 900 KiB of a 1 MiB message and wait: a 3 MiB budget holds three.

    Without the shared budget each connection's own limit (1 MiB) allows 4.5 MiB here,
    and 200 such clients would hold 200 MiB.
    """
    budget = BufferBudget(max_bytes=3 * 1024 * 1024)
    handlers: list[EventHandler] = []
    part = HEADER.pack(1024 * 1024) + b"x" * (900 * 1024)

    def framed() -> list[LengthPrefixedProtocol]:
        return [h for h in handlers if isinstance(h, LengthPrefixedProtocol)]

    def settled() -> bool:  # every connection has all its bytes, or was refused
        return len(framed()) == 5 and all(h.refused or len(h.buffer) == len(part) for h in framed())

    with TCPServer(handlers, connection=partial(LengthPrefixedProtocol, budget=budget)) as server:
        clients = [socket.create_connection(server.address, timeout=3) for _ in range(5)]
        try:
            for client in clients:
                client.sendall(part)
            event_loop(handlers, duration=5, until=settled)
            assert [h.refused for h in framed()].count(True) == 2
            assert budget.peak <= budget.max_bytes
            replies = [recv_message(c) for c in clients if select.select([c], [], [], 1)[0]]
            assert replies == [EVICTED, EVICTED]
        finally:
            for client in clients:
                client.close()
    assert budget.used == 0  # every connection gave its share back when it closed


def test_a_keys_reply_larger_than_high_water_waits_in_the_store_not_in_the_buffer():
    """Five clients each send KEYS once and never read; the reply is 8 MB.

    Queuing the reply whole put megabytes per client in the outgoing buffer (40
    such clients grew the server by 519 MB); it is now sent a piece at a time,
    as the buffer drains, so each buffer stays near the high-water mark.
    """
    store = KeyValueStore()
    for n in range(8000):
        store[b"key-%05d-" % n + b"x" * 990] = b"v"  # 1000-byte keys: an 8 MB reply
    handlers, server = key_value_server(store)
    with server:
        clients = [socket.create_connection(server.address, timeout=3) for _ in range(5)]
        try:
            for client in clients:
                client.sendall(b"KEYS\n")
            event_loop(handlers, duration=5, until=lambda: paused_connections(handlers) == 5)
            event_loop(handlers, max_iterations=20, duration=0.5)  # the paused server stays paused
            connections = [h for h in handlers if isinstance(h, KeyValueProtocol)]
            assert len(connections) == 5
            for connection in connections:
                assert connection.max_buffered <= HIGH_WATER + KEYS_PIECE + 1000
                assert connection.bytes_out + len(connection.outgoing) < 8_000_000  # not all sent
        finally:
            for client in clients:
                client.close()


def paused_connections(handlers: list[EventHandler]) -> int:
    """How many connections have stopped reading for backpressure."""
    return sum(isinstance(h, TCPConnection) and not h.reading for h in handlers)


def test_a_long_keys_reply_arrives_whole_and_in_order_with_the_commands_after_it():
    store = KeyValueStore()
    for n in reversed(range(8000)):
        store[b"key-%05d-" % n + b"x" * 990] = b"v"
    last = b"key-07999-" + b"x" * 990
    expected = b" ".join(sorted(store)) + b"\nVALUE v\nOK\n"  # DEL waits for KEYS to finish
    handlers, server = key_value_server(store)
    with server, socket.create_connection(server.address, timeout=3) as client:
        client.sendall(b"KEYS\nGET " + last + b"\nDEL " + last + b"\n")
        client.setblocking(False)
        replies = bytearray()
        for _ in range(5_000):  # serve a little, read what came, until every reply is in
            event_loop(handlers, max_iterations=3, duration=0.05)
            while drain_once(client, replies):
                pass
            if len(replies) >= len(expected):
                break
    assert bytes(replies) == expected
    assert last not in store


def test_keys_on_an_empty_store_and_after_every_key_is_deleted():
    store = KeyValueStore()
    handlers, server = key_value_server(store)
    with server, socket.create_connection(server.address, timeout=3) as client:
        assert ask(client, handlers, b"KEYS") == b"(no keys)"
        assert ask(client, handlers, b"SET b 2") == b"OK"
        assert ask(client, handlers, b"SET a 1") == b"OK"
        assert ask(client, handlers, b"keys") == b"a b"
        assert ask(client, handlers, b"SET a 3") == b"OK"
        assert ask(client, handlers, b"DEL b") == b"OK"
        assert ask(client, handlers, b"KEYS") == b"a"
        assert ask(client, handlers, b"DEL a") == b"OK"
        assert ask(client, handlers, b"KEYS") == b"(no keys)"


def test_keys_changed_by_another_client_during_a_long_reply_keep_it_well_formed():
    """While Alice's KEYS reply waits for her to read, Bob deletes and adds keys."""
    store = KeyValueStore()
    for n in range(8000):
        store[b"key-%05d-" % n + b"x" * 990] = b"v"
    handlers, server = key_value_server(store)
    with server:
        alice = socket.create_connection(server.address, timeout=3)
        bob = socket.create_connection(server.address, timeout=3)
        with alice, bob:
            alice.sendall(b"KEYS\n")
            event_loop(handlers, duration=5, until=lambda: paused_connections(handlers) == 1)
            [listing] = [h for h in handlers if isinstance(h, KeyValueProtocol) and h.listing]
            sent_last = listing.listed
            assert ask(bob, handlers, b"DEL " + sent_last) == b"OK"  # already sent to Alice
            assert ask(bob, handlers, b"DEL key-07999-" + b"x" * 990) == b"OK"  # not yet sent
            assert ask(bob, handlers, b"SET zzz 1") == b"OK"  # sorts after every other key
            alice.setblocking(False)
            reply = bytearray()
            for _ in range(5_000):
                event_loop(handlers, max_iterations=3, duration=0.05)
                while drain_once(alice, reply):
                    pass
                if reply.endswith(b"\n"):
                    break
    keys = bytes(reply).removesuffix(b"\n").split(b" ")
    assert keys == sorted(keys) and b"" not in keys  # sorted, no doubled or trailing space
    assert keys[-1] == b"zzz" and sent_last in keys and b"key-07999-" + b"x" * 990 not in keys
    assert len(keys) == 8000


# --- the shared budget: slow clients cannot lock newcomers out --------------------------------


def test_a_newcomer_is_served_while_slow_clients_hold_the_whole_budget():
    """Four slow clients park unfinished messages that fill the budget; a fifth is served.

    Refusing whoever found the budget full refused every new client for as long as the
    slow ones waited (64 clients parking 1 MiB each locked out the default budget); now
    the client holding the most, the oldest of equals, is told why and dropped instead.
    """
    budget = BufferBudget(max_bytes=4000)
    handlers: list[EventHandler] = []
    part = HEADER.pack(1000) + b"x" * 996  # 1000 bytes of a message of 1004: never finished

    def framed() -> list[Messages]:
        return [h for h in handlers if isinstance(h, Messages)]

    with TCPServer(handlers, connection=partial(Messages, budget=budget)) as server:
        slow = [socket.create_connection(server.address, timeout=3) for _ in range(4)]
        newcomer = socket.create_connection(server.address, timeout=3)
        try:
            for count, client in enumerate(slow, 1):  # one after the other: oldest first
                client.sendall(part)
                event_loop(handlers, duration=3, until=lambda c=count: budget.used == 1000 * c)
            assert budget.used == budget.max_bytes == 4000  # full
            newcomer.sendall(frame_message(b"hello"))
            oldest = max(framed(), key=lambda m: m.counted)  # the first of the four
            event_loop(handlers, duration=3, until=lambda: any(m.messages for m in framed()))
            assert recv_message(newcomer) == b"olleh"  # served
            assert oldest.refused and [m.refused for m in framed()].count(True) == 1
            assert recv_message(slow[0]) == EVICTED  # told why, then EOF
            assert slow[0].recv(100) == b""
            assert budget.used == 3000 and budget.peak <= budget.max_bytes
            slow[0].close()
            event_loop(handlers, duration=3, until=lambda: oldest.closed)
            assert oldest.closed and oldest not in handlers
        finally:
            for client in [*slow, newcomer]:
                client.close()
    assert budget.used == 0


def test_a_client_that_would_hold_the_most_is_the_one_refused():
    budget = BufferBudget(max_bytes=2500)
    handlers: list[EventHandler] = []
    with TCPServer(handlers, connection=partial(Messages, budget=budget)) as server:
        small = socket.create_connection(server.address, timeout=3)
        big = socket.create_connection(server.address, timeout=3)
        with small, big:
            small.sendall(HEADER.pack(1000) + b"x" * 496)  # holds 500
            event_loop(handlers, duration=3, until=lambda: budget.used == 500)
            big.sendall(HEADER.pack(1000) + b"x" * 996)  # holds 1000
            event_loop(handlers, duration=3, until=lambda: budget.used == 1500)
            big.sendall(b"y" * 600)  # 1500 + 600 fits (2100); it would hold 1600
            big.sendall(frame_message(b"z" * 600))  # 2100 + 604 does not fit: big is the largest
            event_loop(handlers, duration=3, until=lambda: select.select([big], [], [], 0)[0])
            assert recv_message(big) == EVICTED
            assert budget.used == 500  # the small client keeps its share


def test_a_client_that_half_closes_after_keys_still_gets_the_whole_long_reply():
    """``echo KEYS | nc -N``: the client sends KEYS and EOF at once, then reads everything."""
    store = KeyValueStore()
    for n in range(8000):
        store[b"key-%05d-" % n + b"x" * 990] = b"v"
    handlers, server = key_value_server(store)
    with server, socket.create_connection(server.address, timeout=3) as client:
        client.sendall(b"KEYS\n")
        client.shutdown(socket.SHUT_WR)
        client.setblocking(False)
        reply = bytearray()
        for _ in range(5_000):  # serve a little, read what came, until EOF
            event_loop(handlers, max_iterations=3, duration=0.05)
            while drain_once(client, reply):
                pass
            if len(reply) and not handlers[1:]:  # the server closed the connection
                while drain_once(client, reply):
                    pass
                break
    assert bytes(reply) == b" ".join(sorted(store)) + b"\n"
    assert [h for h in handlers if isinstance(h, KeyValueProtocol)] == []  # closed
