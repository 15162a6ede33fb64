"""The short access-log path: the same lines as logging would write, once per pass.

Each test builds its own logger (never the process's ``uvicorn.access``) over a stream
that records every ``write`` call, configured as ``accord serve`` configures uvicorn's:
one :class:`BatchedAccessHandler` with ``accord serve``'s formatter. Then one thing
is changed at a time to see the ordinary ``logging`` path taken instead.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

from accord.cli._json_logs import JsonFormatter, uvicorn_log_config
from accord.cli._text_logs import ACCESS_FORMAT, AccessFormatter
from accord.server.access_log import AccessLog, BatchedAccessHandler, access_log
from tests.helpers.loop_pass import pass_ends

#: What uvicorn's protocols pass for one answer (httptools_impl / h11_impl).
ACCESS_MESSAGE = '%s - "%s %s HTTP/%s" %d'
ANSWERS = [
    ("127.0.0.1:5555", "POST", "/", "1.1", 200),
    ("[::1]:443", "GET", "/tasks/t-1?historyLength=2", "1.1", 404),
    ("10.0.0.7:1", "POST", "/message:stream", "1.1", 599),  # a code with no phrase
]


class Stream(io.StringIO):
    """Records each write call."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def uvicorns_line(args: tuple[Any, ...], levelname: str = "INFO") -> str:
    """The line uvicorn's own formatter writes for these arguments."""
    record = logging.LogRecord(
        "uvicorn.access",
        getattr(logging, levelname),
        __file__,
        1,
        ACCESS_MESSAGE,
        args,
        None,
    )
    return UvicornAccessFormatter(ACCESS_FORMAT, use_colors=False).format(record) + "\n"


_names = iter(range(1_000_000))


Configured = tuple[logging.Logger, BatchedAccessHandler, Stream]


@pytest.fixture
def configured() -> Iterator[Callable[[], Configured]]:
    """A logger set up as accord serve sets up ``uvicorn.access``.

    Made when the test body starts, not in the fixture's setup: pytest's log capture
    adds its handlers to every non-propagating logger that exists when a test phase
    begins, which would be a second handler (the ordinary path, rightly).
    """
    made: list[Configured] = []

    def make() -> Configured:
        logger = logging.getLogger(f"tests.access.{next(_names)}")
        stream = Stream()
        handler = BatchedAccessHandler(stream)
        handler.setFormatter(AccessFormatter(ACCESS_FORMAT, use_colors=False))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        made.append((logger, handler, stream))
        return made[-1]

    yield make
    for logger, handler, _ in made:
        logger.removeHandler(handler)


def test_the_lines_of_a_pass_leave_in_one_write_as_uvicorn_writes_them(
    configured: Callable[[], Configured],
) -> None:
    logger, _, stream = configured()
    log = AccessLog(logger)

    async def serve() -> None:
        for args in ANSWERS:
            log.info(ACCESS_MESSAGE, *args)
        assert stream.writes == []  # kept for the end of the pass
        await pass_ends()
        assert stream.writes == ["".join(uvicorns_line(args) for args in ANSWERS)]
        log.info(ACCESS_MESSAGE, *ANSWERS[0])  # a later pass: a write of its own
        await pass_ends()
        assert stream.writes[1:] == [uvicorns_line(ANSWERS[0])]

    asyncio.run(serve())


def test_json_lines_take_the_short_path_with_the_same_fields(
    configured: Callable[[], Configured],
) -> None:
    logger, handler, stream = configured()
    handler.setFormatter(JsonFormatter())

    async def serve() -> None:
        for args in ANSWERS:
            AccessLog(logger).info(ACCESS_MESSAGE, *args)
        assert stream.writes == []  # kept for the end of the pass
        await pass_ends()

    asyncio.run(serve())
    assert len(stream.writes) == 1
    lines = [json.loads(line) for line in stream.writes[0].splitlines()]
    for line, args in zip(lines, ANSWERS, strict=True):
        record = logging.LogRecord(
            logger.name, logging.INFO, __file__, 1, ACCESS_MESSAGE, args, None
        )
        ordinary = json.loads(JsonFormatter().format(record))
        assert line.pop("time")[:10] == ordinary.pop("time")[:10]  # the same day
        assert line == ordinary
    # Other arguments: the ordinary path, at once.
    AccessLog(logger).info("%s", "odd")
    assert json.loads(stream.writes[1])["message"] == "odd"
    # accord serve --log-format json configures uvicorn.access so.
    access = uvicorn_log_config()["handlers"]["access"]
    assert access["class"] == "accord.server.access_log.BatchedAccessHandler"


def _filter_logger(logger: logging.Logger, handler: logging.Handler) -> None:
    logger.addFilter(lambda record: True)


