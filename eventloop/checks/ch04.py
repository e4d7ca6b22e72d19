"""Checks for chapter 04's exercises (event handlers), judged outside the learner's process.

* 4.1 ``UDPUpperServer``: an ``EventHandler`` that replies in upper case.
* 4.2 ``CountingEchoServer(limit)``: echoes, then stops the loop (``StopLoop``) after ``limit``.
* 4.3 ``WordCountServer``: the post's ``recvfrom(1)`` bug (pitfall 14), fixed.
* 4.4 ``UDPAsker(server, questions)``: a whole ``EventHandler`` written from scratch, a UDP
  client that uses ``wants_to_send``/``handle_send`` to send and closes once every reply is in.

The learner's class lives in a candidate process (``eventloop.judge``). A course
*driver* (``drive_server``, ``drive_asker``, below) runs there, handed the class
as ``Named(...)``: it makes one instance and runs it in the post's
``event_loop(..., on_error="raise")``, beside a course handler (``Control``) on a
socket the judge holds, so the judge says when a loop that does not stop by
itself is over. The judge plays the other side on its own sockets, in a thread:
clients that send generated datagrams to a server (sizes up to 65,507 bytes,
binary payloads, white space at either end, several clients), or the echo
server an asker talks to (replies held back to show a busy loop). What the
judge trusts is what arrives on those sockets, who sent it, and the
candidate's runnable time and descriptors, read from outside. The seed printed
with a ✗ replays the case.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eventloop.checks import CheckFailed, Verdict
from eventloop.checks.ch03 import MAX_DATAGRAM, payload, replies_on, udp_socket
from eventloop.handlers import EventHandler, event_loop
from eventloop.judge.candidate import LearnerRaised, Named
from eventloop.judge.trial import Trial, judge

Address = tuple[str, int]
Reply = tuple[int, bytes, Address]  # (client index, data, sender)

BUFFER_SIZES = sorted({2**k for k in range(17)} | set(range(1000, 65001, 500)) | {1400, 1500})
"""Receive buffers a learner might choose: a datagram that fits one of them was cut by it."""


# --- in the candidate: the course's drivers ------------------------------------------------------


class Control(EventHandler):
    """A course handler on the judge's socket: any byte (or EOF) from the judge stops the loop."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.stopped = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def wants_to_receive(self) -> bool:
        return not self.stopped

    def handle_receive(self) -> None:
        self.sock.recv(64)
        self.stopped = True


def sockets_of(handler: object) -> list[socket.socket]:
    """The sockets a handler keeps in its attributes, whatever the learner named them."""
    try:
        values = list(vars(handler).values())
    except TypeError:  # __slots__ and no __dict__
        values = [getattr(handler, name, None) for name in getattr(handler, "__slots__", ())]
    return [value for value in values if isinstance(value, socket.socket)]


def is_handler_class(cls: object) -> bool:
    return isinstance(cls, type) and issubclass(cls, EventHandler)


def drive_server(
    cls: type, args: list[object], control: socket.socket, duration: float
) -> dict[str, object]:
    """Make ``cls(*args)``, tell the judge its port, serve in ``event_loop`` until stopped.

    Returns why the loop stopped (``event_loop``'s word), or what kept it from
    starting. The learner's errors propagate: ``on_error="raise"``.
    """
    if not is_handler_class(cls):
        return {"problem": "not a handler", "name": getattr(cls, "__name__", repr(cls)[:60])}
    server = cls(*args)
    try:
        owned = sockets_of(server)
        if not owned:
            return {"problem": "no socket"}
        port = owned[0].getsockname()[1]
        control.sendall(json.dumps({"port": port}).encode() + b"\n")
        wait_for_go(control)
        stop = Control(control)
        reason = event_loop(
            [server, stop], until=lambda: stop.stopped, duration=duration, on_error="raise"
        )
        return {"reason": reason}
    finally:
        for sock in sockets_of(server):
            sock.close()


def wait_for_go(control: socket.socket, wait: float = 5.0) -> None:
    """Wait (at most ``wait`` s) until the judge says every datagram of the round is sent.

    So the loop starts with the whole round queued, as a server that was busy would
    find it, on a quiet machine or a loaded one: an answer that handles only one
    datagram of what waits shows every time, not only when the clients happen to
    be quick. Reads the ``go`` line byte by byte, leaving the ``stop`` for ``Control``.
    """
    control.settimeout(wait)
    try:
        line = b""
        while not line.endswith(b"\n"):
            byte = control.recv(1)
            if not byte:
                return
            line += byte
    except TimeoutError:
        pass
    finally:
        control.settimeout(None)


