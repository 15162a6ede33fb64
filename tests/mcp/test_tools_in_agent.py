"""MCP inside an agent: an Accord agent calls the tools of real MCP servers (the SDK's
server in a subprocess, over stdio and streamable HTTP) through ``mcp_tools(ctx)``;
sessions are pooled, bounded, timed out and closed with the engine; each call leaves
an audit record; a result becomes an artifact in one call."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from accord.client import Client, MemoryTransport
from accord.mcp import (
    HttpServer,
    McpTools,
    StdioServer,
    ToolCallError,
    mcp_tools,
)
from accord.server import A2AApp, Agent, TaskContext
from accord.stores import MemoryTaskStore
from accord.stores.audit import AuditQuery
from accord.types import SendMessageConfiguration, Task, TaskState, data_of, text_of

pytestmark = pytest.mark.anyio

TOOL_SERVER = str(Path(__file__).with_name("tool_server.py"))
#: Seconds a call to ``hang`` waits before it times out (it never answers).
SHORT = 1.0


def stdio_server(name: str = "t") -> StdioServer:
    return StdioServer(
        name, sys.executable, (TOOL_SERVER,), env={"TOOL_SECRET": "s3cret"}
    )


async def behave(ctx: TaskContext) -> None:
    """Runs the tool the message names."""
    tools = mcp_tools(ctx)
    word = ctx.text
    if word == "echo":
        result = await tools.call("t", "echo", {"text": "hello"})
        await ctx.complete(text_of_result(result))
    elif word == "sum":
        await tools.call("t", "add", {"a": 2, "b": 3}, artifact="sum")
        await ctx.complete("added")
    elif word == "secret":
        result = await tools.call("t", "secret")
        await ctx.complete(text_of_result(result))
    elif word == "list":
        names = sorted(tool.name for tool in await tools.list_tools("t"))
        await ctx.complete(",".join(names))
    elif word == "list:nowhere":
        try:
            await tools.list_tools("nowhere")
        except ToolCallError as exc:
            await ctx.complete(f"{exc.outcome}: {exc}")
    elif word == "working:hang":
        await ctx.working("calling hang")
        await tools.call("t", "hang")
    else:  # fail, hang, image, unknown server...
        server, _, tool = word.partition(":")
        try:
            await tools.call(
                server,
                tool,
                {"reason": "out of paper"} if tool == "fail" else {},
                artifact=tool,
            )
        except ToolCallError as exc:
            await ctx.complete(f"{exc.outcome}: {exc}")
            return
        await ctx.complete("done")


def text_of_result(result: Any) -> str:
    return " ".join(b.text for b in result.content if b.type == "text")


AGENT = Agent(behave, name="Tooled", description="calls MCP tools")


@pytest.fixture
def store() -> MemoryTaskStore:
    return MemoryTaskStore(audit=True)


@pytest.fixture
def tools() -> McpTools:
    return McpTools([stdio_server()], sessions=1, timeout=SHORT * 10)


@pytest.fixture
async def client(tools: McpTools, store: MemoryTaskStore) -> AsyncIterator[Client]:
    app = A2AApp(AGENT, store=store, interceptors=[tools])
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app)) as http,
        await Client.connect("http://agent.test", http=http) as connected,
    ):
        yield connected


async def _ask(client: Client, text: str) -> Task:
    task = await client.send_message(text)
    assert isinstance(task, Task)
    assert task.status.state == TaskState.COMPLETED, task.status
    return task


async def _tool_records(store: MemoryTaskStore) -> list[Any]:
    entries = await store.audit_entries(AuditQuery(limit=1000))
    return [e.record for e in entries if e.record.kind == "tool"]


async def test_calls_a_stdio_server_with_configured_credentials(
    client: Client, store: MemoryTaskStore, tools: McpTools
) -> None:
    assert text_of(await _ask(client, "echo")) == "hello"
    assert text_of(await _ask(client, "secret")) == "configured"
    listed = text_of(await _ask(client, "list"))
    assert "echo" in listed.split(",")
    # One session served every call (the pool's bound is 1).
    assert tools.pools["t"].open_sessions == 1
    records = await _tool_records(store)
    assert [r.operation for r in records] == ["t/echo", "t/secret"]
    echo = records[0]
    assert echo.outcome == "ok"
    assert echo.detail == ""  # no arguments unless configured
    assert echo.task_id
    assert echo.duration_us > 0
    assert echo.peer == f"stdio:{sys.executable}"


async def test_listing_an_unknown_server(client: Client) -> None:
    task = await _ask(client, "list:nowhere")
    assert text_of(task).startswith("UNAVAILABLE: no MCP server named 'nowhere'")


async def test_a_canceled_call_is_audited(
    client: Client, store: MemoryTaskStore, tools: McpTools
) -> None:
    started = await client.send_message(
        "working:hang", configuration=SendMessageConfiguration(return_immediately=True)
    )
    assert isinstance(started, Task)
    # The call is in flight once its session is open: poll until a deadline.
    with anyio.fail_after(30):
        while True:
            if tools.pools["t"].open_sessions:
                break
            await anyio.sleep(0.01)
    canceled = await client.cancel_task(started.id)
    assert canceled.status.state == TaskState.CANCELED
    with anyio.fail_after(30):  # the record is written as the call unwinds
        while True:
            if records := await _tool_records(store):
                break
            await anyio.sleep(0.01)
    assert [(r.operation, r.outcome) for r in records] == [("t/hang", "CANCELED")]
    assert tools.pools["t"].open_sessions == 0  # never reused


async def test_result_becomes_an_artifact(client: Client) -> None:
    task = await _ask(client, "sum")
    (artifact,) = task.artifacts
    assert artifact.name == "sum"
    assert data_of(artifact) == [{"sum": 5}]
    assert text_of(artifact) == ""  # the JSON copy of the structured result is left out


async def test_file_results_become_file_parts(client: Client) -> None:
    task = await _ask(client, "t:image")
    (part,) = task.artifacts[0].parts
    assert part.raw == b"\x89PNG-test"
    assert part.media_type == "image/png"


@pytest.mark.parametrize(
    ("word", "says"),
    [
        ("t:fail", "TOOL_ERROR: the tool t/fail reported an error"),
        ("nowhere:echo", "UNAVAILABLE: no MCP server named 'nowhere'"),
        ("t:no_such_tool", "TOOL_ERROR"),
    ],
)
async def test_failed_calls_raise_and_are_audited(
    client: Client, store: MemoryTaskStore, word: str, says: str
) -> None:
    task = await _ask(client, word)
    assert text_of(task).startswith(says)
    if not word.startswith("nowhere"):
        (record,) = await _tool_records(store)
        assert record.outcome == says.split(":")[0]
        assert "out of paper" not in record.detail or word == "t:fail"


async def test_a_call_that_never_answers_times_out(store: MemoryTaskStore) -> None:
    tools = McpTools([stdio_server()], sessions=1, timeout=SHORT)
    app = A2AApp(AGENT, store=store, interceptors=[tools])
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app)) as http,
        await Client.connect("http://agent.test", http=http) as client,
    ):
        task = await _ask(client, "t:hang")
        assert text_of(task).startswith("TIMEOUT: t/hang: no answer")
        # The timed-out session was closed, not returned to the pool.
        assert tools.pools["t"].open_sessions == 0
        assert text_of(await _ask(client, "echo")) == "hello"
    (hang, echo) = await _tool_records(store)
    assert (hang.outcome, echo.outcome) == ("TIMEOUT", "ok")


async def test_sessions_are_bounded_and_closed_with_the_engine(
    store: MemoryTaskStore,
) -> None:
    tools = McpTools([stdio_server()], sessions=2, timeout=SHORT * 10)
    app = A2AApp(AGENT, store=store, interceptors=[tools])
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app)) as http,
        await Client.connect("http://agent.test", http=http) as client,
    ):
        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(_ask, client, "echo")
        assert 1 <= tools.pools["t"].open_sessions <= 2
    assert tools.pools["t"].open_sessions == 0


async def test_audits_arguments_when_configured(store: MemoryTaskStore) -> None:
    tools = McpTools([stdio_server()], audit_arguments=True)
    app = A2AApp(AGENT, store=store, interceptors=[tools])
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app)) as http,
        await Client.connect("http://agent.test", http=http) as client,
    ):
        await _ask(client, "echo")
    (record,) = await _tool_records(store)
    assert record.detail == '{"text": "hello"}'


@pytest.fixture
def http_tool_server() -> Iterator[str]:
    """The tool server over streamable HTTP in a subprocess; yields its endpoint."""
    process = subprocess.Popen(
        [sys.executable, TOOL_SERVER, "http"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once it listens
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{line.split()[1]}/mcp"
    finally:
        process.terminate()
        process.wait(30)
        if process.stdout is not None:
            process.stdout.close()


async def test_calls_a_streamable_http_server(
    http_tool_server: str, store: MemoryTaskStore
) -> None:
    tools = McpTools(
        [HttpServer("t", http_tool_server, headers={"Authorization": "Bearer x"})]
    )
    app = A2AApp(AGENT, store=store, interceptors=[tools])
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app)) as http,
        await Client.connect("http://agent.test", http=http) as client,
    ):
        assert text_of(await _ask(client, "echo")) == "hello"
        task = await _ask(client, "sum")
        assert data_of(task.artifacts[0]) == [{"sum": 5}]
    records = await _tool_records(store)
    assert {r.peer for r in records} == {http_tool_server}


@pytest.mark.parametrize(
    ("server", "says"),
    [
        (HttpServer("t", "http://127.0.0.1:9/mcp"), "ConnectError"),
        (StdioServer("t", "/no/such/command"), "FileNotFoundError"),
        (StdioServer("t", sys.executable, ("-c", "pass")), "Connection closed"),
    ],
)
async def test_a_server_that_cannot_be_reached_is_unavailable(
    store: MemoryTaskStore, server: StdioServer | HttpServer, says: str
) -> None:
    app = A2AApp(AGENT, store=store, interceptors=[McpTools([server])])
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app)) as http,
        await Client.connect("http://agent.test", http=http) as client,
    ):
        task = await _ask(client, "t:echo")
    assert text_of(task).startswith("UNAVAILABLE: t/echo: could not open a session")
    assert says in text_of(task)
    (record,) = await _tool_records(store)
    assert record.outcome == "UNAVAILABLE"


async def test_mcp_tools_outside_mcp_tools_says_how_to_serve() -> None:
    async def lonely(ctx: TaskContext) -> None:
        mcp_tools(ctx)

    agent = Agent(lonely, name="Lonely", description="no tools")
    async with (
        httpx.AsyncClient(
            transport=MemoryTransport(A2AApp(agent, expose_errors=True))
        ) as http,
        await Client.connect("http://agent.test", http=http) as client,
    ):
        task = await client.send_message("hi")
    assert isinstance(task, Task)
    assert task.status.state == TaskState.FAILED
    assert "interceptors=[McpTools(servers)]" in text_of(task)


def test_server_declarations_are_checked() -> None:
    with pytest.raises(ValueError, match="name without '/'"):
        StdioServer("a/b", "cmd")
    with pytest.raises(ValueError, match="needs a command"):
        StdioServer("a", "")
    with pytest.raises(ValueError, match="http:// or https://"):
        HttpServer("a", "ftp://x")
    with pytest.raises(ValueError, match="unique"):
        McpTools([stdio_server(), stdio_server()])
    with pytest.raises(ValueError, match="timeout must be"):
        McpTools([], timeout=0)
    with pytest.raises(ValueError, match="timeout must be"):
        McpTools([stdio_server()], connect_timeout=float("inf"))
    with pytest.raises(ValueError, match="limit must be"):
        McpTools([stdio_server()], sessions=0)
    assert "s3cret" not in repr(stdio_server())
    assert "Bearer" not in repr(
        HttpServer("h", "http://x/mcp", headers={"A": "Bearer"})
    )
