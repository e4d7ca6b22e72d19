"""Helpers shared by the tests: loopback sockets that are always closed."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture
def udp_client() -> Iterator[socket.socket]:
    """A UDP socket on 127.0.0.1 with a 2 s timeout, closed after the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(2.0)
        yield sock
