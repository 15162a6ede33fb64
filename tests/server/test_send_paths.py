"""The two ways a SendMessage waits for its execution, at their edges.

A blocking send below the running limit runs its execution inline
(``Runtime.run_inline``); ``returnImmediately`` (and work queued at the limit) starts it
in the runtime's task group and follows its events. Both answer a Message reply as a
Message, a store that is down before the task exists as UNAVAILABLE, and a follow-up
that arrives while the previous turn still hands its lease back waits for it.
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
    """A memory store whose creates can fail and whose lease releases can be held."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.hold_release = False
        self.release_entered = anyio.Event()
        self.release_gate = anyio.Event()

    async def create(self, *args: Any, **kw: Any) -> Any:
        if self.down:
            raise StoreUnavailableError("test: the database is down")
        return await super().create(*args, **kw)

    async def release_lease(self, task_id: str, *, holder: str) -> None:
        if self.hold_release:
            self.release_entered.set()
            await self.release_gate.wait()
        await super().release_lease(task_id, holder=holder)


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


@pytest.mark.parametrize("mode", list(BLOCKING))
async def test_a_follow_up_waits_for_the_previous_turn_to_hand_its_lease_back(
    mode: str,
) -> None:
    store = Store()
    async with served(store) as (app, client):
        runtime = app.engine.handler.runtime
        store.hold_release = True
        first = await client.send_message("ask", configuration=NOW)
        assert isinstance(first, Task)
        await store.release_entered.wait()  # the first turn ended; its lease is held
        store.hold_release = False
        answers: list[Task | Message] = []

        async def follow_up() -> None:
            answers.append(
                await client.send_message(
                    "tuesday", task_id=first.id, configuration=BLOCKING[mode]
                )
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(follow_up)
            # It waits on the release (an Event appears for it), not on anything else.
            while runtime._releasing.get(first.id) is None:  # noqa: ASYNC110 - no event for it
                await anyio.sleep(0.01)
            assert answers == []
            store.release_gate.set()
        (answer,) = answers
        assert isinstance(answer, Task)
        done = await client.get_task(first.id)
        assert done.status.state is TaskState.COMPLETED
        assert done.status.message is not None
        assert done.status.message.text == "done: tuesday"
