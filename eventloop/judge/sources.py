"""Where the learner's code came from, so a traceback in the candidate can quote it.

cloudpickle ships a function's code but names its file ``<dynamic-code>``
(so that the same function always pickles the same), and the candidate has no
copy of a notebook's cells anyway. Without help, a traceback from the
candidate would say "line 4" of nothing. So the judge sends, beside each
answer, the file names of its functions and the lines of those files (a cell's
text, from ``linecache``), and the candidate puts both back.
"""

from __future__ import annotations

import linecache
from collections.abc import Iterator
from types import CodeType, FunctionType
from typing import Any


def functions_of(value: object) -> Iterator[FunctionType]:
    """The Python functions that make up ``value``: itself, or a class's methods."""
    if isinstance(value, FunctionType):
        yield value
    elif isinstance(value, type):
        for attribute in vars(value).values():
            inner = getattr(attribute, "__func__", attribute)  # staticmethod, classmethod
            if isinstance(attribute, property):
                inner = attribute.fget
            if isinstance(inner, FunctionType):
                yield inner


def key_of(code: CodeType) -> str:
    """How the two sides name one function's code: its name and first line."""
    return f"{code.co_name}:{code.co_firstlineno}"


def source_map(value: object) -> dict[str, Any]:
    """File names and file lines for ``value``'s functions, to travel with it."""
    codes: dict[str, str] = {}
    files: dict[str, list[str]] = {}
    for function in functions_of(value):
        code = function.__code__
        codes[key_of(code)] = code.co_filename
        if code.co_filename not in files:
            files[code.co_filename] = linecache.getlines(code.co_filename)[:5000]
    return {"codes": codes, "files": files}


def restore_sources(value: object, sources: dict[str, Any]) -> None:
    """Give ``value``'s functions their file names back, and the files' lines to linecache."""
    for filename, lines in sources.get("files", {}).items():
        if lines:
            linecache.cache[filename] = (sum(map(len, lines)), None, list(lines), filename)
    codes = sources.get("codes", {})
    for function in functions_of(value):
        filename = codes.get(key_of(function.__code__))
        if filename:
            function.__code__ = renamed(function.__code__, filename)


def renamed(code: CodeType, filename: str) -> CodeType:
    """``code`` and the code nested in it (lambdas, comprehensions), filed under ``filename``."""
    consts = tuple(
        renamed(const, filename) if isinstance(const, CodeType) else const
        for const in code.co_consts
    )
    return code.replace(co_filename=filename, co_consts=consts)