def drive_asker(
    cls: type,
    server: Address,
    questions: list[bytes],
    control: socket.socket,
    duration: float,
    spurious: bool = False,
) -> dict[str, object]:
    """Make ``cls(server, questions)`` and run it in ``event_loop`` until it closes.

    ``spurious``: call ``handle_receive`` once with nothing to read (a readiness
    that was only a hint), then close. The asker's socket is not closed here
    after a run: whether the asker closed it is for the judge to see.
    """
    if not is_handler_class(cls):
        return {"problem": "not a handler", "name": getattr(cls, "__name__", repr(cls)[:60])}
    asker = cls(tuple(server), list(questions))
    owned = sockets_of(asker)
    seen: dict[str, object] = {
        "sockets": len(owned),
        "blocking": any(  # a timeout of its own (settimeout(1)) blocks as well
            s.gettimeout() != 0 or not fcntl.fcntl(s.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK
            for s in owned
            if s.fileno() >= 0
        ),
        "has_replies": isinstance(getattr(asker, "replies", None), list),
    }
    if spurious or not owned or seen["blocking"] or not seen["has_replies"]:
        try:
            if spurious and not seen["blocking"]:
                asker.handle_receive()
        finally:
            for sock in owned:
                sock.close()
        return seen
    stop = Control(control)
    seen["reason"] = event_loop(
        [asker, stop],
        until=lambda: stop.stopped or asker.fileno() == -1,
        duration=duration,
        on_error="raise",
    )
    seen["replies"] = list(asker.replies)
    return seen


# --- in the judge: clients of a learner's server -------------------------------------------------


@dataclass
class Play:
    """What the judge's clients send and what they get back, observed by the judge."""

    plan: list[tuple[int, bytes]]  # (client index, datagram), in sending order
    expected: int  # replies after which the judge stops waiting for more
    port: int | None = None
    replies: list[Reply] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


def read_port(control: socket.socket, done: threading.Event, wait: float = 5.0) -> int | None:
    """The port the driver writes on the control socket, or None if it never comes."""
    deadline, line = time.monotonic() + wait, b""
    while not done.is_set() and time.monotonic() < deadline and not line.endswith(b"\n"):
        if select.select([control], [], [], 0.05)[0]:
            chunk = control.recv(200)
            if not chunk:
                return None
            line += chunk
    try:
        port = json.loads(line)["port"]
    except (ValueError, KeyError, TypeError):
        return None
    return port if isinstance(port, int) else None


def play_clients(control: socket.socket, clients: list[socket.socket], play: Play) -> None:
    """Send the plan to the learner's server once its port is known; collect the replies.

    Stops the loop (a byte on ``control``) once every datagram was answered, or
    once ``expected`` replies came and 0.4 s passed without another, or after 3 s.
    """
    play.port = read_port(control, play.done)
    if play.port is None:
        return
    for client, data in play.plan:
        clients[client].sendto(data, ("127.0.0.1", play.port))
    try:
        control.sendall(b"go\n")  # the whole round is queued: the server's loop may start
    except OSError:
        return
    began = last = time.monotonic()
    while not play.done.is_set():
        now = time.monotonic()
        if len(play.replies) >= len(play.plan) or now - began > 3.0:
            break
        if len(play.replies) >= play.expected and now - last > 0.4:
            break
        for client in select.select(clients, [], [], 0.02)[0]:
            try:
                data, sender = client.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, ConnectionError):
                continue
            play.replies.append((clients.index(client), data, sender))
            last = time.monotonic()
    try:
        control.sendall(b"stop")
    except OSError:
        pass


