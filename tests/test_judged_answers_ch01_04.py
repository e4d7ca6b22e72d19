"""Wrong answers to chapters 01 and 04 of the kinds that passed before, and right ones written
differently, each judged on three seeds.

Written from the exercise texts: state kept between instances or calls, an answer
fitted to the one example (its sizes, its count, its three questions), a reply from
the wrong or a fresh socket, a changed payload (decoded, stripped, cut by a small
buffer), a loop that never rests or never stops. Chapter 04's classes run in the
candidate through the course's drivers (``eventloop.checks.ch04``).
"""

from __future__ import annotations

import collections
import re
import socket

import pytest
from exercise_checks import verdict_of

from eventloop.checks.ch01 import check_1_1, check_1_2, check_1_3
from eventloop.checks.ch04 import check_4_1, check_4_2, check_4_3, check_4_4
from eventloop.handlers import EventHandler, StopLoop
from eventloop.udp import MAX_DATAGRAM, UDPEchoServer, UDPServer

SEEDS = [11, 22, 33]

# --- 1.1 udp_request -----------------------------------------------------------------------------


def request_returning_the_message(address, message, timeout):
    """Fitted to an echo server: returns what it sent once anything came back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(message, address)
        try:
            sock.recvfrom(65535)
        except TimeoutError:
            return None
        return message


def request_with_its_own_timeout(address, message, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.1)
        sock.sendto(message, address)
        try:
            return sock.recvfrom(65535)[0]
        except TimeoutError:
            return None


def request_stripped(address, message, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(message, address)
        try:
            return sock.recvfrom(65535)[0].strip()
        except TimeoutError:
            return None


def request_decoded(address, message, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(message, address)
        try:
            return sock.recvfrom(65535)[0].decode(errors="replace")
        except TimeoutError:
            return None


kept_sockets: dict = {}


def request_on_a_kept_socket(address, message, timeout):
    """State kept: one socket for every call, never closed."""
    sock = kept_sockets.setdefault("sock", socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    sock.settimeout(timeout)
    sock.sendto(message, address)
    try:
        return sock.recvfrom(65535)[0]
    except TimeoutError:
        return None


def request_with_a_4k_buffer(address, message, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(message, address)
        try:
            return sock.recv(4096)
        except TimeoutError:
            return None


def request_connected(address, message, timeout):
    """Right, written differently: a connected UDP socket, send and recv."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.settimeout(timeout)
        sock.send(message)
        try:
            return sock.recv(MAX_DATAGRAM)
        except TimeoutError:
            return None


def request_with_a_selector(address, message, timeout):
    """Right, written differently: non-blocking, a selector waits, try/finally closes."""
    import selectors

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.sendto(message, address)
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            if not selector.select(timeout):
                return None
        return sock.recvfrom(65535)[0]
    finally:
        sock.close()


# --- 1.2 serve_with_threads ----------------------------------------------------------------------

shared_transcripts: list = []


def serve_into_a_module_list(listener, n):
    """State kept: the module's list is extended, never emptied."""
    import threading

    start = len(shared_transcripts)
    shared_transcripts.extend([b""] * n)

    def serve(conn, index):
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)
                shared_transcripts[index] += data

    threads = []
    for number in range(n):
        conn, _ = listener.accept()
        threads.append(threading.Thread(target=serve, args=(conn, start + number)))
        threads[-1].start()
    for thread in threads:
        thread.join()
    return shared_transcripts


def serve_in_finishing_order(listener, n):
    import threading

    done = []

    def serve(conn):
        transcript = b""
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)
                transcript += data
        done.append(transcript)

    threads = [threading.Thread(target=serve, args=(listener.accept()[0],)) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done


def serve_joining_each(listener, n):
    import threading

    transcripts = [b""] * n

    def serve(conn, number):
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)
                transcripts[number] += data

    for number in range(n):
        thread = threading.Thread(target=serve, args=(listener.accept()[0], number))
        thread.start()
        thread.join()
    return transcripts


def serve_joining_the_first_only(listener, n):
    import threading

    transcripts = [b""] * n

    def serve(conn, number):
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)
                transcripts[number] += data

    threads = []
    for number in range(n):
        threads.append(threading.Thread(target=serve, args=(listener.accept()[0], number)))
        threads[-1].start()
    threads[0].join()
    return transcripts


