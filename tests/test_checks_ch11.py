"""The checks of chapter 11's exercises, against right answers and the mistakes learners make."""

from __future__ import annotations

import asyncio
import time

import pytest
from exercise_checks import stub, verdict_of

from eventloop.checks.ch11 import check_11_1, check_11_2, check_11_3

# --- 11.1 ----------------------------------------------------------------------------------------


class Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, address):
        self.transport.sendto(data, address)


class EchoViaBytes(Echo):  # written differently: copies first
    def datagram_received(self, data, address):
        self.transport.sendto(bytes(bytearray(data)), address)


class NoTransport(asyncio.DatagramProtocol):
    def datagram_received(self, data, address):
        self.transport.sendto(data, address)


class NoAddress(Echo):
    def datagram_received(self, data, address):
        self.transport.sendto(data)


class Shouts(Echo):
    def datagram_received(self, data, address):
        self.transport.sendto(data.upper(), address)


class FirstSenderOnly(Echo):
    def datagram_received(self, data, address):
        self.first = getattr(self, "first", address)
        self.transport.sendto(data, self.first)


@pytest.mark.parametrize("answer", [Echo, EchoViaBytes])
def test_11_1_right_answers_pass(capsys, answer):
    check_11_1(answer)
    assert verdict_of(capsys)[0] == "passed"


@pytest.mark.parametrize(
    ("wrong", "clue"),
    [
        (NoTransport, "keep the transport in connection_made"),
        (NoAddress, "reply to the sender"),
        (Shouts, "exactly the bytes received"),
        (FirstSenderOnly, "no echo came back to bob"),
    ],
)
def test_11_1_wrong_answers_fail_naming_the_mistake(capsys, wrong, clue):
    check_11_1(wrong)
    status, out = verdict_of(capsys)
    assert status == "failed"
    assert clue in out, out


def test_11_1_stub_is_not_attempted(capsys):
    class Stubbed(asyncio.DatagramProtocol):
        def datagram_received(self, data, address):
            stub()

    check_11_1(Stubbed)
    assert verdict_of(capsys)[0] == "not attempted yet"


# --- 11.2 ----------------------------------------------------------------------------------------


async def ask(address, message, timeout):
    loop = asyncio.get_running_loop()
    reply = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data, sender):
            if not reply.done():
                reply.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=address)
    try:
        transport.sendto(message)
        return await asyncio.wait_for(reply, timeout)
    except asyncio.TimeoutError:
        return None
    finally:
        transport.close()


async def ask_with_a_queue(address, message, timeout):  # written differently
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data, sender):
            queue.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=address)
    with_transport = transport
    try:
        with_transport.sendto(message)
        try:
            return await asyncio.wait_for(queue.get(), timeout)
        except asyncio.TimeoutError:
            return None
    finally:
        with_transport.close()


async def no_timeout(address, message, timeout):
    loop = asyncio.get_running_loop()
    reply = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data, sender):
            reply.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=address)
    transport.sendto(message)
    try:
        return await reply
    finally:
        transport.close()


async def empty_on_timeout(address, message, timeout):
    return await ask(address, message, timeout) or b""


async def leaks_on_timeout(address, message, timeout):
    loop = asyncio.get_running_loop()
    reply = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data, sender):
            reply.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=address)
    transport.sendto(message)
    try:
        result = await asyncio.wait_for(reply, timeout)
    except asyncio.TimeoutError:
        return None  # the transport stays open
    transport.close()
    return result


@pytest.mark.parametrize("answer", [ask, ask_with_a_queue])
def test_11_2_right_answers_pass(capsys, answer):
    check_11_2(answer)
    assert verdict_of(capsys)[0] == "passed"


@pytest.mark.parametrize(
    ("wrong", "clue"),
    [
        (no_timeout, "still running after"),
        (empty_on_timeout, "should return None"),
        (leaks_on_timeout, "left its socket open"),
    ],
)
def test_11_2_wrong_answers_fail_naming_the_mistake(capsys, wrong, clue):
    check_11_2(wrong)
    status, out = verdict_of(capsys)
    assert status == "failed"
    assert clue in out, out


def test_11_2_stub_is_not_attempted(capsys):
    async def stubbed(address, message, timeout):
        stub()

    check_11_2(stubbed)
    assert verdict_of(capsys)[0] == "not attempted yet"


# --- 11.3 ----------------------------------------------------------------------------------------


async def fetch_all(names):
    async def fetch(name):
        await asyncio.sleep(0.1)
        return name.upper()

    return await asyncio.gather(*(fetch(name) for name in names))


async def fetch_all_with_tasks(names):  # written differently
    tasks = [asyncio.ensure_future(asyncio.sleep(0.1, name.upper())) for name in names]
    return [await task for task in tasks]


async def time_sleep(names):
    results = []
    for name in names:
        time.sleep(0.1)
        results.append(name.upper())
    return results


async def one_after_another(names):
    results = []
    for name in names:
        await asyncio.sleep(0.1)
        results.append(name.upper())
    return results


async def in_finishing_order(names):
    async def fetch(name, delay):
        await asyncio.sleep(delay)
        return name.upper()

    pending = [fetch(name, 0.1 - 0.01 * n) for n, name in enumerate(names)]
    return [await done for done in asyncio.as_completed(pending)]


@pytest.mark.parametrize("answer", [fetch_all, fetch_all_with_tasks])
def test_11_3_right_answers_pass(capsys, answer):
    check_11_3(answer)
    assert verdict_of(capsys)[0] == "passed"


@pytest.mark.parametrize(
    ("wrong", "clue"),
    [
        (time_sleep, "time.sleep blocks every task"),
        (one_after_another, "one after another"),
        (in_finishing_order, "in the order of names"),
    ],
)
def test_11_3_wrong_answers_fail_naming_the_mistake(capsys, wrong, clue):
    check_11_3(wrong)
    status, out = verdict_of(capsys)
    assert status == "failed"
    assert clue in out, out


def test_11_3_stub_is_not_attempted(capsys):
    async def stubbed(names):
        stub()

    check_11_3(stubbed)
    assert verdict_of(capsys)[0] == "not attempted yet"
