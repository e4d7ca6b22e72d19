"""How our asyncio loop reports an error no one awaited: asyncio's exception handler API.

A callback that raises, a task whose exception was never retrieved, a
protocol that failed: asyncio hands each to ``loop.call_exception_handler``
with a *context* dict (``message``, ``exception``, ``task``, ``handle``...).
The default handler logs it on the ``asyncio`` logger, as asyncio's does; in
debug mode the context also says where the object was created, and that
traceback is printed as a traceback, not as a list.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("asyncio")


class ErrorMethods:
    """Mixed into ``EventLoop``: set, get and call the exception handler."""

    _exception_handler: Callable[..., object] | None

    def set_exception_handler(self, handler: Callable[..., object] | None) -> None:
        if handler is not None and not callable(handler):
            raise TypeError(f"A callable object or None is expected, got {handler!r}")
        self._exception_handler = handler

    def get_exception_handler(self) -> Callable[..., object] | None:
        return self._exception_handler

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        """Log the error, as asyncio does: the message, then what the context holds."""
        message = context.get("message") or "Unhandled exception in event loop"
        exception = context.get("exception")
        details = [
            format_context_value(key, value)
            for key, value in sorted(context.items())
            if key not in ("message", "exception")
        ]
        text = "\n".join([message, *details])
        exc_info = (type(exception), exception, exception.__traceback__) if exception else False
        logger.error(text, exc_info=exc_info)

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        if self._exception_handler is None:
            try:
                self.default_exception_handler(context)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                logger.error("Exception in default exception handler", exc_info=True)
            return
        try:
            self._exception_handler(self, context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as error:
            self.default_exception_handler(
                {
                    "message": "Unhandled error in exception handler",
                    "exception": error,
                    "context": context,
                }
            )


def format_context_value(key: str, value: Any) -> str:
    """One line (or block) of an error report: tracebacks formatted, other values repr'd."""
    if key in ("source_traceback", "handle_traceback") and value:
        where = "Object created at" if key == "source_traceback" else "Handle created at"
        return f"{where} (most recent call last):\n" + "".join(traceback.format_list(value))
    return f"{key}: {value!r}"
