"""PostgreSQL restarted under load: two instances serve on, nothing acknowledged is lost.

Two instances (Engine + A2AApp under uvicorn on 127.0.0.1, each its own thread and
event loop) share one schema of a private cluster (:mod:`tests.helpers.pg_cluster`),
with LISTEN/NOTIFY task events and 6 s leases. Clients keep sending blocking
SendMessage calls to both; a task held open on A is followed by a SubscribeToTask
stream on B. The cluster is restarted (``fast``: a clean shutdown; ``immediate``: like
a crash) while all that runs, and then:

* every call that was acknowledged (a task came back) has its task in the store, its
  event log gapless up to its version, in the state the client was told (or a later
  one, for a task the client saw unfinished);
* the calls that failed, failed with UNAVAILABLE (HTTP 503, retry later), and none
  hung;
* both instances serve new calls again, without being restarted;
* B's subscriber sees the task held on A complete (A's NOTIFY reaches B's reconnected
  LISTEN, or B reads the log when it reconnects), on the stream it opened before;
* no task stays SUBMITTED or WORKING: each ends COMPLETED, or FAILED with the lease
  message when the outage interrupted it (the sweep of either instance).

``long`` keeps PostgreSQL down for more than a lease instead: calls are refused with
UNAVAILABLE (none hangs), A fences the held task (stops it without writing), and after
PostgreSQL is back a sweep ends it FAILED with the lease message, which B's subscriber
sees (its stream may end UNAVAILABLE meanwhile: it resumes with Last-Event-ID).

The timings (restart, first success after it) are printed, never asserted.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote

import anyio
import anyio.to_thread
import psycopg
import pytest

from accord.client import Client
from accord.errors import A2AError, UnavailableError, UnsupportedOperationError
from accord.server import A2AApp, Agent, TaskContext
from accord.server.leases import LEASE_EXPIRED_MESSAGE
from accord.stores import Scope
from accord.stores.postgres import PostgresTaskStore
from accord.types import SendMessageConfiguration, Task, TaskState
from tests.helpers.pg_cluster import PrivateCluster
from tests.helpers.uvicorn_thread import serve_in_thread

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.timeout(240)]

LEASE = 6.0
SENDERS = 6
ANY = Scope(tenant="", owner=None)
_TERMINAL = (TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELED)


@pytest.fixture
def anyio_backend() -> str:
    """The instances run on asyncio under uvicorn; the test's loop need not vary."""
    return "asyncio"


def _agent(gate: threading.Event) -> Agent:
    async def work(ctx: TaskContext) -> None:
        await ctx.working()
        if ctx.text == "hold":
            while not gate.is_set():  # noqa: ASYNC110 - set from the test's thread
                await anyio.sleep(0.02)
        await ctx.add_artifact(ctx.text.upper())
        await ctx.complete("done")

    return Agent(work, name="Echo", description="Echoes in capitals")


@contextmanager
def _instance(url: str, gate: threading.Event) -> Iterator[str]:
    """One instance as ``accord serve`` makes it (LISTEN/NOTIFY events by default)."""
    app = A2AApp(_agent(gate), store=PostgresTaskStore(url), lease_seconds=LEASE)
    with serve_in_thread(app) as base:
        yield base


@pytest.fixture
def schema_url(private_postgres: PrivateCluster) -> Iterator[str]:
    schema = f"l_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(private_postgres.url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}".encode())
    try:
        yield f"{private_postgres.url}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(private_postgres.url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE".encode())


@dataclass
class Load:
    """What the senders saw: acknowledged tasks, errors, and when."""

    acked: list[tuple[Task, float]] = field(default_factory=list)
    errors: list[tuple[A2AError, float]] = field(default_factory=list)
    stop: anyio.Event = field(default_factory=anyio.Event)

    def acked_since(self, when: float) -> int:
        return sum(1 for _, at in self.acked if at >= when)

    def refused_since(self, when: float) -> int:
        return sum(1 for _, at in self.errors if at >= when)


async def _sender(client: Client, name: str, load: Load) -> None:
    n = 0
    while not load.stop.is_set():
        n += 1
        try:
            with anyio.fail_after(60):  # a call that hangs fails the test here
                task = await client.send_message(f"{name}-{n}")
        except A2AError as exc:
            load.errors.append((exc, time.monotonic()))
            await anyio.sleep(0.05)  # a client backing off before it retries
            continue
        assert isinstance(task, Task)
        load.acked.append((task, time.monotonic()))


async def _until(predicate: object, seconds: float) -> None:
    assert callable(predicate)
    with anyio.fail_after(seconds):
        while not predicate():  # noqa: ASYNC110 - state of other tasks and threads
            await anyio.sleep(0.02)


@asynccontextmanager
async def _clients(*bases: str) -> AsyncIterator[list[Client]]:
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(await Client.connect(base))
            for base in bases
        ]
        yield clients


