"""Wrong answers of the kinds the first checks let through, and right ones written differently.

Chapters 02 and 03 are judged outside the learner's process on generated cases
(``eventloop.judge``). These answers were written from the exercise texts, not
from the checks: each kind that passed an earlier version of the checks is
here (state kept between calls, an answer fitted to one example, a reply from
the wrong or a fresh socket, a changed payload, a wait of the answer's own
choosing, a busy wait). Each runs with three seeds, so a verdict that depends
on the case drawn shows up as a failing seed.
"""

from __future__ import annotations

import errno
import select
import socket
import time

import pytest
from exercise_checks import verdict_of

from eventloop.checks.ch02 import check_2_1, check_2_2, check_2_3
from eventloop.checks.ch03 import check_3_1, check_3_2, check_3_3

SEEDS = [11, 22, 33]

# --- 2.1 drain_datagrams -------------------------------------------------------------------------

kept: list[bytes] = []


def drain_into_a_module_list(sock):
    """State kept between calls: the list is never emptied."""
    while True:
        try:
            kept.append(sock.recv(65535))
        except BlockingIOError:
            return kept


def drain_with_a_small_buffer(sock):
    out = []
    while True:
        try:
            out.append(sock.recv(4096))
        except BlockingIOError:
            return out


def drain_three(sock):
    """Fits the example of three datagrams."""
    out = []
    for _ in range(3):
        try:
            out.append(sock.recv(65535))
        except BlockingIOError:
            break
    return out


def drain_stripped(sock):
    out = []
    while True:
        try:
            out.append(sock.recv(65535).strip())
        except BlockingIOError:
            return out


def drain_none_when_empty(sock):
    out = []
    while True:
        try:
            out.append(sock.recv(65535))
        except BlockingIOError:
            return out or None


def drain_with_select(sock):
    """Right, written differently: ask select before each read."""
    out = []
    while select.select([sock], [], [], 0)[0]:
        out.append(sock.recvfrom(65535)[0])
    return out


def drain_with_msg_dontwait(sock):
    """Right, written differently: a non-blocking read flag instead of EAGAIN on the socket."""
    out = []
    while True:
        try:
            out.append(sock.recv(65535, socket.MSG_DONTWAIT))
        except BlockingIOError:
            return out


# --- 2.2 connect_status --------------------------------------------------------------------------


def connect_with_my_own_timeout(address, timeout):
    with socket.socket() as sock:
        sock.setblocking(False)
        started = sock.connect_ex(address)
        if started not in (0, errno.EINPROGRESS):
            return started
        if not select.select([], [sock], [], 0.05)[1]:
            return errno.ETIMEDOUT
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


def connect_refused_for_any_failure(address, timeout):
    with socket.socket() as sock:
        sock.setblocking(False)
        sock.connect_ex(address)
        if not select.select([], [sock], [], timeout)[1]:
            return errno.ECONNREFUSED
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


def connect_ignoring_the_timeout_result(address, timeout):
    with socket.socket() as sock:
        sock.setblocking(False)
        sock.connect_ex(address)
        select.select([], [sock], [], timeout)
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


sockets_kept: list[socket.socket] = []


def connect_keeping_the_socket(address, timeout):
    sock = socket.socket()
    sockets_kept.append(sock)
    sock.setblocking(False)
    started = sock.connect_ex(address)
    if started not in (0, errno.EINPROGRESS):
        return started
    if not select.select([], [sock], [], timeout)[1]:
        return errno.ETIMEDOUT
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


def connect_blocking_with_timeout(address, timeout):
    with socket.socket() as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except ConnectionRefusedError:
            return errno.ECONNREFUSED
        return 0


def connect_with_poll(address, timeout):
    """Right, written differently: select.poll instead of select.select."""
    with socket.socket() as sock:
        sock.setblocking(False)
        started = sock.connect_ex(address)
        if started not in (0, errno.EINPROGRESS):
            return started
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        if not poller.poll(timeout * 1000):
            return errno.ETIMEDOUT
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


# --- 2.3 poll_echo -------------------------------------------------------------------------------

total = {"echoed": 0}


def poll_echo_counting_globally(sock, duration, pause=0.01):
    sock.setblocking(False)
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        try:
            data, sender = sock.recvfrom(65535)
        except BlockingIOError:
            time.sleep(pause)
            continue
        sock.sendto(data, sender)
        total["echoed"] += 1
    return total["echoed"]


