"""The official MCP SDK as client of ``accord mcp serve``, over stdio and streamable
HTTP, against the Receptionist on loopback: the agent's skills are tools, long tasks
are followed by tools, and the agent's credentials stay in the bridge."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from mcp import Client, StdioServerParameters
from tests.mcp.conftest import bridge_argv, bridge_env, http_bridge

pytestmark = pytest.mark.anyio

SKILL_TOOLS = {"schedule_callback", "fetch_call_summary", "escalate_to_human"}
TASK_TOOLS = {"send_message", "get_task", "cancel_task"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _stdio(agent_url: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "accord.cli", "mcp", "serve", agent_url],
        env=bridge_env(),
    )


def _structured(result: Any) -> dict[str, Any]:
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def _exercise(client: Client) -> None:
    """What both transports must do: list the tools, run a skill, answer a question."""
    listed = await client.list_tools()
    names = {tool.name for tool in listed.tools}
    assert names == SKILL_TOOLS | TASK_TOOLS
    for tool in listed.tools:  # the credentials are never a tool argument
        assert not {"api_key", "token", "apiKey"} & set(tool.input_schema["properties"])

    summary = await client.call_tool(
        "fetch_call_summary", {"message": "Summarise call call-1003"}
    )
    assert not summary.is_error
    found = _structured(summary)
    assert found["state"] == "TASK_STATE_COMPLETED"
    assert found["artifacts"][0]["data"][0]["callId"] == "call-1003"
    assert "Priya Natarajan" in " ".join(
        block.text for block in summary.content if block.type == "text"
    )

    asked = await client.call_tool("schedule_callback", {"message": "Call me back"})
    question = _structured(asked)
    assert question["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert question["messageData"][0]["missing"] == ["phone", "window"]
    assert not asked.is_error
    answered = await client.call_tool(
        "schedule_callback",
        {
            "message": "+1 415 555 0199 on 2026-11-21 14:00-15:00",
            "task_id": question["taskId"],
        },
    )
    booked = _structured(answered)
    assert booked["state"] == "TASK_STATE_COMPLETED", answered.content
    assert booked["taskId"] == question["taskId"]
    assert booked["artifacts"][0]["data"][0]["status"] == "confirmed"


async def test_stdio(agent_url: str) -> None:
    async with Client(_stdio(agent_url)) as client:
        await _exercise(client)


async def test_streamable_http(agent_url: str) -> None:
    with http_bridge(agent_url) as endpoint:
        async with Client(endpoint) as client:
            await _exercise(client)
            followed = await client.call_tool(
                "get_task", {"task_id": await _some_task(client)}
            )
            assert _structured(followed)["state"] == "TASK_STATE_COMPLETED"


async def _some_task(client: Client) -> str:
    sent = await client.call_tool(
        "send_message",
        {"message": "Summary of call-1001", "skill": "fetch_call_summary"},
    )
    task_id = _structured(sent)["taskId"]
    assert isinstance(task_id, str)
    return task_id


def test_refuses_to_serve_http_beyond_loopback(agent_url: str) -> None:
    done = subprocess.run(
        bridge_argv(agent_url, "--http", "--host", "0.0.0.0"),
        env=bridge_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "loopback only" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_the_agents_credentials_says_what_to_configure(agent_url: str) -> None:
    env = {k: v for k, v in bridge_env().items() if k != "ACCORD_API_KEY"}
    done = subprocess.run(
        bridge_argv(agent_url),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 4, done.stderr
    assert "--api-key" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_the_mcp_extra_says_how_to_install_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['mcp'] = None  # as if the extra were not installed\n"
        "from accord.cli.main import main\n"
        "sys.exit(main(['mcp', 'serve', 'http://127.0.0.1:9']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "pip install 'accord[mcp]'" in done.stderr
    assert "Traceback" not in done.stderr
