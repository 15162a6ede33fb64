"""The observability hooks of interceptors (around, executing, push_delivery) without
OpenTelemetry: what each sees, in which task, and that a failing hook changes nothing
for the caller."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import anyio
import httpx
import pytest

from accord.client import Client, MemoryTransport
from accord.egress import EgressPolicy
from accord.server import (
    A2AApp,
    Agent,
    CallInfo,
    ExecutionInfo,
    Interceptor,
    TaskContext,
)
from accord.server.interceptors import PushOutcome, overrides
from accord.server.push import PushSettings, generate_key
from accord.types import (
    AgentSkill,
    SendMessageConfiguration,
    Task,
    TaskPushNotificationConfig,
    TaskState,
)

from .webhook import Answer, receiver

pytestmark = pytest.mark.anyio

#: What "around" makes current; the agent reads it.
CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("current", default="")


class Watch(Interceptor):
    def __init__(self) -> None:
        self.runs: list[tuple[ExecutionInfo, TaskState | None, str]] = []

    def around(self, call: CallInfo) -> AbstractContextManager[None]:
        return _set(CURRENT, f"call {call.operation.name}")

    def executing(self, run: ExecutionInfo) -> AbstractContextManager[None]:
        return self._run(run)

    @contextmanager
    def _run(self, run: ExecutionInfo) -> Iterator[None]:
        seen = CURRENT.get()
        assert run.state is None  # nothing written yet
        yield
        self.runs.append((run, run.state, seen))


@contextmanager
def _set(var: contextvars.ContextVar[str], value: str) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


class Broken(Interceptor):
    def executing(self, run: ExecutionInfo) -> AbstractContextManager[None]:
        raise RuntimeError("a broken hook")


async def test_executions_run_inside_the_hooks_and_the_request_context() -> None:
    seen_by_agent: list[str] = []

    async def agent(ctx: TaskContext) -> None:
        seen_by_agent.append(CURRENT.get())
        if ctx.text == "boom":
            raise ValueError("boom")
        await ctx.complete("done")

    skill = AgentSkill(id="only", name="Only", description="the one", tags=("x",))
    watch = Watch()
    app = A2AApp(
        Agent(agent, name="Hooked", description="hooked", skills=[skill]),
        interceptors=[Broken(), watch],
    )
    transport = MemoryTransport(app, lifespan=False)
    async with (
        app.running(),
        httpx.AsyncClient(transport=transport) as http,
        await Client.connect("http://agent", http=http) as client,
    ):
        task = await client.send_message("hello")
        failed = await client.send_message("boom")
    assert isinstance(task, Task)
    assert isinstance(failed, Task)
    assert seen_by_agent == ["call SendMessage", "call SendMessage"]
    (first, state, seen), (second, end, _) = watch.runs
    assert (first.task_id, first.context_id) == (task.id, task.context_id)
    assert (first.agent, first.skill, first.attempt, first.queued) == (
        "Hooked",
        "only",
        1,
        False,
    )
    assert first.request.message.parts[0].text == "hello"
    assert state is TaskState.COMPLETED
    assert seen == "call SendMessage"
    assert first.error is None
    assert end is TaskState.FAILED
    assert isinstance(second.error, ValueError)


def test_overrides_names_the_hooks_a_class_defines() -> None:
    assert overrides(Watch(), "executing")
    assert overrides(Watch(), "around")
    assert not overrides(Watch(), "push_delivery")
    assert not overrides(Interceptor(), "executing")


class PushWatch(Interceptor):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def push_delivery(self, task_id: str, outcome: PushOutcome) -> None:
        self.seen.append((task_id, outcome))


class BrokenPush(Interceptor):
    def push_delivery(self, task_id: str, outcome: PushOutcome) -> None:
        raise RuntimeError("a broken push hook")


async def test_push_attempts_reach_the_hooks_past_a_broken_one() -> None:
    async def agent(ctx: TaskContext) -> None:
        await ctx.complete("done")

    watch = PushWatch()
    settings = PushSettings(
        keys=[generate_key()],
        egress=EgressPolicy(allow=("127.0.0.1",)),
        poll_interval=0.05,
    )
    app = A2AApp(
        Agent(agent, name="Pushy", description="pushes", push_notifications=True),
        interceptors=[BrokenPush(), watch],
        push=settings,
    )
    with receiver() as hook:
        hook.script(always=Answer(200))
        transport = MemoryTransport(app, lifespan=False)
        config = SendMessageConfiguration(
            task_push_notification_config=TaskPushNotificationConfig(
                url=hook.url, id="w"
            )
        )
        async with (
            app.running(),
            httpx.AsyncClient(transport=transport) as http,
            await Client.connect("http://agent", http=http) as client,
        ):
            task = await client.send_message("hello", configuration=config)
            assert isinstance(task, Task)
            deadline = anyio.current_time() + 10
            while len(watch.seen) < 2:  # the task, then its completion
                assert anyio.current_time() < deadline, watch.seen
                await anyio.sleep(0.01)
    assert set(watch.seen) == {(task.id, "delivered")}
