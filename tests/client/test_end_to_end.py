"""The client against the real server app, in-process through MemoryTransport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from accord.client import Client, ClientConfig, MemoryTransport
from accord.errors import TaskNotFoundError
from accord.server import A2AApp, Agent, TaskContext
from accord.types import Task, TaskState

from .helpers import HTTPX_TRIO_WARNINGS

pytestmark = [
    pytest.mark.anyio,
    HTTPX_TRIO_WARNINGS,
]

BINDINGS = ["JSONRPC", "HTTP+JSON"]


async def behave(ctx: TaskContext) -> None:
    if ctx.text == "endless":
        n = 0
        while True:
            n += 1
            await ctx.working(f"step {n}")
            await anyio.sleep(0.001)
    await ctx.add_artifact(f"echo: {ctx.text}", name="echo")
    await ctx.complete()


def make_app() -> A2AApp:
    return A2AApp(Agent(behave, name="E2E", description="echoes", streaming=True))


@pytest.fixture(params=BINDINGS)
async def client(request: pytest.FixtureRequest) -> AsyncIterator[Client]:
    config = ClientConfig(preferred_bindings=(str(request.param),))
    async with (
        httpx.AsyncClient(transport=MemoryTransport(make_app())) as http,
        await Client.connect("http://agent.test", http=http, config=config) as client,
    ):
        yield client


async def test_send_and_get(client: Client) -> None:
    result = await client.send_message("hello")

    assert isinstance(result, Task)
    assert result.status.state is TaskState.COMPLETED
    assert result.artifacts[0].parts[0].text == "echo: hello"
    assert await client.get_task(result.id) == result
    with pytest.raises(TaskNotFoundError):
        await client.get_task("no-such-task")


async def test_an_endless_stream_is_consumed_partially(client: Client) -> None:
    async with client.send_streaming_message("endless") as stream:
        first = await anext(stream)
        assert first.task is not None
        states = [(await anext(stream)).status_update for _ in range(3)]
    assert all(s is not None and s.status.state is TaskState.WORKING for s in states)

    task = await client.cancel_task(first.task.id)
    assert task.status.state is TaskState.CANCELED
