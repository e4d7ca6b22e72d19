"""The chapter 09 checks pass a right answer and fail typical wrong ones, with a useful verdict."""

from __future__ import annotations

import selectors
import time

import pytest
from exercise_checks import hint_of, verdict_of

from eventloop.checks.ch09 import check_9_1, check_9_2, check_9_3, try_echo

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


# --- 9.1 events_for ------------------------------------------------------------------------------


def events_for(handler):
    return (READ if handler.wants_to_receive() else 0) | (WRITE if handler.wants_to_send() else 0)


def test_9_1_passes_a_right_answer(capsys):
    assert check_9_1(events_for).passed
    assert verdict_of(capsys)[0] == "passed"


def test_9_1_not_attempted(capsys):
    def stub(handler):
        raise NotImplementedError("Exercise 9.1: events_for")

    assert not check_9_1(stub).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


def test_9_1_and_instead_of_or(capsys):
    def with_and(handler):
        if handler.wants_to_receive() and handler.wants_to_send():
            return READ and WRITE  # `and` gives WRITE alone
        return events_for(handler)

    assert not check_9_1(with_and).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "EVENT_READ | EVENT_WRITE" in out


def test_9_1_swapped_bits(capsys):
    def swapped(handler):
        return (WRITE if handler.wants_to_receive() else 0) | (
            READ if handler.wants_to_send() else 0
        )

    assert not check_9_1(swapped).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "EVENT_READ is for wants_to_receive" in out


def test_9_1_a_tuple_is_not_a_mask(capsys):
    assert not check_9_1(lambda h: (h.wants_to_receive(), h.wants_to_send())).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "int mask" in out


# --- 9.2 echo: register once -----------------------------------------------------------------


def echo(selector, sock, count):
    selector.register(sock, READ)
    try:
        echoed = 0
        deadline = time.monotonic() + 2
        while echoed < count and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                data, sender = key.fileobj.recvfrom(65535)
                key.fileobj.sendto(data, sender)
                echoed += 1
    finally:
        selector.unregister(sock)


def buggy_echo(selector, sock, count):
    echoed = 0
    deadline = time.monotonic() + 2
    while echoed < count and time.monotonic() < deadline:
        selector.register(sock, READ)
        for key, _ in selector.select(timeout=0.5):
            data, sender = key.fileobj.recvfrom(65535)
            key.fileobj.sendto(data, sender)
            echoed += 1


def test_9_2_passes_a_right_answer(capsys):
    assert check_9_2(echo).passed
    assert verdict_of(capsys)[0] == "passed"


def test_9_2_the_buggy_loop_fails_with_the_pitfall(capsys):
    assert not check_9_2(buggy_echo).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "already registered" in out and "register once" in out


def test_9_2_try_echo_shows_the_key_error(capsys):
    try_echo(buggy_echo)
    out = capsys.readouterr().out
    assert out.startswith("KeyError: ") and "is already registered" in out


def test_9_2_register_and_unregister_every_time_is_not_the_fix(capsys):
    def churn(selector, sock, count):
        echoed = 0
        while echoed < count:
            selector.register(sock, READ)
            for key, _ in selector.select(timeout=0.5):
                data, sender = key.fileobj.recvfrom(65535)
                key.fileobj.sendto(data, sender)
                echoed += 1
            selector.unregister(sock)

    assert not check_9_2(churn).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "registered more than once" in out


def test_9_2_forgetting_to_unregister(capsys):
    def leaves_it(selector, sock, count):
        selector.register(sock, READ)
        echoed = 0
        while echoed < count:
            for key, _ in selector.select(timeout=0.5):
                data, sender = key.fileobj.recvfrom(65535)
                key.fileobj.sendto(data, sender)
                echoed += 1

    assert not check_9_2(leaves_it).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "still registered" in out


def test_9_2_not_attempted(capsys):
    def stub(selector, sock, count):
        raise NotImplementedError("Exercise 9.2: echo")

    assert not check_9_2(stub).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


# --- 9.3 sync ----------------------------------------------------------------------------------


def sync(selector, changed):
    for handler in changed:
        events = 0
        if handler.fileno() >= 0:
            events = events_for(handler)
        key = selector.get_map().get(handler)
        if key is None:
            if events:
                selector.register(handler, events, handler)
        elif not events:
            selector.unregister(handler)
        elif key.events != events:
            selector.modify(handler, events, handler)


def test_9_3_passes_a_right_answer(capsys):
    assert check_9_3(sync).passed
    assert verdict_of(capsys)[0] == "passed"


def test_9_3_always_register_meets_the_pitfall(capsys):
    def always_register(selector, changed):
        for handler in changed:
            if events_for(handler):
                selector.register(handler, events_for(handler), handler)

    assert not check_9_3(always_register).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "KeyError" in out


def test_9_3_modify_even_when_nothing_changed(capsys):
    def eager(selector, changed):
        for handler in changed:
            events = events_for(handler) if handler.fileno() >= 0 else 0
            if handler in selector.get_map():
                if events:
                    selector.modify(handler, events, handler)
                else:
                    selector.unregister(handler)
            elif events:
                selector.register(handler, events, handler)

    # selectors' own modify() makes no system call when nothing changed, but it is still a
    # call the loop did not need: the check counts it
    assert not check_9_3(eager).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "nothing changed means no call" in out


