"""JSON log lines (``accord serve --log-format json``): one object per record.

Each line has ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger`` and
``message``, ``exception`` when the record carries one, and ``trace_id`` /
``span_id`` (W3C hex) when a span is current where the record was logged: with
``--otel``, so a log line of an operation or an execution joins its trace. The trace
ids are read from :mod:`accord.otel` only when it is loaded (``--otel`` loads it):
without it nothing of OpenTelemetry is imported.

uvicorn's access lines (on stdout) take the short path of
:mod:`accord.server.access_log`: the same fields, written without a log record, the
lines of a loop pass at once.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import time
from typing import Any

__all__ = ["JsonFormatter", "uvicorn_log_config"]


def _trace_ids() -> tuple[str, str] | None:
    otel = sys.modules.get("accord.otel")
    return None if otel is None else otel.current_ids()


#: The message uvicorn's protocols log for each answer, with five arguments.
ACCESS_MESSAGE = '%s - "%s %s HTTP/%s" %d'


#: One encoder for every line (``json.dumps`` with options builds one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


@functools.lru_cache(maxsize=4)
def _utc_second(second: int) -> str:
    """``2026-12-06T15:28:54``: formatted once per second, not per line."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _entry(created: float, level: str, name: str, message: str) -> dict[str, Any]:
    """A line's fields, with the trace ids of the span current now."""
    second = int(created)
    msecs = int((created - second) * 1000)  # as logging.LogRecord.msecs
    entry: dict[str, Any] = {
        "time": f"{_utc_second(second)}.{msecs:03d}Z",
        "level": level,
        "logger": name,
        "message": message,
    }
    ids = _trace_ids()
    if ids is not None:
        entry["trace_id"], entry["span_id"] = ids
    return entry


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object on one line."""
        entry = _entry(
            record.created, record.levelname, record.name, record.getMessage()
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)

    def plain_line(
        self, name: str, levelname: str, args: tuple[Any, ...]
    ) -> str | None:
        """The line of an access record (uvicorn's five arguments) logged now, without
        the record: the short path of
        :class:`~accord.server.access_log.BatchedAccessHandler`."""
        if len(args) != 5:
            return None
        return _ENCODER.encode(
            _entry(time.time(), levelname, name, ACCESS_MESSAGE % args)
        )


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with every line as JSON (its access log to
    stdout, the rest to stderr, as uvicorn's own configuration does)."""
    formatter = {"()": f"{__name__}.JsonFormatter"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
            "access": {  # lines kept per loop pass: accord.server.access_log
                "class": "accord.server.access_log.BatchedAccessHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {
                "handlers": ["access"],
                "level": "INFO",
                "propagate": False,
            },
        },
    }
