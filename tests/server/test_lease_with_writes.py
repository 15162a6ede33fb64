"""A new task's lease is written with its creation and released with its last write.

The runtime side of ``TaskStore.create(holder=)`` / ``append(release=)`` (leases.py):
no separate lease write for a new task, none at all for a reply-only execution, and
the heartbeat and the fencing watchdog leave alone an execution that holds no lease
yet (before its first write) or any more (after its last write).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import anyio
import pytest

from accord.client import Client
from accord.server import Agent, Engine, TaskContext
from accord.server.leases import LeaseState
from accord.server.runtime import Execution, Runtime
from accord.stores import MemoryTaskStore, TaskStore
from accord.types import (
    Message,
    SendMessageConfiguration,
    Task,
    TaskState,
)
from tests.helpers.in_memory import engine_client

pytestmark = pytest.mark.anyio

#: Long: the background heartbeat never matters; the tests renew by hand.
LEASE = 60.0


class Counting:
    """A memory store that counts its calls and can hold a renewal's answer back."""

    def __init__(self) -> None:
        self.inner = MemoryTaskStore()
        self.calls: Counter[str] = Counter()
        self.kwargs: dict[str, list[dict[str, Any]]] = {}
        #: When set: a renewal waits here after the store answered, before returning.
        self.renewal_gate: anyio.Event | None = None
        self.renewal_answered = anyio.Event()

    async def __aenter__(self) -> Counting:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.inner.__aexit__(*exc_info)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            self.kwargs.setdefault(name, []).append(kwargs)
            result = await method(*args, **kwargs)
            if name == "renew_leases" and self.renewal_gate is not None:
                gate, self.renewal_gate = self.renewal_gate, None
                self.renewal_answered.set()
                await gate.wait()
            return result

        return call

    async def leased(self, task_id: str) -> bool:
        """True when someone holds ``task_id``'s lease (probed without changing it)."""
        probe = await self.inner.acquire_lease(
            task_id, tenant="", holder="probe", seconds=LEASE
        )
        if probe is None:
            return True
        await self.inner.release_lease(task_id, holder="probe")
        return False


@asynccontextmanager
async def serving(
    agent: Agent,
) -> AsyncIterator[tuple[Counting, Runtime, Client]]:
    store = Counting()
    engine = Engine(agent, store=cast(TaskStore, store), lease_seconds=LEASE)
    async with engine_client(engine, "HTTP+JSON") as client:
        with anyio.fail_after(20):
            yield store, engine.handler.runtime, client


async def until(done: Callable[[], bool]) -> None:
    """Poll ``done`` (within the test's deadline): nothing signals these states."""
    while True:
        if done():
            return
        await anyio.sleep(0.01)


async def live(runtime: Runtime) -> Execution:
    """Wait for the (only) live execution."""
    await until(lambda: bool(runtime.live_executions()))
    return runtime.live_executions()[0]


def age_renewals(runtime: Runtime, x: Execution) -> None:
    """Pretend nothing was renewed for ten leases (what fencing looks for)."""
    long_ago = time.monotonic() - 10 * LEASE
    runtime.leases._renewed = long_ago
    x.leased_at = long_ago


async def test_a_new_task_takes_its_lease_with_its_creation_and_drops_it_with_its_end() -> (
    None
):
    gate = anyio.Event()

    async def work(ctx: TaskContext) -> None:
        await ctx.working("on it")
        await gate.wait()
        await ctx.complete("done")

    async with serving(Agent(work, name="W", description="d")) as (
        store,
        runtime,
        client,
    ):
        config = SendMessageConfiguration(return_immediately=True)
        sent = await client.send_message("go", configuration=config)
        assert isinstance(sent, Task)
        x = await live(runtime)
        await until(lambda: x.lease.state is LeaseState.HELD)
        assert await store.leased(sent.id)
        create = store.kwargs["create"][0]
        assert create["holder"] == runtime.leases.holder
        assert create["seconds"] == LEASE
        gate.set()
        await x.done.wait()
        assert x.lease.state is LeaseState.RELEASED
        assert not await store.leased(sent.id)
        # The last append carried the release; no lease call of its own.
        assert store.kwargs["append"][-1]["release"] == runtime.leases.holder
        assert all(k.get("release") is None for k in store.kwargs["append"][:-1])
        assert store.calls["acquire_lease"] == 0
        assert store.calls["release_lease"] == 0
        task = await client.get_task(sent.id)
        assert task.status.state is TaskState.COMPLETED


