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


# --- whole suites, through an event loop policy --------------------------------------------------

SUITES = ["test_locks", "test_queues", "test_waitfor", "test_timeouts", "test_taskgroups"]


def flatten(suite: unittest.TestSuite):
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from flatten(test)
        else:
            yield test


@pytest.mark.parametrize("module", SUITES)
def test_cpython_suites_pass_on_our_loop(module: str) -> None:
    """Every test that created our loop counts; a test that never did proves nothing."""
    import asyncio
    import importlib

    try:
        suite = unittest.defaultTestLoader.loadTestsFromModule(
            importlib.import_module(f"test.test_asyncio.{module}")
        )
    except ImportError:
        pytest.skip(f"{module} is newer than this Python")
    created = [0]

    class Counting(EventLoop):
        def __init__(self) -> None:
            super().__init__()
            created[0] += 1

    class Policy(asyncio.DefaultEventLoopPolicy):
        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            return Counting()

    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(Policy())
    ran_on_ours, failures = 0, []
    try:
        for test in flatten(suite):
            before, result = created[0], unittest.TestResult()
            test.run(result)
            if result.skipped or created[0] == before:
                continue
            ran_on_ours += 1
            if not result.wasSuccessful():
                failures.append(test.id())
    finally:
        asyncio.set_event_loop_policy(previous)
    print(f"{module}: {ran_on_ours - len(failures)} of {ran_on_ours} passed on our loop")
    assert ran_on_ours >= 10, f"only {ran_on_ours} tests created our loop"
    assert len(failures) <= 0.05 * ran_on_ours, failures
