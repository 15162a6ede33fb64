"""Task events across instances on PostgreSQL (accord.server.pg_events).

Two engines on one database in one test process (two stores, two PostgresTaskEvents:
two instances): a task runs on A while B's subscribers follow it, resume with
Last-Event-ID, and survive the loss of B's LISTEN connection. The contract clauses
themselves run in test_task_events.py (one instance, and a publishing/subscribing
pair).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial

import anyio
import anyio.to_thread
import httpx
import psycopg
import pytest

from accord.client import Client, EventStream, MemoryTransport
from accord.server import A2AApp, Agent, Engine, TaskContext
from accord.server.events import LocalTaskEvents, Subscription, Update
from accord.server.pg_events import PostgresTaskEvents
from accord.stores import MemoryTaskStore, Scope, StoredEvent
from accord.stores.postgres import PostgresTaskStore
from accord.stores.postgres_notify import channel_name, task_key
from accord.types import AgentInterface, StreamResponse, Task, TaskState
from tests.stores._postgres import (
    SERVER,
    admin,
    fresh_schema,
    require_postgres,
)

pytestmark = pytest.mark.anyio


BASE = "http://agent.test"
SCOPE = Scope(tenant="", owner="")


def stepping_agent(
    steps: anyio.abc.ObjectReceiveStream[int],
) -> Agent:
    """Streams ``int(text)`` artifact chunks, one each time the test sends a step."""

    async def run(ctx: TaskContext) -> None:
        await ctx.working("started")
        first = ""
        for i in range(int(ctx.text)):
            await steps.receive()
            if not first:
                first = await ctx.add_artifact(f"{i} ", name="out")
            else:
                await ctx.append_artifact(first, f"{i} ")
        await ctx.complete("done")

    return Agent(run, name="Stepper", description="Streams chunks on cue")


@dataclass
class Instance:
    engine: Engine
    client: Client
    store: PostgresTaskStore
    events: PostgresTaskEvents


@asynccontextmanager
async def instance(url: str, agent: Agent) -> AsyncIterator[Instance]:
    store = PostgresTaskStore(url)
    events = PostgresTaskEvents(url, fallback_poll=None)  # wake-ups alone must do
    engine = Engine(agent, store=store, events=events)
    app = A2AApp.from_engine(engine)
    face = AgentInterface(
        url=BASE, protocol_binding="HTTP+JSON", protocol_version="1.0"
    )
    async with (
        engine.running(),
        httpx.AsyncClient(transport=MemoryTransport(app), base_url=BASE) as http,
        Client.from_interface(face, http=http) as a2a,
    ):
        yield Instance(engine, a2a, store, events)


@asynccontextmanager
async def two_instances() -> AsyncIterator[
    tuple[Instance, Instance, anyio.abc.ObjectSendStream[int]]
]:
    send, receive = anyio.create_memory_object_stream[int](1000)
    agent = stepping_agent(receive)
    async with fresh_schema() as (_, url), AsyncExitStack() as stack:
        a = await stack.enter_async_context(instance(url, agent))
        b = await stack.enter_async_context(instance(url, agent))
        async with send, receive:
            yield a, b, send


async def started_on(a: Instance, chunks: int) -> tuple[EventStream, str]:
    """Send a streaming message on A; return its stream once the task exists."""
    stream = a.client.send_streaming_message(str(chunks))
    first = await stream.__anext__()
    assert first.task is not None
    return stream, first.task.id


async def follow(
    stream: EventStream, *, until: int | None = None
) -> list[tuple[int, StreamResponse]]:
    """(event id, event) of ``stream`` until it ends (or ``until`` events)."""
    got: list[tuple[int, StreamResponse]] = []
    async for event in stream:
        assert stream.last_event_id is not None
        got.append((int(stream.last_event_id), event))
        if until is not None and len(got) >= until:
            break
    return got


async def logged(store: PostgresTaskStore, task_id: str) -> list[StoredEvent]:
    return await store.events(task_id, after=0, scope=SCOPE)


async def test_a_subscriber_on_b_follows_a_task_running_on_a() -> None:
    async with two_instances() as (a, b, steps):
        a_stream, task_id = await started_on(a, 20)
        async with a_stream, b.client.subscribe(task_id) as b_stream:
            with anyio.fail_after(10):
                snapshot = await b_stream.__anext__()
                assert snapshot.task is not None
                start = int(b_stream.last_event_id or "0")
                for i in range(20):
                    await steps.send(i)
                got = await follow(b_stream)
                await follow(a_stream)
        log = await logged(a.store, task_id)
        # Every event after the snapshot, in order, once; the last one ends the task.
        assert [seq for seq, _ in got] == [e.seq for e in log if e.seq > start]
        assert [event for _, event in got] == [e.event for e in log if e.seq > start]
        assert got[-1][1].status_update is not None
        assert got[-1][1].status_update.status.state is TaskState.COMPLETED


async def test_resuming_on_b_with_last_event_id_loses_and_repeats_nothing() -> None:
    async with two_instances() as (a, b, steps):
        a_stream, task_id = await started_on(a, 30)
        async with a_stream:
            with anyio.fail_after(10):
                async with b.client.subscribe(task_id) as first:
                    await first.__anext__()  # the snapshot
                    for i in range(10):
                        await steps.send(i)
                    seen = await follow(first, until=5)
                # Disconnected: the task goes on on A meanwhile.
                for i in range(10, 30):
                    await steps.send(i)
                async with b.client.subscribe(
                    task_id, last_event_id=str(seen[-1][0])
                ) as resumed:
                    rest = await follow(resumed)
                await follow(a_stream)
        log = await logged(a.store, task_id)
        seqs = [seq for seq, _ in seen + rest]
        assert seqs == list(range(seqs[0], log[-1].seq + 1))  # no gap, no repeat
        assert rest[-1][1] == log[-1].event


async def test_subscribers_get_every_event_after_their_listen_connection_is_lost() -> (
    None
):
    await require_postgres()
    name = f"pgev_{uuid.uuid4().hex[:12]}"
    await anyio.to_thread.run_sync(admin, f"CREATE DATABASE {name}")
    url = f"{SERVER}/{name}"
    log_a = PostgresTaskStore(url)
    try:
        async with (
            log_a,
            PostgresTaskEvents(url, fallback_poll=None) as a,
            PostgresTaskEvents(
                url, fallback_poll=None, reconnect_delay=(0.01, 0.05)
            ) as b,
        ):
            writer = Writer(log_a, "t-" + uuid.uuid4().hex)
            subs = [b.subscribe(writer.task_id, catch_up=writer.catch_up) for _ in "xy"]
            for _ in range(5):
                await a.publish(writer.task_id, await writer.write())
            with anyio.fail_after(10):
                for sub in subs:
                    assert [u.seq for u in await take(sub, 5)] == [1, 2, 3, 4, 5]
            assert b.notifier.connections == 1
            # Keep B from reconnecting, then cut its LISTEN connection.
            await set_connections(name, allowed=False)
            await terminate(b.notifier.listener_pid)
            with anyio.fail_after(10):
                while b.notifier.listening:  # noqa: ASYNC110 - another task's state
                    await anyio.sleep(0.01)
            for _ in range(5):  # NOTIFYed while B hears nothing
                await a.publish(writer.task_id, await writer.write())
            await a.notifier._flush()
            await set_connections(name, allowed=True)
            with anyio.fail_after(10):
                for sub in subs:
                    assert [u.seq for u in await take(sub, 5)] == [6, 7, 8, 9, 10]
                # A wake-up for 1..5 that was still pending in a subscription may
                # have fetched 6..10 before B's reconnect was counted (wake-ups are
                # at least once): the reconnect itself is awaited, not assumed.
                while b.notifier.connections < 2:  # noqa: ASYNC110 - another task's state
                    await anyio.sleep(0.01)
            assert b.notifier.connections == 2
            for sub in subs:
                sub.close()
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(
                admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )


async def test_the_fallback_poll_finds_events_whose_wake_up_never_came() -> None:
    async with fresh_schema() as (_, url), PostgresTaskStore(url) as store:
        writer = Writer(store, "t-" + uuid.uuid4().hex)
        async with PostgresTaskEvents(url, fallback_poll=0.05) as events:
            with events.subscribe(writer.task_id, catch_up=writer.catch_up) as sub:
                await writer.write()  # logged, never published
                with anyio.fail_after(10):
                    assert [u.seq for u in await take(sub, 1)] == [1]


async def test_a_flood_of_wake_ups_is_merged_into_one_that_wakes_everyone() -> None:
    async with fresh_schema() as (_, url), PostgresTaskStore(url) as store:
        writers = [Writer(store, f"t{i}-{uuid.uuid4().hex}") for i in range(3)]
        async with (
            PostgresTaskEvents(url, fallback_poll=None, max_pending=1) as a,
            PostgresTaskEvents(url, fallback_poll=None) as b,
        ):
            subs = [b.subscribe(w.task_id, catch_up=w.catch_up) for w in writers]
            updates = [await w.write() for w in writers]
            for writer, update in zip(writers, updates, strict=True):
                await a.publish(writer.task_id, update)  # 3 tasks > max_pending
            with anyio.fail_after(10):
                for sub in subs:
                    assert [u.seq for u in await take(sub, 1)] == [1]


async def test_the_engine_picks_postgres_events_for_a_postgres_store() -> None:
    async def nothing(ctx: TaskContext) -> None:
        await ctx.complete()

    agent = Agent(nothing, name="Nothing", description="Does nothing")
    local = Engine(agent, store=MemoryTaskStore()).events
    assert isinstance(local, LocalTaskEvents)
    assert not isinstance(local, PostgresTaskEvents)
    engine = Engine(agent, store=PostgresTaskStore("postgresql://h/db"))
    assert isinstance(engine.events, PostgresTaskEvents)
    mine = LocalTaskEvents()
    assert (
        Engine(agent, store=PostgresTaskStore("postgresql://h/db"), events=mine).events
        is mine
    )


async def test_an_unreachable_database_fails_at_start_and_says_what_to_check() -> None:
    from accord.errors import StoreError

    events = PostgresTaskEvents(
        "postgresql://postgres@127.0.0.1:1/none", connect_timeout=1
    )
    with pytest.raises(StoreError, match="check that PostgreSQL is running"):
        async with events:
            pass


class Writer:
    """One task's log in a PostgreSQL store; ``write`` appends and returns its update."""

    def __init__(self, store: PostgresTaskStore, task_id: str) -> None:
        self.store, self.task_id, self.version = store, task_id, 0

    async def write(self) -> Update:
        from accord.types import TaskStatus

        task = Task(
            id=self.task_id,
            context_id="c",
            status=TaskStatus(state=TaskState.WORKING),
            metadata={"n": self.version + 1},
        )
        event = StreamResponse(task=task)
        if self.version == 0:
            record = await self.store.create(task, event, scope=SCOPE)
        else:
            record = await self.store.append(task, event, expected_version=self.version)
        self.version = record.version
        return Update(seq=record.version, event=event, task=task)

    async def catch_up(self, after: int) -> list[StoredEvent]:
        return await self.store.events(self.task_id, after=after, scope=SCOPE)


