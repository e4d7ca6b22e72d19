"""Run one of CPython's asyncio test modules on eventloop.aio.EventLoop, in a process of its own.

Usage: python tests/cpython_suites.py test_locks test_queues ...   (prints one JSON line)

A process of its own, because some of CPython's tests leak sockets on purpose or
when a feature is out of scope: their garbage must not land in another test's
leak check. Counts only the tests that really created our loop.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import unittest

from eventloop.aio import EventLoop

created = [0]


class CountingLoop(EventLoop):
    def __init__(self) -> None:
        super().__init__()
        created[0] += 1


class Policy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return CountingLoop()


def flatten(suite: unittest.TestSuite):
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from flatten(test)
        else:
            yield test


def main(module: str) -> dict[str, object]:
    try:
        loaded = importlib.import_module(f"test.test_asyncio.{module}")
    except ImportError:
        return {"missing": True}
    asyncio.set_event_loop_policy(Policy())
    ran_on_ours, failures = 0, []
    for test in flatten(unittest.defaultTestLoader.loadTestsFromModule(loaded)):
        before, result = created[0], unittest.TestResult()
        test.run(result)
        if result.skipped or created[0] == before:
            continue
        ran_on_ours += 1
        if not result.wasSuccessful():
            failures.append(test.id())
    return {"ran_on_ours": ran_on_ours, "failures": failures}


if __name__ == "__main__":
    print(json.dumps({module: main(module) for module in sys.argv[1:]}))
