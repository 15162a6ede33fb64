"""The TaskEvents contract (accord.server.events), run against every implementation.

Every implementation is a parameter of the ``make_events`` fixture: the in-process
one, PostgreSQL LISTEN/NOTIFY as one instance, and PostgreSQL as two instances that
publish on one and subscribe on the other (every update then crosses PostgreSQL;
the two process-local clauses of the contract skip there). The task's log is a real
store: subscribers catch up from it exactly as the server's do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import anyio
import pytest

from accord.server.events import (
    CancelWake,
    CatchUp,
    LocalTaskEvents,
    Subscription,
    TaskEvents,
    Update,
    WorkWake,
)
from accord.stores import MemoryTaskStore, Scope, StoredEvent
from accord.types import StreamResponse, Task, TaskState, TaskStatus
from tests.stores._postgres import fresh_schema

pytestmark = pytest.mark.anyio

SCOPE = Scope(tenant="", owner="")
MakeEvents = Callable[[int], Awaitable[TaskEvents]]


class Pair:
    """Two instances on one database: publishes on ``a``, subscribes on ``b``."""

    def __init__(self, a: TaskEvents, b: TaskEvents) -> None:
        self.a, self.b = a, b

    async def publish(self, task_id: str, update: Update) -> None:
        await self.a.publish(task_id, update)

    def subscribe(
        self, task_id: str, *, catch_up: CatchUp, after: int | None = None
    ) -> Subscription:
        return self.b.subscribe(task_id, catch_up=catch_up, after=after)

    def close_all(self) -> int:
        return self.b.close_all()

    def subscriber_count(self, task_id: str) -> int:
        return self.b.subscriber_count(task_id)

    def cancel_requested(self, task_id: str) -> None:
        self.a.cancel_requested(task_id)

    def watch_cancel(self, task_id: str, wake: CancelWake) -> Callable[[], None]:
        return self.b.watch_cancel(task_id, wake)

    def refresh(self, task_id: str) -> None:
        self.b.refresh(task_id)

    def work_queued(self) -> None:
        self.a.work_queued()

    def watch_work(self, wake: WorkWake) -> Callable[[], None]:
        return self.b.watch_work(wake)


@pytest.fixture(params=["local", "postgres", "postgres-pair"])
async def make_events(request: pytest.FixtureRequest) -> AsyncIterator[MakeEvents]:
    """Builds the implementation under test with a given subscriber buffer."""
    if request.param == "local":

        async def local(buffer: int) -> TaskEvents:
            return LocalTaskEvents(buffer=buffer)

        yield local
        return
    from accord.server.pg_events import PostgresTaskEvents

    async with fresh_schema() as (_, url), AsyncExitStack() as stack:

        async def instance(buffer: int) -> PostgresTaskEvents:
            # No safety-net poll: the wake-ups alone must deliver everything.
            events = PostgresTaskEvents(url, buffer=buffer, fallback_poll=None)
            return await stack.enter_async_context(events)

        async def postgres(buffer: int) -> TaskEvents:
            if request.param == "postgres":
                return await instance(buffer)
            return Pair(await instance(buffer), await instance(buffer))

        yield postgres


def process_local(events: TaskEvents) -> None:
    """Skip a clause of the contract that holds only within one process."""
    if isinstance(events, Pair):
        pytest.skip("process-local by contract (seq-0 updates, what is queued)")


def task(n: int) -> Task:
    return Task(
        id="t",
        context_id="c",
        status=TaskStatus(state=TaskState.WORKING),
        metadata={"n": n},
    )


class Log:
    """Task ``t``'s event log in a real store; ``write`` appends and returns the update."""

    def __init__(self, store: MemoryTaskStore) -> None:
        self.store = store
        self.version = 0

    async def write(self) -> Update:
        n = self.version + 1
        event = StreamResponse(task=task(n))
        if self.version == 0:
            record = await self.store.create(task(n), event, scope=SCOPE)
        else:
            record = await self.store.append(
                task(n), event, expected_version=self.version
            )
        self.version = record.version
        return Update(seq=record.version, event=event, task=task(n))

    async def catch_up(self, after: int) -> list[StoredEvent]:
        return await self.store.events("t", after=after, scope=SCOPE)