def serve_round(
    trial: Trial, driver_args: list[object], play: Play, clients: int
) -> tuple[dict[str, object], list[Reply]]:
    """Run the learner's server in the candidate while judge clients play ``play``."""
    ours, theirs = socket.socketpair()
    sockets = [udp_socket(blocking=False) for _ in range(clients)]
    player = threading.Thread(target=play_clients, args=(ours, sockets, play), daemon=True)
    try:
        player.start()
        try:
            drive = trial.candidate.wrap("drive_server", drive_server, trial["answer"].time_limit)
            outcome = drive(Named("answer"), driver_args, theirs, 4.0)
        finally:
            play.done.set()
            player.join(5)
        replies = list(play.replies)
        for index, client in enumerate(sockets):
            replies += [(index, data, sender) for data, sender in replies_on(client)]
    finally:
        for sock in [ours, theirs, *sockets]:
            sock.close()
    if not isinstance(outcome, dict):
        raise RuntimeError(f"the driver returned {outcome!r}")
    expect_server(outcome, play)
    if trial.candidate.unclosed:
        raise CheckFailed(
            "your server opened a socket and dropped it without closing it",
            got=trial.candidate.unclosed[0],
            hint="reply with self.reply(data, sender) (or self.sock.sendto): on the server's "
            "own socket, the one the client sent to; there is no need for another",
        )
    return outcome, replies


def expect_server(outcome: dict[str, object], play: Play) -> None:
    """The driver could make the server and tell its port."""
    if outcome.get("problem") == "not a handler":
        raise CheckFailed(
            f"{outcome.get('name')!r} is not an EventHandler class",
            hint="write `class MyServer(UDPServer):` (UDPServer is an EventHandler)",
        )
    if outcome.get("problem") == "no socket" or play.port is None:
        raise CheckFailed(
            "the server keeps no socket the check could send to",
            hint="subclass eventloop.UDPServer, and call super().__init__(...) if you write "
            "your own __init__: it binds 127.0.0.1 and a free port and sets self.sock",
        )


def per_client(items: list[tuple[int, bytes]], clients: int) -> list[list[bytes]]:
    """``[(client, data), ...]`` as one list of datagrams per client, in order."""
    lists: list[list[bytes]] = [[] for _ in range(clients)]
    for client, data in items:
        lists[client].append(data)
    return lists


def expect_senders(replies: list[Reply], port: int | None) -> None:
    """Every reply from the server's own socket, the one the clients sent to."""
    for client, _, sender in replies:
        if sender != ("127.0.0.1", port):
            raise CheckFailed(
                "a reply came from another socket than the server's",
                expected=f"from ('127.0.0.1', {port})",
                got=f"client {client + 1} got a reply from {sender}",
                hint="reply with self.reply(data, sender), or self.sock.sendto(data, sender): "
                "the server's own socket, to the address recvfrom returned",
            )


def sizes(datagrams: list[bytes]) -> str:
    return f"{[len(d) for d in datagrams]} bytes"


def explain_text(raised: LearnerRaised) -> None:
    """A datagram decoded as UTF-8 text: a known mistake, turned into a verdict with a hint."""
    if raised.raised.type in ("UnicodeDecodeError", "UnicodeEncodeError"):
        raise CheckFailed(
            f"a datagram that is not UTF-8 text made your handler raise {raised.raised}",
            hint="a datagram is bytes, and not always text: bytes have .upper() and .split() "
            "too; work on the bytes as they came",
        ) from None


def server_plan(trial: Trial, round_: int, make: Callable[[int], bytes]) -> tuple[int, list]:
    """How many clients, and who sends which datagram: one per client at least, in any order."""
    rng = trial.random
    clients = [1, rng.randint(2, 3), rng.randint(2, 3)][round_ % 3]
    count = rng.randint(max(clients, 2), clients + 3)  # the example, and one more at least
    senders = list(range(clients)) + [rng.randrange(clients) for _ in range(count - clients)]
    rng.shuffle(senders)
    return clients, [(sender, make(index)) for index, sender in enumerate(senders)]


# --- 4.1 -------------------------------------------------------------------------------------


def check_4_1(cls: type, time_limit: float = 5, seed: int | None = None) -> Verdict:
    """``cls()`` answers each datagram with the same bytes in upper case, to its sender."""
    return judge("4.1", {"answer": cls}, run_4_1, time_limit=time_limit, seed=seed)


def upper_payload(trial: Trial, round_: int, index: int) -> bytes:
    """Text for the first round (the exercise's example first), bytes of any kind after."""
    rng = trial.random
    if round_ == 0:
        if index == 0:
            return b"hello"
        words = [rng.choice([b"hello", b"Event", b"loop", b"UDP", b"x", b"mIxEd", b"sockets"])
                 for _ in "ab"]  # fmt: skip
        return rng.choice([b" ", b"\t", b"  "]).join(words) + rng.choice([b"", b"\n", b" "])
    size = rng.choice([0, 1, rng.randint(2, 64), rng.randint(65, 1400), rng.randint(1401, 9000)])
    if index == 0 and round_ == 1:
        size = rng.choice([MAX_DATAGRAM, rng.randint(9000, 60000)])
    data = bytearray(payload(rng, size))
    for at in rng.sample(range(size), min(size, 3)):  # lower-case letters, so upper() shows
        data[at] = rng.randint(ord("a"), ord("z"))
    return bytes(data)


