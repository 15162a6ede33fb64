"""A blocking send's new task is written behind its agent (server/write_behind.py).

Its first events are written with one store call when the turn ends, when the agent
calls ``ctx.submit()``, after BUFFER_MAX events, or as soon as the agent waits for
anything else; nothing unwritten is delivered, and a failed write loses nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from accord.errors import StoreError, StoreUnavailableError
from accord.server import A2AApp, Agent, Engine, TaskContext
from accord.server.events import Subscription
from accord.server.recorder import BUFFER_MAX
from accord.server.runtime import Runtime
from accord.stores import (
    MemoryTaskStore,
    Scope,
    SQLiteTaskStore,
    StoredEvent,
    TaskQuery,
    TaskStore,
)
from accord.types import TaskState

from .test_send_inline import call, send_params

pytestmark = pytest.mark.anyio

ANON = Scope(tenant="", owner="")


class Counting(MemoryTaskStore):
    """A memory store that counts its writes and can fail the next creates."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.more: list[int] = []
        self.fail_creates = 0
        self.failure: StoreError = StoreUnavailableError("the database is down (test)")

    async def create(self, *args: Any, **kw: Any) -> Any:
        self.calls.append("create" if kw.get("holder") is None else "create+lease")
        self.more.append(len(kw.get("more", ())))
        if self.fail_creates:
            self.fail_creates -= 1
            raise self.failure
        return await super().create(*args, **kw)

    async def append(self, *args: Any, **kw: Any) -> Any:
        self.calls.append("append")
        return await super().append(*args, **kw)

    async def release_lease(self, *args: Any, **kw: Any) -> Any:
        self.calls.append("release")
        return await super().release_lease(*args, **kw)


@asynccontextmanager
async def sending(
    app: A2AApp, waiting: anyio.Event, gate: anyio.Event
) -> AsyncIterator[list[dict[str, Any]]]:
    """Send a blocking message in the background; enter once its agent waits, and let
    it go on (``gate``) on the way out; the answer is in the yielded list then."""
    answers: list[dict[str, Any]] = []

    async def blocking() -> None:
        answers.append(await call(app, "SendMessage", send_params("q")))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(blocking)
            await waiting.wait()
            try:
                yield answers
            finally:
                gate.set()


