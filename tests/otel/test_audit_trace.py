"""The audit trails of both sides carry the trace the spans are in: the client's
records the trace id of the traceparent its tracing hook sent, the agent's the one it
received."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from opentelemetry.trace import SpanKind

from accord.client import Client, ClientConfig, JsonLinesAudit, MemoryTransport
from accord.otel import ClientTracing, instrument
from accord.server import A2AApp
from accord.stores import AuditQuery, MemoryTaskStore
from accord.types import Task
from tests.grpc.helpers import scripted_agent

from .conftest import Telemetry

pytestmark = pytest.mark.anyio


async def test_both_audit_trails_name_the_trace(
    telemetry: Telemetry, tmp_path: Path
) -> None:
    store = MemoryTaskStore(audit=True)
    app = A2AApp(scripted_agent(), store=store)
    instrument(app, tracer_provider=telemetry.tracer_provider, metrics=False)
    trail = tmp_path / "client.jsonl"
    config = ClientConfig(
        audit=JsonLinesAudit(trail),
        hooks=(ClientTracing(telemetry.tracer_provider),),
    )
    async with (
        app.running(),
        httpx.AsyncClient(transport=MemoryTransport(app, lifespan=False)) as http,
        await Client.connect("http://agent", http=http, config=config) as client,
    ):
        task = await client.send_message("echo audited")
        events = [e async for e in client.send_streaming_message("echo streamed")]
        assert events
        entries = await store.audit_entries(AuditQuery())
    spans = telemetry.wait_spans(lambda s: len(s) >= 6)
    sent = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert [s.name for s in sent] == ["SendMessage", "SendStreamingMessage"]
    traces = [format(s.context.trace_id, "032x") for s in sent]
    assert traces[0] != traces[1]  # two calls from no span: two traces

    calls = [json.loads(line) for line in trail.read_text().splitlines()]
    assert [(c["operation"], c["traceId"]) for c in calls] == [
        ("SendMessage", traces[0]),
        ("SendStreamingMessage", traces[1]),
    ]
    assert isinstance(task, Task)
    assert calls[0]["taskId"] == task.id
    served = [e.record for e in entries if e.record.kind == "operation"]
    assert {(r.operation, r.trace_id) for r in served} >= {
        ("SendMessage", traces[0]),
        ("SendStreamingMessage", traces[1]),
    }
