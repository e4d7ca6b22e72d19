"""The chapter 03 checks pass a right answer and fail typical wrong ones, with a useful verdict."""

from __future__ import annotations

import select
import socket
import time

import pytest
from exercise_checks import hint_of, verdict_of

from eventloop.checks.ch03 import check_3_1, check_3_2, check_3_3, try_tcp_echo

# --- 3.1 wait_readable ---------------------------------------------------------------------------


def wait_readable(sock: socket.socket, timeout: float) -> bool:
    readable, _, _ = select.select([sock], [], [], timeout)
    return sock in readable


def test_3_1_passes_a_right_answer(capsys):
    assert check_3_1(wait_readable).passed
    assert verdict_of(capsys)[0] == "passed"


def test_3_1_not_attempted(capsys):
    def stub(sock, timeout):
        raise NotImplementedError("Exercise 3.1: wait_readable")

    assert not check_3_1(stub).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


def test_3_1_fails_an_answer_that_reads_the_data(capsys):
    def reads(sock, timeout):
        readable, _, _ = select.select([sock], [], [], timeout)
        if sock in readable and sock.type == socket.SOCK_DGRAM:
            sock.recv(100)
        return sock in readable

    assert not check_3_1(reads).passed
    assert "should only wait" in verdict_of(capsys)[1]


def test_3_1_stops_an_answer_that_waits_without_timeout(capsys):
    began = time.monotonic()
    result = check_3_1(lambda sock, timeout: bool(select.select([sock], [], [])[0]), time_limit=1)
    assert not result.passed
    assert time.monotonic() - began < 3
    assert "still running" in verdict_of(capsys)[1]


# --- 3.2 echo_n ----------------------------------------------------------------------------------


def echo_n(sockets, n):
    echoed = 0
    deadline = time.monotonic() + 2
    while echoed < n and time.monotonic() < deadline:
        readable, _, _ = select.select(sockets, [], [], 0.5)
        for sock in readable:
            data, sender = sock.recvfrom(65535)
            sock.sendto(data, sender)
            echoed += 1
            if echoed == n:
                break


def test_3_2_passes_a_right_answer(capsys):
    assert check_3_2(echo_n).passed
    assert verdict_of(capsys)[0] == "passed"


def test_3_2_passes_sockets_in_another_order(capsys):
    assert check_3_2(lambda sockets, n: echo_n(sockets[::-1], n)).passed


def echo_once_each(sockets, n):
    readable, _, _ = select.select(sockets, [], [], 0.5)
    for sock in readable:
        data, sender = sock.recvfrom(65535)
        sock.sendto(data, sender)


def echo_without_stopping_midway(sockets, n):
    echoed = 0
    while echoed < n:
        readable, _, _ = select.select(sockets, [], [], 0.5)
        for sock in readable:
            data, sender = sock.recvfrom(65535)
            sock.sendto(data, sender)
            echoed += 1


def echo_first_socket_only(sockets, n):
    for _ in range(n):
        readable, _, _ = select.select(sockets[:1], [], [], 0.1)
        for sock in readable:
            data, sender = sock.recvfrom(65535)
            sock.sendto(data, sender)


def echo_truncated(sockets, n):
    echoed = 0
    while echoed < n:
        for sock in select.select(sockets, [], [], 0.5)[0][: n - echoed]:
            data, sender = sock.recvfrom(1)
            sock.sendto(data, sender)
            echoed += 1


# --- 3.3 tcp_echo (pitfall 2) --------------------------------------------------------------------


def tcp_echo(listener, clients, *, forget_closed=True):
    watched = [listener]
    finished = 0
    deadline = time.monotonic() + 3
    try:
        while finished < clients and time.monotonic() < deadline:
            readable, _, _ = select.select(watched, [], [], 0.5)
            for sock in readable:
                if sock is listener:
                    conn, _ = listener.accept()
                    watched.append(conn)
                    continue
                data = sock.recv(4096)
                if data:
                    sock.sendall(data)
                    continue
                if forget_closed:
                    watched.remove(sock)
                sock.close()
                finished += 1
    finally:
        for sock in watched[1:]:
            sock.close()


