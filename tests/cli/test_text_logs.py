"""``accord serve``'s access formatter writes exactly uvicorn's line, only cheaper."""

from __future__ import annotations

import copy
import http
import logging
import logging.config
from typing import Any

import pytest
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

from accord.cli._text_logs import (
    ACCESS_FORMAT,
    AccessFormatter,
    uvicorn_text_log_config,
)


def _record(*args: Any, level: int = logging.INFO) -> logging.LogRecord:
    # What uvicorn's protocols log for each answer (httptools_impl / h11_impl).
    return logging.LogRecord(
        "uvicorn.access", level, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )


RECORDS = [
    _record("127.0.0.1:5555", "POST", "/", "1.1", 200),
    _record("[::1]:443", "GET", "/tasks/t-1?historyLength=2", "1.1", 404),
    _record("10.0.0.7:1", "GET", "/.well-known/agent-card.json", "1.0", 304),
    _record("10.0.0.7:1", "POST", "/message:stream", "1.1", 599),  # no phrase
    _record("10.0.0.7:1", "POST", "/", "1.1", 503, level=logging.WARNING),
    _record("10.0.0.7:1", "POST", "/", "1.1", 101, level=logging.CRITICAL),
    _record("10.0.0.7:1", "POST", "/", "1.1", http.HTTPStatus.NO_CONTENT),  # an IntEnum
]


@pytest.mark.parametrize("use_colors", [False, True])
@pytest.mark.parametrize("record", RECORDS, ids=lambda r: str(r.args))
def test_the_line_is_uvicorns(record: logging.LogRecord, use_colors: bool) -> None:
    ours = AccessFormatter(ACCESS_FORMAT, use_colors=use_colors)
    theirs = UvicornAccessFormatter(ACCESS_FORMAT, use_colors=use_colors)
    assert ours._plain is not use_colors  # the fast path is the plain one
    assert ours.format(record) == theirs.format(record)


def test_another_format_or_other_arguments_are_left_to_uvicorn() -> None:
    fmt = "%(client_addr)s %(status_code)s"
    ours = AccessFormatter(fmt, use_colors=False)
    assert not ours._plain
    record = RECORDS[0]
    assert ours.format(record) == UvicornAccessFormatter(fmt, use_colors=False).format(
        record
    )
    # Something else logging to uvicorn.access with its own arguments.
    plain = AccessFormatter(ACCESS_FORMAT, use_colors=False)
    odd = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "x", (), None)
    # uvicorn's formatter needs its five arguments
    with pytest.raises(ValueError, match="not enough values to unpack"):
        plain.format(odd)
    mapping = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "%(a)s", ({"a": 1},), None
    )
    with pytest.raises(ValueError, match="not enough values to unpack"):
        plain.format(mapping)  # a mapping, not uvicorn's tuple: uvicorn's formatter


def test_the_config_is_uvicorns_with_this_formatter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = uvicorn_text_log_config()
    expected = copy.deepcopy(LOGGING_CONFIG)
    expected["formatters"]["access"]["()"] = "accord.cli._text_logs.AccessFormatter"
    expected["handlers"]["access"]["class"] = (
        "accord.server.access_log.BatchedAccessHandler"
    )
    assert config == expected
    assert LOGGING_CONFIG["formatters"]["access"]["()"] == (
        "uvicorn.logging.AccessFormatter"
    )  # uvicorn's own is left alone
    logger = logging.getLogger("uvicorn.access")
    saved = logger.handlers[:], logger.level, logger.propagate
    try:
        logging.config.dictConfig(config)
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:9", "POST", "/", "1.1", 200)
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    assert (
        capsys.readouterr().out == 'INFO:     127.0.0.1:9 - "POST / HTTP/1.1" 200 OK\n'
    )