def run_4_1(trial: Trial) -> None:
    for round_ in range(3):
        clients, plan = server_plan(trial, round_, lambda i, r=round_: upper_payload(trial, r, i))
        trial.case = (
            f"round {round_ + 1}: a new UDPUpperServer(); {clients} client(s) send "
            f"{len(plan)} datagram(s) of {sizes([d for _, d in plan])}"
            + (", the first b'hello'" if round_ == 0 else ", binary")
        )
        wanted, got = serve_and_collect(trial, plan, clients, bytes.upper)
        if got != wanted:
            raise CheckFailed(
                "the replies are not each datagram in upper case, to its sender",
                expected=f"per client: {short(wanted)}",
                got=f"per client: {short(got)}",
                hint=upper_hint(per_client(plan, clients), got),
            )


def serve_and_collect(
    trial: Trial,
    plan: list[tuple[int, bytes]],
    clients: int,
    reply_to: Callable[[bytes], bytes],
) -> tuple[list[list[bytes]], list[list[bytes]]]:
    """Serve one round of 4.1 or 4.3: the replies wanted and got, per client, from the server.

    Replies from another socket than the server's fail here; so does the learner's
    error in the text it was given (named by ``explain_text``).
    """
    play = Play(plan, expected=len(plan))
    try:
        _, replies = serve_round(trial, [], play, clients)
    except LearnerRaised as raised:
        explain_text(raised)
        raise
    expect_senders(replies, play.port)
    wanted = per_client([(c, reply_to(d)) for c, d in plan], clients)
    return wanted, per_client([(c, d) for c, d, _ in replies], clients)


def short(lists: list[list[bytes]]) -> str:
    """Datagrams per client, shown briefly (the start of each and its size)."""
    shown = [[d if len(d) <= 16 else f"{d[:12]!r}… ({len(d)} bytes)" for d in ds] for ds in lists]
    text = repr(shown)
    return text if len(text) < 300 else text[:297] + "..."


def cut_to(size: int, sent: list[list[bytes]], got: list[list[bytes]]) -> bool:
    """Was every datagram longer than ``size`` cut to ``size`` bytes (a buffer that small)?"""
    pairs = [(d, r) for ds, rs in zip(sent, got) for d, r in zip(ds, rs) if len(d) > size]
    return size in BUFFER_SIZES and all(len(r) == size for _, r in pairs)


def upper_hint(sent: list[list[bytes]], got: list[list[bytes]]) -> str:
    """Name the likely mistake from what came back, datagram by datagram."""
    for datagrams, replies in zip(sent, got):
        for data, reply in zip(datagrams, replies):
            if reply == data.upper():
                continue
            if (
                len(reply) < len(data)
                and data.upper().startswith(reply)
                and cut_to(len(reply), sent, got)
            ):
                small = "recvfrom(1)" if len(reply) == 1 else f"recvfrom({len(reply)})"
                return (
                    f"a {len(data)}-byte datagram came back cut to {len(reply)} bytes: "
                    f"{small} keeps the first bytes and drops the rest; read the whole "
                    "datagram, recvfrom(MAX_DATAGRAM) (up to 65,507 bytes)"
                )
            if reply == data:
                return "a datagram came back unchanged: send data.upper(), not data"
            return (
                "keep the bytes as they came, white space and all, only in upper case: "
                "data.upper() on the bytes (no decoding, no strip() or split())"
            )
        if len(replies) != len(datagrams):
            return (
                "handle_receive must reply to every datagram, once, to the address recvfrom "
                f"returned with it: a client sent {len(datagrams)} and got {len(replies)} "
                "replies"
            )
    return (
        "in handle_receive: data, sender = self.sock.recvfrom(MAX_DATAGRAM); then "
        "self.reply(data.upper(), sender), to the client that sent it"
    )


# --- 4.2 -------------------------------------------------------------------------------------


def check_4_2(cls: type, time_limit: float = 5, seed: int | None = None) -> Verdict:
    """``cls(limit)`` echoes ``limit`` datagrams, then raises ``StopLoop``: the loop stops."""
    return judge("4.2", {"answer": cls}, run_4_2, time_limit=time_limit, seed=seed)


