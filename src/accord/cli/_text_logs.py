"""uvicorn's text log lines for ``accord serve``, with a cheaper access log.

uvicorn writes one access line per request (``INFO:     127.0.0.1:5555 - "POST /
HTTP/1.1" 200 OK``). Its formatter copies every record twice and looks the status
phrase up each time: with it, the access log added about 30 % to the server CPU of a
blocking SendMessage; with :class:`AccessFormatter`, about 20 % (bench/README.md).
This formatter writes the very same line without the copies, from a table of status
phrases; with colours (a terminal), another format or arguments it does not
recognise, it leaves the line to uvicorn's. Everything else is uvicorn's own
configuration.
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
        if not self._plain or type(args) is not tuple or len(args) != 5:
            return super().formatMessage(record)
        client, method, path, version, code = args
        status = _STATUS.get(code) if type(code) is int else None
        if status is None:
            status = _status(int(code))  # type: ignore[call-overload]
        level = record.levelname
        return (
            f'{level}:{" " * (8 - len(level))} {client} - "{method} {path} '
            f'HTTP/{version}" {status}'
        )


def uvicorn_text_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration, its access lines by :class:`AccessFormatter`."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["access"]["()"] = f"{__name__}.AccessFormatter"
    return config
