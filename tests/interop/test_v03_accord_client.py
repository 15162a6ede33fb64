"""Accord's client calling an agent that speaks only A2A v0.3, over each binding.

The official SDK's server with its v0.3 compatibility on endpoints of their own
(``enable_v0_3_compat``: JSON-RPC, and HTTP+JSON's ``/v1/...`` routes; its v0.3 gRPC
service), each described by a v0.3 card (no ``supportedInterfaces``: ``url``,
``preferredTransport``, ``protocolVersion``). Accord's client reads the card, speaks
v0.3 to it (bindings/v03.py, v03_rest.py, accord.grpc.v03) and hands the application
v1.0 values. Also Accord's client to Accord's own v0.3 surfaces through hand-picked
0.3 interfaces.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from a2a.server.routes import create_jsonrpc_routes, create_rest_routes
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from accord.client import Client, EventStream
from accord.errors import TaskNotFoundError, UnsupportedOperationError
from accord.types import AgentInterface, Task, TaskState
from tests.helpers.uvicorn_thread import serve_in_thread

from .agents import SdkServer, accord_app, gate

pytestmark = pytest.mark.anyio

LEGACY = "/legacy"


#: The v0.3 endpoints of the SDK's server, by binding.
ENDPOINTS = {"JSONRPC": "/v03", "HTTP+JSON": "/v03rest"}


def v03_card(url: str, transport: str) -> dict[str, Any]:
    return {
        "name": "SDK agent, v0.3 only",
        "description": "echo, reply, ask, wait, chunks",
        "url": url,
        "preferredTransport": transport,
        "protocolVersion": "0.3.0",
        "version": "1.0.0",
        "capabilities": {"streaming": True},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "echo", "name": "Echo", "description": "e", "tags": ["x"]}],
    }


@pytest.fixture(scope="module")
def legacy_base() -> Iterator[str]:
    server = SdkServer()
    base: list[str] = []

    def card(transport: str) -> Route:
        async def answer(_: Request) -> JSONResponse:
            return JSONResponse(v03_card(base[0] + ENDPOINTS[transport], transport))

        path = f"{LEGACY}/{transport.replace('+', '')}/.well-known/agent-card.json"
        return Route(path, answer)

    # First: the SDK's REST routes take any leading path segment as a tenant.
    server.app.router.routes[:0] = [
        card("JSONRPC"),
        card("HTTP+JSON"),
        *create_jsonrpc_routes(server.handler, "/v03", enable_v0_3_compat=True),
        *create_rest_routes(
            server.handler, enable_v0_3_compat=True, path_prefix="/v03rest"
        ),
    ]
    with serve_in_thread(server.app) as url:
        server.set_base_url(url)
        base.append(url)
        yield url


@pytest.fixture(params=sorted(ENDPOINTS))
def legacy_url(request: pytest.FixtureRequest, legacy_base: str) -> str:
    """The card URL of the SDK's v0.3 endpoint of one binding."""
    return f"{legacy_base}{LEGACY}/{str(request.param).replace('+', '')}"


async def test_a_v03_card_is_read_and_spoken_in_v03(legacy_url: str) -> None:
    async with await Client.connect(legacy_url) as client:
        assert client.interface is not None
        assert client.interface.protocol_version == "0.3"
        assert legacy_url.endswith(client.interface.protocol_binding.replace("+", ""))
        task = await client.send_message("echo hello")
        assert isinstance(task, Task)
        assert task.status.state is TaskState.COMPLETED
        assert task.artifacts is not None
        assert task.artifacts[0].parts[0].text == "echo hello"
        again = await client.get_task(task.id)
        assert again.status.state is TaskState.COMPLETED
        reply = await client.send_message("reply hi")
        assert not isinstance(reply, Task)
        assert reply.parts[0].text == "you said: hi"
        with pytest.raises(TaskNotFoundError):
            await client.get_task("no-such-task")
        with pytest.raises(UnsupportedOperationError, match=r"A2A 0\.3"):
            await client.list_tasks()


async def test_streaming_and_cancel_over_v03(legacy_url: str) -> None:
    async with await Client.connect(legacy_url) as client:
        stream = client.send_streaming_message("chunks")
        assert isinstance(stream, EventStream)
        async with stream:
            events = [event async for event in stream]
        last = events[-1].status_update
        assert last is not None
        assert last.status.state is TaskState.COMPLETED
        chunks = [e.artifact_update for e in events if e.artifact_update is not None]
        assert [c.artifact.parts[0].text for c in chunks] == ["one ", "two ", "three"]

        name = f"legacy-{uuid.uuid4().hex[:8]}"
        try:
            from accord.types import SendMessageConfiguration

            started = await client.send_message(
                f"wait {name}",
                configuration=SendMessageConfiguration(return_immediately=True),
            )
            assert isinstance(started, Task)
            canceled = await client.cancel_task(started.id)
            assert canceled.status.state is TaskState.CANCELED
        finally:
            gate(name).set()


@pytest.fixture(scope="module")
def accord_url() -> Iterator[str]:
    with serve_in_thread(accord_app()) as url:
        yield url


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
async def test_accord_to_accord_over_a_v03_interface(
    accord_url: str, binding: str
) -> None:
    url = accord_url + "/" if binding == "JSONRPC" else accord_url
    interface = AgentInterface(
        url=url, protocol_binding=binding, protocol_version="0.3"
    )
    async with Client.from_interface(interface) as client:
        task = await client.send_message("ask for a day")
        assert isinstance(task, Task)
        assert task.status.state is TaskState.INPUT_REQUIRED
        done = await client.send_message("monday", task_id=task.id)
        assert isinstance(done, Task)
        assert done.status.state is TaskState.COMPLETED
    # The same task, read over v1.0.
    async with await Client.connect(accord_url) as v1:
        same = await v1.get_task(task.id)
    assert same.status.state is TaskState.COMPLETED
    assert same.history is not None
    assert [m.parts[0].text for m in same.history if m.role.name == "USER"] == [
        "ask for a day",
        "monday",
    ]


def test_the_cli_reads_and_calls_a_v03_agent(
    legacy_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers.cli import run_cli

    card = run_cli(capsys, "card", legacy_url)
    assert card.code == 0, card.err
    assert "(A2A 0.3)" in card.out
    sent = run_cli(capsys, "send", legacy_url, "echo hi")
    assert sent.code == 0, sent.err
    assert "COMPLETED" in sent.out
    assert "echo hi" in sent.out
    streamed = run_cli(capsys, "send", "--stream", legacy_url, "chunks")
    assert streamed.code == 0, streamed.err
    assert streamed.out.index("one") < streamed.out.index("three")
    assert "COMPLETED" in streamed.out
