"""Fixed ports, found in the code before anything runs (pitfall 13).

Two notebooks graded side by side that both bind port 14000: the second fails
with ``Address already in use``, and on a shared grading machine so might
anything else that uses the port. So the grader reads each code cell's syntax
tree first, and does not run a cell that binds a port by number; the other
cells, and the other exercises, are graded as usual.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

import nbformat

TIMING_MAGIC = re.compile(r"^([ \t]*)%{1,2}(?:time|timeit)\b(?:[ \t]+-\S+)*[ \t]*", re.MULTILINE)


def fixed_port_cells(notebook: nbformat.NotebookNode) -> dict[int, list[int]]:
    """The code cells that bind a port by number, by index, with their ports.

    ``bind(("", 14000))``, ``UDPTimeServer(host, 14000)``, or ``PORT`` where
    another cell says ``PORT = 14000``.
    """
    trees = {
        index: tree
        for index, cell in enumerate(notebook.cells)
        if (tree := parse_cell(cell)) is not None
    }
    constants = int_constants(trees.values())
    found: dict[int, list[int]] = {}
    for index, tree in trees.items():
        ports = {
            port
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and (port := port_of_call(node, constants))
        }
        if ports:
            found[index] = sorted(ports)
    return found


def fixed_ports(notebook: nbformat.NotebookNode) -> list[int]:
    """Every port the notebook's code binds by number."""
    return sorted({port for ports in fixed_port_cells(notebook).values() for port in ports})


def int_constants(trees: Iterable[ast.AST]) -> dict[str, int]:
    """``{"PORT": 14000}`` for every ``PORT = 14000`` in the code."""
    constants: dict[str, int] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant)
                and type(node.value.value) is int
            ):
                constants[node.targets[0].id] = node.value.value
    return constants


def parse_cell(cell: nbformat.NotebookNode) -> ast.AST | None:
    """A code cell's syntax tree, magics turned into Python; None for prose or bad syntax."""
    if cell.cell_type != "code":
        return None
    source = TIMING_MAGIC.sub(r"\1", cell.source)  # `%time sock.bind(...)` still binds
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
    except ImportError:
        pass
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def port_of_call(call: ast.Call, constants: dict[str, int]) -> int | None:
    """The literal port a ``bind``/``create_server``/``...Server(...)`` call uses, if any."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name in ("bind", "create_server") and call.args:
        return port_in_address(call.args[0], constants)
    if name.endswith("Server"):
        if call.args and isinstance(call.args[0], (ast.Tuple, ast.List)):
            return port_in_address(call.args[0], constants)
        port = next((k.value for k in call.keywords if k.arg == "port"), None)
        if port is None and len(call.args) > 1:
            port = call.args[1]
        return literal_int(port, constants) if port is not None else None
    return None


def port_in_address(address: ast.expr, constants: dict[str, int]) -> int | None:
    """The port of a literal ``(host, port)`` address, if it is a number we can read."""
    if isinstance(address, (ast.Tuple, ast.List)) and len(address.elts) >= 2:
        return literal_int(address.elts[1], constants)
    return None


def literal_int(node: ast.expr, constants: dict[str, int]) -> int | None:
    """``14000``, or ``PORT`` where the notebook says ``PORT = 14000``; else None."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None
