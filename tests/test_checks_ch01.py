"""The chapter 01 checks pass right answers, fail typical wrong ones with a useful message,
and call a stub "not attempted yet"."""

from __future__ import annotations

import socket
import threading

import pytest
from exercise_checks import stub

from eventloop.checks.ch01 import check_1_1, check_1_2, check_1_3


def verdict_of(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().out.splitlines()
    assert lines, "the check printed nothing"
    return "\n".join(lines)


# --- 1.1 a UDP client with a timeout ------------------------------------------------------------


def udp_request(address, message, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(message, address)
        try:
            return sock.recvfrom(65535)[0]
        except TimeoutError:
            return None


def udp_request_lets_timeout_escape(address, message, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(message, address)
        return sock.recvfrom(65535)[0]


def udp_request_returns_empty_bytes(address, message, timeout):
    return udp_request(address, message, timeout) or b""


def test_1_1_right_answer_passes(capsys):
    assert check_1_1(udp_request).passed
    assert verdict_of(capsys) == "✓ Exercise 1.1 passed"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (udp_request_lets_timeout_escape, "lets TimeoutError escape"),
        (udp_request_returns_empty_bytes, "the result when nobody answers is not right"),
    ],
)
def test_1_1_wrong_answers_fail_with_a_hint(capsys, wrong, says):
    assert not check_1_1(wrong).passed
    out = verdict_of(capsys)
    assert out.startswith("✗ Exercise 1.1 failed:") and says in out
    assert "hint:" in out


def test_1_1_stub_is_not_attempted(capsys):
    assert not check_1_1(stub).passed
    assert verdict_of(capsys).startswith("○ Exercise 1.1 not attempted yet")


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


def serve_one_at_a_time(listener, n):
    transcripts = [b""] * n
    for number in range(n):
        conn, _ = listener.accept()
        echo_until_eof(conn, transcripts, number)
    return transcripts


def serve_without_join(listener, n):
    transcripts = [b""] * n
    for number in range(n):
        conn, _ = listener.accept()
        threading.Thread(target=echo_until_eof, args=(conn, transcripts, number)).start()
    return transcripts


def test_1_2_right_answer_passes(capsys):
    assert check_1_2(serve_with_threads).passed
    assert verdict_of(capsys) == "✓ Exercise 1.2 passed"


def test_1_2_one_at_a_time_fails_because_client_2_waits(capsys):
    assert not check_1_2(serve_one_at_a_time).passed
    out = verdict_of(capsys)
    assert "✗ Exercise 1.2 failed: clients 2 and 3 got no echo while client 1 was silent" in out
    assert "threading.Thread" in out


def test_1_2_forgetting_join_fails_on_the_transcripts(capsys):
    assert not check_1_2(serve_without_join).passed
    out = verdict_of(capsys)
    assert "✗ Exercise 1.2 failed: the transcripts" in out
    assert "join every thread" in out


def test_1_2_stub_is_not_attempted(capsys):
    assert not check_1_2(stub).passed
    assert verdict_of(capsys).startswith("○ Exercise 1.2 not attempted yet")


# --- 1.3 the fixed-port, leaky server ---------------------------------------------------------


def upper_once(ready, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        ready(sock.getsockname())
        data, sender = sock.recvfrom(65535)
        sock.sendto(data.upper(), sender)
        return data


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


def leaky(ready, timeout):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(timeout)
    ready(sock.getsockname())
    data, sender = sock.recvfrom(65535)
    sock.sendto(data.upper(), sender)
    sock.close()
    return data


def test_1_3_right_answer_passes(capsys):
    assert check_1_3(upper_once).passed
    assert verdict_of(capsys) == "✓ Exercise 1.3 passed"


def test_1_3_fixed_port_fails(capsys):
    assert not check_1_3(make_fixed_port_server()).passed
    out = verdict_of(capsys)
    assert "binds the fixed port" in out and "port 0" in out


def test_1_3_every_interface_fails(capsys):
    assert not check_1_3(every_interface).passed
    assert "does not listen on loopback only" in verdict_of(capsys)


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_1_3_leaking_the_socket_on_error_fails(capsys):
    assert not check_1_3(leaky).passed
    out = verdict_of(capsys)
    assert "after an error the socket stays open" in out and "finally" in out


def test_1_3_stub_is_not_attempted(capsys):
    assert not check_1_3(stub).passed
    assert verdict_of(capsys).startswith("○ Exercise 1.3 not attempted yet")