@pytest.fixture
async def log() -> AsyncIterator[Log]:
    async with MemoryTaskStore() as store:
        yield Log(store)


async def read(sub: Subscription, until: int) -> list[int]:
    got: list[int] = []
    with anyio.fail_after(5):
        async for update in sub:
            got.append(update.seq)
            if update.seq >= until:
                break
    return got


async def test_each_subscriber_gets_every_update_in_order(
    make_events: MakeEvents, log: Log
) -> None:
    events = await make_events(100)
    subs = [events.subscribe("t", catch_up=log.catch_up) for _ in range(3)]
    for _ in range(10):
        await events.publish("t", await log.write())
    for sub in subs:
        assert await read(sub, 10) == list(range(1, 11))
        sub.close()
    assert events.subscriber_count("t") == 0


async def test_a_slow_subscriber_catches_up_from_the_log_without_loss(
    make_events: MakeEvents, log: Log
) -> None:
    events = await make_events(4)
    with events.subscribe("t", catch_up=log.catch_up) as sub:
        for _ in range(20):  # overflows the buffer of 4 while nobody reads
            await events.publish("t", await log.write())
        for _ in range(30):
            log_update = await log.write()
            await events.publish("t", log_update)
        assert await read(sub, 50) == list(range(1, 51))  # nothing lost, nothing twice


async def test_publishing_never_waits_for_a_reader(
    make_events: MakeEvents, log: Log
) -> None:
    events = await make_events(8)
    with events.subscribe("t", catch_up=log.catch_up) as sub:
        updates = [await log.write() for _ in range(200)]
        with anyio.fail_after(5):  # 25 buffers' worth, nobody reading
            for update in updates:
                await events.publish("t", update)
        assert await read(sub, 200) == list(range(1, 201))


async def test_lost_or_merged_wake_ups_lose_nothing(
    make_events: MakeEvents, log: Log
) -> None:
    events = await make_events(100)
    with events.subscribe("t", catch_up=log.catch_up) as sub:
        await events.publish("t", await log.write())
        assert await read(sub, 1) == [1]
        for _ in range(4):
            await log.write()  # stored, but their wake-ups are lost...
        await events.publish("t", await log.write())  # ...or merged into this one
        assert await read(sub, 6) == [2, 3, 4, 5, 6]


async def test_subscribing_after_a_seq_replays_the_log_then_goes_live(
    make_events: MakeEvents, log: Log
) -> None:
    events = await make_events(100)
    for _ in range(6):
        await events.publish("t", await log.write())
    with events.subscribe("t", catch_up=log.catch_up, after=3) as sub:
        assert await read(sub, 6) == [4, 5, 6]
        await events.publish("t", await log.write())
        assert await read(sub, 7) == [7]


async def test_replay_overlap_is_skipped(make_events: MakeEvents, log: Log) -> None:
    events = await make_events(100)
    with events.subscribe("t", catch_up=log.catch_up) as sub:
        updates = [await log.write() for _ in range(5)]
        sub.last_seq = 3  # e.g. a snapshot at version 3 was already sent
        for update in updates[1:]:
            await events.publish("t", update)
        assert await read(sub, 5) == [4, 5]


async def test_updates_outside_the_log_reach_subscribers_in_this_process(
    make_events: MakeEvents, log: Log
) -> None:
    events = await make_events(100)
    process_local(events)
    with events.subscribe("t", catch_up=log.catch_up) as sub:
        await events.publish("t", await log.write())
        final = Update(seq=0, event=None, task=None, final=True)
        await events.publish("t", final)
        with anyio.fail_after(5):
            assert (await sub.__anext__()).seq == 1
            assert await sub.__anext__() == final


async def test_close_all_ends_streams_after_what_is_queued(
    make_events: MakeEvents, log: Log
) -> None:
    events = await make_events(100)
    process_local(events)
    sub = events.subscribe("t", catch_up=log.catch_up)
    update = await log.write()
    await events.publish("t", update)
    assert events.close_all() == 1
    with anyio.fail_after(5):
        assert [u.seq async for u in sub] == [1]
    assert events.subscriber_count("t") == 0