async def take(sub: Subscription, count: int) -> list[Update]:
    got: list[Update] = []
    async for update in sub:
        got.append(update)
        if len(got) >= count:
            break
    return got


async def set_connections(database: str, *, allowed: bool) -> None:
    await anyio.to_thread.run_sync(
        admin, f"ALTER DATABASE {database} ALLOW_CONNECTIONS {str(allowed).lower()}"
    )


async def terminate(pid: int | None) -> None:
    """End the server process ``pid`` and wait until it is gone."""
    assert pid is not None

    def alive() -> bool:
        return bool(admin(f"SELECT 1 FROM pg_stat_activity WHERE pid = {pid}"))

    await anyio.to_thread.run_sync(admin, f"SELECT pg_terminate_backend({pid})")
    with anyio.fail_after(10):
        while await anyio.to_thread.run_sync(alive):  # noqa: ASYNC110 - server state
            await anyio.sleep(0.01)


async def test_a_wake_up_before_a_follow_ups_first_event_replays_no_earlier_turn() -> (
    None
):
    events: list[PostgresTaskEvents] = []

    async def ask_then_finish(ctx: TaskContext) -> None:
        if not ctx.is_follow_up:
            await ctx.ask_for_input("and then?")
            return
        # Before the follow-up's reader saw anything: as the safety-net poll or a
        # reconnect may, at any moment.
        events[0].wake_all()
        await ctx.complete("done")

    agent = Agent(ask_then_finish, name="Asker", description="Asks once")
    async with fresh_schema() as (_, url), AsyncExitStack() as stack:
        one = await stack.enter_async_context(instance(url, agent))
        events.append(one.events)
        first = await one.client.send_message("start")
        assert isinstance(first, Task)
        assert first.status.state is TaskState.INPUT_REQUIRED
        with anyio.fail_after(10):
            async with one.client.send_streaming_message(
                "go on", task_id=first.id
            ) as stream:
                states = [
                    event.status_update.status.state
                    async for event in stream
                    if event.status_update is not None
                ]
    assert TaskState.INPUT_REQUIRED not in states  # nothing of the first turn
    assert states[-1] is TaskState.COMPLETED


