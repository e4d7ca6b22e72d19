"""CPython's own asyncio tests, run against eventloop.aio.EventLoop.

``test.test_asyncio.test_events.EventLoopTestsMixin`` is the suite CPython runs
against each of its own loops, through ``create_event_loop()``. The tests
listed here are the ones our loop must pass; the network ones (transports and
servers) join the list when chapter 11 builds them. Skipped cleanly where this
Python was installed without its test package.
"""

from __future__ import annotations

import unittest

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
]


class OurLoopTests(test_events.EventLoopTestsMixin, test_utils.TestCase):
    __test__ = False  # run one by one below, not collected whole by pytest

    def create_event_loop(self) -> EventLoop:
        return EventLoop()


@pytest.mark.parametrize("name", PASSING)
def test_cpython_event_loop_test_passes_on_our_loop(name: str) -> None:
    result = unittest.TestResult()
    OurLoopTests(name).run(result)
    problems = [text for _, text in result.errors + result.failures]
    assert not problems, problems[0]
    assert not result.skipped, result.skipped
    assert result.testsRun == 1