def poll_echo_for_fixed_time(sock, duration, pause=0.01):
    sock.setblocking(False)
    echoed, deadline = 0, time.monotonic() + 0.4
    while time.monotonic() < deadline:
        try:
            data, sender = sock.recvfrom(65535)
        except BlockingIOError:
            time.sleep(pause)
            continue
        sock.sendto(data, sender)
        echoed += 1
    return echoed


def poll_echo_from_a_fresh_socket(sock, duration, pause=0.01):
    sock.setblocking(False)
    echoed, deadline = 0, time.monotonic() + duration
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
        while time.monotonic() < deadline:
            try:
                data, sender = sock.recvfrom(65535)
            except BlockingIOError:
                time.sleep(pause)
                continue
            out.sendto(data, sender)
            echoed += 1
    return echoed


def poll_echo_stripped(sock, duration, pause=0.01):
    sock.setblocking(False)
    echoed, deadline = 0, time.monotonic() + duration
    while time.monotonic() < deadline:
        try:
            data, sender = sock.recvfrom(65535)
        except BlockingIOError:
            time.sleep(pause)
            continue
        sock.sendto(data.strip() or data, sender)
        echoed += 1
    return echoed


def poll_echo_sleeping_a_tenth(sock, duration, pause=0.01):
    sock.setblocking(False)
    echoed, deadline = 0, time.monotonic() + duration
    while time.monotonic() < deadline:
        try:
            data, sender = sock.recvfrom(65535)
        except BlockingIOError:
            time.sleep(0.25)
            continue
        sock.sendto(data, sender)
        echoed += 1
    return echoed


def poll_echo_with_a_timeout(sock, duration, pause=0.01):
    """Right, written differently: a socket timeout of `pause` is the nap."""
    sock.settimeout(pause)
    echoed, deadline = 0, time.monotonic() + duration
    while time.monotonic() < deadline:
        try:
            data, sender = sock.recvfrom(65535)
        except TimeoutError:
            continue
        sock.sendto(data, sender)
        echoed += 1
    sock.setblocking(False)
    return echoed


# --- 3.1 wait_readable ---------------------------------------------------------------------------

answers: dict[int, bool] = {}


def wait_remembering(sock, timeout):
    if sock.fileno() in answers:
        return answers[sock.fileno()]
    answers[sock.fileno()] = sock in select.select([sock], [], [], timeout)[0]
    return answers[sock.fileno()]


def wait_fixed_time(sock, timeout):
    return sock in select.select([sock], [], [], 0.25)[0]


def wait_by_peeking_without_timeout_on_tcp(sock, timeout):
    return bool(select.select([sock], [], [], timeout)[0]) and sock.type == socket.SOCK_DGRAM