def run_4_2(trial: Trial) -> None:
    rng = trial.random
    for round_, limit in enumerate([3, 1, rng.randint(2, 6)]):
        # round 2 sends exactly `limit`: a server that stops only at the next request never does
        extra = [2, 0, rng.randint(1, 3)][round_]
        clients, plan = server_plan(
            trial,
            round_,
            lambda i: payload(rng, rng.choice([0, 1, rng.randint(2, 64), rng.randint(65, 3000)])),
        )
        while len(plan) < limit + extra:
            plan.append((rng.randrange(clients), payload(rng, rng.randint(1, 100))))
        plan = plan[: limit + extra]
        trial.case = (
            f"round {round_ + 1}: a new CountingEchoServer({limit}); {clients} client(s) send "
            f"{len(plan)} datagram(s) of {sizes([d for _, d in plan])}"
        )
        play = Play(plan, expected=limit)
        outcome, replies = serve_round(trial, [limit], play, clients)
        expect_senders(replies, play.port)
        echoed = len(replies)
        if outcome.get("reason") != "stopped":
            raise CheckFailed(
                f"the loop never stopped: CountingEchoServer({limit}) echoed {echoed} of "
                f"{len(plan)} datagrams and went on until the check stopped it",
                expected=f"{limit} echoes, then event_loop(...) returns 'stopped'",
                got=f"{echoed} echoes, and event_loop returned {outcome.get('reason')!r}",
                hint="once the limit-th request is answered, `raise StopLoop` (from eventloop "
                "import StopLoop): raise it, do not return it; count with += on the instance "
                "(self.requests, kept by UDPEchoServer, already does)",
            )
        wanted = per_client(plan[:limit], clients)
        got = per_client([(c, d) for c, d, _ in replies], clients)
        if got != wanted:
            raise CheckFailed(
                f"CountingEchoServer({limit}) echoed {echoed} datagram(s) before the loop "
                "stopped" + ("" if echoed != limit else ", not the first ones, unchanged"),
                expected=f"the first {limit} echoed, unchanged, to their senders: {short(wanted)}",
                got=short(got),
                hint=count_hint(echoed, limit),
            )


def count_hint(echoed: int, limit: int) -> str:
    """Too few echoes, too many, or the wrong ones."""
    if echoed < limit:
        return (
            "echo first, then count, then raise StopLoop once the count reaches the limit: "
            "the reply to the last request must still go out; count on the instance "
            "(self.requests), not on the class, so a new server starts at 0"
        )
    if echoed > limit:
        return (
            "raise StopLoop as soon as the count reaches the limit (>=), in the same "
            "handle_receive that answered that request"
        )
    return (
        "echo each datagram unchanged, to the address recvfrom returned (super().handle_receive())"
    )


# --- 4.3 -------------------------------------------------------------------------------------


def check_4_3(cls: type, time_limit: float = 5, seed: int | None = None) -> Verdict:
    """``cls()`` replies with the number of words in each datagram, however long it is."""
    return judge("4.3", {"answer": cls}, run_4_3, time_limit=time_limit, seed=seed)


WORDS = [b"hello", b"big", b"world", b"a", b"Event", b"UDP", b"42", b"loop", b"x" * 12]
SPACES = [b" "] * 6 + [b"  ", b"\n", b"\t", b"\r\n", b" \t "]


def words_text(trial: Trial, round_: int, index: int) -> bytes:
    """A text of words: the exercise's example first; later, any white space, long texts."""
    rng = trial.random
    if round_ == 0 and index == 0:
        return b"hello big world"
    if round_ in (1, 2) and index == 0:  # beyond 32 KiB, then between 8 and 32 KiB
        count = rng.randint(7000, 10500) if round_ == 1 else rng.randint(1600, 4800)
    else:
        count = rng.choice([0, 1, 2, rng.randint(3, 12), rng.randint(13, 400)])
    spaces = SPACES if round_ else [b" "]
    text = b""
    for at in range(count):
        text += (rng.choice(spaces) if at else b"") + rng.choice(WORDS)
    if round_ and count and rng.random() < 0.5:
        text = rng.choice([b" ", b"\n", b"  "]) + text
    if round_ and count and rng.random() < 0.6:
        text += rng.choice([b" ", b"\n", b"\r\n"])
    return text[:MAX_DATAGRAM].rstrip(b"\r") if len(text) > MAX_DATAGRAM else text


