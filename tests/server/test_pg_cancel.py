"""CancelTask on instance B reaches the agent running on instance A in milliseconds.

Two engines on one PostgreSQL schema in this process. B stores the cancel request on
the task's lease and sends a cancel wake-up (NOTIFY); A, woken, renews its leases at
once and cancels the agent. The heartbeat is made long here (30 s lease, beat capped
at 7.5 s) so that only the wake-up can explain a cancel within a few seconds; the
second test loses the wake-up (A's LISTEN connection is gone) and the heartbeat still
cancels the task.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import anyio
import pytest

from accord.client import Client
from accord.server import Agent, Engine, TaskContext
from accord.server import leases as leases_module
from accord.server.pg_events import PostgresTaskEvents
from accord.stores.postgres import PostgresTaskStore
from accord.types import SendMessageConfiguration, Task, TaskState
from tests.helpers.in_memory import engine_client
from tests.server.test_pg_events import terminate
from tests.stores._postgres import fresh_schema

pytestmark = pytest.mark.anyio


class Sleeper:
    """An agent that works until cancelled; notes when it starts and when it stops."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.stopped = anyio.Event()
        self.stopped_at = 0.0

    def agent(self) -> Agent:
        async def work(ctx: TaskContext) -> None:
            await ctx.working("on it")
            self.started.set()
            try:
                await anyio.sleep_forever()
            finally:
                self.stopped_at = time.monotonic()
                self.stopped.set()

        return Agent(work, name="Sleeper", description="Works until cancelled")


@dataclass
class Instance:
    engine: Engine
    client: Client
    events: PostgresTaskEvents


@asynccontextmanager
async def instance(
    url: str, agent: Agent, *, lease: float, reconnect: tuple[float, float]
) -> AsyncIterator[Instance]:
    events = PostgresTaskEvents(url, fallback_poll=None, reconnect_delay=reconnect)
    engine = Engine(
        agent, store=PostgresTaskStore(url), events=events, lease_seconds=lease
    )
    async with engine_client(engine, "HTTP+JSON") as a2a:
        yield Instance(engine, a2a, events)


@asynccontextmanager
async def a_and_b(
    sleeper: Sleeper, *, lease: float, a_reconnect: tuple[float, float] = (0.05, 5.0)
) -> AsyncIterator[tuple[Instance, Instance, str]]:
    """Instances A and B; a task running on A (its id)."""
    agent = sleeper.agent()
    async with fresh_schema() as (_, url), AsyncExitStack() as stack:
        a = await stack.enter_async_context(
            instance(url, agent, lease=lease, reconnect=a_reconnect)
        )
        b = await stack.enter_async_context(
            instance(url, agent, lease=lease, reconnect=(0.05, 5.0))
        )
        config = SendMessageConfiguration(return_immediately=True)
        task = await a.client.send_message("go", configuration=config)
        assert isinstance(task, Task)
        with anyio.fail_after(10):
            await sleeper.started.wait()
        yield a, b, task.id


async def test_cancel_on_b_reaches_the_agent_on_a_in_milliseconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A 30 s lease with its beat capped at 7.5 s: a heartbeat cannot explain a cancel
    # seen within 3 s, in the 7.5 s before A's first beat.
    monkeypatch.setattr(leases_module, "HEARTBEAT_MAX", 30.0)
    sleeper = Sleeper()
    async with a_and_b(sleeper, lease=30.0) as (a, b, task_id):
        runtime_a = a.engine.handler.runtime
        sent = time.monotonic()
        with anyio.fail_after(3):
            task = await b.client.cancel_task(task_id)
        answered = time.monotonic()
        assert task.status.state is TaskState.CANCELED
        assert sleeper.stopped.is_set()
        assert sleeper.stopped_at - sent < 3.0
        assert answered - sent < 3.0
        # One early renewal, woken by B's cancel; none from the beat.
        assert runtime_a.leases.nudged_renewals == 1
        assert runtime_a.live(task_id) is None
        got = await a.client.get_task(task_id)
        assert got.status.state is TaskState.CANCELED