def serve_stripping(listener, n):
    import threading

    transcripts = [b""] * n

    def serve(conn, number):
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)
                transcripts[number] += data.strip()

    threads = [threading.Thread(target=serve, args=(listener.accept()[0], k)) for k in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return transcripts


def serve_three(listener, n):
    """Fitted to the example's three clients."""
    import threading

    transcripts = [b""] * 3

    def serve(conn, number):
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)
                transcripts[number] += data

    threads = [threading.Thread(target=serve, args=(listener.accept()[0], k)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return transcripts


def serve_with_a_pool(listener, n):
    """Right, written differently: a thread pool, each future returns its transcript."""
    from concurrent.futures import ThreadPoolExecutor

    def serve(conn):
        parts = []
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return b"".join(parts)
                conn.sendall(data)
                parts.append(data)

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(serve, listener.accept()[0]) for _ in range(n)]
        return [future.result() for future in futures]


def serve_with_thread_objects(listener, n):
    """Right, written differently: a Thread subclass keeps its own bytearray."""
    import threading

    class Client(threading.Thread):
        def __init__(self, conn):
            super().__init__()
            self.conn, self.seen = conn, bytearray()

        def run(self):
            try:
                while chunk := self.conn.recv(1000):
                    self.seen += chunk
                    self.conn.sendall(chunk)
            finally:
                self.conn.close()

    clients = []
    while len(clients) < n:
        clients.append(Client(listener.accept()[0]))
        clients[-1].start()
    for client in clients:
        client.join()
    return [bytes(client.seen) for client in clients]


# --- 1.3 upper_once ------------------------------------------------------------------------------


def upper_returning_the_reply(ready, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        ready(sock.getsockname())
        data, sender = sock.recvfrom(65535)
        sock.sendto(data.upper(), sender)
        return data.upper()


def upper_with_a_1k_buffer(ready, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        ready(sock.getsockname())
        data, sender = sock.recvfrom(1024)
        sock.sendto(data.upper(), sender)
        return data


def upper_without_the_timeout(ready, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        ready(sock.getsockname())
        data, sender = sock.recvfrom(65535)
        sock.sendto(data.upper(), sender)
        return data


def upper_swallowing_the_timeout(ready, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        ready(sock.getsockname())
        try:
            data, sender = sock.recvfrom(65535)
        except TimeoutError:
            return b""
        sock.sendto(data.upper(), sender)
        return data


def upper_closing_only_on_error(ready, timeout):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        ready(sock.getsockname())
        data, sender = sock.recvfrom(65535)
        sock.sendto(data.upper(), sender)
        return data
    except BaseException:
        sock.close()
        raise


def upper_from_a_fresh_socket(ready, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        ready(sock.getsockname())
        data, sender = sock.recvfrom(65535)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            out.sendto(data.upper(), sender)
        return data


def upper_ready_before_bind(ready, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ready(sock.getsockname())
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        data, sender = sock.recvfrom(65535)
        sock.sendto(data.upper(), sender)
        return data


def upper_everywhere_telling_loopback(ready, timeout):
    """Bound on every interface, while ready() is told 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("", 0))
        sock.settimeout(timeout)
        ready(("127.0.0.1", sock.getsockname()[1]))
        data, sender = sock.recvfrom(65535)
        sock.sendto(data.upper(), sender)
        return data


def upper_with_closing(ready, timeout):
    """Right, written differently: contextlib.closing, recv buffer of MAX_DATAGRAM."""
    from contextlib import closing

    with closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as sock:
        sock.settimeout(timeout)
        sock.bind(("127.0.0.1", 0))
        host, port = sock.getsockname()
        ready((host, port))
        data, sender = sock.recvfrom(MAX_DATAGRAM)
        sock.sendto(data.upper(), sender)
    return data


def upper_closing_in_except_and_after(ready, timeout):
    """Right, written differently: closed in an except that re-raises, and after success."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        ready(sock.getsockname())
        data, sender = sock.recvfrom(65535)
        sock.sendto(bytes(data).upper(), sender)
    except BaseException:
        sock.close()
        raise
    sock.close()
    return data


# --- 4.1 UDPUpperServer --------------------------------------------------------------------------


class UpperToFirstSender(UDPServer):
    """State kept: the first client ever is remembered on the class."""

    first = None

    def handle_receive(self) -> None:
        data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        if UpperToFirstSender.first is None:
            UpperToFirstSender.first = sender
        self.reply(data.upper(), UpperToFirstSender.first)


class UpperDecoded(UDPServer):
    def handle_receive(self) -> None:
        data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        self.reply(data.decode().upper().encode(), sender)


class UpperLatin1(UDPServer):
    def handle_receive(self) -> None:
        data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        self.reply(data.decode("latin-1").upper().encode("latin-1", "replace"), sender)


class UpperFromAFreshSocket(UDPServer):
    def handle_receive(self) -> None:
        data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            out.sendto(data.upper(), sender)


class UpperStripped(UDPServer):
    def handle_receive(self) -> None:
        data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        self.reply(data.strip().upper(), sender)


class UpperSmallBuffer(UDPServer):
    def handle_receive(self) -> None:
        data, sender = self.sock.recvfrom(4096)
        self.reply(data.upper(), sender)


class UpperLastOfABatch(UDPServer):
    """Drains what waits, but answers only the last datagram."""

    def handle_receive(self) -> None:
        last = None
        while True:
            try:
                last = self.sock.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                break
        if last is not None:
            self.reply(last[0].upper(), last[1])


class UpperDrainingAll(UDPServer):
    """Right, written differently: every waiting datagram in one call, sendto directly."""

    def handle_receive(self) -> None:
        while True:
            try:
                data, sender = self.sock.recvfrom(1 << 16)
            except BlockingIOError:
                return
            self.sock.sendto(data.upper(), sender)


LOWER_TO_UPPER = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class UpperByTable(UDPServer):
    """Right, written differently: a translation table, no guard (the text asks for none)."""

    def handle_receive(self) -> None:
        data, sender = self.sock.recvfrom(65535)
        self.reply(data.translate(LOWER_TO_UPPER), sender)


# --- 4.2 CountingEchoServer ----------------------------------------------------------------------


class CountingOnTheClass(UDPEchoServer):
    """State kept: the count lives on the class, so a second server starts where one stopped."""

    answered = 0

    def __init__(self, limit, host="127.0.0.1", port=0):
        super().__init__(host, port)
        self.limit = limit

    def handle_receive(self) -> None:
        super().handle_receive()
        CountingOnTheClass.answered += 1
        if CountingOnTheClass.answered >= self.limit:
            raise StopLoop


class CountingStopsAtTheNextRequest(UDPEchoServer):
    """Stops only when a request beyond the limit comes: with none, never."""

    def __init__(self, limit, host="127.0.0.1", port=0):
        super().__init__(host, port)
        self.limit = limit

    def handle_receive(self) -> None:
        if self.requests >= self.limit:
            raise StopLoop
        super().handle_receive()


class CountingGreaterThan(UDPEchoServer):
    def __init__(self, limit, host="127.0.0.1", port=0):
        super().__init__(host, port)
        self.limit = limit

    def handle_receive(self) -> None:
        super().handle_receive()
        if self.requests > self.limit:
            raise StopLoop


class CountingToThree(UDPEchoServer):
    """Fitted to the example: CountingEchoServer(3)."""

    def __init__(self, limit, host="127.0.0.1", port=0):
        super().__init__(host, port)

    def handle_receive(self) -> None:
        super().handle_receive()
        if self.requests == 3:
            raise StopLoop


class CountingWithSystemExit(UDPEchoServer):
    def __init__(self, limit, host="127.0.0.1", port=0):
        super().__init__(host, port)
        self.limit = limit

    def handle_receive(self) -> None:
        super().handle_receive()
        if self.requests >= self.limit:
            raise SystemExit


class CountingClosesInstead(UDPEchoServer):
    """Closes its socket instead of stopping the loop."""

    def __init__(self, limit, host="127.0.0.1", port=0):
        super().__init__(host, port)
        self.limit = limit

    def handle_receive(self) -> None:
        super().handle_receive()
        if self.requests >= self.limit:
            self.sock.close()


class CountingStrippedEcho(UDPEchoServer):
    def __init__(self, limit, host="127.0.0.1", port=0):
        super().__init__(host, port)
        self.limit = limit

    def handle_receive(self) -> None:
        data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        self.requests += 1
        self.reply(data.strip(), sender)
        if self.requests >= self.limit:
            raise StopLoop


class CountingOnItsOwn(UDPServer):
    """Right, written differently: its own counter and echo, and a StopLoop instance."""

    def __init__(self, limit, host="127.0.0.1", port=0):
        super().__init__(host, port)
        self.left = limit

    def handle_receive(self) -> None:
        try:
            data, sender = self.sock.recvfrom(MAX_DATAGRAM)
        except BlockingIOError:
            return
        self.sock.sendto(data, sender)
        self.left -= 1
        if not self.left:
            raise StopLoop(f"answered {self.requests} requests")


class CountingWithAHelper(UDPEchoServer):
    """Right, written differently: == and a helper method that raises."""

    def __init__(self, limit, host="127.0.0.1", port=0):
        super().__init__(host, port)
        self.limit = limit

    def handle_receive(self) -> None:
        super().handle_receive()
        self.stop_if_done()

    def stop_if_done(self) -> None:
        if self.requests == self.limit:
            raise StopLoop


# --- 4.3 WordCountServer -------------------------------------------------------------------------


def words(data: bytes) -> bytes:
    return str(len(data.split())).encode()


class WordsBuffer32K(UDPServer):
    """Fitted to the text's 15000-byte example: a buffer twice as large, not the largest."""

    def handle_receive(self) -> None:
        msg, addr = self.sock.recvfrom(32768)
        self.reply(words(msg), addr)


class WordsStrippedSpaces(UDPServer):
    def handle_receive(self) -> None:
        msg, addr = self.sock.recvfrom(MAX_DATAGRAM)
        self.reply(str(len(msg.strip().split(b" "))).encode(), addr)


class WordsCountingSpaces(UDPServer):
    def handle_receive(self) -> None:
        msg, addr = self.sock.recvfrom(MAX_DATAGRAM)
        self.reply(str(msg.count(b" ") + 1).encode(), addr)


class WordsRunningTotal(UDPServer):
    """State kept: a total over every datagram (and every server), on the class."""

    total = 0

    def handle_receive(self) -> None:
        msg, addr = self.sock.recvfrom(MAX_DATAGRAM)
        WordsRunningTotal.total += len(msg.split())
        self.reply(str(WordsRunningTotal.total).encode(), addr)


class WordsAsText(UDPServer):
    def handle_receive(self) -> None:
        msg, addr = self.sock.recvfrom(MAX_DATAGRAM)
        self.reply(str(len(msg.split())), addr)  # a str, not bytes


class WordsAlwaysThree(UDPServer):
    """Fitted to the example b'hello big world'."""

    def handle_receive(self) -> None:
        _, addr = self.sock.recvfrom(MAX_DATAGRAM)
        self.reply(b"3", addr)


class WordsFromAFreshSocket(UDPServer):
    def handle_receive(self) -> None:
        msg, addr = self.sock.recvfrom(MAX_DATAGRAM)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            out.sendto(words(msg), addr)


class WordsDecoded(UDPServer):
    """Right, written differently: decoded (the words are text), str.split."""

    def handle_receive(self) -> None:
        try:
            msg, addr = self.sock.recvfrom(65535)
        except BlockingIOError:
            return
        self.sock.sendto(b"%d" % len(msg.decode().split()), addr)


class WordsByRegex(UDPServer):
    """Right, written differently: runs of non-space, found by a regular expression."""

    def handle_receive(self) -> None:
        msg, addr = self.sock.recvfrom(MAX_DATAGRAM)
        self.reply(str(len(re.findall(rb"\S+", msg))).encode(), addr)


# --- 4.4 UDPAsker --------------------------------------------------------------------------------


class Asker(EventHandler):
    """The exercise's answer, the base of the wrong ones below."""

    def __init__(self, server, questions):
        self.server, self.to_send = server, list(questions)
        self.expected, self.replies = len(self.to_send), []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)

    def fileno(self):
        return self.sock.fileno()

    def wants_to_send(self):
        return bool(self.to_send)

    def handle_send(self):
        self.sock.sendto(self.to_send.pop(0), self.server)

    def wants_to_receive(self):
        return len(self.replies) < self.expected

    def handle_receive(self):
        try:
            self.replies.append(self.sock.recv(MAX_DATAGRAM))
        except BlockingIOError:
            return
        if len(self.replies) == self.expected:
            self.sock.close()


class AskerRepliesOnTheClass(Asker):
    """State kept: one replies list shared by every asker."""

    shared: list = []

    def __init__(self, server, questions):
        super().__init__(server, questions)
        self.replies = AskerRepliesOnTheClass.shared

    def handle_receive(self):
        try:
            self.replies.append(self.sock.recv(MAX_DATAGRAM))
        except BlockingIOError:
            return
        if len(self.replies) >= self.expected:
            self.sock.close()


class AskerClosesAfterThree(Asker):
    """Fitted to the example's three questions."""

    def handle_receive(self):
        try:
            self.replies.append(self.sock.recv(MAX_DATAGRAM))
        except BlockingIOError:
            return
        if len(self.replies) == 3:
            self.sock.close()


class AskerAllInOneDatagram(Asker):
    def handle_send(self):
        self.sock.sendto(b"".join(self.to_send), self.server)
        self.to_send.clear()

    def wants_to_receive(self):
        return not self.replies

    def handle_receive(self):
        try:
            self.replies.append(self.sock.recv(MAX_DATAGRAM))
        except BlockingIOError:
            return
        self.sock.close()


class AskerSmallBuffer(Asker):
    def handle_receive(self):
        try:
            self.replies.append(self.sock.recv(1024))
        except BlockingIOError:
            return
        if len(self.replies) == self.expected:
            self.sock.close()


class AskerKeepsPairs(Asker):
    def handle_receive(self):
        try:
            self.replies.append(self.sock.recvfrom(MAX_DATAGRAM))
        except BlockingIOError:
            return
        if len(self.replies) == self.expected:
            self.sock.close()


class AskerClosesAfterSending(Asker):
    def handle_send(self):
        super().handle_send()
        if not self.to_send:
            self.sock.close()


class AskerWantsToSendUntilAnswered(Asker):
    """Wants to send until every reply is in: writable all that time, the loop spins."""

    def wants_to_send(self):
        return len(self.replies) < self.expected

    def handle_send(self):
        if self.to_send:
            super().handle_send()


class AskerFreshSocketPerQuestion(Asker):
    def handle_send(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            out.sendto(self.to_send.pop(0), self.server)


class AskerWithATimeout(Asker):
    """settimeout(1.0) instead of non-blocking: a receive that finds nothing waits."""

    def __init__(self, server, questions):
        super().__init__(server, questions)
        self.sock.settimeout(1.0)


class AskerWithADeque(EventHandler):
    """Right, written differently: a deque, recvfrom, a count of replies awaited, settimeout(0)."""

    def __init__(self, server, questions):
        self.server = server
        self.queue = collections.deque(questions)
        self.awaited = len(self.queue)
        self.replies = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(0.0)
        self.sock.bind(("127.0.0.1", 0))

    def fileno(self):
        return self.sock.fileno()

    def wants_to_send(self):
        return len(self.queue) > 0

    def handle_send(self):
        self.sock.sendto(self.queue.popleft(), self.server)

    def wants_to_receive(self):
        return self.awaited > 0

    def handle_receive(self):
        try:
            data, _ = self.sock.recvfrom(65535)
        except BlockingIOError:
            return
        self.replies.append(data)
        self.awaited -= 1
        if self.awaited == 0:
            self.sock.close()


class AskerConnectedOneAtATime(EventHandler):
    """Right, written differently: a connected socket, one question in flight at a time."""

    def __init__(self, server, questions):
        self.questions = list(questions)
        self.replies = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.connect(server)
        self.sock.setblocking(False)
        self.in_flight = False

    def fileno(self):
        return self.sock.fileno()

    def wants_to_send(self):
        return not self.in_flight and len(self.replies) < len(self.questions)

    def handle_send(self):
        self.sock.send(self.questions[len(self.replies)])
        self.in_flight = True

    def wants_to_receive(self):
        return self.in_flight

    def handle_receive(self):
        try:
            self.replies.append(self.sock.recv(MAX_DATAGRAM))
        except BlockingIOError:
            return
        self.in_flight = False
        if len(self.replies) == len(self.questions):
            self.sock.close()


# --- the verdicts ---------------------------------------------------------------------------------

WRONG = [
    (check_1_1, request_returning_the_message),
    (check_1_1, request_with_its_own_timeout),
    (check_1_1, request_stripped),
    (check_1_1, request_decoded),
    (check_1_1, request_on_a_kept_socket),
    (check_1_1, request_with_a_4k_buffer),
    (check_1_2, serve_into_a_module_list),
    (check_1_2, serve_in_finishing_order),
    (check_1_2, serve_joining_each),
    (check_1_2, serve_joining_the_first_only),
    (check_1_2, serve_stripping),
    (check_1_2, serve_three),
    (check_1_3, upper_returning_the_reply),
    (check_1_3, upper_with_a_1k_buffer),
    (check_1_3, upper_without_the_timeout),
    (check_1_3, upper_swallowing_the_timeout),
    (check_1_3, upper_closing_only_on_error),
    (check_1_3, upper_from_a_fresh_socket),
    (check_1_3, upper_ready_before_bind),
    (check_1_3, upper_everywhere_telling_loopback),
    (check_4_1, UpperToFirstSender),
    (check_4_1, UpperDecoded),
    (check_4_1, UpperLatin1),
    (check_4_1, UpperFromAFreshSocket),
    (check_4_1, UpperStripped),
    (check_4_1, UpperSmallBuffer),
    (check_4_1, UpperLastOfABatch),
    (check_4_2, CountingOnTheClass),
    (check_4_2, CountingStopsAtTheNextRequest),
    (check_4_2, CountingGreaterThan),
    (check_4_2, CountingToThree),
    (check_4_2, CountingWithSystemExit),
    (check_4_2, CountingClosesInstead),
    (check_4_2, CountingStrippedEcho),
    (check_4_3, WordsBuffer32K),
    (check_4_3, WordsStrippedSpaces),
    (check_4_3, WordsCountingSpaces),
    (check_4_3, WordsRunningTotal),
    (check_4_3, WordsAsText),
    (check_4_3, WordsAlwaysThree),
    (check_4_3, WordsFromAFreshSocket),
    (check_4_4, AskerRepliesOnTheClass),
    (check_4_4, AskerClosesAfterThree),
    (check_4_4, AskerAllInOneDatagram),
    (check_4_4, AskerSmallBuffer),
    (check_4_4, AskerKeepsPairs),
    (check_4_4, AskerClosesAfterSending),
    (check_4_4, AskerWantsToSendUntilAnswered),
    (check_4_4, AskerFreshSocketPerQuestion),
    (check_4_4, AskerWithATimeout),
]

RIGHT = [
    (check_1_1, request_connected),
    (check_1_1, request_with_a_selector),
    (check_1_2, serve_with_a_pool),
    (check_1_2, serve_with_thread_objects),
    (check_1_3, upper_with_closing),
    (check_1_3, upper_closing_in_except_and_after),
    (check_4_1, UpperDrainingAll),
    (check_4_1, UpperByTable),
    (check_4_2, CountingOnItsOwn),
    (check_4_2, CountingWithAHelper),
    (check_4_3, WordsDecoded),
    (check_4_3, WordsByRegex),
    (check_4_4, AskerWithADeque),
    (check_4_4, AskerConnectedOneAtATime),
]


def name_of(case: tuple) -> str:
    return case[1].__name__


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("check", "wrong"), WRONG, ids=[name_of(w) for w in WRONG])
def test_wrong_answers_fail(capsys, check, wrong, seed):
    assert not check(wrong, seed=seed).passed
    status, out = verdict_of(capsys)
    assert status == "failed", out
    assert f"seed {seed}" in out, out
    assert "hint:" in out or "your code raised" in out, out
    assert "could not run" not in out, out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("check", "right"), RIGHT, ids=[name_of(r) for r in RIGHT])
def test_right_answers_written_differently_pass(capsys, check, right, seed):
    assert check(right, seed=seed).passed, capsys.readouterr().out