async def test_wake_ups_that_failed_to_send_are_sent_after_reconnecting() -> None:
    async with fresh_schema() as (_, url), PostgresTaskStore(url) as store:
        writer = Writer(store, "t-" + uuid.uuid4().hex)
        async with (
            PostgresTaskEvents(url, fallback_poll=None) as a,
            PostgresTaskEvents(url, fallback_poll=None) as b,
        ):
            with b.subscribe(writer.task_id, catch_up=writer.catch_up) as sub:
                await a.publish(writer.task_id, await writer.write())
                with anyio.fail_after(10):
                    assert [u.seq for u in await take(sub, 1)] == [1]
                await terminate(a.notifier.sender_pid)  # A's NOTIFY connection
                await a.publish(writer.task_id, await writer.write())
                with anyio.fail_after(10):
                    assert [u.seq for u in await take(sub, 1)] == [2]


async def test_a_wake_up_before_a_resumed_stream_grows_replays_nothing() -> None:
    async with two_instances() as (a, b, steps):
        a_stream, task_id = await started_on(a, 2)

        async def chunked() -> bool:
            log = await logged(b.store, task_id)
            return log[-1].event.artifact_update is not None

        got: list[int] = []
        async with a_stream:
            with anyio.fail_after(10):
                await steps.send(0)
                while not await chunked():  # noqa: ASYNC110 - A's progress
                    await anyio.sleep(0.01)
                last = (await logged(b.store, task_id))[-1].seq
                async with (
                    b.client.subscribe(task_id, last_event_id=str(last)) as resumed,
                    anyio.create_task_group() as tg,
                ):

                    async def first() -> None:
                        await anext(resumed)
                        got.append(int(resumed.last_event_id or "0"))

                    tg.start_soon(first)
                    while not b.events.subscriber_count(task_id):  # noqa: ASYNC110
                        await anyio.sleep(0.01)
                    b.events.wake_all()  # before the log grows past `last`
                    await steps.send(1)
                await follow(a_stream)
        assert got == [last + 1]