async def test_a_lost_cancel_wake_up_still_cancels_at_the_next_heartbeat() -> None:
    sleeper = Sleeper()
    # A 4 s lease: a beat every second. A does not reconnect within the test.
    async with a_and_b(sleeper, lease=4.0, a_reconnect=(60.0, 60.0)) as (a, b, task_id):
        await terminate(a.events.notifier.listener_pid)
        with anyio.fail_after(10):
            while a.events.notifier.listening:  # noqa: ASYNC110 - another task's state
                await anyio.sleep(0.01)
        with anyio.fail_after(10):
            task = await b.client.cancel_task(task_id)
        assert task.status.state is TaskState.CANCELED
        assert sleeper.stopped.is_set()
        runtime_a = a.engine.handler.runtime
        assert runtime_a.leases.nudged_renewals == 0  # the beat did it
        assert not a.events.notifier.listening


# --- the cancel wake-ups of PostgresTaskEvents ---------------------------------------


class Woken:
    """A cancel watcher: ``event`` is set by its next wake-up."""

    def __init__(self) -> None:
        self.count = 0
        self.event = anyio.Event()

    def __call__(self) -> None:
        self.count += 1
        self.event.set()
        self.event = anyio.Event()


async def test_a_flood_of_cancel_wake_ups_wakes_every_watcher() -> None:
    async with (
        fresh_schema() as (_, url),
        PostgresTaskEvents(url, fallback_poll=None, max_pending=1) as a,
        PostgresTaskEvents(url, fallback_poll=None) as b,
    ):
        watchers = [Woken() for _ in range(3)]
        for i, watcher in enumerate(watchers):
            b.watch_cancel(f"t{i}", watcher)
        waits = [watcher.event for watcher in watchers]
        for i in range(2):  # 2 tasks > max_pending: one "look, everyone" message
            a.cancel_requested(f"t{i}")
        with anyio.fail_after(10):
            for event in waits:
                await event.wait()  # t2 too: spurious, harmless (nothing stored)


async def test_cancel_wake_ups_that_failed_to_send_are_sent_after_reconnecting() -> (
    None
):
    async with (
        fresh_schema() as (_, url),
        PostgresTaskEvents(url, fallback_poll=None) as a,
        PostgresTaskEvents(url, fallback_poll=None) as b,
    ):
        watcher = Woken()
        stop = b.watch_cancel("t", watcher)
        waiting = watcher.event
        a.cancel_requested("t")
        with anyio.fail_after(10):
            await waiting.wait()
        await terminate(a.notifier.sender_pid)  # A's NOTIFY connection
        waiting = watcher.event
        a.cancel_requested("t")
        with anyio.fail_after(10):
            await waiting.wait()
        stop()
        assert b.cancel_watch_count("t") == 0


async def test_a_reestablished_listen_wakes_every_cancel_watcher() -> None:
    # A cancel wake-up sent while B's LISTEN was down is lost; B looks on reconnecting.
    async with (
        fresh_schema() as (_, url),
        PostgresTaskEvents(url, fallback_poll=None, reconnect_delay=(0.01, 0.05)) as b,
    ):
        watcher = Woken()
        b.watch_cancel("t", watcher)
        waiting = watcher.event
        await terminate(b.notifier.listener_pid)
        with anyio.fail_after(10):
            await waiting.wait()
        assert b.notifier.connections == 2


def test_cancel_wake_up_payloads() -> None:
    from accord.stores.postgres_notify import Wake

    assert Wake.parse("abcd1234 00ff cancel") == Wake(
        "abcd1234", "00ff", 0, cancel=True
    )
    assert Wake.parse("abcd1234 * cancel") == Wake("abcd1234", "*", 0, cancel=True)
    assert Wake.parse("abcd1234 * work") == Wake("abcd1234", "*", 0, work=True)
    for junk in ("a b Cancel", "a cancel", "a b cancel x", "a work", "a * Work"):
        assert Wake.parse(junk) is None
