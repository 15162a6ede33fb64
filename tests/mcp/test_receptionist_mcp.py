"""The Receptionist with its desk behind an MCP server (``with_mcp``): a partner's A2A
request triggers MCP tool calls inside the agent, on the demo's MCP server in a
subprocess; one trace follows the request from the partner's client through the
agent to the tool call, and the tool server receives that trace's context."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind

from accord.client import ApiKey, Client, ClientConfig, MemoryTransport
from accord.demo.receptionist import with_mcp
from accord.mcp import McpTools, StdioServer, mcp_tools
from accord.otel import ClientTracing, instrument
from accord.server import A2AApp, Agent, TaskContext
from accord.server.auth import ApiKeyRing
from accord.types import Task, TaskState, data_of, text_of
from tests.helpers.examples import RECEPTIONIST_KEY, RECEPTIONIST_NOW

pytestmark = pytest.mark.anyio

TOOL_SERVER = str(Path(__file__).with_name("tool_server.py"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _keys() -> ApiKeyRing:
    keys = ApiKeyRing()
    keys.add(RECEPTIONIST_KEY, principal="partner")
    return keys


@pytest.fixture
async def client(tmp_path: Path, provider: TracerProvider) -> AsyncIterator[Client]:
    app = with_mcp.create_app(
        str(tmp_path / "accord.db"),
        keys=_keys(),
        clock=lambda: RECEPTIONIST_NOW,
        pace=0.0,
        tracer_provider=provider,
    )
    instrument(app, tracer_provider=provider, metrics=False)
    config = ClientConfig(hooks=(ClientTracing(provider),))
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app)) as http,
        await Client.connect(
            "http://agent.test",
            http=http,
            config=config,
            credentials=[ApiKey(RECEPTIONIST_KEY)],
        ) as connected,
    ):
        yield connected


async def _task(client: Client, text: str) -> Task:
    task = await client.send_message(text)
    assert isinstance(task, Task)
    return task


async def test_the_skills_keep_their_records_through_mcp(
    client: Client, tmp_path: Path
) -> None:
    summary = await _task(client, "Summary of call-1002")
    assert summary.status.state == TaskState.COMPLETED
    assert data_of(summary.artifacts[0])[0]["caller"] == "Marco Ruiz"

    booked = await _task(
        client, "Schedule a callback to +1 415 555 0123 on 2026-11-21 14:00-15:00"
    )
    assert booked.status.state == TaskState.COMPLETED, text_of(booked)
    booking = data_of(booked.artifacts[0])[0]
    again = await _task(
        client, "Schedule a callback to +1 415 555 0123 on 2026-11-21 14:00-15:00"
    )
    assert data_of(again.artifacts[0])[0]["bookingId"] == booking["bookingId"]

    ticket = await _task(client, "Escalate call-1003 to a human: refund not received")
    assert ticket.status.state == TaskState.COMPLETED, text_of(ticket)
    unknown = await _task(client, "Escalate call-9999 to a human: lost")
    assert unknown.status.state == TaskState.FAILED
    assert "call-9999" in text_of(unknown)

    # The MCP server wrote them in the agent's file, with the tasks that asked.
    with closing(sqlite3.connect(tmp_path / "accord.db")) as db:
        (task_id,) = db.execute("SELECT task_id FROM bookings").fetchone()
        (tickets,) = db.execute("SELECT count(*) FROM escalations").fetchone()
    assert task_id == booked.id
    assert tickets == 1


def _one(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


async def test_one_trace_from_the_partner_to_the_tool_call(
    client: Client, exporter: InMemorySpanExporter
) -> None:
    await _task(client, "Summary of call-1001")
    spans = exporter.get_finished_spans()
    sent = next(
        s for s in spans if s.kind == SpanKind.CLIENT and s.name == "SendMessage"
    )
    execution = _one(spans, "Receptionist execute")
    tool = _one(spans, "tools/call desk/call_record")
    assert tool.kind == SpanKind.CLIENT
    assert sent.context is not None
    assert execution.context is not None
    assert tool.context is not None
    assert tool.parent is not None
    trace_id = sent.context.trace_id
    assert execution.context.trace_id == trace_id
    assert tool.context.trace_id == trace_id
    assert tool.parent.span_id == execution.context.span_id
    assert tool.attributes is not None
    assert tool.attributes["gen_ai.tool.name"] == "call_record"


async def test_the_tool_server_receives_the_trace_context(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """The MCP edge: the request the tool server receives carries the tool call's
    span as the parent in ``_meta.traceparent``."""

    async def traced(ctx: TaskContext) -> None:
        result = await mcp_tools(ctx).call("t", "trace")
        await ctx.complete(result.content[0].text)  # type: ignore[union-attr]

    agent = Agent(traced, name="Traced", description="asks for its trace")
    tools = McpTools(
        [StdioServer("t", sys.executable, (TOOL_SERVER,))], tracer_provider=provider
    )
    app = A2AApp(agent, interceptors=[tools])
    instrument(app, tracer_provider=provider, metrics=False)
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app)) as http,
        await Client.connect("http://agent.test", http=http) as plain,
    ):
        task = await _task(plain, "go")
    version, trace_id, parent_id, _flags = text_of(task).split("-")
    tool = _one(exporter.get_finished_spans(), "tools/call t/trace")
    assert tool.context is not None
    assert (version, int(trace_id, 16), int(parent_id, 16)) == (
        "00",
        tool.context.trace_id,
        tool.context.span_id,
    )


def test_the_default_receptionist_does_not_import_mcp() -> None:
    code = (
        "import sys, accord.demo.receptionist, accord.cli.commands.serve\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mcp', 'mcp_types'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


async def test_the_desk_servers_tools(tmp_path: Path) -> None:
    """The desk's MCP server, in process, through the SDK's client."""
    from accord.demo.receptionist._mcp_server import DESK_TOOLS, build_server
    from mcp import Client as McpClient

    now = "2026-11-20T09:00:00Z"
    async with McpClient(build_server(str(tmp_path / "desk.db"))) as desk:
        listed = await desk.list_tools()
        assert sorted(t.name for t in listed.tools) == sorted(DESK_TOOLS)
        window = {
            "window_start": "2026-11-21T14:00:00Z",
            "window_end": "2026-11-21T15:00:00Z",
        }
        booking = {"phone": "+14155550123", **window, "task_id": "t1", "now": now}
        first = await desk.call_tool("book_callback", booking)
        again = await desk.call_tool("book_callback", {**booking, "task_id": "t2"})
        assert first.structured_content == again.structured_content == {"seq": 1}
        call = await desk.call_tool("call_record", {"call_id": "call-1005"})
        assert call.structured_content["caller"] == "Aiko Tanaka"
        missing = await desk.call_tool("call_record", {"call_id": "call-0"})
        assert missing.structured_content == {"found": False}
        ticket = {"reason": "r", "priority": "high", "task_id": "t3", "now": now}
        opened = await desk.call_tool("open_ticket", {"call_id": "call-1005", **ticket})
        assert opened.structured_content == {"seq": 1}
        nowhere = await desk.call_tool("open_ticket", {"call_id": "call-0", **ticket})
        assert nowhere.structured_content == {"seq": None}


def test_the_desk_server_runs_as_a_module(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "accord.demo.receptionist._mcp_server", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "--db" in done.stdout


async def test_accord_serve_runs_it_and_the_bridge_reaches_its_tools(
    tmp_path: Path,
) -> None:
    """Both directions at once: an MCP client -> ``accord mcp serve`` -> A2A -> the
    Receptionist served by ``accord serve ...with_mcp:create_app`` -> MCP -> its desk."""
    from mcp import Client as McpClient
    from mcp import StdioServerParameters
    from tests.helpers.serve_process import accord_serve, stop

    process, url = accord_serve(
        tmp_path,
        "accord.demo.receptionist.with_mcp:create_app",
        env={"ACCORD_API_KEYS": f"partner={RECEPTIONIST_KEY}", "ACCORD_DEMO_PACE": "0"},
    )
    try:
        bridge = StdioServerParameters(
            command=sys.executable,
            args=["-m", "accord.cli", "mcp", "serve", url],
            env={"ACCORD_API_KEY": RECEPTIONIST_KEY},
        )
        async with McpClient(bridge) as mcp:
            result = await mcp.call_tool(
                "fetch_call_summary", {"message": "Summary of call-1004"}
            )
    finally:
        stop(process)
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    (artifact,) = result.structured_content["artifacts"]
    assert artifact["data"][0]["caller"] == "Tom Becker"