def wait_readable_with_poll(sock, timeout):
    """Right, written differently."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


# --- 3.2 echo_n ----------------------------------------------------------------------------------

count = {"echoed": 0}


def echo_n_counting_globally(sockets, n):
    while count["echoed"] < n:
        for sock in select.select(sockets, [], [], 0.5)[0]:
            data, sender = sock.recvfrom(65535)
            sock.sendto(data, sender)
            count["echoed"] += 1
            if count["echoed"] == n:
                return


def echo_n_from_a_fresh_socket(sockets, n):
    echoed = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
        while echoed < n:
            for sock in select.select(sockets, [], [], 0.5)[0]:
                data, sender = sock.recvfrom(65535)
                out.sendto(data, sender)
                echoed += 1
                if echoed == n:
                    return


def echo_n_to_the_first_sender(sockets, n):
    echoed, first = 0, None
    while echoed < n:
        for sock in select.select(sockets, [], [], 0.5)[0]:
            data, sender = sock.recvfrom(65535)
            first = first or sender
            sock.sendto(data, first)
            echoed += 1
            if echoed == n:
                return


def echo_n_stripped(sockets, n):
    echoed = 0
    while echoed < n:
        for sock in select.select(sockets, [], [], 0.5)[0]:
            data, sender = sock.recvfrom(65535)
            sock.sendto(data.strip() or data, sender)
            echoed += 1
            if echoed == n:
                return


def echo_n_with_a_small_buffer(sockets, n):
    echoed = 0
    while echoed < n:
        for sock in select.select(sockets, [], [], 0.5)[0]:
            data, sender = sock.recvfrom(4096)
            sock.sendto(data, sender)
            echoed += 1
            if echoed == n:
                return


def echo_n_draining_each_socket(sockets, n):
    """Right, written differently: drain every ready socket, stopping at n."""
    echoed = 0
    while echoed < n:
        for sock in select.select(sockets, [], [], 1.0)[0]:
            while echoed < n:
                try:
                    data, sender = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                sock.sendto(data, sender)
                echoed += 1


# --- 3.3 tcp_echo --------------------------------------------------------------------------------


def tcp_echo_one_client_at_a_time(listener, clients):
    for _ in range(clients):
        conn, _ = listener.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)


def tcp_echo_one_recv(listener, clients):
    watched, finished = [listener], 0
    while finished < clients:
        for sock in select.select(watched, [], [], 0.5)[0]:
            if sock is listener:
                conn, _ = listener.accept()
                data = conn.recv(1024)
                conn.sendall(data)
                watched.append(conn)
            elif not sock.recv(1024):
                watched.remove(sock)
                sock.close()
                finished += 1


def tcp_echo_counting_accepts(listener, clients):
    watched, accepted = [listener], 0
    try:
        while accepted < clients or len(watched) > 1:
            for sock in select.select(watched, [], [], 0.5)[0]:
                if sock is listener:
                    watched.append(listener.accept()[0])
                    accepted += 1
                elif data := sock.recv(4096):
                    sock.sendall(data)
                else:
                    watched.remove(sock)
                    sock.close()
            if accepted == clients:
                return
    finally:
        pass


def tcp_echo_with_selectors(listener, clients):
    """Right, written differently: the selectors module."""
    import selectors

    finished = 0
    with selectors.DefaultSelector() as selector:
        selector.register(listener, selectors.EVENT_READ)
        while finished < clients:
            for key, _ in selector.select(1.0):
                sock = key.fileobj
                if sock is listener:
                    selector.register(listener.accept()[0], selectors.EVENT_READ)
                elif data := sock.recv(4096):
                    sock.sendall(data)
                else:
                    selector.unregister(sock)
                    sock.close()
                    finished += 1


WRONG = [
    (check_2_1, drain_into_a_module_list),
    (check_2_1, drain_with_a_small_buffer),
    (check_2_1, drain_three),
    (check_2_1, drain_stripped),
    (check_2_1, drain_none_when_empty),
    (check_2_2, connect_with_my_own_timeout),
    (check_2_2, connect_refused_for_any_failure),
    (check_2_2, connect_ignoring_the_timeout_result),
    (check_2_2, connect_keeping_the_socket),
    (check_2_2, connect_blocking_with_timeout),
    (check_2_3, poll_echo_counting_globally),
    (check_2_3, poll_echo_for_fixed_time),
    (check_2_3, poll_echo_from_a_fresh_socket),
    (check_2_3, poll_echo_stripped),
    (check_2_3, poll_echo_sleeping_a_tenth),
    (check_3_1, wait_remembering),
    (check_3_1, wait_fixed_time),
    (check_3_1, wait_by_peeking_without_timeout_on_tcp),
    (check_3_2, echo_n_counting_globally),
    (check_3_2, echo_n_from_a_fresh_socket),
    (check_3_2, echo_n_to_the_first_sender),
    (check_3_2, echo_n_stripped),
    (check_3_2, echo_n_with_a_small_buffer),
    (check_3_3, tcp_echo_one_client_at_a_time),
    (check_3_3, tcp_echo_one_recv),
    (check_3_3, tcp_echo_counting_accepts),
]

RIGHT = [
    (check_2_1, drain_with_select),
    (check_2_1, drain_with_msg_dontwait),
    (check_2_2, connect_with_poll),
    (check_2_3, poll_echo_with_a_timeout),
    (check_3_1, wait_readable_with_poll),
    (check_3_2, echo_n_draining_each_socket),
    (check_3_3, tcp_echo_with_selectors),
]


def name_of(case: tuple) -> str:
    return case[1].__name__


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("check", "wrong"), WRONG, ids=[name_of(w) for w in WRONG])
def test_wrong_answers_fail(capsys, check, wrong, seed):
    kept.clear()
    assert not check(wrong, seed=seed).passed
    status, out = verdict_of(capsys)
    assert status == "failed", out
    assert ("hint:" in out or "traceback (your code)" in out) and f"seed {seed}" in out, out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("check", "right"), RIGHT, ids=[name_of(r) for r in RIGHT])
def test_right_answers_written_differently_pass(capsys, check, right, seed):
    assert check(right, seed=seed).passed, capsys.readouterr().out
