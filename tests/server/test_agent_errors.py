"""What a partner sees when an agent raises: a generic message and an error id.

The exception's text stays in the server log (at ERROR, with the traceback, under the
same id); ``A2AApp(expose_errors=True)`` opts in to showing it; ``ctx.fail(...)`` is
how an agent tells the partner a reason on purpose.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from accord.server import A2AApp, Agent, TaskContext

from .conftest import Wire, serve, user_message

SECRET = "kaboom: secret internal detail"


async def behave(ctx: TaskContext) -> None:
    if ctx.text == "fail":
        await ctx.fail("the partner may read this")
        return
    await ctx.working("about to break")
    raise RuntimeError(SECRET)


def _agent() -> Agent:
    return Agent(behave, name="Breaks", description="Raises on purpose")


@pytest.fixture(scope="module")
def urls() -> Iterator[dict[bool, str]]:
    with (
        serve(A2AApp(_agent())) as hidden,
        serve(A2AApp(_agent(), expose_errors=True)) as exposed,
    ):
        yield {False: hidden, True: exposed}


@pytest.fixture(params=["JSONRPC", "HTTP+JSON"])
def binding(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _final_status(
    base: str, binding: str, streaming: bool, text: str = "go"
) -> dict[str, Any]:
    """The task's final status, as a partner receives it over ``binding``."""
    with httpx.Client(timeout=10) as http:
        wire = Wire(base, binding, http)
        params = {"message": user_message(text)}
        if not streaming:
            status: dict[str, Any] = wire.call("SendMessage", params)["task"]["status"]
            return status
        events = wire.stream("SendStreamingMessage", params)
    last = events[-1][1]
    status = last["statusUpdate"]["status"]
    return status


def _text(status: dict[str, Any]) -> str:
    return str(status["message"]["parts"][0]["text"])


@pytest.mark.parametrize("streaming", [False, True], ids=["blocking", "streaming"])
def test_partner_gets_an_error_id_not_the_exception(
    urls: dict[bool, str],
    binding: str,
    streaming: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="accord.server.runtime")
    status = _final_status(urls[False], binding, streaming)
    assert status["state"] == "TASK_STATE_FAILED"
    text = _text(status)
    assert "kaboom" not in text
    assert "secret" not in text
    assert "RuntimeError" not in text
    match = re.search(r"error id ([0-9a-f]{12})", text)
    assert match is not None, text
    error_id = match.group(1)
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert len(logged) == 1
    record = logged[0]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == SECRET  # the traceback is in the log


@pytest.mark.parametrize("streaming", [False, True], ids=["blocking", "streaming"])
def test_expose_errors_shows_the_exception(
    urls: dict[bool, str], binding: str, streaming: bool
) -> None:
    status = _final_status(urls[True], binding, streaming)
    assert status["state"] == "TASK_STATE_FAILED"
    text = _text(status)
    assert f"RuntimeError: {SECRET}" in text
    assert re.search(r"error id [0-9a-f]{12}", text)


def test_error_ids_differ_per_failure(urls: dict[bool, str]) -> None:
    first = _text(_final_status(urls[False], "JSONRPC", False))
    second = _text(_final_status(urls[False], "JSONRPC", False))
    assert first != second


@pytest.mark.parametrize("streaming", [False, True], ids=["blocking", "streaming"])
def test_ctx_fail_states_the_reason_to_the_partner(
    urls: dict[bool, str], binding: str, streaming: bool
) -> None:
    status = _final_status(urls[False], binding, streaming, text="fail")
    assert status["state"] == "TASK_STATE_FAILED"
    assert _text(status) == "the partner may read this"
