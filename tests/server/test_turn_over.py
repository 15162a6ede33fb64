"""Once a turn is over (a final state, an interruption or a reply), the agent's
progress calls are refused with a RuntimeError that says so, and nothing is written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest

from accord.server import Agent, Engine, TaskContext
from accord.stores import MemoryTaskStore
from accord.types import Message, Task, TaskState
from tests.helpers.in_memory import engine_client

pytestmark = pytest.mark.anyio


LATE_CALLS: dict[str, Callable[[TaskContext], Awaitable[object]]] = {
    "add_artifact": lambda ctx: ctx.add_artifact("late"),
    "working": lambda ctx: ctx.working("late"),
    "complete": lambda ctx: ctx.complete("late"),
    "submit": lambda ctx: ctx.submit(),
    "reply": lambda ctx: ctx.reply("late"),
}


async def _send(agent: Agent) -> Task | Message:
    engine = Engine(agent, store=MemoryTaskStore())
    async with engine_client(engine) as client:
        with anyio.fail_after(20):
            return await client.send_message("go")


@pytest.mark.parametrize("late", sorted(LATE_CALLS))
async def test_a_call_after_the_task_completed_is_refused(late: str) -> None:
    refused: list[BaseException] = []

    async def work(ctx: TaskContext) -> None:
        await ctx.add_artifact("result")
        await ctx.complete()
        try:
            await LATE_CALLS[late](ctx)
        except RuntimeError as exc:
            refused.append(exc)

    answer = await _send(Agent(work, name="Late", description="for tests"))
    assert isinstance(answer, Task)
    assert answer.status.state == TaskState.COMPLETED
    assert len(answer.artifacts) == 1  # the late call wrote nothing
    assert len(refused) == 1
    text = str(refused[0])
    assert f"this turn of task {answer.id} is over (COMPLETED)" in text
    assert "return from the agent" in text


@pytest.mark.parametrize("late", ["add_artifact", "submit", "reply"])
async def test_a_call_after_a_reply_is_refused(late: str) -> None:
    refused: list[BaseException] = []

    async def work(ctx: TaskContext) -> None:
        await ctx.reply("answer")
        try:
            await LATE_CALLS[late](ctx)
        except RuntimeError as exc:
            refused.append(exc)

    answer = await _send(Agent(work, name="Late", description="for tests"))
    assert isinstance(answer, Message)
    assert answer.text == "answer"
    assert len(refused) == 1
    assert "is over (replied)" in str(refused[0])


async def test_a_reply_once_the_message_has_a_task_is_refused() -> None:
    refused: list[BaseException] = []

    async def work(ctx: TaskContext) -> None:
        await ctx.working()
        try:
            await ctx.reply("too late for a Message")
        except RuntimeError as exc:
            refused.append(exc)
        await ctx.complete("done")

    answer = await _send(Agent(work, name="Late", description="for tests"))
    assert isinstance(answer, Task)
    assert answer.status.state == TaskState.COMPLETED
    assert len(refused) == 1
    assert "already has a task" in str(refused[0])


async def test_a_reply_without_content_is_refused_and_the_turn_goes_on() -> None:
    refused: list[BaseException] = []

    async def work(ctx: TaskContext) -> None:
        try:
            await ctx.reply(())
        except ValueError as exc:
            refused.append(exc)
        await ctx.reply("with content")

    answer = await _send(Agent(work, name="Empty", description="for tests"))
    assert isinstance(answer, Message)
    assert answer.text == "with content"
    assert [str(e) for e in refused] == ["reply() needs content"]
