"""JSON log lines (``accord serve --log-format json``): one object per record.

Each line has ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger`` and
``message``, ``exception`` when the record carries one, and ``trace_id`` /
``span_id`` (W3C hex) when a span is current where the record was logged: with
``--otel``, so a log line of an operation or an execution joins its trace. The trace
ids are read from :mod:`accord.otel` only when it is loaded (``--otel`` loads it):
without it nothing of OpenTelemetry is imported.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

__all__ = ["JsonFormatter", "uvicorn_log_config"]


def _trace_ids() -> tuple[str, str] | None:
    otel = sys.modules.get("accord.otel")
    return None if otel is None else otel.current_ids()


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object on one line."""
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry: dict[str, Any] = {
            "time": f"{seconds}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ids = _trace_ids()
        if ids is not None:
            entry["trace_id"], entry["span_id"] = ids
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


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
            "access": {
                "class": "logging.StreamHandler",
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
