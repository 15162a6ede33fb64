"""uvicorn's text log lines for ``accord serve``, with a cheaper access log.

uvicorn writes one access line per request (``INFO:     127.0.0.1:5555 - "POST /
HTTP/1.1" 200 OK``). Its formatter copies every record twice and looks the status
phrase up each time, and its handler writes and flushes each line by itself: the
access log added about 30 % to the server CPU of a blocking SendMessage. Here
:class:`AccessFormatter` writes the very same line without the copies, from a table of
status phrases; with colours (a terminal), another format or arguments it does not
recognise, it leaves the line to uvicorn's. Its handler is a
:class:`~accord.server.access_log.BatchedAccessHandler`, through which the protocols of
``accord serve`` write the lines of one loop pass at once, without a log record each:
the access log now adds about 8 % (measured 2026-12-06, bench/README.md). Everything
else is uvicorn's own configuration.
"""

from __future__ import annotations

import copy
import http
from typing import TYPE_CHECKING, Any

from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

if TYPE_CHECKING:
    import logging

__all__ = ["AccessFormatter", "uvicorn_text_log_config"]

#: The access line's format in uvicorn's configuration: the one the fast path writes.
ACCESS_FORMAT = LOGGING_CONFIG["formatters"]["access"]["fmt"]


def _status(code: int) -> str:
    """``200 OK``; an unknown code keeps uvicorn's trailing space (``599 ``)."""
    try:
        phrase = http.HTTPStatus(code).phrase
    except ValueError:
        phrase = ""
    return f"{code} {phrase}"


#: ``status code -> "code phrase"`` for every code HTTPStatus knows.
_STATUS = {code.value: _status(code.value) for code in http.HTTPStatus}


class AccessFormatter(UvicornAccessFormatter):
    """uvicorn's access formatter, writing its plain line without copying the record."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain = not self.use_colors and self._fmt == ACCESS_FORMAT

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The access line, as uvicorn's formatter would write it."""
        args = record.args
        line = None
        if type(args) is tuple:
            line = self.plain_line(record.name, record.levelname, args)
        return super().formatMessage(record) if line is None else line

    def plain_line(
        self, name: str, levelname: str, args: tuple[Any, ...]
    ) -> str | None:
        """The plain line for uvicorn's five access arguments (``client, method, path,
        version, status``), or None when uvicorn's formatter must write it (colours,
        another format, other arguments). Also the short path of
        :class:`~accord.server.access_log.BatchedAccessHandler`, without a record
        (the line does not show the logger's ``name``)."""
        if not self._plain or len(args) != 5:
            return None
        client, method, path, version, code = args
        status = _STATUS.get(code) if type(code) is int else None
        if status is None:
            status = _status(int(code))
        return (
            f'{levelname}:{" " * (8 - len(levelname))} {client} - "{method} {path} '
            f'HTTP/{version}" {status}'
        )


def uvicorn_text_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration, its access lines by :class:`AccessFormatter`
    through a :class:`~accord.server.access_log.BatchedAccessHandler` (same stream)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["access"]["()"] = f"{__name__}.AccessFormatter"
    config["handlers"]["access"]["class"] = (
        "accord.server.access_log.BatchedAccessHandler"  # as in _json_logs
    )
    return config
