"""The chapter 01 checks pass right answers (also written differently), fail the mistakes
learners really make with a hint that names the mistake, and call a stub "not attempted yet".

``WRONG`` lists every known wrong answer with a word its hint must contain.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from exercise_checks import hint_of, stub, verdict_of

from eventloop.checks.ch01 import check_1_1, check_1_2, check_1_3

# --- 1.1 a UDP client with a timeout ------------------------------------------------------------


def udp_request(address, message, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(message, address)
        try:
            return sock.recvfrom(65535)[0]
        except TimeoutError:
            return None


def udp_request_with_select(address, message, timeout):
    import select

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.sendto(message, address)
        readable, _, _ = select.select([sock], [], [], timeout)
        return sock.recv(65535) if readable else None
    finally:
        sock.close()


def udp_request_lets_timeout_escape(address, message, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(message, address)
        return sock.recvfrom(65535)[0]


def udp_request_returns_empty_bytes(address, message, timeout):
    return udp_request(address, message, timeout) or b""


def udp_request_never_closes(address, message, timeout):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    sock.sendto(message, address)
    try:
        return sock.recvfrom(65535)[0]
    except TimeoutError:
        return None


def udp_request_closes_only_on_success(address, message, timeout):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    sock.sendto(message, address)
    try:
        reply = sock.recvfrom(65535)[0]
    except TimeoutError:
        return None
    sock.close()
    return reply


def udp_request_sleeps_the_timeout(address, message, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.sendto(message, address)
        time.sleep(timeout)
        try:
            return sock.recv(65535)
        except BlockingIOError:
            return None


def udp_request_small_buffer(address, message, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(message, address)
        try:
            return sock.recvfrom(1024)[0]
        except TimeoutError:
            return None


def udp_request_no_timeout(address, message, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(message, address)
        try:
            return sock.recvfrom(65535)[0]
        except TimeoutError:
            return None


def udp_request_returns_the_pair(address, message, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(message, address)
        try:
            return sock.recvfrom(65535)
        except TimeoutError:
            return None


# --- 1.2 a thread per client ---------------------------------------------------------------------


def echo_until_eof(conn, transcripts, number):
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)
            transcripts[number] += data


def serve_with_threads(listener, n):
    transcripts = [b""] * n
    threads = []
    for number in range(n):
        conn, _ = listener.accept()
        thread = threading.Thread(target=echo_until_eof, args=(conn, transcripts, number))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return transcripts


def serve_with_a_dict_and_bytearrays(listener, n):
    parts = {}

    def serve(conn, number):
        parts[number] = bytearray()
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
                parts[number].extend(data)
        finally:
            conn.close()

    threads = [threading.Thread(target=serve, args=(listener.accept()[0], k)) for k in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [bytes(parts[k]) for k in range(n)]


def serve_with(handler, join=True, join_each=False):
    """A thread-per-client server whose per-connection code is ``handler``."""

    def serve(listener, n):
        transcripts = [b""] * n
        threads = []
        for number in range(n):
            conn, _ = listener.accept()
            thread = threading.Thread(target=handler, args=(conn, transcripts, number))
            thread.start()
            if join_each:
                thread.join()
            threads.append(thread)
        for thread in threads if join else []:
            thread.join()
        return transcripts

    return serve


def echo_with_send(conn, transcripts, number):
    with conn:
        while data := conn.recv(4096):
            conn.send(data)
            transcripts[number] += data


def echo_assigning(conn, transcripts, number):
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)
            transcripts[number] = data


def echo_never_closing(conn, transcripts, number):
    while data := conn.recv(4096):
        conn.sendall(data)
        transcripts[number] += data


def echo_once(conn, transcripts, number):
    with conn:
        data = conn.recv(4096)
        conn.sendall(data)
        transcripts[number] += data


def serve_one_at_a_time(listener, n):
    transcripts = [b""] * n
    for number in range(n):
        conn, _ = listener.accept()
        echo_until_eof(conn, transcripts, number)
    return transcripts


# --- 1.3 the fixed-port, leaky server ---------------------------------------------------------


def upper_once(ready, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        ready(sock.getsockname())
        data, sender = sock.recvfrom(65535)
        sock.sendto(data.upper(), sender)
        return data


def upper_once_try_finally(ready, timeout):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        ready(sock.getsockname())
        data, sender = sock.recvfrom(65535)
        sock.sendto(data.upper(), sender)
        return data
    finally:
        sock.close()


def make_fixed_port_server():
    """The exercise's bug, with a port chosen by the test so that it cannot collide."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def fixed_port(ready, timeout):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", port))
            sock.settimeout(timeout)
            ready(sock.getsockname())
            data, sender = sock.recvfrom(65535)
            sock.sendto(data.upper(), sender)
            return data

    return fixed_port


