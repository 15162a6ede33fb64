"""A cheaper access log: lines formatted straight from their fields, written per loop pass.

uvicorn logs one access line per answer through the ``uvicorn.access`` logger: a
``LogRecord`` (caller lookup, thread and process names, a dict), the handler's lock,
the formatter, then a ``write`` and a ``flush`` system call to stdout for that one
line. Measured on the benchmark machine, the access log added 23 % to the server CPU
time of a blocking SendMessage and 40 % to a message reply's; by this short path,
8 % to each (``bench/README.md``).

When the logger is configured the way ``accord serve`` configures it (one
:class:`BatchedAccessHandler`, a formatter able to write the line from the arguments,
:class:`PlainLines`: its text and its JSON formatters are; no filters, no
propagation), :class:`AccessLog` skips the record: the handler formats the line
from uvicorn's five arguments and keeps it until the end of the current pass of the
event loop, then writes every line of the pass in one call. The text is the same.
Any other configuration (another handler, a filter, colours, a level that drops the
lines) takes the ordinary ``logging`` path, unchanged.

``accord serve`` configures it so (``accord.cli._text_logs``, ``_json_logs``); under
your own
uvicorn, :func:`~accord.server.serving.uvicorn_options` brings :class:`AccessLog` and
the lines take the ordinary path unless you configure such a handler.

A line waits at most one pass of the event loop; a record logged the ordinary way
through the same handler goes out after the lines before it, and ``flush()`` (which
``logging.shutdown`` calls at exit) writes what is kept.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Protocol

__all__ = ["AccessLog", "BatchedAccessHandler", "PlainLines", "access_log"]


class PlainLines(Protocol):
    """A formatter that can write the access line from uvicorn's arguments alone."""

    def plain_line(
        self, name: str, levelname: str, args: tuple[Any, ...]
    ) -> str | None:
        """The line logger ``name`` would write for uvicorn's access ``args`` at
        ``levelname``, now; None when it must take the ordinary path."""
        ...  # pragma: no cover - a protocol


class BatchedAccessHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A ``StreamHandler`` that also takes ready lines, written once per loop pass."""

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._lines: list[str] = []
        self._plain: PlainLines | None = None

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        super().setFormatter(fmt)
        self._plain = fmt if callable(getattr(fmt, "plain_line", None)) else None  # type: ignore[assignment]

    def plain_line(self, name: str, args: tuple[Any, ...]) -> str | None:
        """Logger ``name``'s INFO line for uvicorn's access ``args``, or None."""
        plain = self._plain
        return None if plain is None else plain.plain_line(name, "INFO", args)

    def add_line(self, line: str) -> None:
        """Keep ``line`` for the end of this loop pass (at once outside a loop)."""
        with self.lock:  # type: ignore[union-attr]
            lines = self._lines
            lines.append(line)
            if len(lines) > 1:
                return  # the pass's write is already due
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:
            self.flush()

    def emit(self, record: logging.LogRecord) -> None:
        with self.lock:  # type: ignore[union-attr]  # the handler's RLock: reentrant
            if self._lines:
                self._write_lines()
            super().emit(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._lines:
                self._write_lines()
            super().flush()

    def _write_lines(self) -> None:
        lines = self._lines
        self._lines = []
        try:
            lines.append("")  # the terminator of the last line
            self.stream.write(self.terminator.join(lines))
        except Exception:
            self.handleError(
                logging.makeLogRecord({"msg": "access log lines", "args": None})
            )


class AccessLog:
    """What uvicorn's protocols call ``access_logger``: ``info`` takes the short path
    when :func:`_batched` finds ``accord serve``'s configuration, else the logger's."""

    __slots__ = ("_logger",)

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def info(self, msg: str, *args: Any) -> None:
        """One access line: uvicorn passes ``client, method, path, version, status``."""
        logger = self._logger
        handler = _batched(logger)
        line = None if handler is None else handler.plain_line(logger.name, args)
        if line is None:
            logger.info(msg, *args)
        else:
            handler.add_line(line)  # type: ignore[union-attr]

    def __getattr__(self, name: str) -> Any:
        # uvicorn also asks hasHandlers(); anything else a caller may use.
        return getattr(self._logger, name)


def _batched(logger: logging.Logger) -> BatchedAccessHandler | None:
    """The logger's only handler when the short path writes what logging would."""
    handlers = logger.handlers
    if len(handlers) != 1 or logger.propagate or logger.filters or logger.disabled:
        return None
    handler = handlers[0]
    if (
        type(handler) is not BatchedAccessHandler
        or handler.filters
        or handler.level > logging.INFO
        or not logger.isEnabledFor(logging.INFO)
    ):
        return None
    return handler


@functools.cache
def access_log() -> AccessLog:
    """The access logger for uvicorn's protocols (``uvicorn.access``, short path)."""
    return AccessLog(logging.getLogger("uvicorn.access"))