def run_4_3(trial: Trial) -> None:
    for round_ in range(3):
        clients, plan = server_plan(trial, round_, lambda i, r=round_: words_text(trial, r, i))
        trial.case = (
            f"round {round_ + 1}: a new WordCountServer(); {clients} client(s) send "
            f"{len(plan)} text(s) of {sizes([d for _, d in plan])}"
            + (", the first b'hello big world'" if round_ == 0 else "")
        )
        wanted, got = serve_and_collect(trial, plan, clients, count_words)
        if got != wanted:
            raise CheckFailed(
                "the replies are not the number of words in each datagram, to its sender",
                expected=f"per client: {short(wanted)}",
                got=f"per client: {short(got)}",
                hint=words_hint(plan, clients, got, wanted),
            )


def count_words(text: bytes) -> bytes:
    """4.3's worked answer for one datagram: its number of words, as digits."""
    return str(len(text.split())).encode()


def words_hint(
    plan: list[tuple[int, bytes]], clients: int, got: list[list[bytes]], wanted: list[list[bytes]]
) -> str:
    """Name the likely mistake: not digits, bytes counted, a split on one kind of space, a cut."""
    texts = per_client(plan, clients)
    pairs = [(t, g, w) for ts, gs, ws in zip(texts, got, wanted) for t, g, w in zip(ts, gs, ws)]
    wrong = [(t, g, w) for t, g, w in pairs if g != w]
    if not wrong:
        return (
            "handle_receive must reply to every datagram, once, to the address recvfrom "
            "returned with it: self.reply(str(len(data.split())).encode(), sender)"
        )
    if any(not g.isdigit() for _, g, _ in wrong):
        return "reply with the count as digits: str(count).encode(), e.g. b'3'"
    if all(int(g) == len(t) for t, g, _ in wrong):
        return "len(data) counts bytes: count the words, len(data.split())"
    if all(g in (b"0", b"1") for _, g, _ in pairs):
        return (
            "every count is 0 or 1: the datagram was cut to its first byte when it was read "
            "(recvfrom(1)). Read the whole datagram: recvfrom(65535) "
            "(eventloop.udp.MAX_DATAGRAM), up to 65507 bytes"
        )
    if len({g for _, g, _ in pairs}) == 1 < len({w for _, _, w in pairs}):
        return "count the words of each datagram: len(data.split()), not a fixed number"
    if any(int(g) > len(re.findall(rb"[ \t\n]", t)) + 1 for t, g, _ in wrong):
        return (
            "count the words of this datagram only: a count kept on the class (or the "
            "instance) goes on adding up from one datagram to the next"
        )
    if any(int(g) > int(w) for _, g, w in wrong):
        return (
            "data.split() with no argument splits on any run of white space (spaces, tabs, "
            "newlines) and drops empty pieces; split(b' ') counts the empty pieces around "
            "extra spaces and misses newlines"
        )
    if any(all(g == count_words(t[:size]) for t, g, _ in pairs) for size in BUFFER_SIZES):
        return (
            f"a {max(len(t) for t, _, _ in wrong)}-byte datagram was counted short: it was cut "
            "when it was read. A UDP datagram carries up to 65507 bytes: recvfrom(65535) "
            "(eventloop.udp.MAX_DATAGRAM) reads the whole datagram"
        )
    return (
        "data.split() with no argument splits on any run of white space (spaces, tabs, "
        "newlines); split(b' ') misses newlines and tabs, and counts empty pieces"
    )


# --- 4.4 -------------------------------------------------------------------------------------


def check_4_4(cls: type, time_limit: float = 5, seed: int | None = None) -> Verdict:
    """``cls(server, questions)`` sends every question, keeps every reply, then closes."""
    return judge("4.4", {"answer": cls}, run_4_4, time_limit=time_limit, seed=seed)


