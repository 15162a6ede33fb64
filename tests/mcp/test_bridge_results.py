"""How the bridge maps A2A answers to MCP tool results: each task state, each kind of
part, a reply without a task, and errors (arguments, unknown tools, A2A errors).

The MCP SDK's client talks to the bridge's server in process; the bridge talks to a
real Accord agent through the in-memory ASGI transport."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from mcp_types import BlobResourceContents

from accord.client import Client, MemoryTransport
from accord.client.transports import JsonRpcTransport
from accord.mcp import STATES, AgentBridge, tool_name
from accord.server import A2AApp, Agent, TaskContext
from accord.types import AgentSkill, Part, TaskState
from mcp import Client as McpClient

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n-not-really"


async def behave(ctx: TaskContext) -> None:
    """Does what the message's first word says."""
    word = ctx.text.split()[0] if ctx.text else ""
    if word == "reply":
        await ctx.reply("just a reply", data={"n": 1})
    elif word == "fail":
        await ctx.fail("the printer is on fire")
    elif word == "reject":
        await ctx.reject("not my job")
    elif word == "files":
        await ctx.add_artifact(
            [
                Part(raw=PNG, filename="p.png", media_type="image/png"),
                Part(url="https://files.example/r.pdf", filename="r.pdf"),
            ],
            name="files",
        )
        await ctx.complete("sent")
    elif word == "slow":
        await ctx.working("started")
        await anyio.sleep_forever()  # until canceled
    elif word == "echo":
        await ctx.complete(f"skill={ctx.message.metadata!r} data={ctx.data!r}")
    else:
        await ctx.ask_for_input("say more")


SKILLS = (
    AgentSkill(id="do.it", name="Do it", description="Does it.", tags=("x",)),
    AgentSkill(
        id="get task", name="Clash", description="Named like a task tool.", tags=("x",)
    ),
    AgentSkill(id="get/task", name="Clash 2", description="Same again.", tags=("x",)),
)


@pytest.fixture
async def mcp() -> AsyncIterator[McpClient]:
    agent = Agent(behave, name="Behave", description="Test agent", skills=SKILLS)
    async with (
        httpx.AsyncClient(transport=MemoryTransport(A2AApp(agent))) as http,
        await Client.connect("http://agent.test", http=http) as client,
        McpClient(AgentBridge(client).server()) as session,
    ):
        yield session


def _texts(result: Any) -> list[str]:
    return [block.text for block in result.content if block.type == "text"]


async def test_tool_names_are_valid_and_unique(mcp: McpClient) -> None:
    names = [tool.name for tool in (await mcp.list_tools()).tools]
    assert names == [
        "send_message",
        "get_task",
        "cancel_task",
        "do.it",
        "get_task_2",
        "get_task_3",
    ]
    assert tool_name("a b/c") == "a_b_c"


async def test_skill_tool_sends_its_skill_and_data(mcp: McpClient) -> None:
    result = await mcp.call_tool("do.it", {"message": "echo", "data": {"k": "v"}})
    assert not result.is_error
    assert result.structured_content["state"] == TaskState.COMPLETED.value
    assert "skill={'skill': 'do.it'} data=[{'k': 'v'}]" in _texts(result)


@pytest.mark.parametrize(
    ("word", "state"),
    [("fail", TaskState.FAILED), ("reject", TaskState.REJECTED)],
)
async def test_failures_are_tool_errors(
    mcp: McpClient, word: str, state: TaskState
) -> None:
    result = await mcp.call_tool("send_message", {"message": word})
    assert result.is_error
    assert result.structured_content["state"] == state.value
    assert STATES[state].is_error


async def test_files_become_resources_and_links(mcp: McpClient) -> None:
    result = await mcp.call_tool("send_message", {"message": "files"})
    embedded = [b for b in result.content if b.type == "resource"]
    links = [b for b in result.content if b.type == "resource_link"]
    assert len(embedded) == 1
    assert isinstance(embedded[0].resource, BlobResourceContents)
    assert base64.b64decode(embedded[0].resource.blob) == PNG
    assert embedded[0].resource.mime_type == "image/png"
    assert embedded[0].resource.uri.endswith("/p.png")
    assert [(link.uri, link.name) for link in links] == [
        ("https://files.example/r.pdf", "r.pdf")
    ]


async def test_a_reply_without_a_task(mcp: McpClient) -> None:
    result = await mcp.call_tool("send_message", {"message": "reply"})
    assert not result.is_error
    assert result.structured_content["data"] == [{"n": 1}]
    assert "just a reply" in _texts(result)


async def test_long_task_followed_and_canceled(mcp: McpClient) -> None:
    started = await mcp.call_tool("send_message", {"message": "slow", "wait": False})
    task_id = started.structured_content["taskId"]
    assert "get_task" in _texts(started)[0]
    # The agent reaches WORKING on its own schedule: poll until a deadline.
    with anyio.fail_after(10):
        while True:
            got = await mcp.call_tool("get_task", {"task_id": task_id})
            if got.structured_content["state"] == TaskState.WORKING.value:
                break
            await anyio.sleep(0.01)
    canceled = await mcp.call_tool("cancel_task", {"task_id": task_id})
    assert canceled.structured_content["state"] == TaskState.CANCELED.value
    assert not canceled.is_error


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        ("send_message", {}, "'message' is required"),
        ("send_message", {"message": 3}, "'message' must be a JSON string"),
        (
            "send_message",
            {"message": "x", "wait": "no"},
            "'wait' must be a JSON boolean",
        ),
        ("get_task", {"task_id": "t", "history_length": True}, "JSON integer"),
        ("do.it", {"message": "x", "api_key": "k"}, "unknown argument(s) api_key"),
        ("nope", {}, "unknown tool 'nope'"),
        ("get_task", {"task_id": "no-such-task"}, "the agent answered"),
    ],
)
async def test_bad_calls_are_tool_errors_that_say_why(
    mcp: McpClient, tool: str, arguments: dict[str, Any], says: str
) -> None:
    result = await mcp.call_tool(tool, arguments)
    assert result.is_error
    assert says in _texts(result)[0]


async def test_an_unreachable_agent_is_a_tool_error() -> None:
    card_source = Agent(behave, name="Gone", description="d", skills=SKILLS)
    async with (
        httpx.AsyncClient(transport=MemoryTransport(A2AApp(card_source))) as http,
        await Client.connect("http://agent.test", http=http) as live,
    ):
        card = live.card
    assert card is not None
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(_refuse)) as http,
        Client(card, http=http) as client,
        McpClient(AgentBridge(client).server()) as session,
    ):
        result = await session.call_tool("do.it", {"message": "echo"})
    assert result.is_error
    assert "could not be reached" in _texts(result)[0]


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


async def test_a_bridge_needs_a_card() -> None:
    async with Client.from_transport(JsonRpcTransport("http://agent.test/")) as client:
        with pytest.raises(ValueError, match="needs the agent's card"):
            AgentBridge(client)


def test_every_state_has_a_rule() -> None:
    missing = set(TaskState) - set(STATES) - {TaskState.UNSPECIFIED}
    assert not missing