def test_channels_are_per_schema_and_fit_an_identifier() -> None:
    from accord.stores.postgres_notify import channel_name

    assert channel_name("team_a") == "accord_events:team_a"
    assert channel_name("team_a") != channel_name("team_b")
    long_a, long_b = "a" * 63, "a" * 62 + "b"
    assert len(channel_name(long_a).encode()) <= 63
    assert channel_name(long_a) != channel_name(long_b)


def test_payloads_that_are_not_wake_ups_are_ignored() -> None:
    from accord.stores.postgres_notify import Wake

    assert Wake.parse("abcd1234 00ff 7") == Wake("abcd1234", "00ff", 7)
    for junk in ("", "hello", "a b c", "a b -1", "a b 1 2"):
        assert Wake.parse(junk) is None


def test_options_are_checked() -> None:
    url = "postgresql://h/db"
    with pytest.raises(ValueError, match="fallback_poll"):
        PostgresTaskEvents(url, fallback_poll=0)
    with pytest.raises(ValueError, match="max_pending"):
        PostgresTaskEvents(url, max_pending=0)
    with pytest.raises(ValueError, match="positive"):
        PostgresTaskEvents(url, buffer=0)


async def test_events_run_once_at_a_time() -> None:
    async with fresh_schema() as (_, url), PostgresTaskEvents(url) as events:
        with pytest.raises(RuntimeError, match="already running"):
            await events.__aenter__()
        with pytest.raises(RuntimeError, match="already running"):
            async with events.notifier.running():
                pass


async def test_a_task_created_ended_sends_no_wake_up_and_a_running_one_does() -> None:
    """A blocking send whose agent never waits writes its task once, already ended
    (server/write_behind.py): nobody can be subscribed yet, so no NOTIFY goes out."""

    async def run(ctx: TaskContext) -> None:
        await ctx.working("started")
        if ctx.text == "quick":
            await ctx.add_artifact("answer")
        await ctx.complete("done")

    agent = Agent(run, name="Quick", description="Answers at once")
    async with fresh_schema() as (schema, url), instance(url, agent) as a:
        listener = await anyio.to_thread.run_sync(
            partial(psycopg.connect, url, autocommit=True)
        )
        with listener:
            channel = channel_name(schema)
            await anyio.to_thread.run_sync(
                listener.execute, f'LISTEN "{channel}"'.encode()
            )
            quick = await a.client.send_message("quick")
            assert isinstance(quick, Task)
            assert quick.status.state is TaskState.COMPLETED
            async with a.client.send_streaming_message("streamed") as stream:
                streamed = await follow(stream)
            first = streamed[0][1].task
            assert first is not None

            def wake_ups_until_the_streamed_tasks() -> list[str]:
                keys: list[str] = []
                for note in listener.notifies(timeout=10):
                    keys.append(note.payload.split()[1])
                    if keys[-1] == task_key(first.id):
                        break
                return keys

            keys = await anyio.to_thread.run_sync(wake_ups_until_the_streamed_tasks)
        assert task_key(quick.id) not in keys
        assert keys[-1] == task_key(first.id)
        assert [e.seq for e in await logged(a.store, quick.id)] == [1, 2, 3, 4]