@dataclass
class Echo:
    """The judge's echo server for an asker: what it received, and from whom."""

    delay: float
    expected: int
    received: list[tuple[bytes, Address]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


def play_echo(sock: socket.socket, control: socket.socket, echo: Echo) -> None:
    """Echo each datagram ``delay`` s after it came; stop the loop when the asker is quiet.

    Stops the loop (a byte on ``control``) when nothing came within 2.5 s, when
    every question was echoed and 1 s passed without another (an asker that never
    closes), or when far more datagrams came than questions (one sent forever).
    """
    pending: list[tuple[float, bytes, Address]] = []
    began = last = time.monotonic()
    while not echo.done.is_set():
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, data, sender = pending.pop(0)
            sock.sendto(data, sender)
            last = now
        if not echo.received and now - began > 2.5:
            break
        if len(echo.received) >= echo.expected and not pending and now - last > 1.0:
            break
        if len(echo.received) > echo.expected + 20:
            break
        if select.select([sock], [], [], 0.01)[0]:
            try:
                data, sender = sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, ConnectionError):
                continue
            echo.received.append((data, sender))
            pending.append((time.monotonic() + echo.delay, data, sender))
            last = time.monotonic()
    try:
        control.sendall(b"stop")
    except OSError:
        pass


def question_sizes(trial: Trial, round_: int, count: int) -> list[int]:
    rng = trial.random
    found = [rng.choice([1, rng.randint(2, 40), rng.randint(41, 1400)]) for _ in range(count)]
    if round_ == 2:
        found[rng.randrange(count)] = rng.randint(9000, 60000)
    return found


def run_4_4(trial: Trial) -> None:
    rng = trial.random
    plans = [
        (3, 0.0),  # the exercise's three questions, answered at once
        (rng.randint(1, 3), 0.3),  # replies held back: a loop that spins shows now
        (rng.choice([2, rng.randint(4, 7)]), 0.0),
    ]
    for round_, (count, delay) in enumerate(plans):
        if round_ == 0:
            questions = [b"one", b"two", b"three"]
        else:
            questions = [payload(rng, size) for size in question_sizes(trial, round_, count)]
        trial.case = (
            f"round {round_ + 1}: a new UDPAsker(<the check's echo server>, {count} "
            f"question(s) of {sizes(questions)}); the echo answers "
            + (f"{delay} s after each question" if delay else "at once")
        )
        ask_round(trial, questions, delay)
    trial.case = (
        "round 4: a new UDPAsker; its handle_receive called once with nothing to read "
        "(a readiness that was only a hint)"
    )
    with udp_socket() as server:
        try:
            seen = call_asker(trial, server.getsockname(), [b"one"], None, spurious=True)
        except LearnerRaised as raised:
            if raised.raised.type == "BlockingIOError":
                raise CheckFailed(
                    "handle_receive raised BlockingIOError when the loop called it with "
                    "nothing to read",
                    expected="it returns quietly: readiness is a hint, not a promise",
                    hint="wrap recv in try/except BlockingIOError and return: 'not now' "
                    "(PITFALL 22)",
                ) from None
            raise
        expect_asker_made(seen)


def call_asker(
    trial: Trial,
    server: Address,
    questions: list[bytes],
    control: socket.socket | None,
    spurious: bool = False,
) -> dict[str, object]:
    """Call ``drive_asker`` in the candidate; a socketpair stands in when no control is needed."""
    pair = socket.socketpair() if control is None else ()
    try:
        drive = trial.candidate.wrap("drive_asker", drive_asker, trial["answer"].time_limit)
        seen = drive(
            Named("answer"),
            server,
            questions,
            control if control is not None else pair[1],
            4.0,
            spurious,
        )
    finally:
        for sock in pair:
            sock.close()
    if not isinstance(seen, dict):
        raise RuntimeError(f"the driver returned {seen!r}")
    return seen


def expect_asker_made(seen: dict[str, object]) -> None:
    """An EventHandler with its own non-blocking socket and a ``replies`` list."""
    if seen.get("problem") == "not a handler":
        raise CheckFailed(
            f"{seen.get('name')!r} is not an EventHandler class",
            hint="write `class UDPAsker(EventHandler):` and its five methods",
        )
    if not seen.get("sockets"):
        raise CheckFailed(
            "the handler keeps no socket in an attribute",
            hint="create it in __init__: self.sock = socket.socket(AF_INET, SOCK_DGRAM), bind "
            "it to ('127.0.0.1', 0), and return self.sock.fileno() from fileno()",
        )
    if seen.get("blocking"):
        raise CheckFailed(
            "the handler's socket is blocking",
            hint="call self.sock.setblocking(False) in __init__: a blocking recv inside an "
            "event loop stalls every other handler",
        )
    if not seen.get("has_replies"):
        raise CheckFailed(
            "the handler has no `replies` list",
            hint="set self.replies = [] in __init__ and append each reply in handle_receive",
        )


