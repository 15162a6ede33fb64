"""Spans of errors and refusals: status ERROR with the spec reason, no exception events."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from accord import types as t
from accord.client import Client, ClientConfig
from accord.errors import RateLimitedError, TaskNotFoundError
from accord.otel import ClientTracing, instrument
from accord.server import A2AApp, RateLimit, RateLimiter
from tests.grpc.helpers import scripted_agent

from .conftest import Telemetry

pytestmark = pytest.mark.anyio


def _config(telemetry: Telemetry, retries: int) -> ClientConfig:
    return ClientConfig(
        hooks=(ClientTracing(telemetry.tracer_provider),), rate_limit_retries=retries
    )


async def test_an_error_and_a_refusal_are_error_spans(telemetry: Telemetry) -> None:
    app = A2AApp(scripted_agent())
    instrument(app, tracer_provider=telemetry.tracer_provider, metrics=False)
    # After instrument(): the limiter comes later, so tracing sees its refusals.
    app.engine.interceptors = (
        *app.engine.interceptors,
        RateLimiter(RateLimit(per_second=0.001, burst=1)),
    )
    config = _config(telemetry, retries=0)
    async with app.running():
        client = Client.from_interface(
            t.AgentInterface(
                url="http://memory/", protocol_binding="JSONRPC", protocol_version="1.0"
            ),
            config=config,
            http=httpx.AsyncClient(transport=httpx.ASGITransport(app)),
        )
        async with client:
            with pytest.raises(TaskNotFoundError):
                await client.get_task("no-such-task")
            with pytest.raises(RateLimitedError):
                await client.get_task("no-such-task")
    spans = telemetry.wait_spans(lambda s: len(s) >= 4)
    servers = [s for s in spans if s.kind == SpanKind.SERVER]
    clients = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert [s.status.description for s in servers] == ["TASK_NOT_FOUND", "RATE_LIMITED"]
    assert [s.status.description for s in clients] == ["TASK_NOT_FOUND", "RATE_LIMITED"]
    for span in (*servers, *clients):
        assert span.status.status_code is StatusCode.ERROR
        assert not span.events  # A2A errors are outcomes, not exceptions to record
    assert (servers[0].attributes or {})["a2a.task.id"] == "no-such-task"