async def _follow(
    client: Client, task_id: str, seen: list[TaskState], resumed: list[str]
) -> None:
    """Follow the task to its end; resume (Last-Event-ID) after an UNAVAILABLE.

    A task that ended while the stream was down cannot be subscribed to again
    (spec §3.1.6: UnsupportedOperationError); its end is then read with GetTask, as
    the error says.
    """
    last: str | None = None
    while True:
        try:
            async with client.subscribe(task_id, last_event_id=last) as stream:
                async for _ in stream:
                    last = stream.last_event_id or last
                    if stream.state is not None:
                        seen.append(stream.state)
                return
        except UnavailableError as exc:  # the store was down: retry, as told
            resumed.append(str(exc))
            await anyio.sleep(0.5)
        except UnsupportedOperationError:
            assert resumed, "only a resumed stream can find the task already ended"
            seen.append((await client.get_task(task_id)).status.state)
            return


@pytest.mark.parametrize("mode", ["fast", "immediate", "long"])
async def test_restart_under_load(
    private_postgres: PrivateCluster, schema_url: str, mode: str
) -> None:
    """``fast``/``immediate``: a restart; ``long``: down for longer than a lease."""
    gate = threading.Event()
    with _instance(schema_url, gate) as base_a, _instance(schema_url, gate) as base_b:
        async with _clients(base_a, base_b) as (a, b):
            held = await a.send_message(
                "hold", configuration=SendMessageConfiguration(return_immediately=True)
            )
            assert isinstance(held, Task)
            seen_on_b: list[TaskState] = []
            resumed: list[str] = []
            load = Load()
            async with anyio.create_task_group() as tg:
                tg.start_soon(_follow, b, held.id, seen_on_b, resumed)
                for i in range(SENDERS):
                    tg.start_soon(_sender, (a, b)[i % 2], f"s{i}", load)
                await _until(lambda: len(load.acked) >= 2 * SENDERS, 60)

                began = time.monotonic()
                if mode == "long":
                    await anyio.to_thread.run_sync(private_postgres.stop, "immediate")
                    # Down until A has fenced the held task and calls were refused.
                    await _until(
                        lambda: (
                            time.monotonic() - began > LEASE
                            and load.refused_since(began) >= 2
                        ),
                        120,
                    )
                    await anyio.to_thread.run_sync(private_postgres.start)
                else:
                    await anyio.to_thread.run_sync(private_postgres.restart, mode)
                back = time.monotonic()
                # Both instances serve again, without a restart of their own.
                await _until(lambda: load.acked_since(back) >= 2 * SENDERS, 60)
                first = min(at for _, at in load.acked if at >= back)
                gate.set()
                # After a long outage A fenced the held task; a sweep ends it FAILED.
                end = TaskState.FAILED if mode == "long" else TaskState.COMPLETED
                await _until(lambda: end in seen_on_b, 4 * LEASE + 60)
                load.stop.set()
            print(
                f"\n{mode} restart: PostgreSQL down {back - began:.2f} s; first call "
                f"acknowledged {first - back:.2f} s after it was back; "
                f"{len(load.acked)} acknowledged, {len(load.errors)} refused"
            )
            for error, _ in load.errors:
                assert isinstance(error, UnavailableError), repr(error)
            if mode != "long":  # a restart is ridden through: the same stream
                assert resumed == []

            async with PostgresTaskStore(schema_url) as store:
                await _check_acknowledged(store, load)
                await _check_nothing_left_running(store)


async def _check_acknowledged(store: PostgresTaskStore, load: Load) -> None:
    for told, _ in load.acked:
        record = await store.get(told.id, scope=ANY)
        assert record is not None, f"acknowledged task {told.id} is not in the store"
        events = await store.events(told.id, after=0, scope=ANY)
        assert [e.seq for e in events] == list(range(1, record.version + 1))
        if told.status.state in _TERMINAL:
            assert record.task.status.state is told.status.state


async def _check_nothing_left_running(store: PostgresTaskStore) -> None:
    async def running() -> list[Task]:
        return [r.task for r in await store.unfinished()]

    with anyio.fail_after(4 * LEASE + 30):  # interrupted tasks: swept after a lease
        while await running():  # noqa: ASYNC110 - the database's state
            await anyio.sleep(0.1)
    with psycopg.connect(store.url) as conn:
        states = conn.execute("SELECT id, state FROM tasks").fetchall()
    for task_id, state in states:
        assert state in {s.value for s in _TERMINAL}, (task_id, state)
        if state == TaskState.FAILED.value:
            record = await store.get(task_id, scope=ANY)
            assert record is not None
            message = record.task.status.message
            assert message is not None
            assert message.parts[0].text == LEASE_EXPIRED_MESSAGE
