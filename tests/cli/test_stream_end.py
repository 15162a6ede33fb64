"""``accord send`` never reports success when the task's outcome is unknown.

A loopback server that behaves like one stopping mid-task: its stream ends while the
task is WORKING, and its blocking answer comes back with the task still WORKING.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from accord.bindings import jsonrpc
from accord.cli._errors import EXIT_CONNECT, EXIT_FAILED
from accord.protocol.sse import encode_event
from accord.server import Agent, build_card
from accord.types import (
    SendMessageResponse,
    StreamResponse,
    Task,
    TaskState,
    TaskStatus,
    encode,
)
from tests.helpers.cli import run_cli
from tests.helpers.uvicorn_thread import serve_in_thread

WORKING = Task(id="t-cut", context_id="c-1", status=TaskStatus(state=TaskState.WORKING))


async def _card(request: Request) -> Response:
    base = str(request.url).removesuffix("/.well-known/agent-card.json")
    card = build_card(Agent(name="Stopping", description="stops mid-task"), base)
    return Response(encode(card), media_type="application/json")


async def _rpc(request: Request) -> Response:
    call = json.loads(await request.body())
    rid = call["id"]
    if call["method"] == "SendStreamingMessage":

        async def events() -> AsyncIterator[bytes]:
            event = StreamResponse(task=WORKING)
            yield encode_event(jsonrpc.encode_stream_event(rid, event), id="2")

        return StreamingResponse(events(), media_type="text/event-stream")
    body = jsonrpc.encode_result(rid, SendMessageResponse(task=WORKING))
    return Response(body, media_type="application/json")


async def _framework_503(request: Request) -> Response:
    # An error answer that is not A2A's (a framework's, a proxy's).
    body = b'{"error":"the A2A app is not running (lifespan not started)"}'
    return Response(body, status_code=503, media_type="application/json")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/.well-known/agent-card.json", _card),
            Route("/", _rpc, methods=["POST"]),
            Route("/down/.well-known/agent-card.json", _card),
            Route("/down/", _framework_503, methods=["POST"]),
        ]
    )
    with serve_in_thread(app) as base:
        yield base


def test_a_cut_stream_exits_non_zero_and_says_how_to_go_on(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    result = run_cli(capsys, "send", url, "hi", "--stream", "--binding", "JSONRPC")
    assert result.code == EXIT_CONNECT
    assert "task t-cut WORKING" in result.out  # what arrived was shown
    assert "the stream ended while task t-cut was still WORKING" in result.err
    assert f"accord task get {url} t-cut" in result.err
    assert f"accord task subscribe {url} t-cut --last-event-id 2" in result.err


def test_a_blocking_answer_before_the_end_is_not_success(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    for extra in ((), ("--json",)):
        result = run_cli(capsys, "send", url, "hi", "--binding", "JSONRPC", *extra)
        assert result.code == EXIT_FAILED
        assert "while task t-cut was still WORKING" in result.err
        assert "its outcome is unknown" in result.err


def test_a_non_a2a_error_answer_is_shown_with_its_status_and_text(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    result = run_cli(capsys, "send", url + "/down", "hi", "--binding", "JSONRPC")
    assert result.code == EXIT_FAILED
    assert "answered HTTP 503 Service Unavailable" in result.err
    assert "lifespan not started" in result.err
    assert "JSON-RPC 2.0 response" not in result.err
