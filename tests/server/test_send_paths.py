"""The two ways a SendMessage waits for its execution, at their edges.

A blocking send below the running limit runs its execution inline
(``Runtime.run_inline``); ``returnImmediately`` (and work queued at the limit) starts it
in the runtime's task group and follows its events. Both answer a Message reply as a
Message, and a store that is down before the task exists as UNAVAILABLE.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest

from accord.client import Client, MemoryTransport
from accord.errors import StoreUnavailableError, UnavailableError
from accord.server import A2AApp, Agent, TaskContext
from accord.stores import MemoryTaskStore
from accord.types import (
    AgentInterface,
    Message,
    SendMessageConfiguration,
    Task,
    TaskState,
)

pytestmark = pytest.mark.anyio

BASE = "http://agent.test"
NOW = SendMessageConfiguration(return_immediately=True)
BLOCKING = {"blocking": None, "returnImmediately": NOW}


class Store(MemoryTaskStore):
    """A memory store whose creates can fail."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def create(self, *args: Any, **kw: Any) -> Any:
        if self.down:
            raise StoreUnavailableError("test: the database is down")
        return await super().create(*args, **kw)


def make_agent() -> Agent:
    async def work(ctx: TaskContext) -> None:
        if ctx.text == "reply":
            await ctx.reply("hi")
        elif ctx.text == "ask":
            await ctx.ask_for_input("which day?")
        else:
            await ctx.complete(f"done: {ctx.text}")

    return Agent(work, name="Paths", description="for tests")


@asynccontextmanager
async def served(store: Store) -> AsyncIterator[tuple[A2AApp, Client]]:
    app = A2AApp(make_agent(), store=store)
    face = AgentInterface(
        url=BASE, protocol_binding="HTTP+JSON", protocol_version="1.0"
    )
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app), base_url=BASE) as http,
        Client.from_interface(face, http=http) as client,
    ):
        with anyio.fail_after(20):
            yield app, client


@pytest.mark.parametrize("mode", list(BLOCKING))
async def test_a_reply_is_answered_as_a_message(mode: str) -> None:
    async with served(Store()) as (_, client):
        answer = await client.send_message("reply", configuration=BLOCKING[mode])
        assert isinstance(answer, Message)
        assert answer.text == "hi"


@pytest.mark.parametrize("mode", list(BLOCKING))
async def test_a_store_down_before_the_task_exists_answers_unavailable(
    mode: str,
) -> None:
    store = Store()
    async with served(store) as (_, client):
        store.down = True
        with pytest.raises(UnavailableError):
            await client.send_message("hello", configuration=BLOCKING[mode])
        store.down = False
        task = await client.send_message("hello")
        assert isinstance(task, Task)
        assert task.status.state is TaskState.COMPLETED


async def test_a_stream_whose_task_cannot_be_created_ends_with_unavailable() -> None:
    store = Store()
    async with served(store) as (_, client):
        store.down = True
        async with client.send_streaming_message("hello") as events:
            with pytest.raises(UnavailableError):
                async for _ in events:
                    pass
