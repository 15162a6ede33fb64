"""Trace context over gRPC metadata (spec §10.2: service parameters travel as
metadata), for a unary call and a stream."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind

from accord import types as t
from accord.client import Client, ClientConfig
from accord.grpc import GRPC_TRANSPORTS
from accord.otel import ClientTracing, Tracing
from tests.grpc.helpers import serve_grpc

from .conftest import Telemetry

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """grpc.aio runs on asyncio only."""
    return "asyncio"


def _grpc(url: str) -> t.AgentInterface:
    return t.AgentInterface(url=url, protocol_binding="GRPC", protocol_version="1.0")


async def test_grpc_metadata_carries_the_trace_context(telemetry: Telemetry) -> None:
    config = ClientConfig(
        hooks=(ClientTracing(telemetry.tracer_provider),),
        transports=GRPC_TRANSPORTS,
        preferred_bindings=("GRPC",),
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