def ask_round(trial: Trial, questions: list[bytes], delay: float) -> None:
    """Run the asker against the judge's echo server; judge what arrived, and what it left."""
    echo = Echo(delay, len(questions))
    ours, theirs = socket.socketpair()
    server = udp_socket(blocking=False)
    player = threading.Thread(target=play_echo, args=(server, ours, echo), daemon=True)
    try:
        before, began = trial.usage(), time.monotonic()
        player.start()
        try:
            seen = call_asker(trial, server.getsockname(), questions, theirs)
        finally:
            echo.done.set()
            player.join(5)
        wall, used = time.monotonic() - began, trial.usage() - before
    finally:
        for sock in (ours, theirs, server):
            sock.close()
    expect_asker_made(seen)
    expect_questions(questions, echo.received)
    if delay and used.busy(wall):
        raise CheckFailed(
            f"while the replies were on their way, the loop never rested "
            f"({used.describe_busy(wall)})",
            expected="the loop asleep in select until a reply comes",
            hint="wants_to_send must return True only while a question is left to send: a "
            "socket is nearly always writable, so a handler that always wants to send wakes "
            "the loop for nothing (a busy loop)",
        )
    replies = seen.get("replies")
    if replies != questions:
        raise CheckFailed(
            "self.replies does not hold every reply, in order",
            expected=f"{len(questions)} replies of {sizes(questions)} (what the echo sent back)",
            got=f"{len(replies)} replies of {sizes(replies)}"
            if isinstance(replies, list) and all(isinstance(r, bytes) for r in replies)
            else repr(replies)[:200],
            hint=replies_hint(replies, questions),
        )
    if trial.candidate.unclosed or used.descriptors > 0:
        raise CheckFailed(
            "after its last reply the handler's socket is still open",
            got=(trial.candidate.unclosed or [f"{used.descriptors} descriptor(s) left open"])[0],
            hint="close the socket in handle_receive once every reply is in: the loop drops "
            "a closed handler, and nothing leaks",
        )


def expect_questions(questions: list[bytes], received: list[tuple[bytes, Address]]) -> None:
    """Each question once, in order, all from one loopback socket."""
    got = [data for data, _ in received]
    if not got:
        raise CheckFailed(
            "the echo server received no question",
            expected=f"{len(questions)} questions",
            hint="wants_to_send must return True while a question is left to send; then the "
            "loop calls handle_send, which sends the next one with sendto(question, server)",
        )
    if any(data in questions and got.count(data) > questions.count(data) for data in got):
        raise CheckFailed(
            f"a question was sent more than once ({len(got)} datagrams for {len(questions)} "
            "questions)",
            expected=f"{sizes(questions)}, once each",
            got=f"{sizes(got[:12])}" + ("…" if len(got) > 12 else ""),
            hint="after sending a question, take it off the list (e.g. self.to_send.pop(0)), "
            "so that each is sent once and wants_to_send becomes False",
        )
    if len(got) > len(questions):
        raise CheckFailed(
            f"the echo server received {len(got)} datagrams for {len(questions)} questions",
            hint="after sending a question, take it off the list (e.g. self.to_send.pop(0)), "
            "so that each is sent once and wants_to_send becomes False",
        )
    if got != questions:
        raise CheckFailed(
            "the echo server did not receive each question once, unchanged, in order",
            expected=sizes(questions),
            got=sizes(got),
            hint="send each question, as it is, in the order given: "
            "self.sock.sendto(self.to_send.pop(0), self.server); a copy of the list "
            "(list(questions)) keeps the caller's own list untouched",
        )
    if len({sender for _, sender in received}) > 1:
        raise CheckFailed(
            "the questions came from more than one socket",
            hint="send every question from the handler's own socket (self.sock), the one "
            "the loop watches for the replies",
        )


def replies_hint(replies: object, questions: list[bytes]) -> str:
    if not isinstance(replies, list) or not replies:
        return (
            "wants_to_receive must return True while replies are awaited; handle_receive "
            "appends self.sock.recv(MAX_DATAGRAM) to self.replies"
        )
    if any(isinstance(r, tuple) for r in replies):
        return "recvfrom returns (data, address): keep only the data, or use recv"
    if len(replies) == len(questions):
        return (
            "keep each reply as it came: recv(MAX_DATAGRAM) (a datagram can be up to 65,507 "
            "bytes; a smaller buffer cuts it), no decoding or strip()"
        )
    return (
        "keep every reply: wants_to_receive returns True until as many replies came as "
        "questions were asked, and each handle_receive appends one"
    )
