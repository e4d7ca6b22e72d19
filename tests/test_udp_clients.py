"""Every UDP client the course writes is bound to loopback (or connected) before it sends.

A UDP socket that calls ``sendto`` without ``bind`` is bound by the kernel to
port N on *every* interface (``0.0.0.0``): until it is closed, it accepts
datagrams that anyone who can reach the machine sends to port N, and a client
that reads replies would take them for the server's. ``bind(("127.0.0.1", 0))``
(or ``connect``, which also makes the kernel drop datagrams from anyone but
the server) keeps it on loopback. The course tells servers to bind loopback;
its clients must too, since learners copy them.

This reads the notebooks' code cells, the solutions and the package: in each
cell (in the package, each top-level function or class), a socket created with
``SOCK_DGRAM`` that is used with ``sendto`` must be bound or connected there,
and a literal address it binds must be loopback.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
    (ROOT / "solutions").glob("*.ipynb")
)
MODULES = sorted((ROOT / "eventloop").rglob("*.py"))
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def creates_udp_socket(node: ast.AST) -> bool:
    """``socket.socket(..., socket.SOCK_DGRAM, ...)`` (or ``socket(...)``) with SOCK_DGRAM."""
    if not isinstance(node, ast.Call) or ast.unparse(node.func) not in ("socket.socket", "socket"):
        return False
    return any("SOCK_DGRAM" in ast.unparse(arg) for arg in [*node.args, *node.keywords])


def udp_sockets(tree: ast.AST) -> set[str]:
    """The names (``client``, ``self.sock``) a UDP socket is assigned to in ``tree``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and creates_udp_socket(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(ast.unparse(target) for target in targets)
        elif isinstance(node, ast.withitem) and creates_udp_socket(node.context_expr):
            if node.optional_vars is not None:
                names.add(ast.unparse(node.optional_vars))
    return names


def calls(tree: ast.AST, method: str) -> Iterator[tuple[str, ast.Call]]:
    """``(receiver, call)`` for every ``receiver.method(...)`` in ``tree``."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == method
        ):
            yield ast.unparse(node.func.value), node


def literal_host(call: ast.Call) -> str | None:
    """The host of ``bind(("host", port))`` when it is written out, else None."""
    if call.args and isinstance(call.args[0], ast.Tuple) and call.args[0].elts:
        first = call.args[0].elts[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def unbound_senders(tree: ast.AST) -> list[str]:
    """The UDP sockets in ``tree`` that send without being bound to loopback or connected."""
    sockets = udp_sockets(tree)
    settled = {name for name, _ in calls(tree, "connect")}
    settled |= {ast.unparse(call.args[0]) for _, call in calls(tree, "sock_connect") if call.args}
    problems = []
    for name, call in calls(tree, "bind"):
        host = literal_host(call)
        if host is not None and host not in LOOPBACK:
            problems.append(f"{name} binds {host!r}, not loopback")
        settled.add(name)
    senders = {name for name, _ in calls(tree, "sendto")}
    senders |= {ast.unparse(call.args[0]) for _, call in calls(tree, "sock_sendto") if call.args}
    problems += [
        f"{name} sends without bind or connect" for name in sorted(sockets & senders - settled)
    ]
    return problems


def code_cells(notebook: Path) -> Iterator[tuple[int, str]]:
    """``(number, source)`` of each code cell, IPython magics and shell lines left out."""
    for number, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        if cell["cell_type"] == "code":
            lines = "".join(cell["source"]).splitlines()
            yield (
                number,
                "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!"))),
            )


def test_the_finder_finds_an_unbound_client_and_accepts_a_bound_or_connected_one():
    unbound = "with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:\n    c.sendto(b'x', a)"
    bound = "c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nc.bind(('127.0.0.1', 0))\n"
    connected = "with socket.socket(AF_INET, SOCK_DGRAM) as c:\n    c.connect(a)\n    c.send(b'x')"
    everywhere = "c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nc.bind(('', 0))\n"
    asyncio_unbound = (
        "with socket.socket(AF_INET, SOCK_DGRAM) as c:\n    loop.sock_sendto(c, b'x', a)"
    )
    asyncio_connected = asyncio_unbound.replace(
        "loop.sock_sendto(c, b'x', a)", "loop.sock_connect(c, a)"
    )
    assert unbound_senders(ast.parse(unbound)) == ["c sends without bind or connect"]
    assert unbound_senders(ast.parse(bound + "c.sendto(b'x', a)")) == []
    assert unbound_senders(ast.parse(connected)) == []
    assert unbound_senders(ast.parse(everywhere)) == ["c binds '', not loopback"]
    assert unbound_senders(ast.parse(asyncio_unbound)) == ["c sends without bind or connect"]
    assert unbound_senders(ast.parse(asyncio_connected + "\n    c.sendto(b'x', a)")) == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_udp_clients_in_the_notebooks_are_bound_to_loopback_before_they_send(notebook):
    found = [
        f"cell {number}: {problem}"
        for number, source in code_cells(notebook)
        for problem in unbound_senders(ast.parse(source))
    ]
    assert not found, "bind each client first, client.bind(('127.0.0.1', 0)):\n" + "\n".join(found)


def test_udp_clients_in_the_package_are_bound_to_loopback_before_they_send():
    found = []
    for module in MODULES:
        for definition in ast.parse(module.read_text()).body:
            for problem in unbound_senders(definition):
                found.append(f"{module.relative_to(ROOT)}, line {definition.lineno}: {problem}")
    assert not found, "bind each client first, client.bind(('127.0.0.1', 0)):\n" + "\n".join(found)