def _filter_handler(logger: logging.Logger, handler: logging.Handler) -> None:
    handler.addFilter(lambda record: True)


def _second_handler(logger: logging.Logger, handler: logging.Handler) -> None:
    logger.addHandler(logging.NullHandler())


def _propagate(logger: logging.Logger, handler: logging.Handler) -> None:
    logger.propagate = True


def _colours(logger: logging.Logger, handler: logging.Handler) -> None:
    handler.setFormatter(AccessFormatter(ACCESS_FORMAT, use_colors=True))


def _uvicorns_formatter(logger: logging.Logger, handler: logging.Handler) -> None:
    handler.setFormatter(UvicornAccessFormatter(ACCESS_FORMAT, use_colors=False))


def _plain_stream_handler(logger: logging.Logger, handler: logging.Handler) -> None:
    stream = handler.stream  # type: ignore[attr-defined]
    logger.removeHandler(handler)
    other = logging.StreamHandler(stream)
    other.setFormatter(AccessFormatter(ACCESS_FORMAT, use_colors=False))
    logger.addHandler(other)


@pytest.mark.parametrize(
    "change",
    [
        _filter_logger,
        _filter_handler,
        _second_handler,
        _propagate,
        _colours,
        _uvicorns_formatter,
        _plain_stream_handler,
    ],
)
def test_any_other_configuration_takes_the_ordinary_path(
    configured: Callable[[], Configured],
    change: Callable[[logging.Logger, logging.Handler], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger, handler, stream = configured()
    change(logger, handler)

    async def serve() -> None:
        AccessLog(logger).info(ACCESS_MESSAGE, *ANSWERS[1])
        assert len(stream.writes) == 1  # written at once: logging's own path

    asyncio.run(serve())
    if change is _colours:
        assert "404" in stream.writes[0]
    else:
        assert stream.writes == [uvicorns_line(ANSWERS[1])]


@pytest.mark.parametrize("quiet", ["logger level", "handler level", "disabled"])
def test_lines_the_configuration_drops_are_dropped(
    configured: Callable[[], Configured], quiet: str
) -> None:
    logger, handler, stream = configured()
    if quiet == "logger level":
        logger.setLevel(logging.WARNING)
    elif quiet == "handler level":
        handler.setLevel(logging.WARNING)
    else:
        logger.disabled = True

    async def serve() -> None:
        AccessLog(logger).info(ACCESS_MESSAGE, *ANSWERS[0])
        await pass_ends()

    asyncio.run(serve())
    assert stream.writes == []


def test_an_ordinary_record_goes_out_after_the_lines_before_it(
    configured: Callable[[], Configured],
) -> None:
    logger, _, stream = configured()

    async def serve() -> None:
        AccessLog(logger).info(ACCESS_MESSAGE, *ANSWERS[0])
        logger.info(ACCESS_MESSAGE, *ANSWERS[1])  # e.g. from a thread, or a test
        assert stream.getvalue() == uvicorns_line(ANSWERS[0]) + uvicorns_line(
            ANSWERS[1]
        )
        await pass_ends()  # the pass's write finds nothing left

    asyncio.run(serve())
    assert len(stream.writes) == 2


def test_outside_a_loop_a_line_is_written_at_once_and_flush_writes_what_is_kept(
    configured: Callable[[], Configured],
) -> None:
    logger, handler, stream = configured()
    AccessLog(logger).info(ACCESS_MESSAGE, *ANSWERS[2])
    assert stream.writes == [uvicorns_line(ANSWERS[2])]

    async def serve() -> None:
        AccessLog(logger).info(ACCESS_MESSAGE, *ANSWERS[0])
        handler.flush()  # what logging.shutdown does at exit
        assert stream.writes[1:] == [uvicorns_line(ANSWERS[0])]

    asyncio.run(serve())


def test_a_stream_that_fails_is_reported_as_logging_reports_it(
    configured: Callable[[], Configured],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logger, handler, stream = configured()
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", reported.append)

    def broken(text: str) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(stream, "write", broken)
    AccessLog(logger).info(ACCESS_MESSAGE, *ANSWERS[0])
    assert [record.getMessage() for record in reported] == ["access log lines"]
    AccessLog(logger).info(ACCESS_MESSAGE, *ANSWERS[0])  # and it goes on
    assert len(reported) == 2


def test_the_protocols_access_logger_is_uvicorns_logger_otherwise() -> None:
    log = access_log()
    assert log is access_log()  # one for every connection
    uvicorn_access = logging.getLogger("uvicorn.access")
    assert log.hasHandlers() == uvicorn_access.hasHandlers()
    assert log.name == "uvicorn.access"  # the rest is the logger's