async def test_close_wakes_a_waiting_reader(make_events: MakeEvents, log: Log) -> None:
    events = await make_events(100)
    sub = events.subscribe("t", catch_up=log.catch_up)
    ended = anyio.Event()

    async def reader() -> None:
        async for _ in sub:
            pass
        ended.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await anyio.wait_all_tasks_blocked()  # the reader waits for an event
        sub.close()
        with anyio.fail_after(5):
            await ended.wait()
    assert events.subscriber_count("t") == 0


async def test_other_tasks_events_are_not_delivered(
    make_events: MakeEvents, log: Log
) -> None:
    events = await make_events(100)
    with events.subscribe("t", catch_up=log.catch_up) as sub:
        await events.publish("other", Update(seq=1, event=None, task=None))
        await events.publish("t", await log.write())
        assert await read(sub, 1) == [1]
        assert events.subscriber_count("other") == 0


class Woken:
    """A cancel watcher: counts its wake-ups; ``armed`` is set by the next one."""

    def __init__(self) -> None:
        self.count = 0
        self._event = anyio.Event()

    def __call__(self) -> None:
        self.count += 1
        self._event.set()
        self._event = anyio.Event()

    def armed(self) -> anyio.Event:
        return self._event


async def woken_by(event: anyio.Event) -> None:
    with anyio.fail_after(5):
        await event.wait()


async def test_a_cancel_request_wakes_the_watchers_of_that_task_only(
    make_events: MakeEvents,
) -> None:
    events = await make_events(100)
    mine, twice, other = Woken(), Woken(), Woken()
    stops = [
        events.watch_cancel("t", mine),
        events.watch_cancel("t", twice),
        events.watch_cancel("t", twice),  # the same function, watching twice
        events.watch_cancel("other", other),
    ]
    woken = mine.armed()
    events.cancel_requested("t")
    await woken_by(woken)
    assert (mine.count, twice.count, other.count) == (1, 2, 0)
    for stop in stops:
        stop()
        stop()  # idempotent
    # Stopped: nobody is woken. Wake-ups of one sender arrive in order, so a fresh
    # watcher woken by a later request shows that the earlier one was not delivered.
    events.cancel_requested("t")
    last = Woken()
    stop_last = events.watch_cancel("later", last)
    woken = last.armed()
    events.cancel_requested("later")
    await woken_by(woken)
    stop_last()
    assert (mine.count, twice.count, other.count, last.count) == (1, 2, 0, 1)


async def test_a_cancel_wake_up_is_not_a_subscriber_update(
    make_events: MakeEvents, log: Log
) -> None:
    events = await make_events(100)
    woken = Woken()
    with events.subscribe("t", catch_up=log.catch_up) as sub:
        stop = events.watch_cancel("t", woken)
        waiting = woken.armed()
        events.cancel_requested("t")
        await woken_by(waiting)
        stop()
        await events.publish("t", await log.write())
        assert await read(sub, 1) == [1]  # the log's update, nothing before it


async def test_queued_work_wakes_every_work_watcher_until_stopped(
    make_events: MakeEvents,
) -> None:
    events = await make_events(100)
    first, second = Woken(), Woken()
    stop_first = events.watch_work(first)
    stop_second = events.watch_work(second)
    waits = [first.armed(), second.armed()]
    events.work_queued()
    for event in waits:
        await woken_by(event)
    stop_first()
    stop_first()  # idempotent
    # Wake-ups of one sender arrive in order: once ``second`` saw the next one,
    # ``first`` would have seen it too had it still been watching.
    waiting = second.armed()
    events.work_queued()
    await woken_by(waiting)
    stop_second()
    assert first.count == 1
    assert second.count >= 2  # a re-established LISTEN may add one


# --- the in-process implementation and the Subscription helper ----------------------


async def test_notify_makes_the_reader_catch_up_from_its_last_seq(log: Log) -> None:
    # What a wake-up-only implementation (LISTEN/NOTIFY) calls on its subscriptions.
    events = LocalTaskEvents()
    with events.subscribe("t", catch_up=log.catch_up) as sub:
        for _ in range(3):
            await log.write()
        sub.notify()
        sub.notify()  # merged wake-ups are harmless
        assert await read(sub, 3) == [1, 2, 3]


def test_buffer_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        LocalTaskEvents(buffer=0)


def test_the_local_implementation_satisfies_the_interface() -> None:
    assert isinstance(LocalTaskEvents(), TaskEvents)
