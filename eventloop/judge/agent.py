"""The candidate's side: a child process that runs the learner's code when the judge asks.

Run as ``python -m eventloop.judge.agent FD``, where FD is this end of a Unix
socket pair the judge made. The agent answers one request at a time:

``define``  a name and a pickled object (the learner's function or class, shipped
            by value from the notebook with cloudpickle) into its namespace;
``exec``    source code run in its namespace (how a grader loads a submission's cells);
``call``    a defined name with pickled arguments; sockets in the arguments arrive as
            descriptors of the judge's own sockets;
``bye``     end.

It answers in JSON (``channel.encode``): the value returned, or what was raised,
where, and the traceback of the learner's frames. It never decides a verdict:
what it says is only what happened. Everything ``BaseException`` is caught and
reported, so a learner's ``sys.exit()`` or ``KeyboardInterrupt`` is an answer,
not a dead candidate.
"""

from __future__ import annotations

import gc
import io
import json
import pickle
import socket
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from eventloop.checks.probes import spy_on, watch_wall_clocks
from eventloop.error_report import where_raised
from eventloop.judge.channel import ChannelClosed, encode, receive_message, send_message
from eventloop.judge.sources import restore_sources

STUB_MARK = "Exercise "
"""Stubs raise ``NotImplementedError("Exercise N.M: ...")``: that alone is "not attempted"."""


class ArgumentUnpickler(pickle.Unpickler):
    """Turns the judge's socket placeholders back into sockets over the received descriptors."""

    def __init__(self, data: bytes, fds: list[int], namespace: dict[str, Any]) -> None:
        super().__init__(io.BytesIO(data))
        self.fds = fds
        self.namespace = namespace
        self.sockets: list[socket.socket] = []

    def persistent_load(self, pid: Any) -> object:
        kind, index, timeout = pid
        if kind == "named":  # what the judge defined here earlier, e.g. the learner's class
            return self.namespace[index]
        if kind != "socket":
            raise pickle.UnpicklingError(f"unknown placeholder {kind!r}")
        sock = socket.socket(fileno=self.fds[index])
        sock.settimeout(timeout)  # as the judge's socket was: blocking, timed, or not
        self.sockets.append(sock)
        return sock


def describe_error(error: BaseException, exercise: str | None = None) -> dict[str, Any]:
    """What was raised, where in the learner's code, and the traceback of their frames."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [frame for frame in frames if "eventloop/judge/" not in frame.filename]
    lines = traceback.format_list(own[-8:])
    return {
        "type": type(error).__name__,
        "module": type(error).__module__,
        "message": str(error)[:2000],
        "where": where_raised(error, cell="your cell"),
        "traceback": "".join(lines)[-6000:],
        "stub": isinstance(error, NotImplementedError) and str(error).startswith(STUB_MARK),
        "base": not isinstance(error, Exception),
    }


@contextmanager
def watching(probes: list[str], target: object) -> Iterator[dict[str, list[str]]]:
    """Run the probes the judge asked for around one call.

    ``wall_clocks``: which wall clocks the call read; ``sleeps``: the length of
    each ``time.sleep`` in the calling thread. What a probe reports comes from
    inside the candidate, so the judge uses it only to explain a failure (a
    deadline on the wall clock, a nap far longer than asked), never to pass one.
    """
    observed: dict[str, list[str]] = {}
    with ExitStack() as stack:
        if "wall_clocks" in probes:
            observed["wall_clocks"] = stack.enter_context(watch_wall_clocks(target))
        sleeps = stack.enter_context(spy_on(time, "sleep", target)) if "sleeps" in probes else []
        mine = threading.get_ident()
        try:
            yield observed
        finally:
            if "sleeps" in probes:
                naps = [call.args[0] for call in sleeps if call.thread == mine and call.args]
                observed["sleeps"] = [repr(nap) for nap in naps if isinstance(nap, (int, float))]


def handle(request: dict[str, Any], fds: list[int], namespace: dict[str, Any]) -> dict[str, Any]:
    """Carry out one request; the reply says what happened."""
    kind = request["kind"]
    if kind == "define":
        value = pickle.loads(request["object"])
        restore_sources(value, request.get("sources", {}))
        namespace[request["name"]] = value
        return {"ok": True}
    if kind == "exec":
        try:
            code = compile(request["source"], request.get("filename", "<submission>"), "exec")
            exec(code, namespace)
        except BaseException as error:  # the submission's own code raised: report it
            return {"raised": describe_error(error)}
        return {"ok": True}
    if kind == "call":
        unpickler = ArgumentUnpickler(request["args"], fds, namespace)
        args, kwargs = unpickler.load()
        target = namespace[request["name"]]
        with (
            warnings.catch_warnings(record=True) as caught,
            watching(request.get("probes", []), target) as observed,
        ):
            warnings.simplefilter("always", ResourceWarning)
            try:
                result = target(*args, **kwargs)
                reply: dict[str, Any] = {"returned": encode(result)}
            except BaseException as error:  # the learner's code raised: that is the answer
                reply = {"raised": describe_error(error)}
            finally:
                for sock in unpickler.sockets:
                    sock.close()  # our descriptor only: the judge's socket stays open
            result = None
            gc.collect()  # a socket the learner dropped says so now, not at some later call
        reply["unclosed"] = [str(w.message)[:300] for w in caught if w.category is ResourceWarning]
        reply["observed"] = {name: found[:20] for name, found in observed.items()}
        return reply
    raise ValueError(f"unknown request {kind!r}")


def serve(channel: socket.socket) -> None:
    """Answer requests until the judge says ``bye`` or goes away."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    while True:
        try:
            data, fds = receive_message(channel, limit=1 << 30)
        except ChannelClosed:
            return
        request = pickle.loads(data)
        if request["kind"] == "bye":
            return
        try:
            reply = handle(request, fds, namespace)
        except Exception as error:  # the agent itself failed: say so, it is not the learner's
            reply = {"agent_failed": f"{type(error).__name__}: {error}"}
        send_message(channel, json.dumps(reply).encode())


def main() -> None:
    channel = socket.socket(fileno=int(sys.argv[1]))
    sys.stdin.close()
    try:
        serve(channel)
    finally:
        channel.close()


if __name__ == "__main__":
    main()
