"""The wire between the judge and a candidate: framed messages, with sockets handed over.

Why a module of its own: both ends speak it, and each must trust it in a
different way. The judge writes requests with ``pickle`` (the candidate runs
whatever the judge sends: that is its job). The candidate answers in JSON
only, decoded by ``decode``, which builds plain values and nothing else:
unpickling the candidate's bytes would let the learner's code run code in the
judge, and the judge is exactly what it must not reach.

A message is a 4-byte length and its bytes. Sockets travel beside a message
as file descriptors (``SCM_RIGHTS``): the candidate receives a descriptor of
the *same* kernel socket, so what it sends and receives is what the judge's
own sockets see.
"""

from __future__ import annotations

import array
import base64
import socket
import struct
from typing import Any

HEADER = struct.Struct("!I")
MAX_FDS = 64
MAX_REPLY = 4 * 1024 * 1024
"""The largest reply the judge reads: a candidate cannot make the judge hold more."""


class ChannelClosed(Exception):
    """The other end went away (the candidate died, or the judge did)."""


def send_message(channel: socket.socket, payload: bytes, fds: list[int] | None = None) -> None:
    """Send one framed message, with ``fds`` attached to its first byte."""
    data = HEADER.pack(len(payload)) + payload
    if fds:
        sent = channel.sendmsg(
            [data[:1]], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
        )
        data = data[sent:]
    if data:
        channel.sendall(data)


def receive_message(channel: socket.socket, limit: int = MAX_REPLY) -> tuple[bytes, list[int]]:
    """Receive one framed message and the descriptors that came with it."""
    fds: list[int] = []
    first, ancillary, _, _ = channel.recvmsg(1, socket.CMSG_SPACE(MAX_FDS * 4))
    if not first:
        raise ChannelClosed("the other end closed the channel")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(data) - len(data) % 4
            fds.extend(array.array("i", data[:usable]))
    header = first + receive_exactly(channel, HEADER.size - 1)
    (length,) = HEADER.unpack(header)
    if length > limit:
        for fd in fds:
            socket.close(fd)
        raise ChannelClosed(f"a message of {length} bytes, more than the {limit} allowed")
    return receive_exactly(channel, length), fds


def receive_exactly(channel: socket.socket, count: int) -> bytes:
    """``count`` bytes from ``channel``; ``ChannelClosed`` if it ends first."""
    chunks = bytearray()
    while len(chunks) < count:
        chunk = channel.recv(min(count - len(chunks), 1 << 20))
        if not chunk:
            raise ChannelClosed("the other end closed the channel mid-message")
        chunks += chunk
    return bytes(chunks)


# --- the candidate's answers: JSON with a small, closed vocabulary -------------------------------


def encode(value: object, depth: int = 0) -> Any:
    """A JSON-ready form of ``value``; anything unusual becomes its type and a short repr."""
    if depth > 20:
        return {"opaque": type(value).__name__, "repr": "<nested too deeply>"}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, tuple):
        return {"tuple": [encode(item, depth + 1) for item in value]}
    if isinstance(value, list):
        return [encode(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"set": [encode(item, depth + 1) for item in value]}
    return {"opaque": type(value).__name__, "repr": safe_repr(value)}


class Opaque:
    """A value the candidate returned that is not plain data: its type's name and its repr.

    Never equal to a plain value, so a check that expects ``True`` and gets a
    learner's object that claims to equal everything still fails.
    """

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and (other.type_name, other.text) == (
            self.type_name,
            self.text,
        )

    def __hash__(self) -> int:
        return hash((self.type_name, self.text))


def decode(value: Any) -> object:
    """The inverse of ``encode``, building only plain values (and ``Opaque``)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        if "bytes" in value:
            return base64.b64decode(str(value["bytes"]))
        if "tuple" in value:
            return tuple(decode(item) for item in value["tuple"])
        if "set" in value:
            return {decode(item) for item in value["set"]}
        if "dict" in value:
            return {decode(k): decode(v) for k, v in value["dict"]}
        return Opaque(str(value.get("opaque", "?")), str(value.get("repr", "?"))[:300])
    return Opaque(type(value).__name__, "?")


def safe_repr(value: object, limit: int = 200) -> str:
    """``repr(value)``, shortened; a repr that raises is said, not raised."""
    try:
        text = repr(value)
    except Exception as error:  # a learner's __repr__ may raise: the verdict must not
        text = f"<{type(value).__name__} whose repr raised {type(error).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
