"""The HTTP pipeline's edges: a body sent in chunks without a Content-Length is
bounded as it arrives, and a bug below the binding (here an interceptor's) answers
InternalError without leaking what it raised."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import pytest

from accord.server import (
    A2AApp,
    Agent,
    CallInfo,
    Interceptor,
    ServerLimits,
    TaskContext,
)
from accord.stores import MemoryTaskStore
from tests.helpers.asgi import asgi_post, send_message_body

pytestmark = pytest.mark.anyio

SECRET = "db password is hunter2"


async def _echo(ctx: TaskContext) -> None:
    await ctx.reply(ctx.text)


def _app(**options: Any) -> A2AApp:
    agent = Agent(_echo, name="Echo", description="for tests")
    return A2AApp(agent, store=MemoryTaskStore(), **options)


def _request(text: str) -> bytes:
    return send_message_body(text, 3)


async def _call(
    app: A2AApp, chunks: list[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, Any]]:
    base = [(b"host", b"agent.test"), (b"content-type", b"application/json")]
    async with app.running():
        with anyio.fail_after(10):
            return await asgi_post(
                app, chunks, [*base, (b"a2a-version", b"1.0"), *headers]
            )


async def test_a_chunked_body_over_the_limit_is_refused_as_it_arrives() -> None:
    app = _app(limits=ServerLimits(max_body_bytes=1_000))
    body = _request("x" * 1_500)
    chunks = [body[:600], body[600:1_200], body[1_200:]]
    status, answer = await _call(app, chunks, [])  # no Content-Length to refuse early
    assert status == 413
    assert "exceeds the server's limit of 1000 bytes" in answer["error"]["message"]


async def test_a_chunked_body_within_the_limit_is_served() -> None:
    body = _request("hello")
    status, answer = await _call(_app(), [body[:20], body[20:]], [])
    assert status == 200
    assert answer["result"]["message"]["parts"] == [{"text": "hello"}]


class _Broken(Interceptor):
    async def before(self, call: CallInfo) -> None:
        raise RuntimeError(SECRET)


async def test_a_bug_below_the_binding_is_an_internal_error_that_leaks_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _app(interceptors=[_Broken()])
    body = _request("hello")
    with caplog.at_level(logging.ERROR, logger="accord.server.pipelines"):
        status, answer = await _call(
            app, [body], [(b"content-length", b"%d" % len(body))]
        )
    assert answer["id"] == 3
    assert answer["error"]["code"] == -32603  # InternalError (spec §5.4)
    assert SECRET not in json.dumps(answer)
    assert status == 200  # JSON-RPC carries its errors in 200 answers (spec §9)
    assert "unexpected error in a JSONRPC request" in caplog.text
    assert SECRET in caplog.text  # the operator's log keeps the cause