def test_9_3_ignoring_closed_handlers(capsys):
    def no_close(selector, changed):
        for handler in changed:
            events = events_for(handler)
            key = selector.get_map().get(handler)
            if key is None:
                if events:
                    selector.register(handler, events, handler)
            elif not events:
                selector.unregister(handler)
            elif key.events != events:
                selector.modify(handler, events, handler)

    assert not check_9_3(no_close).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "a was closed" in out


def test_9_3_registering_the_socket_instead_of_the_handler(capsys):
    def by_socket(selector, changed):
        for handler in changed:
            events = events_for(handler)
            if events:
                selector.register(handler.sock, events, handler)

    assert not check_9_3(by_socket).passed
    status, out = verdict_of(capsys)
    assert status == "failed" and "fileobj=handler" in out


def test_9_3_not_attempted(capsys):
    def stub(selector, changed):
        raise NotImplementedError("Exercise 9.3: sync")

    assert not check_9_3(stub).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


def test_checks_close_their_sockets():
    """Run under -W error::ResourceWarning: a leaked socket would fail this test."""
    check_9_3(sync)
    check_9_2(echo)
    check_9_1(events_for)


# --- every further wrong answer, with a word its hint must contain --------------------------------


def events_elif(handler):
    if handler.wants_to_receive():
        return READ
    elif handler.wants_to_send():
        return WRITE
    return 0


def events_assigned(handler):
    events = 0
    if handler.wants_to_receive():
        events = READ
    if handler.wants_to_send():
        events = WRITE  # = instead of |=
    return events


def events_as_sum(handler):
    return READ * handler.wants_to_receive() + WRITE * handler.wants_to_send()


def events_swapped(handler):
    return (WRITE if handler.wants_to_receive() else 0) | (READ if handler.wants_to_send() else 0)


def echo_polling(selector, sock, count):
    selector.register(sock, READ)
    try:
        echoed = 0
        deadline = time.monotonic() + 2
        while echoed < count and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0):
                data, sender = key.fileobj.recvfrom(65535)
                key.fileobj.sendto(data, sender)
                echoed += 1
    finally:
        selector.unregister(sock)


def echo_registered_for_writing(selector, sock, count):
    selector.register(sock, WRITE)
    try:
        echoed = 0
        deadline = time.monotonic() + 2
        while echoed < count and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                data, sender = key.fileobj.recvfrom(65535)
                key.fileobj.sendto(data, sender)
                echoed += 1
    finally:
        selector.unregister(sock)


def echo_with_left_time(selector, sock, count):
    selector.register(sock, READ, "the echo socket")
    try:
        echoed, deadline = 0, time.monotonic() + 2
        while echoed < count and (left := deadline - time.monotonic()) > 0:
            for _key, mask in selector.select(left):
                if mask & READ:
                    data, sender = sock.recvfrom(65535)
                    sock.sendto(data, sender)
                    echoed += 1
    finally:
        selector.unregister(sock)


def sync_register_zero(selector, changed):
    for handler in changed:
        events = events_for(handler) if handler.fileno() >= 0 else 0
        key = selector.get_map().get(handler)
        if key is None:
            selector.register(handler, events, handler)
        elif not events:
            selector.unregister(handler)
        elif key.events != events:
            selector.modify(handler, events, handler)


def sync_never_unregisters(selector, changed):
    for handler in changed:
        events = events_for(handler) if handler.fileno() >= 0 else 0
        key = selector.get_map().get(handler)
        if key is None and events:
            selector.register(handler, events, handler)
        elif key is not None and events and key.events != events:
            selector.modify(handler, events, handler)


def sync_with_try(selector, changed):
    for handler in changed:
        events = events_for(handler) if handler.fileno() >= 0 else 0
        try:
            key = selector.get_key(handler)
        except KeyError:
            if events:
                selector.register(handler, events)
            continue
        if events == 0:
            selector.unregister(handler)
        elif events != key.events:
            selector.modify(handler, events)


RIGHT = [
    pytest.param(check_9_1, events_as_sum, id="9.1 a sum of bits"),
    pytest.param(check_9_2, echo_with_left_time, id="9.2 select(time left), data, mask"),
    pytest.param(check_9_3, sync_with_try, id="9.3 get_key in try"),
]

WRONG = [
    pytest.param(check_9_1, events_elif, "if/elif", id="9.1 if/elif"),
    pytest.param(check_9_1, events_assigned, "|=", id="9.1 = instead of |="),
    pytest.param(check_9_1, events_swapped, "EVENT_READ is for wants_to_receive", id="9.1 swapped"),
    pytest.param(check_9_2, echo_polling, "select(timeout=0)", id="9.2 select(0)"),
    pytest.param(check_9_2, echo_registered_for_writing, "EVENT_READ", id="9.2 EVENT_WRITE"),
    pytest.param(check_9_2, buggy_echo, "register once", id="9.2 the buggy loop"),
    pytest.param(check_9_3, sync_register_zero, "0 is no mask", id="9.3 register 0"),
    pytest.param(check_9_3, sync_never_unregisters, "unregister", id="9.3 never unregisters"),
]


@pytest.mark.parametrize(("check", "answer"), RIGHT)
def test_more_right_answers_pass(capsys, check, answer):
    assert check(answer).passed
    assert verdict_of(capsys)[0] == "passed"


@pytest.mark.parametrize(("check", "wrong", "clue"), WRONG)
def test_wrong_answers_fail_naming_the_mistake(capsys, check, wrong, clue):
    assert not check(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed", out
    assert clue in hint_of(out), out