def every_interface(ready, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("", 0))
        sock.settimeout(timeout)
        ready(sock.getsockname())
        data, sender = sock.recvfrom(65535)
        sock.sendto(data.upper(), sender)
        return data


def leaky_on_error(ready, timeout):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(timeout)
    ready(sock.getsockname())
    data, sender = sock.recvfrom(65535)
    sock.sendto(data.upper(), sender)
    sock.close()
    return data


def never_closes(ready, timeout):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(timeout)
    ready(sock.getsockname())
    data, sender = sock.recvfrom(65535)
    sock.sendto(data.upper(), sender)
    return data


def swallows_errors(ready, timeout):
    try:
        return upper_once(ready, timeout)
    except Exception:
        return b""


def replies_unchanged(ready, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        ready(sock.getsockname())
        data, sender = sock.recvfrom(65535)
        sock.sendto(data, sender)
        return data


def never_calls_ready(ready, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        try:
            sock.recvfrom(65535)
        except TimeoutError:
            return b""
        return b""


RIGHT = [
    pytest.param(check_1_1, udp_request, id="1.1 settimeout"),
    pytest.param(check_1_1, udp_request_with_select, id="1.1 select and try/finally"),
    pytest.param(check_1_2, serve_with_threads, id="1.2 list of transcripts"),
    pytest.param(check_1_2, serve_with_a_dict_and_bytearrays, id="1.2 dict, bytearrays"),
    pytest.param(check_1_3, upper_once, id="1.3 with"),
    pytest.param(check_1_3, upper_once_try_finally, id="1.3 try/finally"),
]

WRONG = [
    pytest.param(check_1_1, udp_request_lets_timeout_escape, "TimeoutError", id="1.1 escape"),
    pytest.param(check_1_1, udp_request_returns_empty_bytes, "None", id="1.1 b''"),
    pytest.param(check_1_1, udp_request_never_closes, "with socket", id="1.1 never closes"),
    pytest.param(check_1_1, udp_request_closes_only_on_success, "every", id="1.1 closes once"),
    pytest.param(check_1_1, udp_request_sleeps_the_timeout, "do not sleep", id="1.1 sleeps"),
    pytest.param(check_1_1, udp_request_small_buffer, "65535", id="1.1 recvfrom(1024)"),
    pytest.param(check_1_1, udp_request_no_timeout, "settimeout", id="1.1 no timeout"),
    pytest.param(check_1_1, udp_request_returns_the_pair, "[0]", id="1.1 returns (data, addr)"),
    pytest.param(check_1_2, serve_one_at_a_time, "threading.Thread", id="1.2 one at a time"),
    pytest.param(check_1_2, serve_with(echo_until_eof, join=False), "join", id="1.2 no join"),
    pytest.param(
        check_1_2,
        serve_with(echo_until_eof, join_each=True),
        "only join",
        id="1.2 join each at once",
    ),  # fmt: skip
    pytest.param(check_1_2, serve_with(echo_with_send), "sendall", id="1.2 send"),
    pytest.param(check_1_2, serve_with(echo_assigning), "+=", id="1.2 = instead of +="),
    pytest.param(check_1_2, serve_with(echo_never_closing), "with conn", id="1.2 never closes"),
    pytest.param(check_1_2, serve_with(echo_once), "until it returns b''", id="1.2 one recv"),
    pytest.param(check_1_3, make_fixed_port_server(), "port 0", id="1.3 fixed port"),
    pytest.param(check_1_3, every_interface, "'127.0.0.1'", id="1.3 every interface"),
    pytest.param(check_1_3, leaky_on_error, "finally", id="1.3 leaks on error"),
    pytest.param(check_1_3, never_closes, "with socket", id="1.3 never closes"),
    pytest.param(check_1_3, swallows_errors, "propagate", id="1.3 swallows errors"),
    pytest.param(check_1_3, replies_unchanged, "upper", id="1.3 no upper"),
    pytest.param(check_1_3, never_calls_ready, "ready(", id="1.3 never calls ready"),
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


@pytest.mark.parametrize("check", [check_1_1, check_1_2, check_1_3])
def test_stubs_are_not_attempted(capsys, check):
    assert not check(stub).passed
    assert verdict_of(capsys)[0] == "not attempted yet"
