"""Trace context over gRPC metadata, and spans of streams, errors and refusals."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from accord import types as t
from accord.client import Client, ClientConfig
from accord.errors import RateLimitedError, TaskNotFoundError
from accord.grpc import GRPC_TRANSPORTS
from accord.otel import ClientTracing, Tracing, instrument
from accord.server import A2AApp, RateLimiter
from accord.server.ratelimit import RateLimit
from tests.grpc.helpers import scripted_agent, serve_grpc

from .conftest import Telemetry

pytestmark = pytest.mark.anyio


def _grpc(url: str) -> t.AgentInterface:
    return t.AgentInterface(url=url, protocol_binding="GRPC", protocol_version="1.0")


def _config(telemetry: Telemetry, **more: object) -> ClientConfig:
    return ClientConfig(hooks=(ClientTracing(telemetry.tracer_provider),), **more)  # type: ignore[arg-type]


async def test_grpc_metadata_carries_the_trace_context(telemetry: Telemetry) -> None:
    config = _config(
        telemetry, transports=GRPC_TRANSPORTS, preferred_bindings=("GRPC",)
    )
    async with (
        serve_grpc(interceptors=[Tracing(telemetry.tracer_provider)]) as s,
        Client.from_interface(_grpc(s.server.url), config=config) as client,
    ):
        task = await client.send_message("echo over grpc")
        events = [e async for e in client.send_streaming_message("echo streamed")]
    assert isinstance(task, t.Task)
    spans = telemetry.wait_spans(lambda s: len(s) >= 6)
    clients = [s for s in spans if s.kind == SpanKind.CLIENT]
    servers = [s for s in spans if s.kind == SpanKind.SERVER]
    runs = [s for s in spans if s.name == "Scripted execute"]
    assert [s.name for s in clients] == ["SendMessage", "SendStreamingMessage"]
    assert sorted(s.name for s in servers) == ["SendMessage", "SendStreamingMessage"]
    for client_span in clients:
        (server,) = [s for s in servers if s.name == client_span.name]
        assert server.parent is not None
        assert server.parent.span_id == client_span.context.span_id
        assert server.context.trace_id == client_span.context.trace_id
        assert (server.attributes or {})["a2a.binding"] == "GRPC"
        assert (client_span.attributes or {})["a2a.binding"] == "GRPC"
        (run,) = [
            r for r in runs if r.parent and r.parent.span_id == server.context.span_id
        ]
        assert (run.attributes or {})["a2a.task.state"] == "TASK_STATE_COMPLETED"
    stream_server = next(s for s in servers if s.name == "SendStreamingMessage")
    assert (stream_server.attributes or {})["a2a.stream.events"] == len(events)


async def test_an_error_and_a_refusal_are_error_spans(telemetry: Telemetry) -> None:
    app = A2AApp(scripted_agent())
    instrument(app, tracer_provider=telemetry.tracer_provider, metrics=False)
    # After instrument(): the limiter comes later, so tracing sees its refusals.
    app.engine.interceptors = (
        *app.engine.interceptors,
        RateLimiter(RateLimit(per_second=0.001, burst=1)),
    )
    config = _config(telemetry, rate_limit_retries=0)
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
