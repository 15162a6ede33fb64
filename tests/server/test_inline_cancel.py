"""A cancelled inline execution writes no further event, even to a store that never
suspends (the recorder's write lock checks the execution's shielded scope)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from accord.client import Client
from accord.server import Agent, Engine, TaskContext
from accord.server.runtime import Runtime
from accord.stores import MemoryTaskStore
from accord.types import Task, TaskState
from tests.helpers.in_memory import engine_client

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def serving(agent: Agent) -> AsyncIterator[tuple[Runtime, Client]]:
    engine = Engine(agent, store=MemoryTaskStore())
    async with engine_client(engine, "HTTP+JSON") as client:
        with anyio.fail_after(20):
            yield engine.handler.runtime, client


@pytest.mark.parametrize(
    ("reason", "state"),
    [("canceled by client", TaskState.CANCELED), ("shutdown", TaskState.FAILED)],
)
async def test_a_write_after_the_cancel_is_refused(
    reason: str, state: TaskState
) -> None:
    holder: list[Runtime] = []
    late: list[BaseException] = []

    async def work(ctx: TaskContext) -> None:
        await ctx.working()
        execution = holder[0].live(ctx.task_id)
        assert execution is not None
        execution.cancel(reason)  # no await in between: only the lock can notice
        try:
            await ctx.add_artifact("too late")
        except BaseException as exc:
            late.append(exc)
            raise

    async with serving(Agent(work, name="Late", description="for tests")) as (
        runtime,
        client,
    ):
        holder.append(runtime)
        answer = await client.send_message("go")
    assert isinstance(answer, Task)
    assert answer.status.state == state
    assert answer.artifacts == ()
    assert len(late) == 1
    assert isinstance(late[0], anyio.get_cancelled_exc_class())
