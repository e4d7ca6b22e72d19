"""CPython's own asyncio tests, run against eventloop.aio.EventLoop.

``test.test_asyncio.test_events.EventLoopTestsMixin`` is the suite CPython runs
against each of its own loops, through ``create_event_loop()``. The tests
listed here are the ones our loop must pass. Whole suites (locks, queues,
timeouts, task groups, streams) run through an event loop policy. Skipped cleanly where this
Python was installed without its test package.
"""

from __future__ import annotations

import json
import subprocess
import sys
import unittest
from pathlib import Path

import pytest

from eventloop.aio import EventLoop

try:
    from test.test_asyncio import test_events
    from test.test_asyncio import utils as test_utils
except ImportError:  # some Pythons ship without the test package
    pytest.skip("this Python has no test.test_asyncio", allow_module_level=True)

PASSING = [
    "test_run_until_complete",
    "test_run_until_complete_stopped",
    "test_run_until_complete_nesting",
    "test_call_later",
    "test_call_soon",
    "test_call_soon_threadsafe",
    "test_call_soon_threadsafe_same_thread",
    "test_run_in_executor",
    "test_run_in_executor_cancel",
    "test_reader_callback",
    "test_writer_callback",
    "test_add_fds_after_closing",
    "test_remove_fds_after_closing",
    "test_close_running_event_loop",
    "test_close",
    # transports and servers (eventloop.aio.transports, servers, datagram)
    "test_create_connection",
    "test_create_connection_local_addr",
    "test_create_connection_local_addr_in_use",
    "test_create_connection_local_addr_skip_different_family",
    "test_create_connection_local_addr_nomatch_family",
    "test_create_server",
    "test_create_server_sock",
    "test_create_server_addr_in_use",
    "test_create_server_reuse_port",
    "test_server_close",
    "test_connect_accepted_socket",
    "test_create_datagram_endpoint",
    "test_create_datagram_endpoint_sock",
    # issue 26's edges (eventloop.aio.servers, datagram)
    "test_create_server_dual_stack",
    "test_create_datagram_endpoint_ipv6",
    "test_connect_accepted_socket_ssl_timeout_for_plain_socket",
]


class OurLoopTests(test_events.EventLoopTestsMixin, test_utils.TestCase):
    __test__ = False  # run one by one below, not collected whole by pytest

    def create_event_loop(self) -> EventLoop:
        return EventLoop()


@pytest.mark.parametrize("name", PASSING)
def test_cpython_event_loop_test_passes_on_our_loop(name: str) -> None:
    if not hasattr(OurLoopTests, name):
        pytest.skip(f"{name} is not in this Python's test_events")
    result = unittest.TestResult()
    OurLoopTests(name).run(result)
    problems = [text for _, text in result.errors + result.failures]
    assert not problems, problems[0]
    assert not result.skipped, result.skipped
    assert result.testsRun == 1


# --- whole suites, through an event loop policy --------------------------------------------------

SUITES = {  # module: the share of its tests (that created our loop) that must pass
    "test_locks": 0.95,
    "test_queues": 0.95,
    "test_waitfor": 0.95,
    "test_timeouts": 0.95,
    "test_taskgroups": 0.95,
    "test_streams": 0.85,  # the rest need TLS, Unix sockets or pipes: out of scope
}


@pytest.fixture(scope="module")
def suite_outcomes() -> dict[str, dict]:
    """Every suite, run once in one process of its own (see tests/cpython_suites.py)."""
    script = Path(__file__).with_name("cpython_suites.py")
    run = subprocess.run(
        [sys.executable, "-W", "ignore::ResourceWarning", str(script), *SUITES],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", list(SUITES))
def test_cpython_suites_pass_on_our_loop(module: str, suite_outcomes: dict[str, dict]) -> None:
    """Every test that created our loop counts; a test that never did proves nothing."""
    outcome = suite_outcomes[module]
    if outcome.get("missing"):
        pytest.skip(f"{module} is newer than this Python")
    ran, failures = outcome["ran_on_ours"], outcome["failures"]
    if ran == 0:  # e.g. Python 3.10's test_queues runs on its own fake-clock loop only
        pytest.skip(f"{module} never creates a loop through the policy on this Python")
    print(f"{module}: {ran - len(failures)} of {ran} passed on our loop")
    assert ran >= 10, f"only {ran} tests created our loop"
    assert ran - len(failures) >= SUITES[module] * ran, failures


# --- suites whose loop class is hard-wired: their mixins, given our loop --------------------------

from test.test_asyncio import test_buffered_proto, test_sock_lowlevel  # noqa: E402


class OurSockTests(test_sock_lowlevel.BaseSockTestsMixin, test_utils.TestCase):
    """``sock_*`` (sock_recvfrom, sock_sendto...): CPython's tests for every selector loop."""

    __test__ = False

    def create_event_loop(self) -> EventLoop:
        return EventLoop()


class OurBufferedProtocolTests(test_buffered_proto.BaseTestBufferedProtocol, unittest.TestCase):
    """``asyncio.BufferedProtocol`` on our stream transports."""

    __test__ = False

    def new_loop(self) -> EventLoop:
        return EventLoop()


MIXIN_CASES = [
    (case, name)
    for case in (OurSockTests, OurBufferedProtocolTests)
    for name in sorted(dir(case))
    if name.startswith("test_")
]


@pytest.mark.parametrize(("case", "name"), MIXIN_CASES, ids=[n for _, n in MIXIN_CASES])
def test_cpython_sock_and_buffered_protocol_tests_pass_on_our_loop(case, name: str) -> None:
    result = unittest.TestResult()
    case(name).run(result)
    problems = [text for _, text in result.errors + result.failures]
    assert not problems, problems[0]
    assert result.testsRun == 1