async def test_a_reply_only_execution_writes_no_lease() -> None:
    async def work(ctx: TaskContext) -> None:
        await ctx.reply("hello")

    async with serving(Agent(work, name="W", description="d")) as (
        store,
        runtime,
        client,
    ):
        answer = await client.send_message("hi")
        assert isinstance(answer, Message)
        await until(lambda: not runtime.live_count)
        assert store.calls["create"] == 0
        assert store.calls["acquire_lease"] == 0
        assert store.calls["release_lease"] == 0


async def test_a_follow_up_acquires_its_lease_and_its_last_write_releases_it() -> None:
    async def work(ctx: TaskContext) -> None:
        if ctx.is_follow_up:
            await ctx.complete("thanks")
        else:
            await ctx.ask_for_input("which one?")

    async with serving(Agent(work, name="W", description="d")) as (
        store,
        runtime,
        client,
    ):
        first = await client.send_message("go")
        assert isinstance(first, Task)
        assert first.status.state is TaskState.INPUT_REQUIRED
        assert store.calls["acquire_lease"] == 0
        await until(lambda: not runtime.live_count)
        second = await client.send_message("this one", task_id=first.id)
        assert isinstance(second, Task)
        assert second.status.state is TaskState.COMPLETED
        assert store.calls["acquire_lease"] == 1
        await until(lambda: not runtime.live_count)
        assert store.calls["release_lease"] == 0
        assert not await store.leased(first.id)


async def test_the_heartbeat_spares_an_execution_before_its_first_write() -> None:
    gate = anyio.Event()

    async def work(ctx: TaskContext) -> None:
        await gate.wait()
        await ctx.complete("done")

    async with serving(Agent(work, name="W", description="d")) as (
        _store,
        runtime,
        client,
    ):
        async with anyio.create_task_group() as tg:
            results: list[Any] = []

            async def send() -> None:
                results.append(await client.send_message("go"))

            tg.start_soon(send)
            x = await live(runtime)
            assert x.lease.state is LeaseState.WITH_CREATE
            await runtime.leases.renew()
            age_renewals(runtime, x)
            assert runtime.leases.fence() == 0
            assert x.cancel_reason is None
            gate.set()
        [task] = results
        assert isinstance(task, Task)
        assert task.status.state is TaskState.COMPLETED


async def test_a_renewal_that_raced_the_creation_does_not_cancel() -> None:
    # The renewal reads the leases before the task (and its lease) is created, and
    # answers after: the execution's lease is missing from the answer, yet not lost.
    gate = anyio.Event()
    finish = anyio.Event()

    async def work(ctx: TaskContext) -> None:
        await gate.wait()
        await ctx.working("on it")
        await finish.wait()
        await ctx.complete("done")

    async with serving(Agent(work, name="W", description="d")) as (
        store,
        runtime,
        client,
    ):
        config = SendMessageConfiguration(return_immediately=True)
        async with anyio.create_task_group() as tg:
            results: list[Any] = []

            async def send() -> None:
                results.append(await client.send_message("go", configuration=config))

            async def renew() -> None:
                await runtime.leases.renew()
                renewed.set()

            tg.start_soon(send)
            x = await live(runtime)
            held, renewed = anyio.Event(), anyio.Event()
            store.renewal_gate = held
            answered = store.renewal_answered
            tg.start_soon(renew)
            await answered.wait()
            gate.set()
            await until(lambda: x.lease.state is LeaseState.HELD)
            held.set()
            await renewed.wait()
            assert x.cancel_reason is None
            finish.set()
        await x.done.wait()
        assert x.cancel_reason is None
        [sent] = results
        task = await client.get_task(sent.id)
        assert task.status.state is TaskState.COMPLETED


async def test_the_heartbeat_spares_an_execution_after_its_last_write() -> None:
    returning = anyio.Event()
    gate = anyio.Event()

    async def work(ctx: TaskContext) -> None:
        await ctx.complete("done")
        returning.set()
        await gate.wait()  # still returning after its last write

    async with serving(Agent(work, name="W", description="d")) as (
        store,
        runtime,
        client,
    ):
        # Not blocking: a blocking send runs inline and answers when the agent returns.
        task = await client.send_message(
            "go", configuration=SendMessageConfiguration(return_immediately=True)
        )
        assert isinstance(task, Task)
        await returning.wait()
        done = await client.get_task(task.id)
        assert done.status.state is TaskState.COMPLETED
        x = await live(runtime)
        assert x.lease.state is LeaseState.RELEASED
        await runtime.leases.renew()
        age_renewals(runtime, x)
        assert runtime.leases.fence() == 0
        assert x.cancel_reason is None
        gate.set()
        await x.done.wait()
        assert x.cancel_reason is None
        assert x.error is None
        assert store.calls["release_lease"] == 0
