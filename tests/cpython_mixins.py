"""Run named tests of CPython's asyncio loop mixins on eventloop.aio.EventLoop, in a process.

Usage: python tests/cpython_mixins.py test_events.EventLoopTestsMixin:test_read_pipe ...
(prints one JSON line: each ``mixin:test`` with ``passed``, ``missing``, ``skipped: why``
or the last line of its failure).

CPython runs these mixins against each of its own loops through ``create_event_loop()``;
here the loop is ours. A process of its own (in a scratch directory: sendfile's tests write
a file into the current one), because each test's ``tearDown`` collects
garbage three times, which costs about a second per test in a pytest process's large heap,
and because a failing test may leave sockets or children behind.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import unittest

from eventloop.aio import EventLoop


def on_our_loop(where: str) -> type | None:
    """CPython's mixin ``module.Class`` as a test case on our loop; None if this Python lacks it.

    The subprocess mixin has no ``setUp`` of its own: test_events' main mixin makes ``self.loop``.
    """
    module_name, class_name = where.split(".")
    try:
        module = importlib.import_module(f"test.test_asyncio.{module_name}")
        events = importlib.import_module("test.test_asyncio.test_events")
        utils = importlib.import_module("test.test_asyncio.utils")
    except ImportError:
        return None
    mixin = getattr(module, class_name, None)
    if mixin is None:
        return None
    bases = (events.EventLoopTestsMixin, mixin) if "Subprocess" in class_name else (mixin,)

    class OnOurLoop(*bases, utils.TestCase):  # type: ignore[misc]
        def create_event_loop(self) -> EventLoop:
            return EventLoop()

    return OnOurLoop


def outcome(where: str, name: str) -> str:
    case = on_our_loop(where)
    if case is None or not hasattr(case, name):
        return "missing"
    result = unittest.TestResult()
    unittest.TestSuite([case(name)]).run(result)  # a suite: it runs setUpClass (sendfile's file)
    problems = [text for _, text in result.errors + result.failures]
    if problems:
        return problems[0].strip().splitlines()[-1]
    if result.skipped:
        return f"skipped: {result.skipped[0][1]}"
    return "passed"


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:  # sendfile's tests write a file here
        os.chdir(scratch)
        outcomes = {test: outcome(*test.split(":")) for test in sys.argv[1:]}
    print(json.dumps(outcomes))