async def test_a_turn_that_never_waits_is_one_write_without_a_lease() -> None:
    agent = Agent(name="Echo", description="answers at once")

    @agent.executor
    async def run(ctx: TaskContext) -> None:
        await ctx.working("thinking")
        await ctx.add_artifact("result", name="out")
        await ctx.complete("done")

    store = Counting()
    app = A2AApp(agent, store=store)
    async with app.running():
        answer = await call(app, "SendMessage", send_params("hi"))
    task = answer["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert store.calls == ["create"]  # created ended: no lease taken or released
    assert store.more == [3]
    log = await store.events(task["id"], after=0, scope=ANON)
    assert [e.seq for e in log] == [1, 2, 3, 4]
    assert log[0].event.task is not None  # the creation, then WORKING, artifact, end
    assert log[3].event.status_update is not None
    record = await store.get(task["id"], scope=ANON)
    assert record is not None
    assert record.version == 4
    assert record.task.artifacts[0].parts[0].text == "result"


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TaskStore:
    """A store the app opens and closes (SQLite suspends on every call)."""
    if request.param == "memory":
        return MemoryTaskStore()
    return SQLiteTaskStore(tmp_path / "tasks.db")


async def test_an_agent_that_waits_has_its_task_written_and_leased_meanwhile(
    store: TaskStore,
) -> None:
    waiting = anyio.Event()
    gate = anyio.Event()
    ids: list[str] = []
    agent = Agent(name="Slow", description="works, then waits for a model")

    @agent.executor
    async def run(ctx: TaskContext) -> None:
        await ctx.working("asking the model")
        ids.append(ctx.task_id)
        waiting.set()
        await gate.wait()
        await ctx.complete("answered")

    app = A2AApp(agent, store=store)
    async with app.running():
        async with sending(app, waiting, gate) as answers:
            # The agent waits: its task becomes visible, WORKING, and leased.
            while (record := await store.get(ids[0], scope=ANON)) is None:  # noqa: ASYNC110 - the flush runs in the runtime's task
                await anyio.sleep(0.001)
            assert record.task.status.state.name == "WORKING"
            assert record.version == 2
            leased = await store.acquire_lease(
                ids[0], tenant="", holder="someone-else", seconds=30
            )
            assert leased is None
            assert app.engine.handler.runtime.write_behind.flushed == 1
        log = await store.events(ids[0], after=0, scope=ANON)
        # The turn's end released the lease with its write.
        lease = await store.acquire_lease(ids[0], tenant="", holder="other", seconds=30)
    assert answers[0]["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert [e.seq for e in log] == [1, 2, 3]
    assert lease is not None


async def test_submit_writes_the_task_at_once() -> None:
    submitted = anyio.Event()
    gate = anyio.Event()
    agent = Agent(name="Submit", description="makes its task visible first")
    ids: list[str] = []

    @agent.executor
    async def run(ctx: TaskContext) -> None:
        await ctx.submit()
        ids.append(ctx.task_id)
        submitted.set()
        await gate.wait()
        await ctx.complete()

    store = Counting()
    app = A2AApp(agent, store=store)
    async with app.running():
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, app, "SendMessage", send_params("q"))
                await submitted.wait()
                try:
                    # Written by submit() itself, before the agent waited.
                    assert store.calls == ["create+lease"]
                    record = await store.get(ids[0], scope=ANON)
                    assert record is not None
                    assert record.task.status.state.name == "SUBMITTED"
                finally:
                    gate.set()
    assert store.calls == ["create+lease", "append"]


async def test_a_failed_write_behind_is_written_again_by_the_next_progress_call() -> (
    None
):
    waiting = anyio.Event()
    gate = anyio.Event()
    agent = Agent(name="Retry", description="waits while the database is down")

    @agent.executor
    async def run(ctx: TaskContext) -> None:
        await ctx.working()
        waiting.set()
        await gate.wait()
        await ctx.complete("fine")

    store = Counting()
    store.fail_creates = 1
    app = A2AApp(agent, store=store)
    async with app.running(), sending(app, waiting, gate) as answers:
        while not store.calls:  # noqa: ASYNC110 - the flush runs in the runtime's task
            await anyio.sleep(0.001)
        assert store.calls == ["create+lease"]  # it failed: nothing stored
    task = answers[0]["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    # The end of the turn wrote everything: created ended, every event once.
    assert store.calls == ["create+lease", "create"]
    log = await store.events(task["id"], after=0, scope=ANON)
    assert [e.seq for e in log] == [1, 2, 3]


async def test_a_failed_final_write_keeps_nothing_and_answers_unavailable() -> None:
    agent = Agent(name="Echo", description="answers at once")

    @agent.executor
    async def run(ctx: TaskContext) -> None:
        await ctx.add_artifact("result")
        await ctx.complete()

    store = Counting()
    store.fail_creates = 1
    app = A2AApp(agent, store=store)
    async with app.running():
        answer = await call(app, "SendMessage", send_params("hi"))
    assert answer["error"]["data"][0]["reason"] == "UNAVAILABLE", answer
    assert store.calls == ["create"]
    page = await store.list(TaskQuery(scope=ANON))
    assert page.total_size == 0  # nothing was kept


async def test_a_store_error_before_the_task_exists_does_not_blame_the_agent() -> None:
    agent = Agent(name="Echo", description="answers at once")

    @agent.executor
    async def run(ctx: TaskContext) -> None:
        await ctx.complete()

    store = Counting()
    store.fail_creates = 1
    store.failure = StoreError("a statement failed (test)")
    app = A2AApp(agent, store=store)
    async with app.running():
        answer = await call(app, "SendMessage", send_params("hi"))
    assert answer["error"]["code"] == -32603
    assert "task store failed" in answer["error"]["message"]
    assert "nothing was kept" in answer["error"]["message"]


async def test_an_agent_that_streams_without_waiting_is_written_in_batches() -> None:
    chunks = 2 * BUFFER_MAX + 5
    agent = Agent(name="Stream", description="many chunks, never waits")

    @agent.executor
    async def run(ctx: TaskContext) -> None:
        artifact_id = await ctx.add_artifact("chunk 0")
        for i in range(1, chunks):
            await ctx.append_artifact(artifact_id, f"chunk {i}")
        await ctx.complete()

    store = Counting()
    app = A2AApp(agent, store=store)
    async with app.running():
        answer = await call(app, "SendMessage", send_params("hi"))
    task = answer["result"]["task"]
    assert store.calls[0] == "create+lease"
    assert store.more[0] == BUFFER_MAX - 1  # the creation and BUFFER_MAX - 1 more
    assert store.calls[1:] == ["append"] * (chunks + 2 - BUFFER_MAX)
    log = await store.events(task["id"], after=0, scope=ANON)
    assert [e.seq for e in log] == list(range(1, chunks + 3))


async def test_a_subscriber_gets_the_buffered_updates_in_order_after_the_write() -> (
    None
):
    # Each buffered update goes out with the task as it stood after it (seq n, the
    # n-th snapshot), once the one store call that writes them all has returned.
    holder: list[Runtime] = []
    seen: list[tuple[int, int]] = []  # (updates received, store version) at each call
    store = MemoryTaskStore()

    async def catch_up(after: int) -> list[StoredEvent]:
        return []

    agent = Agent(name="Echo", description="answers at once")

    @agent.executor
    async def run(ctx: TaskContext) -> None:
        sub = holder[0].events.subscribe(ctx.task_id, catch_up=catch_up)
        subs.append(sub)
        await ctx.add_artifact("one", name="out")
        seen.append((len(sub._queue), await _version(store, ctx.task_id)))
        await ctx.complete()

    subs: list[Subscription] = []
    engine = Engine(agent, store=store)
    async with engine.running():
        holder.append(engine.handler.runtime)
        answer = await call(
            A2AApp.from_engine(engine), "SendMessage", send_params("hi")
        )
        updates = []
        with anyio.fail_after(5):
            async for update in subs[0]:
                updates.append(update)
                if update.final:
                    break
    assert answer["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert seen == [(0, 0)]  # nothing delivered, nor written, before the write
    assert [(u.seq, u.created) for u in updates[:3]] == [
        (1, True),
        (2, True),
        (3, True),
    ]
    snapshots = [u.task for u in updates[:3]]
    assert all(s is not None for s in snapshots)
    assert [(s.status.state, len(s.artifacts)) for s in snapshots if s] == [
        (TaskState.SUBMITTED, 0),
        (TaskState.SUBMITTED, 1),
        (TaskState.COMPLETED, 1),
    ]
    events = [u.event for u in updates[:3]]
    assert [e.payload.__class__.__name__ if e else None for e in events] == [
        "Task",
        "TaskArtifactUpdateEvent",
        "TaskStatusUpdateEvent",
    ]
    assert updates[3].final


async def _version(store: MemoryTaskStore, task_id: str) -> int:
    record = await store.get(task_id, scope=ANON)
    return 0 if record is None else record.version