def test_3_3_passes_the_fixed_loop(capsys):
    assert check_3_3(tcp_echo).passed
    assert verdict_of(capsys)[0] == "passed"


def test_3_3_fails_the_buggy_loop_naming_the_closed_socket(capsys):
    assert not check_3_3(lambda listener, n: tcp_echo(listener, n, forget_closed=False)).passed
    status, out = verdict_of(capsys)
    assert status == "failed"
    assert "closed socket" in out and "remove the socket" in out


def test_3_3_fails_a_loop_that_does_not_echo(capsys):
    def no_echo(listener, clients):
        for _ in range(clients):
            conn, _ = listener.accept()
            with conn:
                conn.recv(100)

    assert not check_3_3(no_echo).passed
    assert verdict_of(capsys)[0] == "failed"


def test_try_tcp_echo_shows_how_the_buggy_loop_fails(capsys):
    def buggy_tcp_echo(listener, clients):
        tcp_echo(listener, clients, forget_closed=False)

    try_tcp_echo(buggy_tcp_echo)
    assert capsys.readouterr().out.splitlines() == [
        "buggy_tcp_echo raised ValueError: file descriptor cannot be a negative integer (-1)",
        "the clients got back: [b'first']",
    ]
    try_tcp_echo(tcp_echo)
    assert capsys.readouterr().out.splitlines() == [
        "tcp_echo returned",
        "the clients got back: [b'first', b'second']",
    ]


def tcp_echo_never_closing(listener, clients):
    watched, finished = [listener], 0
    deadline = time.monotonic() + 3
    while finished < clients and time.monotonic() < deadline:
        for sock in select.select(watched, [], [], 0.5)[0]:
            if sock is listener:
                watched.append(listener.accept()[0])
            elif data := sock.recv(4096):
                sock.sendall(data)
            else:
                watched.remove(sock)
                finished += 1


def tcp_echo_with_send(listener, clients):
    watched, finished = [listener], 0
    deadline = time.monotonic() + 3
    try:
        while finished < clients and time.monotonic() < deadline:
            for sock in select.select(watched, [], [], 0.5)[0]:
                if sock is listener:
                    watched.append(listener.accept()[0])
                elif data := sock.recv(4096):
                    sock.send(data.upper())
                else:
                    watched.remove(sock)
                    sock.close()
                    finished += 1
    finally:
        for sock in watched[1:]:
            sock.close()


# --- every wrong answer, with a word its hint must contain --------------------------------------


def wait_in_write_list(sock, timeout):
    readable, writable, _ = select.select([sock], [sock], [], timeout)
    return bool(readable or writable)


