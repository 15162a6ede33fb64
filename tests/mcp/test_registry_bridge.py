"""``accord mcp serve --registry R TEXT``: the agents a registry finds, as one MCP
server, each agent's tools under its own prefix, the bridge's credentials sent only to
the agents they are configured for. The official MCP SDK is the client."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from accord.cli.commands import mcp_serve
from accord.client import Client as A2AClient
from accord.mcp import AgentBridge, AgentGroup
from accord.mcp.group import MAX_AGENTS
from accord.types import AgentCapabilities, AgentCard, AgentInterface, AgentSkill
from mcp import Client, StdioServerParameters
from tests.helpers.cli import run_cli
from tests.helpers.examples import RECEPTIONIST_KEY, receptionist_app
from tests.helpers.uvicorn_thread import serve_in_thread
from tests.mcp.conftest import bridge_env, http_bridge
from tests.registry._serving import register, serve_registry

pytestmark = pytest.mark.anyio

SKILLS = {"schedule_callback", "fetch_call_summary", "escalate_to_human"}
TASK_TOOLS = {"send_message", "get_task", "cancel_task"}
SERVING = re.compile(r"Serving (.+) \((.+)\) as MCP tools (\S+)__\*")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class HeaderLog:
    """ASGI middleware: the ``X-API-Key`` values the wrapped agent received."""

    app: Any
    keys: list[str] = field(default_factory=list)
    requests: int = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests += 1
            self.keys += [v.decode() for k, v in scope["headers"] if k == b"x-api-key"]
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class World:
    registry: str
    secured: str  # the Receptionist requiring RECEPTIONIST_KEY
    open: str  # another Receptionist, requiring nothing
    open_log: HeaderLog


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, agent_url: str) -> Iterator[World]:
    """A registry with two Receptionists registered: one secured, one open."""
    tmp = tmp_path_factory.mktemp("registry-bridge")
    log = HeaderLog(receptionist_app(tmp / "open.db"))
    with serve_registry(tmp) as registry, serve_in_thread(log) as open_url:
        register(registry, agent_url, open_url)
        yield World(registry, agent_url, open_url, log)


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def _summary(client: Client, tool: str) -> None:
    done = _structured(
        await client.call_tool(tool, {"message": "Summary of call-1003"})
    )
    assert done["state"] == "TASK_STATE_COMPLETED"
    assert done["artifacts"][0]["data"][0]["callId"] == "call-1003"


def _served(lines: list[str]) -> dict[str, str]:
    """Agent URL -> tool prefix, from the bridge's ``Serving ...`` lines."""
    return {m[2]: m[3] for line in lines if (m := SERVING.search(line))}


async def test_http_serves_both_agents_credentials_only_where_configured(
    world: World,
) -> None:
    lines: list[str] = []
    # The agent named by its card URL: the same agent as its base URL.
    card = f"{world.secured}/.well-known/agent-card.json"
    extra = ("--registry", world.registry, "--credentials-for", card)
    with http_bridge("call summary", *extra, lines=lines) as endpoint:
        served = _served(lines)
        assert set(served) == {world.secured, world.open}, lines
        assert sorted(served.values()) == ["receptionist", "receptionist_2"]
        async with Client(endpoint) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert names == {
                f"{prefix}__{tool}"
                for prefix in served.values()
                for tool in SKILLS | TASK_TOOLS
            }
            before = len(world.open_log.keys)
            await _summary(client, f"{served[world.secured]}__fetch_call_summary")
            requests = world.open_log.requests
            await _summary(client, f"{served[world.open]}__fetch_call_summary")
            assert world.open_log.requests > requests  # the open agent was called
            unknown = await client.call_tool("fetch_call_summary", {"message": "x"})
            assert unknown.is_error
    # The secured agent's key went to it alone: the open agent never saw it.
    assert world.open_log.keys[before:] == []
    assert RECEPTIONIST_KEY not in world.open_log.keys


async def test_without_credentials_for_an_agent_that_needs_them_is_left_out(
    world: World,
) -> None:
    lines: list[str] = []
    # ACCORD_API_KEY is set in the bridge's environment, but no agent is named.
    with http_bridge(
        "call summary", "--registry", world.registry, lines=lines
    ) as endpoint:
        assert _served(lines) == {world.open: "receptionist"}
        assert any(
            f"Left out Receptionist ({world.secured}): it requires credentials" in line
            and f"--credentials-for {world.secured}" in line
            for line in lines
        ), lines
        async with Client(endpoint) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert names == {f"receptionist__{tool}" for tool in SKILLS | TASK_TOOLS}
            await _summary(client, "receptionist__fetch_call_summary")
    assert RECEPTIONIST_KEY not in world.open_log.keys


async def test_stdio_with_a_skill_filter_and_a_limit(world: World) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "accord.cli",
            "mcp",
            "serve",
            "--registry",
            world.registry,
            "call summary",
            "--skill",
            "fetch_call_summary",
            "--limit",
            "1",
            "--credentials-for",
            world.secured,
        ],
        env=bridge_env(),
    )
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert names == {f"receptionist__{tool}" for tool in SKILLS | TASK_TOOLS}
        await _summary(client, "receptionist__fetch_call_summary")


def test_a_registry_with_no_match_says_so(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(
        capsys, "mcp", "serve", "--registry", world.registry, "x", "--skill", "nope"
    )
    assert result.code != 0
    assert "has no agent for 'x' with skill nope" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["not a url"], "is not an http(s) URL"),
        (["http://127.0.0.1:9", "--skill", "x"], "go with --registry"),
        (["--registry", "http://127.0.0.1:9", "x", "--limit", "21"], "21"),
    ],
)
def test_usage_errors(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "mcp", "serve", *argv)
    assert result.code == 2
    assert says in result.err


def _card(name: str, *skills: str) -> AgentCard:
    return AgentCard(
        name=name,
        supported_interfaces=(
            AgentInterface(
                url="http://127.0.0.1:9",
                protocol_binding="JSONRPC",
                protocol_version="1.0",
            ),
        ),
        capabilities=AgentCapabilities(),
        skills=tuple(AgentSkill(id=s, name=s) for s in skills),
    )


async def test_group_names_never_clash_and_stay_bounded(tmp_path: Path) -> None:
    assert mcp_serve.MAX_AGENTS == MAX_AGENTS
    long = "A" * 200
    cards = [_card("Desk", "book"), _card("Desk", "book"), _card(long, "x" * 120)]
    async with (
        A2AClient(cards[0]) as one,
        A2AClient(cards[1]) as two,
        A2AClient(cards[2]) as three,
    ):
        bridges = [AgentBridge(c) for c in (one, two, three)]
        group = AgentGroup(bridges)
        names = [tool.name for tool in group.tools]
        assert len(names) == len(set(names)) == 3 * 3 + 3
        assert "desk__book" in names
        assert "desk_2__book" in names
        assert all(len(name) <= 128 for name in names)
        assert group.prefix_of(bridges[2]) == "a" * 40
        described = next(t for t in group.tools if t.name == "desk_2__get_task")
        assert (described.description or "").startswith("[agent Desk] ")
        unknown = await group.call("book", {})
        assert unknown.is_error
        with pytest.raises(ValueError, match="at most"):
            AgentGroup([bridges[0]] * (MAX_AGENTS + 1))
        with pytest.raises(ValueError, match="at least one"):
            AgentGroup([])
