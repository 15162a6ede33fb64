"""Two engines on one store stand for two instances: leases, takeover, remote cancel.

Each test runs instance A and instance B in this process, on one store (one memory
store object, two SQLite stores on one file, two PostgreSQL stores on one schema).
Instance A's store can be *partitioned* (every call raises StoreError), which is what a
crashed, frozen or cut-off instance looks like from the database: its leases are no
longer renewed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import anyio
import httpx
import pytest

from accord.client import Client, MemoryTransport
from accord.errors import StoreError
from accord.server import A2AApp, Agent, Engine, TaskContext
from accord.server.leases import LEASE_EXPIRED_MESSAGE, LEASE_SECONDS
from accord.stores import MemoryTaskStore, Scope, SQLiteTaskStore, TaskStore
from accord.types import (
    AgentInterface,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    StreamResponse,
    Task,
    TaskState,
    TaskStatus,
)

pytestmark = pytest.mark.anyio

#: Short, so takeovers happen within a second; long enough that a busy machine
#: renews in time (a renewal is due every LEASE / 4).
LEASE = 0.6
BASE = "http://agent.test"
#: (event, instance, task id, attempt): "start", "stop" (cancelled) or "end".
Entry = tuple[str, str, str, int]


class Partition:
    """A store proxy whose calls all fail once ``cut`` (the database is unreachable)."""

    def __init__(self, inner: TaskStore) -> None:
        self.inner = inner
        self.cut = False
        self.renewals = 0
        self.renewed = anyio.Event()

    async def __aenter__(self) -> Partition:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.inner.__aexit__(*exc_info)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.cut:
                raise StoreError("partitioned from the database (test)")
            result = await method(*args, **kwargs)
            if name == "renew_leases":
                self.renewals += 1
                self.renewed.set()
                self.renewed = anyio.Event()
            return result

        return call


class Lab:
    """The agent of both instances: records when each execution starts and stops."""

    def __init__(self) -> None:
        self.journal: list[Entry] = []
        self.gate = anyio.Event()
        self._changed = anyio.Event()

    def agent(self, instance: str, *, retry_safe: bool) -> Agent:
        async def work(ctx: TaskContext) -> None:
            entry = (instance, ctx.task_id, ctx.attempt)
            self._note("start", *entry)
            try:
                await ctx.working("on it")
                await self.gate.wait()
                await ctx.add_artifact(f"attempt {ctx.attempt} on {instance}")
            except BaseException:
                self._note("stop", *entry)
                raise
            self._note("end", *entry)

        return Agent(work, name="Lab", description="for tests", retry_safe=retry_safe)

    def _note(self, event: str, instance: str, task_id: str, attempt: int) -> None:
        self.journal.append((event, instance, task_id, attempt))
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, entry: Entry) -> int:
        """Wait until ``entry`` is in the journal; return its index."""
        while entry not in self.journal:
            await self._changed.wait()
        return self.journal.index(entry)


@dataclass
class Instances:
    lab: Lab
    a: Engine
    b: Engine
    client_a: Client
    client_b: Client
    partition: Partition

    async def start_on_a(self) -> str:
        config = SendMessageConfiguration(return_immediately=True)
        task = await self.client_a.send_message("go", configuration=config)
        assert isinstance(task, Task)
        await self.lab.wait_for(("start", "A", task.id, 1))
        return task.id

    async def state_on_b(self, task_id: str, done: Callable[[TaskState], bool]) -> Task:
        """Wait (polling B's GetTask) until the task's state satisfies ``done``."""
        while True:
            task = await self.client_b.get_task(task_id)
            if done(task.status.state):
                return task
            await anyio.sleep(0.02)  # B's store is written by A: nothing wakes B


@asynccontextmanager
async def client(app: A2AApp) -> AsyncIterator[Client]:
    face = AgentInterface(
        url=BASE, protocol_binding="HTTP+JSON", protocol_version="1.0"
    )
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app), base_url=BASE) as http,
        Client.from_interface(face, http=http) as a2a,
    ):
        yield a2a


@asynccontextmanager
async def store_pair(
    kind: str, tmp_path: Path
) -> AsyncIterator[tuple[TaskStore, TaskStore]]:
    if kind == "memory":
        shared = MemoryTaskStore()
        yield shared, shared
    elif kind == "sqlite":
        db = tmp_path / "shared.db"
        yield SQLiteTaskStore(db), SQLiteTaskStore(db)
    else:
        from accord.stores import migrate
        from accord.stores.postgres import PostgresTaskStore
        from tests.stores._postgres import fresh_schema

        async with fresh_schema() as (_, url):
            await anyio.to_thread.run_sync(migrate, url)
            yield PostgresTaskStore(url), PostgresTaskStore(url)


# The durable stores take a few seconds in all: they run with the slow tests.
@pytest.fixture(
    params=[
        "memory",
        pytest.param("sqlite", marks=pytest.mark.slow),
        pytest.param("postgres", marks=pytest.mark.slow),
    ]
)
def kind(request: pytest.FixtureRequest) -> str:
    return cast(str, request.param)


@asynccontextmanager
async def instances(
    kind: str, tmp_path: Path, *, retry_safe: bool = False, lease: float = LEASE
) -> AsyncIterator[Instances]:
    lab = Lab()
    async with store_pair(kind, tmp_path) as (store_a, store_b):
        partition = Partition(store_a)
        a = Engine(
            lab.agent("A", retry_safe=retry_safe),
            store=cast(TaskStore, partition),
            lease_seconds=lease,
        )
        b = Engine(
            lab.agent("B", retry_safe=retry_safe), store=store_b, lease_seconds=lease
        )
        async with (
            a.running(),
            b.running(),
            client(A2AApp.from_engine(a)) as client_a,
            client(A2AApp.from_engine(b)) as client_b,
        ):
            try:
                with anyio.fail_after(20):
                    yield Instances(lab, a, b, client_a, client_b, partition)
            finally:
                partition.cut = False
                lab.gate.set()


def running(state: TaskState) -> bool:
    return state not in (TaskState.SUBMITTED, TaskState.WORKING)


#: The lease of the test that a live task is never taken over: long enough that a busy
#: machine never stalls a renewal for FENCE of it (0.7 x 0.6 s = 0.42 s did, under two
#: suites at once), after which the instance rightly stops its own task.
LIVE_LEASE = 3.0


@pytest.mark.slow  # about two leases of wall time
async def test_a_live_instances_task_is_never_taken_over(
    kind: str, tmp_path: Path
) -> None:
    async with instances(kind, tmp_path, lease=LIVE_LEASE) as x:
        task_id = await x.start_on_a()
        # Over a lease and a half (a renewal every quarter lease), renewed all along.
        while x.partition.renewals < 7:
            await x.partition.renewed.wait()
        assert await x.b.handler.runtime.leases.sweep() == 0
        task = await x.client_b.get_task(task_id)
        assert task.status.state is TaskState.WORKING
        x.lab.gate.set()
        task = await x.state_on_b(task_id, running)
        assert task.status.state is TaskState.COMPLETED
        assert task.artifacts is not None
        assert task.artifacts[0].parts[0].text == "attempt 1 on A"
        assert [e for e in x.lab.journal if e[0] != "start"] == [
            ("end", "A", task_id, 1)
        ]


async def test_a_stopped_instances_task_ends_failed_by_default(
    kind: str, tmp_path: Path
) -> None:
    async with instances(kind, tmp_path) as x:
        task_id = await x.start_on_a()
        cut = time.monotonic()
        x.partition.cut = True
        stopped = await x.lab.wait_for(("stop", "A", task_id, 1))
        task = await x.state_on_b(task_id, running)
        taken = time.monotonic() - cut
        assert task.status.state is TaskState.FAILED
        assert task.status.message is not None
        assert task.status.message.text == LEASE_EXPIRED_MESSAGE
        # A stopped its execution itself (it could not renew); nobody ran it again.
        assert x.lab.journal[stopped:] == [("stop", "A", task_id, 1)]
        # Within a lease plus a sweep interval (and some slack for a busy machine).
        assert taken < LEASE * 3


async def test_a_retry_safe_task_runs_again_on_the_surviving_instance(
    kind: str, tmp_path: Path
) -> None:
    async with instances(kind, tmp_path, retry_safe=True) as x:
        task_id = await x.start_on_a()
        x.partition.cut = True
        again = await x.lab.wait_for(("start", "B", task_id, 2))
        stopped = x.lab.journal.index(("stop", "A", task_id, 1))
        assert stopped < again  # never on two instances at once
        x.lab.gate.set()
        task = await x.state_on_b(task_id, running)
        assert task.status.state is TaskState.COMPLETED
        assert task.artifacts is not None
        assert task.artifacts[0].parts[0].text == "attempt 2 on B"


async def test_cancel_on_b_reaches_the_agent_on_a(kind: str, tmp_path: Path) -> None:
    async with instances(kind, tmp_path) as x:
        task_id = await x.start_on_a()
        started = time.monotonic()
        task = await x.client_b.cancel_task(task_id)
        took = time.monotonic() - started
        assert task.status.state is TaskState.CANCELED
        assert ("stop", "A", task_id, 1) in x.lab.journal
        # A sees the stored request on its next heartbeat (every LEASE / 4).
        assert took < LEASE


async def test_cancel_of_a_task_whose_instance_stopped_ends_canceled(
    kind: str, tmp_path: Path
) -> None:
    # The cancel request waits on the lease; the instance that claims the expired
    # lease honours it instead of failing or re-running the task.
    async with instances(kind, tmp_path, retry_safe=True) as x:
        task_id = await x.start_on_a()
        x.partition.cut = True
        task = await x.client_b.cancel_task(task_id)
        assert task.status.state is TaskState.CANCELED
        assert ("stop", "A", task_id, 1) in x.lab.journal
        assert not [e for e in x.lab.journal if e[1] == "B"]


# --- without a second store: one shared memory store -------------------------------


async def test_a_lost_lease_stops_the_execution_without_writing() -> None:
    # Instance A was paused past its lease (the store's clock jumps): B claims the
    # task and runs it again; A's next heartbeat finds the lease gone and A stops
    # without writing, so the task is B's alone.
    now = [1000.0]
    store = MemoryTaskStore(clock=lambda: now[0])
    lab = Lab()
    a = Engine(lab.agent("A", retry_safe=True), store=store, lease_seconds=LEASE)
    b = Engine(lab.agent("B", retry_safe=True), store=store, lease_seconds=LEASE)
    async with a.running(), b.running(), client(A2AApp.from_engine(a)) as client_a:
        with anyio.fail_after(10):
            config = SendMessageConfiguration(return_immediately=True)
            sent = await client_a.send_message("go", configuration=config)
            assert isinstance(sent, Task)
            await lab.wait_for(("start", "A", sent.id, 1))
            now[0] += 10 * LEASE
            # No suspension between the jump and the claim: A cannot renew first.
            assert await b.handler.runtime.leases.sweep() == 1
            await lab.wait_for(("start", "B", sent.id, 2))
            rerun = b.handler.runtime.live(sent.id)
            assert rerun is not None
            assert rerun.attempt == 2
            await lab.wait_for(("stop", "A", sent.id, 1))
            lab.gate.set()
            await rerun.done.wait()
    events = await store.events(sent.id, after=0, scope=Scope())
    states = [
        e.event.status_update.status.state
        for e in events
        if e.event.status_update is not None
    ]
    assert TaskState.CANCELED not in states
    assert TaskState.FAILED not in states
    assert states[-1] is TaskState.COMPLETED


async def test_an_unfinished_task_without_a_lease_is_taken_over() -> None:
    # A task left WORKING by a version without leases (or an instance that died
    # between creating the task and leasing it) is ended once silent for a lease.
    store = MemoryTaskStore()
    message = Message(message_id="m-1", role=Role.USER, parts=(Part(text="hi"),))
    task = Task(
        id="old",
        context_id="c-1",
        status=TaskStatus(state=TaskState.WORKING),
        history=(message,),
    )
    await store.create(task, StreamResponse(task=task), scope=Scope())
    lab = Lab()
    engine = Engine(lab.agent("A", retry_safe=False), store=store, lease_seconds=0.2)
    async with engine.running():
        await ended_by_lease_expiry(store, "old", within=10)


async def ended_by_lease_expiry(
    store: TaskStore, task_id: str, *, within: float
) -> None:
    """Wait (at most ``within`` s) until ``task_id`` leaves WORKING; it must end
    FAILED with the lease-expiry message (the sweep ended it)."""
    with anyio.fail_after(within):
        while (record := await store.get(task_id, scope=Scope())) is not None:
            if record.task.status.state is not TaskState.WORKING:
                break
            await anyio.sleep(0.02)
    assert record is not None
    assert record.task.status.state is TaskState.FAILED
    assert record.task.status.message is not None
    assert record.task.status.message.text == LEASE_EXPIRED_MESSAGE


def test_lease_seconds_settings() -> None:
    from accord.cli.main import build_parser

    agent = Lab().agent("A", retry_safe=False)
    assert Engine(agent).lease_seconds == LEASE_SECONDS
    assert A2AApp(agent, lease_seconds=2).engine.lease_seconds == 2
    with pytest.raises(ValueError, match="lease_seconds must be > 0"):
        Engine(agent, lease_seconds=0)
    with pytest.raises(TypeError, match="lease_seconds"):
        A2AApp(engine=Engine(agent), lease_seconds=2)
    parser = build_parser()
    assert parser.parse_args(["serve", "--lease-seconds", "1.5"]).lease_seconds == 1.5
    assert parser.parse_args(["serve"]).lease_seconds is None  # the app's own
    for bad in ("0", "-1", "soon", "inf", "nan"):
        with pytest.raises(SystemExit):
            parser.parse_args(["serve", "--lease-seconds", bad])