def wait_by_polling(sock, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([sock], [], [], 0)[0]:
            return True
    return False


def wait_with_recv_peek(sock, timeout):
    sock.settimeout(timeout)
    try:
        sock.recv(1, socket.MSG_PEEK)
        return True
    except TimeoutError:
        return False
    finally:
        sock.setblocking(False)


def echo_by_polling(sockets, n):
    echoed = 0
    deadline = time.monotonic() + 2
    while echoed < n and time.monotonic() < deadline:
        for sock in sockets:
            try:
                data, sender = sock.recvfrom(65535)
            except BlockingIOError:
                continue
            sock.sendto(data, sender)
            echoed += 1
            if echoed == n:
                return


def echo_select_zero(sockets, n):
    echoed = 0
    deadline = time.monotonic() + 2
    while echoed < n and time.monotonic() < deadline:
        for sock in select.select(sockets, [], [], 0)[0]:
            data, sender = sock.recvfrom(65535)
            sock.sendto(data, sender)
            echoed += 1
            if echoed == n:
                return


def echo_returns_the_count(sockets, n):
    echo_n(sockets, n)
    return n


def echo_if_instead_of_while(sockets, n):
    echoed = 0
    if echoed < n:
        for sock in select.select(sockets, [], [], 0.5)[0]:
            data, sender = sock.recvfrom(65535)
            sock.sendto(data, sender)
            echoed += 1


def echo_upper(sockets, n):
    echoed = 0
    while echoed < n:
        for sock in select.select(sockets, [], [], 0.5)[0]:
            data, sender = sock.recvfrom(65535)
            sock.sendto(data.upper(), sender)
            echoed += 1
            if echoed == n:
                return


RIGHT = [
    pytest.param(check_3_1, wait_readable, id="3.1 select"),
    pytest.param(
        check_3_1, lambda sock, t: len(select.select([sock], [], [], t)[0]) == 1, id="3.1 len"
    ),
    pytest.param(check_3_1, wait_with_recv_peek, id="3.1 recv with MSG_PEEK and a timeout"),
    pytest.param(check_3_2, echo_n, id="3.2 returns None"),
    pytest.param(check_3_2, echo_returns_the_count, id="3.2 returns a count"),
]

WRONG = [
    pytest.param(
        check_3_1,
        lambda sock, timeout: select.select([sock], [], [], timeout)[0],
        "into a bool",
        id="3.1 returns the list",
    ),
    pytest.param(check_3_1, lambda sock, timeout: True, "empty lists", id="3.1 always True"),
    pytest.param(
        check_3_1,
        lambda sock, timeout: time.sleep(timeout) or False,
        "first list",
        id="3.1 always False",
    ),  # fmt: skip
    pytest.param(
        check_3_1,
        lambda sock, timeout: bool(select.select([sock], [], [], 0)[0]),
        "pass the timeout",
        id="3.1 ignores the timeout",
    ),
    pytest.param(
        check_3_1, wait_in_write_list, "second for writing", id="3.1 socket in the write list"
    ),
    pytest.param(check_3_1, wait_by_polling, "burns a CPU core", id="3.1 select(..., 0) loop"),
    pytest.param(check_3_2, echo_once_each, "loop until n", id="3.2 one pass"),
    pytest.param(check_3_2, echo_if_instead_of_while, "loop until n", id="3.2 if instead of while"),
    pytest.param(
        check_3_2, echo_without_stopping_midway, "middle of the ready list", id="3.2 overshoots"
    ),
    pytest.param(check_3_2, echo_first_socket_only, "every socket", id="3.2 first socket only"),
    pytest.param(check_3_2, echo_truncated, "exactly as it came", id="3.2 truncates"),
    pytest.param(check_3_2, echo_upper, "exactly as it came", id="3.2 changes the data"),
    pytest.param(check_3_2, echo_by_polling, "burns a CPU core", id="3.2 polls recvfrom"),
    pytest.param(check_3_2, echo_select_zero, "burns a CPU core", id="3.2 select(..., 0)"),
    pytest.param(
        check_3_3,
        lambda listener, n: tcp_echo(listener, n, forget_closed=False),
        "remove the socket",
        id="3.3 the buggy loop",
    ),  # fmt: skip
    pytest.param(check_3_3, tcp_echo_never_closing, "close it", id="3.3 never closes"),
    pytest.param(
        check_3_3, tcp_echo_with_send, "unchanged", id="3.3 changes the data"
    ),  # fmt: skip
]


@pytest.mark.parametrize(("check", "answer"), RIGHT)
def test_right_answers_pass(capsys, check, answer):
    assert check(answer).passed
    assert verdict_of(capsys)[0] == "passed"


@pytest.mark.parametrize(("check", "wrong", "clue"), WRONG)
def test_wrong_answers_fail_naming_the_mistake(capsys, check, wrong, clue):
    assert not check(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed", out
    assert clue in hint_of(out), out
