"""The finer points of the spans: a propagator of one's own, ids and tenant from a
follow-up request, an agent's exception, a stream the client leaves; metrics without
an engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from accord import types as t
from accord.client import Client, ClientConfig, MemoryTransport
from accord.otel import ClientTracing, Metrics, Tracing, instrument
from accord.server import A2AApp
from tests.grpc.helpers import scripted_agent

from .conftest import Telemetry

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def traced(
    telemetry: Telemetry, app: A2AApp, *, tenant: str = ""
) -> AsyncIterator[Client]:
    face = t.AgentInterface(
        url="http://agent/",
        protocol_binding="HTTP+JSON",
        protocol_version="1.0",
        tenant=tenant,
    )
    propagator = TraceContextTextMapPropagator()
    config = ClientConfig(hooks=(ClientTracing(telemetry.tracer_provider, propagator),))
    async with (
        app.running(),
        httpx.AsyncClient(transport=MemoryTransport(app, lifespan=False)) as http,
        Client.from_interface(face, config=config, http=http) as client,
    ):
        yield client


def _app(telemetry: Telemetry) -> A2AApp:
    app = A2AApp(scripted_agent())
    app.engine.interceptors = (
        Tracing(telemetry.tracer_provider, TraceContextTextMapPropagator()),
    )
    return app


async def test_a_follow_up_names_its_task_context_and_tenant(
    telemetry: Telemetry,
) -> None:
    async with traced(telemetry, _app(telemetry), tenant="acme") as client:
        first = await client.send_message("ask")
        assert isinstance(first, t.Task)
        assert first.status.state is t.TaskState.INPUT_REQUIRED
        second = await client.send_message(
            "Ada", task_id=first.id, context_id=first.context_id
        )
        assert isinstance(second, t.Task)
    spans = telemetry.wait_spans(lambda s: len(s) >= 6)
    servers = [s for s in spans if s.kind == SpanKind.SERVER]
    clients = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert len(servers) == 2
    for server, sent in zip(servers, clients, strict=True):
        assert server.parent is not None
        assert server.parent.span_id == sent.context.span_id  # own propagator
        assert (server.attributes or {})["a2a.tenant"] == "acme"
    follow_up = servers[1].attributes or {}
    assert follow_up["a2a.task.id"] == first.id
    assert follow_up["a2a.context.id"] == first.context_id
    runs = [s for s in spans if s.name == "Scripted execute"]
    assert [(r.attributes or {})["a2a.task.state"] for r in runs] == [
        "TASK_STATE_INPUT_REQUIRED",
        "TASK_STATE_COMPLETED",
    ]


async def test_an_agent_exception_is_recorded_on_the_execution(
    telemetry: Telemetry,
) -> None:
    async with traced(telemetry, _app(telemetry)) as client:
        task = await client.send_message("boom")
    assert isinstance(task, t.Task)
    assert task.status.state is t.TaskState.FAILED
    spans = telemetry.wait_spans(lambda s: len(s) >= 3)
    (run,) = [s for s in spans if s.name == "Scripted execute"]
    assert run.status.status_code is StatusCode.ERROR
    assert run.status.description == "ValueError"
    (event,) = run.events
    assert event.name == "exception"
    assert (event.attributes or {})["exception.message"] == "kaboom"
    assert (run.attributes or {})["a2a.task.state"] == "TASK_STATE_FAILED"
    (server,) = [s for s in spans if s.kind == SpanKind.SERVER]
    assert server.status.status_code is StatusCode.UNSET  # the call itself succeeded


async def test_a_stream_the_client_leaves_is_not_an_error(telemetry: Telemetry) -> None:
    async with traced(telemetry, _app(telemetry)) as client:
        stream = client.send_streaming_message("chunks 5")
        async for _ in stream:
            break
        await stream.aclose()
    spans = telemetry.wait_spans(
        lambda s: (
            any(x.kind == SpanKind.SERVER for x in s)
            and any(x.kind == SpanKind.CLIENT for x in s)
        )
    )
    (client_span,) = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert client_span.name == "SendStreamingMessage"
    assert client_span.status.status_code is StatusCode.UNSET


async def test_metrics_without_a_running_engine_sample_nothing(
    telemetry: Telemetry,
) -> None:
    metrics = Metrics(telemetry.meter_provider)
    await metrics.sample()  # no engine
    app = A2AApp(scripted_agent())
    added = instrument(app, meter_provider=telemetry.meter_provider, tracing=False)
    assert added.tracing is None
    assert added.metrics is not None
    await added.metrics.sample()  # not running
    assert telemetry.points("a2a.server.queue.depth") == []
    assert [repr(x) for x in (metrics, Tracing(), ClientTracing())] == [
        "Metrics()",
        "Tracing()",
        "ClientTracing()",
    ]


async def test_tracestate_travels_with_the_traceparent(telemetry: Telemetry) -> None:
    app = _app(telemetry)
    headers = {
        "A2A-Version": "1.0",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate": "vendor=opaque,other=1",
    }
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "GetTask",
        "params": {"id": "missing"},
    }
    async with (
        app.running(),
        httpx.AsyncClient(transport=MemoryTransport(app, lifespan=False)) as http,
    ):
        answer = await http.post("http://agent/", json=body, headers=headers)
    assert answer.json()["error"]["code"] == -32001  # TaskNotFoundError
    (server,) = telemetry.wait_spans(lambda s: len(s) == 1)
    assert format(server.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == "b7ad6b7169203331"
    assert dict(server.context.trace_state) == {"vendor": "opaque", "other": "1"}
